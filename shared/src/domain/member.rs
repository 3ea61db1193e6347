//! Who belongs to which tenant, with which role.

use serde::{Deserialize, Serialize};

use super::ValidationError;
use super::email::EmailAddress;
use super::tenant::TenantStatus;
use super::time::Timestamp;
use crate::context::{Role, Tier};
use crate::ids::{TenantId, UserId};

/// A user's membership, keyed by the user: what the pre-token trigger reads (in one request) to
/// put the tenant claims in the token. The tenant's tier and status are copied here for that
/// reason, and kept in step whenever they change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    pub user_id: UserId,
    pub tenant_id: TenantId,
    pub role: Role,
    pub tier: Tier,
    pub tenant_status: TenantStatus,
    pub email: EmailAddress,
    /// When this membership was granted as it is (ms since the epoch), carried into tokens as
    /// [`crate::claims::TENANT_GRANT`] and compared with the tenant's revocations.
    pub granted_at: u64,
    /// A copy of the tenant's MFA requirement, kept in step like tier and status, so that
    /// sign-in learns whether to check the user's second factor without another read.
    pub require_mfa: bool,
}

/// A member as the tenant's own listing shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Member {
    pub user_id: UserId,
    pub email: EmailAddress,
    pub role: Role,
    pub status: MemberStatus,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MemberStatus {
    Active,
    /// Offboarding disabled the user.
    Disabled,
}

fn role(raw: &str) -> Result<Role, ValidationError> {
    Role::parse(raw).ok_or_else(|| ValidationError::new("role", "must be admin or member"))
}

/// The body of `POST /users`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InviteBody {
    pub email: String,
    #[serde(default = "member_role")]
    pub role: String,
}

fn member_role() -> String {
    "member".to_owned()
}

/// A validated invitation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invitation {
    pub email: EmailAddress,
    pub role: Role,
}

impl TryFrom<InviteBody> for Invitation {
    type Error = ValidationError;
    fn try_from(body: InviteBody) -> Result<Self, Self::Error> {
        Ok(Self {
            email: EmailAddress::parse(&body.email)?,
            role: role(&body.role)?,
        })
    }
}

/// The body of `PATCH /users/{userId}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangeRoleBody {
    pub role: String,
}

impl ChangeRoleBody {
    pub fn role(&self) -> Result<Role, ValidationError> {
        role(&self.role)
    }
}
