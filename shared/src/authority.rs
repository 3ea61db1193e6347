//! Authority that follows the stored truth, not the token alone.
//!
//! An ID token is valid for its whole lifetime whatever happens meanwhile: API Gateway's
//! authorizer checks its signature and expiry, nothing else. So the tenant claims it carries
//! are checked against the control table on every request, at two costs:
//!
//! - **Data routes** (products, orders) compare the token with the tenant record the data APIs
//!   cache for [`crate::tenancy::access::RECORD_TTL`] anyway, so a warm request still makes one
//!   DynamoDB call (its own). The record carries the tenant's status, its tier (plan limits
//!   come from it, not from the token) and its **revocations**: for each user who was removed or
//!   demoted recently, the instant it happened. A token whose grant (the claim
//!   [`crate::claims::TENANT_GRANT`], the membership's `granted_at` when the token was issued) is
//!   older than its user's revocation is refused with 401 `token-revoked`; a refreshed token
//!   carries the membership as it is now (none after a removal, the lower role after a
//!   demotion). So a revocation reaches every instance within the cache's 10 seconds.
//! - **Control routes** (users, tenant settings, offboarding) read the caller's member entry and
//!   the tenant record in one strongly consistent `TransactGetItems`: the role that decides is
//!   the stored one, at once.
//!
//! A grant and the revocation that supersedes it are written in one transaction, with the same
//! value (see [`crate::domain::revocation::next_grant`]), so no clock comparison across machines is involved: a token
//! issued from the membership before the change carries a smaller grant than the revocation,
//! and one issued after carries exactly the revocation's value.
//!
//! Revocations are kept for [`crate::domain::revocation::REVOCATION_RETENTION`], the longest an ID token can outlive its
//! grant, and pruned by the next revocation in the tenant, so the record stays small.

use std::future::Future;

use crate::context::TenantContext;
use crate::domain::revocation::Revocations;
use crate::domain::tenant::{Tenant, TenantStatus};
use crate::domain::{Role, Tier};
use crate::store::StoreError;

/// Refuses a caller whose tenant is not usable, whose token predates a revocation of its user,
/// or who signed in without a second factor while the tenant requires one. A tenant still
/// `provisioning` passes: its data routes answer 503 on their own.
///
/// Machine clients are exempt from the MFA requirement. A second factor is something a person
/// has besides a password; a machine client has no person and no password, only a generated
/// secret that is shown once to the admin who made it. What the requirement protects (that a
/// person's stolen password alone reaches nothing) still holds: only an admin can create or
/// delete a client, on control routes that require the admin's own second factor, and a client
/// reaches the products and orders routes only, with its scopes.
pub fn check(
    caller: &TenantContext,
    status: TenantStatus,
    revoked: &Revocations,
    require_mfa: bool,
) -> Result<(), StoreError> {
    match status {
        TenantStatus::Active | TenantStatus::Provisioning => {}
        TenantStatus::Suspended | TenantStatus::Deleting | TenantStatus::Deleted => {
            return Err(StoreError::TenantInactive);
        }
    }
    match revoked.get(&caller.user_id) {
        Some(at) if caller.grant < *at => Err(StoreError::Revoked),
        _ if require_mfa && !caller.mfa && caller.machine.is_none() => Err(StoreError::MfaRequired),
        _ => Ok(()),
    }
}

/// What the stored tenant record grants a caller on a data route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Standing {
    /// The stored tier, whose plan limits apply.
    pub tier: Tier,
    /// The plan was lowered: writes check the usage against its limits first.
    pub plan_lowered: bool,
    /// The organization's users (seats taken).
    pub users: u64,
}

/// Why an organization over its plan's limits is read-only, if it is: `None` when it is within
/// them. Strictly over: at a limit, what exists can still change (creating more is the quota's
/// refusal).
pub fn over_limits(tier: Tier, users: u64, products: u64) -> Option<String> {
    let limits = crate::plans::PlanLimits::of(tier);
    let mut over = Vec::new();
    if users > limits.max_users {
        over.push(format!("{users} users of {}", limits.max_users));
    }
    if products > limits.max_products {
        over.push(format!("{products} products of {}", limits.max_products));
    }
    (!over.is_empty()).then(|| {
        format!(
            "Your organization uses more than its {tier} plan allows ({}): its data is read-only \
             until it is within the plan (deleting is allowed) or the plan is raised.",
            over.join(", ")
        )
    })
}

/// Refuses a write (other than a deletion) of an organization whose plan was lowered while it
/// used more than the new plan allows, until it is within the limits again or pays for more.
/// One read of the usage counters, for such organizations only.
pub async fn ensure_writable<U: crate::store::UsageReader>(
    store: &U,
    caller: &TenantContext,
    standing: Standing,
) -> Result<(), crate::http::ApiError> {
    if !standing.plan_lowered {
        return Ok(());
    }
    let month = crate::domain::time::Timestamp::now().year_month();
    let usage = store.usage(&caller.tenant_id, &month).await?;
    match over_limits(standing.tier, standing.users, usage.products) {
        None => Ok(()),
        Some(detail) => Err(crate::http::ApiError::Conflict {
            code: "over-plan-limits",
            detail,
        }),
    }
}

/// The data APIs' check, from a view of the tenant record at most 10 seconds old.
pub trait CallerStanding: Send + Sync {
    fn standing(
        &self,
        caller: &TenantContext,
    ) -> impl Future<Output = Result<Standing, StoreError>> + Send;
}

/// What the control table says of a caller, read strongly consistently.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authority {
    pub tenant: Tenant,
    /// The stored role, which decides (not the token's).
    pub role: Role,
}

impl Authority {
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    /// 403 unless the caller is an admin, saying what only an admin can do.
    pub fn require_admin(&self, action: &str) -> Result<(), crate::http::ApiError> {
        if self.is_admin() {
            Ok(())
        } else {
            Err(crate::http::ApiError::forbidden(format!(
                "Only an admin can {action}."
            )))
        }
    }
}

/// Which tenants [`ControlAuthority::authority_in`] admits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admit {
    /// Active (or provisioning) tenants: every route but billing's.
    Usable,
    /// Suspended tenants too: billing's own page and portal, where a tenant suspended for
    /// non-payment pays.
    EvenSuspended,
}

/// The status [`check`] is given for a tenant in `status`, under `admit`.
pub fn admitted(status: TenantStatus, admit: Admit) -> TenantStatus {
    match (status, admit) {
        (TenantStatus::Suspended, Admit::EvenSuspended) => TenantStatus::Active,
        (status, _) => status,
    }
}

/// [`check`] of a caller against its tenant's record, admitting the tenants `admit` names.
pub fn check_in(caller: &TenantContext, tenant: &Tenant, admit: Admit) -> Result<(), StoreError> {
    check(
        caller,
        admitted(tenant.status, admit),
        &tenant.revoked,
        tenant.require_mfa,
    )
}

/// The control-plane functions' check: one strongly consistent read of the caller's member entry
/// and tenant record. A caller who is no longer a member is [`StoreError::Revoked`].
pub trait ControlAuthority: Send + Sync {
    fn authority_in(
        &self,
        caller: &TenantContext,
        admit: Admit,
    ) -> impl Future<Output = Result<Authority, StoreError>> + Send;

    /// The caller's authority in a usable tenant.
    fn authority(
        &self,
        caller: &TenantContext,
    ) -> impl Future<Output = Result<Authority, StoreError>> + Send {
        self.authority_in(caller, Admit::Usable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_organization_is_over_its_plan_only_strictly_above_a_limit() {
        assert_eq!(over_limits(Tier::Basic, 5, 100), None);
        let both = over_limits(Tier::Basic, 6, 101).unwrap();
        assert!(
            both.contains("6 users of 5") && both.contains("101 products of 100"),
            "{both}"
        );
        assert!(over_limits(Tier::Basic, 6, 0).is_some());
        assert_eq!(over_limits(Tier::Standard, 6, 101), None);
    }
    use crate::ids::{TenantId, UserId};

    fn caller(grant: u64) -> TenantContext {
        TenantContext {
            tenant_id: TenantId::nil(),
            user_id: UserId::parse("3f1c1e4a-9c3b-4e0b-9f49-0b4c8c1e2d3a").unwrap(),
            role: Role::Admin,
            tier: Tier::Basic,
            grant,
            mfa: false,
            machine: None,
        }
    }

    #[test]
    fn a_token_granted_before_its_users_revocation_is_refused() {
        let user = caller(0).user_id;
        let revoked: Revocations = [(user, 1_000)].into_iter().collect();
        let active = TenantStatus::Active;
        assert!(matches!(
            check(&caller(999), active, &revoked, false),
            Err(StoreError::Revoked)
        ));
        assert!(matches!(
            check(&caller(0), active, &revoked, false),
            Err(StoreError::Revoked)
        ));
        assert!(check(&caller(1_000), active, &revoked, false).is_ok());
        assert!(check(&caller(5), active, &Revocations::new(), false).is_ok());
    }

    #[test]
    fn an_unusable_tenant_refuses_everyone() {
        for status in [
            TenantStatus::Suspended,
            TenantStatus::Deleting,
            TenantStatus::Deleted,
        ] {
            assert!(matches!(
                check(&caller(u64::MAX), status, &Revocations::new(), false),
                Err(StoreError::TenantInactive)
            ));
        }
        assert!(
            check(
                &caller(1),
                TenantStatus::Provisioning,
                &Revocations::new(),
                false
            )
            .is_ok()
        );
    }

    #[test]
    fn a_tenant_that_requires_mfa_refuses_tokens_without_it() {
        let active = TenantStatus::Active;
        let none = Revocations::new();
        assert!(matches!(
            check(&caller(1), active, &none, true),
            Err(StoreError::MfaRequired)
        ));
        let with_mfa = TenantContext {
            mfa: true,
            ..caller(1)
        };
        assert!(check(&with_mfa, active, &none, true).is_ok());
        assert!(check(&caller(1), active, &none, false).is_ok());
    }

    #[test]
    fn a_machine_client_is_exempt_from_the_mfa_requirement_but_not_from_revocation() {
        let machine = TenantContext {
            machine: Some(vec![crate::api_clients::Scope::OrdersRead]),
            ..caller(10)
        };
        let active = TenantStatus::Active;
        assert!(check(&machine, active, &Revocations::new(), true).is_ok());
        let revoked: Revocations = [(machine.user_id.clone(), 11)].into_iter().collect();
        assert!(matches!(
            check(&machine, active, &revoked, true),
            Err(StoreError::Revoked)
        ));
        assert!(matches!(
            check(&machine, TenantStatus::Suspended, &Revocations::new(), true),
            Err(StoreError::TenantInactive)
        ));
    }
}
