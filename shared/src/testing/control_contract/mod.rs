//! The behaviour every control-store adapter must have: run against the in-memory store here
//! and against the DynamoDB adapter on the local DynamoDB server in the `tests` crate.

use std::collections::HashSet;

use crate::authority::ControlAuthority;
use crate::context::TenantContext;
use crate::domain::email::EmailAddress;
use crate::domain::member::Invitation;
use crate::domain::tenant::{Tenant, TenantName, TenantSettings, TenantStatus};
use crate::domain::{Role, Tier};
use crate::ids::{TenantId, UserId};
use crate::store::StoreError;
use crate::store::billing::{BillingStore, Saved};
use crate::store::control::{
    MemberStore, Onboarded, Onboarding, PersonStore, Reservation, Reserved, TenantStateChange,
    TenantStore,
};
use crate::testing::{SoleMembership, reserve_new};

mod billing;
mod members;
mod people;
mod tenants;

pub use billing::*;
pub use members::*;
pub use people::*;
pub use tenants::*;

pub trait ContractControl:
    Onboarding
    + MemberStore
    + TenantStore
    + PersonStore
    + BillingStore
    + crate::mail::Outbox
    + ControlAuthority
    + Clone
    + 'static
{
}

impl<S> ContractControl for S where
    S: Onboarding
        + MemberStore
        + TenantStore
        + PersonStore
        + BillingStore
        + crate::mail::Outbox
        + ControlAuthority
        + Clone
        + 'static
{
}

fn new_user() -> UserId {
    UserId::parse(&uuid::Uuid::new_v4().to_string()).expect("a UUID is a user id")
}

fn unique_email(label: &str) -> EmailAddress {
    EmailAddress::parse(&format!(
        "{label}-{}@example.com",
        uuid::Uuid::new_v4().simple()
    ))
    .expect("valid e-mail")
}

fn new_tenant(tier: Tier) -> Tenant {
    Tenant::new(TenantName::parse("Acme Tea").expect("valid name"), tier)
}

/// A fresh tenant with its admin.
pub async fn onboarded<S: ContractControl>(store: &S) -> (Tenant, UserId, EmailAddress) {
    let (tenant, admin, email) = (new_tenant(Tier::Basic), new_user(), unique_email("admin"));
    assert_eq!(
        store
            .onboard(&tenant, &admin, &email)
            .await
            .expect("onboard"),
        Onboarded::Created
    );
    (tenant, admin, email)
}

/// Holds a fresh address and a seat in `tenant` for an invitation as `role`.
async fn reserve<S: ContractControl>(
    store: &S,
    tenant: &TenantId,
    label: &str,
    role: Role,
) -> (Invitation, Reservation) {
    let invitation = Invitation {
        email: unique_email(label),
        role,
    };
    let reservation = reserve_new(store, tenant, &invitation, 100)
        .await
        .expect("reserve");
    (invitation, reservation)
}

async fn invite<S: ContractControl>(store: &S, tenant: &TenantId, role: Role) -> UserId {
    let invitation = Invitation {
        email: unique_email("invitee"),
        role,
    };
    let reservation = reserve_new(store, tenant, &invitation, 100)
        .await
        .expect("reserve");
    let user = new_user();
    store
        .complete_invite(tenant, &reservation, &user)
        .await
        .expect("complete");
    user
}

/// Invites `user` (who has an account) to `tenant` as `role`.
async fn invite_person<S: ContractControl>(
    store: &S,
    tenant: &TenantId,
    user: &UserId,
    email: &EmailAddress,
    role: Role,
) {
    let invitation = Invitation {
        email: email.clone(),
        role,
    };
    store
        .invite_existing(tenant, &invitation, user, 100)
        .await
        .expect("invite");
}

/// A token's context for `user` in `tenant`.
fn caller_in(tenant: &TenantId, user: &UserId, role: Role, grant: u64) -> TenantContext {
    TenantContext {
        tenant_id: *tenant,
        user_id: user.clone(),
        role,
        tier: Tier::Basic,
        grant,
        mfa: false,
        machine: None,
    }
}

fn counts(tenant: &Tenant) -> (u64, u64) {
    (tenant.user_count, tenant.admin_count)
}

#[macro_export]
macro_rules! control_contract_tests {
    ($make:expr) => {
        $crate::control_contract_tests!(@cases $make;
            onboarding_creates_the_tenant_and_its_admin,
            onboarding_again_creates_nothing,
            concurrent_onboarding_of_one_user_creates_one_tenant,
            an_invitation_adds_a_member,
            an_address_in_use_is_invited_to_accept,
            a_cancelled_invitation_frees_the_address_and_seat,
            the_user_limit_holds_under_concurrency,
            a_tenant_keeps_at_least_one_admin,
            removing_a_member_removes_every_trace,
            another_tenants_members_are_not_found,
            members_page_and_cursors_stay_with_their_tenant,
            tenant_updates_need_the_current_version,
            state_changes_reach_every_membership,
            a_deleted_tenant_stays_deleted,
            tenants_list_oldest_first_across_pages,
            a_pending_admin_invitation_is_not_an_admin,
            state_changes_never_revert_concurrent_seat_changes,
            removals_and_demotions_revoke_earlier_grants,
            authority_is_the_stored_role_and_status,
            an_interrupted_invitation_is_resumed_not_refused,
            counters_and_the_last_admin_hold_under_concurrent_changes_of_every_kind,
            an_mfa_requirement_reaches_memberships_and_the_authority_check,
            a_person_belongs_to_several_organizations,
            invitations_are_answered_once_by_their_invitee,
            concurrent_answers_withdrawals_and_leaves_keep_the_counts,
            a_person_creates_organizations_and_loses_only_an_offboarded_one,
            admins_leaving_at_once_leave_one_admin,
            a_tenant_has_one_customer_at_the_payment_provider,
            a_webhook_event_changes_an_account_once,
            the_sweep_lists_the_accounts_whose_subscription_decides_the_tier,
            a_suspension_keeps_its_cause_until_it_is_lifted,
            a_held_e_mail_is_listed_until_released,
        );
    };
    (@cases $make:expr; $($case:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                let store = $make;
                $crate::testing::control_contract::$case(&store).await;
            }
        )+
    };
}
