//! Who belongs to which tenant, with which role.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::ValidationError;
use super::email::EmailAddress;
use super::tenant::{Tenant, TenantStatus};
use super::time::Timestamp;
use crate::domain::{Role, Tier};
use crate::ids::{TenantId, UserId};

/// How long an invitation of someone who already has an account can be accepted.
pub const INVITATION_LIFETIME_MS: u64 = 7 * 24 * 60 * 60 * 1000;

/// How many organizations (memberships and pending invitations together) one person can have:
/// they are all kept in one item, read in one request at every sign-in, so they are bounded.
pub const MAX_MEMBERSHIPS: usize = 100;

/// One of a person's organizations, as their profile holds it: what the pre-token trigger needs
/// to put that organization's claims into a token without another read. The tenant's tier,
/// status and MFA requirement are copied here, and kept in step whenever they change.
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
    pub state: MembershipState,
}

impl Membership {
    /// The membership of the person who creates `tenant`.
    pub fn first_admin(tenant: &Tenant, admin: &UserId, email: &EmailAddress) -> Self {
        Self {
            user_id: admin.clone(),
            tenant_id: tenant.id,
            role: Role::Admin,
            tier: tenant.tier,
            tenant_status: tenant.status,
            email: email.clone(),
            granted_at: crate::domain::time::now_millis(),
            require_mfa: tenant.require_mfa,
            state: MembershipState::Active,
        }
    }

    /// Whether a token may carry this organization: an accepted membership of a tenant that is
    /// open for work.
    pub fn usable(&self) -> bool {
        self.state == MembershipState::Active && self.tenant_status.allows_access()
    }
}

/// Whether a membership is in force or still an invitation waiting for an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MembershipState {
    Active,
    /// Invited while already having an account; acceptable until `expires_at` (ms).
    Invited {
        expires_at: u64,
    },
}

/// A person and every organization they belong to or are invited to: one item, keyed by the
/// Cognito `sub`, read in one request at sign-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    pub user_id: UserId,
    pub email: EmailAddress,
    /// The organization the person chose (`PUT /me/active-organization`).
    pub active: Option<TenantId>,
    pub memberships: BTreeMap<TenantId, Membership>,
}

impl Profile {
    /// The membership the next token carries: the chosen organization while it is usable, else
    /// the usable one of the oldest organization (ids sort by creation), else none.
    pub fn chosen(&self) -> Option<&Membership> {
        self.active
            .and_then(|tenant| self.memberships.get(&tenant))
            .filter(|membership| membership.usable())
            .or_else(|| self.memberships.values().find(|m| m.usable()))
    }

    pub fn of(&self, tenant: &TenantId) -> Option<&Membership> {
        self.memberships.get(tenant)
    }

    /// Accepted memberships (of any tenant status), oldest organization first.
    pub fn organizations(&self) -> impl Iterator<Item = &Membership> {
        self.memberships
            .values()
            .filter(|m| m.state == MembershipState::Active)
    }

    /// Invitations waiting for an answer (expired ones included: they are shown as such).
    pub fn invitations(&self) -> impl Iterator<Item = &Membership> {
        self.memberships
            .values()
            .filter(|m| matches!(m.state, MembershipState::Invited { .. }))
    }
}

/// A member as the tenant's own listing shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Member {
    pub user_id: UserId,
    pub email: EmailAddress,
    pub role: Role,
    pub status: MemberStatus,
    pub created_at: Timestamp,
    /// Until when a pending invitation can be accepted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<Timestamp>,
}

impl Member {
    /// The tenant's member entry of a membership.
    pub fn of(membership: &Membership, created_at: Timestamp) -> Self {
        let (status, expires_at) = match membership.state {
            MembershipState::Active => (MemberStatus::Active, None),
            MembershipState::Invited { expires_at } => (
                MemberStatus::Invited,
                Some(Timestamp::from_millis(expires_at)),
            ),
        };
        Self {
            user_id: membership.user_id.clone(),
            email: membership.email.clone(),
            role: membership.role,
            status,
            created_at,
            expires_at,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MemberStatus {
    Active,
    /// Offboarding disabled the user.
    Disabled,
    /// Invited while already having an account: holds a seat until accepted, declined,
    /// withdrawn or expired.
    Invited,
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

/// The body of `POST /me/invitations/{tenantId}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnswerBody {
    pub accept: bool,
}

/// The body of `PUT /me/active-organization`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActiveOrganizationBody {
    pub tenant_id: String,
}
