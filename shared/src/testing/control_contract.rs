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

pub async fn onboarding_creates_the_tenant_and_its_admin<S: ContractControl>(store: &S) {
    let (tenant, admin, email) = onboarded(store).await;
    let stored = store.get_tenant(&tenant.id).await.expect("tenant");
    assert_eq!(
        (stored.user_count, stored.admin_count, stored.status),
        (1, 1, TenantStatus::Active)
    );
    let membership = store
        .membership(&admin)
        .await
        .expect("lookup")
        .expect("membership");
    assert_eq!(
        (membership.tenant_id, membership.role, membership.tier),
        (tenant.id, Role::Admin, Tier::Basic)
    );
    assert_eq!(membership.email, email);
    let member = store.get_member(&tenant.id, &admin).await.expect("member");
    assert_eq!(member.role, Role::Admin);
    assert!(
        store
            .membership(&new_user())
            .await
            .expect("lookup")
            .is_none()
    );
}

pub async fn onboarding_again_creates_nothing<S: ContractControl>(store: &S) {
    let (tenant, admin, email) = onboarded(store).await;
    let retry = new_tenant(Tier::Basic);
    assert_eq!(
        store.onboard(&retry, &admin, &email).await.expect("retry"),
        Onboarded::AlreadyMember
    );
    assert!(matches!(
        store.get_tenant(&retry.id).await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(
        store
            .membership(&admin)
            .await
            .expect("lookup")
            .expect("membership")
            .tenant_id,
        tenant.id
    );
}

pub async fn concurrent_onboarding_of_one_user_creates_one_tenant<S: ContractControl>(store: &S) {
    let (admin, email) = (new_user(), unique_email("race"));
    let attempts: Vec<Tenant> = (0..5).map(|_| new_tenant(Tier::Standard)).collect();
    let tasks: Vec<_> = attempts
        .iter()
        .cloned()
        .map(|tenant| {
            let (store, admin, email) = (store.clone(), admin.clone(), email.clone());
            tokio::spawn(async move { store.onboard(&tenant, &admin, &email).await })
        })
        .collect();
    let mut created = 0;
    for task in tasks {
        match task.await.expect("task").expect("onboard") {
            Onboarded::Created => created += 1,
            Onboarded::AlreadyMember => {}
        }
    }
    assert_eq!(created, 1);
    let winner = store
        .membership(&admin)
        .await
        .expect("lookup")
        .expect("membership")
        .tenant_id;
    for attempt in &attempts {
        let exists = store.get_tenant(&attempt.id).await.is_ok();
        assert_eq!(
            exists,
            attempt.id == winner,
            "only the winning tenant exists"
        );
    }
}

pub async fn an_invitation_adds_a_member<S: ContractControl>(store: &S) {
    let (tenant, _, _) = onboarded(store).await;
    let invitation = Invitation {
        email: unique_email("bob"),
        role: Role::Member,
    };
    let reservation = reserve_new(store, &tenant.id, &invitation, 5)
        .await
        .expect("reserve");
    assert_eq!(
        (reservation.tier, reservation.tenant_status),
        (Tier::Basic, TenantStatus::Active)
    );
    let user = new_user();
    let member = store
        .complete_invite(&tenant.id, &reservation, &user)
        .await
        .expect("complete");
    assert_eq!(
        (member.role, &member.email),
        (Role::Member, &invitation.email)
    );
    assert_eq!(
        store.get_member(&tenant.id, &user).await.expect("member"),
        member
    );
    let membership = store
        .membership(&user)
        .await
        .expect("lookup")
        .expect("membership");
    assert_eq!(
        (membership.tenant_id, membership.role),
        (tenant.id, Role::Member)
    );
    assert_eq!(
        store
            .get_tenant(&tenant.id)
            .await
            .expect("tenant")
            .user_count,
        2
    );
}

pub async fn an_address_in_use_is_invited_to_accept<S: ContractControl>(store: &S) {
    let (a, a_admin, a_admin_email) = onboarded(store).await;
    let (b, _, _) = onboarded(store).await;
    let to_b = Invitation {
        email: a_admin_email.clone(),
        role: Role::Member,
    };
    // Nothing is held for an address that has an account.
    assert_eq!(
        store
            .reserve_invite(&b.id, &to_b, 5)
            .await
            .expect("reserve"),
        Reserved::Existing(Some(a_admin.clone()))
    );
    assert_eq!(store.get_tenant(&b.id).await.expect("tenant").user_count, 1);
    assert!(matches!(
        store.invite_existing(&a.id, &to_b, &a_admin, 5).await,
        Err(StoreError::EmailTaken { same_tenant: true })
    ));
    let pending = store
        .invite_existing(&b.id, &to_b, &a_admin, 5)
        .await
        .expect("invite");
    assert_eq!(pending.status, crate::domain::member::MemberStatus::Invited);
    assert!(pending.expires_at.is_some());
    assert!(matches!(
        store.invite_existing(&b.id, &to_b, &a_admin, 5).await,
        Err(StoreError::EmailTaken { same_tenant: true })
    ));
    let stored = store.get_tenant(&b.id).await.expect("tenant");
    assert_eq!(
        (stored.user_count, stored.admin_count),
        (2, 1),
        "a pending invitation holds a seat"
    );
}

pub async fn a_cancelled_invitation_frees_the_address_and_seat<S: ContractControl>(store: &S) {
    let (tenant, _, _) = onboarded(store).await;
    let invitation = Invitation {
        email: unique_email("undo"),
        role: Role::Admin,
    };
    let reservation = reserve_new(store, &tenant.id, &invitation, 5)
        .await
        .expect("reserve");
    store
        .cancel_invite(&tenant.id, &reservation)
        .await
        .expect("cancel");
    let stored = store.get_tenant(&tenant.id).await.expect("tenant");
    assert_eq!((stored.user_count, stored.admin_count), (1, 1));
    reserve_new(store, &tenant.id, &invitation, 5)
        .await
        .expect("address free again");
}

pub async fn the_user_limit_holds_under_concurrency<S: ContractControl>(store: &S) {
    let (tenant, _, _) = onboarded(store).await;
    let tasks: Vec<_> = (0..6)
        .map(|i| {
            let store = store.clone();
            let invitation = Invitation {
                email: unique_email(&format!("seat{i}")),
                role: Role::Member,
            };
            tokio::spawn(async move { reserve_new(&store, &tenant.id, &invitation, 3).await })
        })
        .collect();
    let mut reserved = 0;
    for task in tasks {
        match task.await.expect("task") {
            Ok(_) => reserved += 1,
            Err(StoreError::QuotaExceeded { max: 3, .. }) => {}
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(reserved, 2);
    assert_eq!(
        store
            .get_tenant(&tenant.id)
            .await
            .expect("tenant")
            .user_count,
        3
    );
}

pub async fn a_tenant_keeps_at_least_one_admin<S: ContractControl>(store: &S) {
    let (tenant, admin, _) = onboarded(store).await;
    assert!(matches!(
        store.change_role(&tenant.id, &admin, Role::Member).await,
        Err(StoreError::LastAdmin)
    ));
    assert!(matches!(
        store.remove_member(&tenant.id, &admin).await,
        Err(StoreError::LastAdmin)
    ));
    let second = invite(store, &tenant.id, Role::Member).await;
    let promoted = store
        .change_role(&tenant.id, &second, Role::Admin)
        .await
        .expect("promote");
    assert_eq!(promoted.role, Role::Admin);
    assert_eq!(
        store
            .membership(&second)
            .await
            .expect("lookup")
            .expect("membership")
            .role,
        Role::Admin
    );
    store
        .change_role(&tenant.id, &admin, Role::Member)
        .await
        .expect("demote the first admin");
    assert!(matches!(
        store.remove_member(&tenant.id, &second).await,
        Err(StoreError::LastAdmin)
    ));
    let stored = store.get_tenant(&tenant.id).await.expect("tenant");
    assert_eq!((stored.user_count, stored.admin_count), (2, 1));
}

pub async fn removing_a_member_removes_every_trace<S: ContractControl>(store: &S) {
    let (tenant, _, _) = onboarded(store).await;
    let user = invite(store, &tenant.id, Role::Member).await;
    let member = store.get_member(&tenant.id, &user).await.expect("member");
    let removed = store
        .remove_member(&tenant.id, &user)
        .await
        .expect("remove");
    assert_eq!((&removed.member.user_id, removed.remaining), (&user, 0));
    assert!(matches!(
        store.get_member(&tenant.id, &user).await,
        Err(StoreError::NotFound)
    ));
    assert!(store.membership(&user).await.expect("lookup").is_none());
    assert_eq!(
        store
            .get_tenant(&tenant.id)
            .await
            .expect("tenant")
            .user_count,
        1
    );
    assert!(
        store
            .forget_person(&user, &member.email)
            .await
            .expect("forget")
    );
    assert!(store.profile(&user).await.expect("lookup").is_none());
    let again = Invitation {
        email: member.email,
        role: Role::Member,
    };
    reserve_new(store, &tenant.id, &again, 5)
        .await
        .expect("address free again");
}

pub async fn another_tenants_members_are_not_found<S: ContractControl>(store: &S) {
    let (a, a_admin, _) = onboarded(store).await;
    let (b, _, _) = onboarded(store).await;
    let a_member = invite(store, &a.id, Role::Member).await;
    for user in [&a_admin, &a_member] {
        assert!(matches!(
            store.get_member(&b.id, user).await,
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            store.change_role(&b.id, user, Role::Admin).await,
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            store.remove_member(&b.id, user).await,
            Err(StoreError::NotFound)
        ));
    }
    let b_members: Vec<UserId> = store
        .list_members(&b.id, 100, None)
        .await
        .expect("list")
        .items
        .into_iter()
        .map(|m| m.user_id)
        .collect();
    assert_eq!(b_members.len(), 1);
    assert!(!b_members.contains(&a_member));
    assert_eq!(
        store
            .membership(&a_member)
            .await
            .expect("lookup")
            .expect("membership")
            .role,
        Role::Member
    );
    assert_eq!(store.get_tenant(&a.id).await.expect("tenant").user_count, 2);
}

pub async fn members_page_and_cursors_stay_with_their_tenant<S: ContractControl>(store: &S) {
    let (a, admin, _) = onboarded(store).await;
    let (b, _, _) = onboarded(store).await;
    let mut expected: HashSet<UserId> = HashSet::from([admin]);
    for _ in 0..4 {
        expected.insert(invite(store, &a.id, Role::Member).await);
    }
    let mut seen = HashSet::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = store
            .list_members(&a.id, 2, cursor.as_deref())
            .await
            .expect("page");
        assert!(page.items.len() <= 2);
        for member in page.items {
            assert!(seen.insert(member.user_id), "listed twice");
        }
        match page.next_cursor {
            Some(next) => {
                assert!(matches!(
                    store.list_members(&b.id, 2, Some(&next)).await,
                    Err(StoreError::InvalidCursor)
                ));
                cursor = Some(next);
            }
            None => break,
        }
    }
    assert_eq!(seen, expected);
}

pub async fn tenant_updates_need_the_current_version<S: ContractControl>(store: &S) {
    let (tenant, _, _) = onboarded(store).await;
    let settings = TenantSettings {
        display_name: Some("Acme".into()),
        ..TenantSettings::default()
    };
    let updated = store
        .update_tenant(
            &tenant.id,
            Some(1),
            Some(TenantName::parse("Acme Two").expect("name")),
            Some(settings.clone()),
            Some(true),
        )
        .await
        .expect("update");
    assert_eq!(
        (
            updated.version,
            updated.name.as_str(),
            &updated.settings,
            updated.require_mfa
        ),
        (2, "Acme Two", &settings, true)
    );
    assert!(matches!(
        store
            .update_tenant(&tenant.id, Some(1), None, None, None)
            .await,
        Err(StoreError::VersionConflict)
    ));
    assert_eq!(store.get_tenant(&tenant.id).await.expect("tenant"), updated);
    assert!(matches!(
        store
            .update_tenant(&TenantId::generate(), None, None, None, None)
            .await,
        Err(StoreError::NotFound)
    ));
}

/// The MFA requirement reaches every membership when synchronised (what sign-in reads), and
/// the control-plane check refuses a token without a second factor.
pub async fn an_mfa_requirement_reaches_memberships_and_the_authority_check<S: ContractControl>(
    store: &S,
) {
    let (tenant, admin, _) = onboarded(store).await;
    let member = invite(store, &tenant.id, Role::Member).await;
    store
        .update_tenant(&tenant.id, None, None, None, Some(true))
        .await
        .expect("require MFA");
    store
        .sync_memberships(&tenant.id)
        .await
        .expect("sync memberships");
    for user in [&admin, &member] {
        let membership = store
            .membership(user)
            .await
            .expect("lookup")
            .expect("membership");
        assert!(membership.require_mfa);
    }
    let mut caller = TenantContext {
        tenant_id: tenant.id,
        user_id: admin.clone(),
        role: Role::Admin,
        tier: Tier::Basic,
        grant: crate::domain::time::now_millis(),
        mfa: false,
        machine: None,
    };
    assert!(matches!(
        store.authority(&caller).await,
        Err(StoreError::MfaRequired)
    ));
    caller.mfa = true;
    assert!(store.authority(&caller).await.is_ok());
    // A member invited afterwards gets the requirement in their membership from the start.
    let later = invite(store, &tenant.id, Role::Member).await;
    assert!(
        store
            .membership(&later)
            .await
            .expect("lookup")
            .expect("membership")
            .require_mfa
    );
}

pub async fn state_changes_reach_every_membership<S: ContractControl>(store: &S) {
    let (tenant, admin, _) = onboarded(store).await;
    let member = invite(store, &tenant.id, Role::Member).await;
    let (other, other_admin, _) = onboarded(store).await;
    let change = TenantStateChange {
        status: Some(TenantStatus::Suspended),
        tier: Some(Tier::Standard),
        ..TenantStateChange::default()
    };
    let updated = store
        .set_tenant_state(&tenant.id, change)
        .await
        .expect("suspend");
    assert_eq!(
        (updated.status, updated.tier),
        (TenantStatus::Suspended, Tier::Standard)
    );
    // A lowered plan is recorded, and stays until cleared.
    assert!(!updated.plan_lowered);
    let lower = |lowered| TenantStateChange {
        plan_lowered: Some(lowered),
        ..TenantStateChange::default()
    };
    let lowered = store
        .set_tenant_state(&tenant.id, lower(true))
        .await
        .expect("lower");
    assert!(lowered.plan_lowered);
    assert!(
        store
            .get_tenant(&tenant.id)
            .await
            .expect("get")
            .plan_lowered
    );
    assert_eq!(lowered.tier, Tier::Standard, "only what changes is written");
    let raised = store
        .set_tenant_state(&tenant.id, lower(false))
        .await
        .expect("raise");
    assert!(
        !store
            .get_tenant(&tenant.id)
            .await
            .expect("get")
            .plan_lowered
    );
    assert_eq!(raised.status, TenantStatus::Suspended);
    for user in [&admin, &member] {
        let membership = store
            .membership(user)
            .await
            .expect("lookup")
            .expect("membership");
        assert_eq!(
            (membership.tenant_status, membership.tier),
            (TenantStatus::Suspended, Tier::Standard)
        );
    }
    let untouched = store
        .membership(&other_admin)
        .await
        .expect("lookup")
        .expect("membership");
    assert_eq!(
        (untouched.tenant_id, untouched.tenant_status),
        (other.id, TenantStatus::Active)
    );
    let stale = TenantStateChange {
        expected_version: Some(1),
        status: Some(TenantStatus::Active),
        ..TenantStateChange::default()
    };
    assert!(matches!(
        store.set_tenant_state(&tenant.id, stale).await,
        Err(StoreError::VersionConflict)
    ));
}

pub async fn a_deleted_tenant_stays_deleted<S: ContractControl>(store: &S) {
    let (tenant, admin, _) = onboarded(store).await;
    let to = |status| TenantStateChange {
        status: Some(status),
        ..TenantStateChange::default()
    };
    store
        .set_tenant_state(&tenant.id, to(TenantStatus::Deleting))
        .await
        .expect("deleting");
    assert!(matches!(
        store
            .set_tenant_state(&tenant.id, to(TenantStatus::Active))
            .await,
        Err(StoreError::InvalidTenantTransition { .. })
    ));
    store
        .set_tenant_state(&tenant.id, to(TenantStatus::Deleted))
        .await
        .expect("deleted");
    assert!(matches!(
        store.begin_offboarding(&tenant.id).await,
        Err(StoreError::InvalidTenantTransition { .. })
    ));
    assert!(matches!(
        store.begin_offboarding(&TenantId::generate()).await,
        Err(StoreError::NotFound)
    ));
    assert!(
        store
            .detach_member(&tenant.id, &admin)
            .await
            .expect("detach")
    );
    store.purge_members(&tenant.id).await.expect("purge");
    assert!(store.profile(&admin).await.expect("lookup").is_none());
    assert!(store.member_ids(&tenant.id).await.expect("ids").is_empty());
    assert_eq!(
        store
            .get_tenant(&tenant.id)
            .await
            .expect("tombstone")
            .status,
        TenantStatus::Deleted
    );
}

pub async fn tenants_list_oldest_first_across_pages<S: ContractControl>(store: &S) {
    let mut mine = Vec::new();
    for _ in 0..3 {
        mine.push(onboarded(store).await.0.id);
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    }
    let mut listed = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = store
            .list_tenants(2, cursor.as_deref())
            .await
            .expect("page");
        listed.extend(page.items.iter().map(|t| t.id));
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    let positions: Vec<usize> = mine
        .iter()
        .map(|id| listed.iter().position(|l| l == id).expect("listed"))
        .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "oldest first");
    assert!(matches!(
        store.list_tenants(2, Some("bogus")).await,
        Err(StoreError::InvalidCursor)
    ));
}

pub async fn a_pending_admin_invitation_is_not_an_admin<S: ContractControl>(store: &S) {
    let (tenant, admin, _) = onboarded(store).await;
    let (_, reservation) = reserve(store, &tenant.id, "pending-admin", Role::Admin).await;
    assert!(matches!(
        store.change_role(&tenant.id, &admin, Role::Member).await,
        Err(StoreError::LastAdmin)
    ));
    assert!(matches!(
        store.remove_member(&tenant.id, &admin).await,
        Err(StoreError::LastAdmin)
    ));
    // The invitation then fails (Cognito refused the address, say): one admin, as before.
    store
        .cancel_invite(&tenant.id, &reservation)
        .await
        .expect("cancel");
    let stored = store.get_tenant(&tenant.id).await.expect("tenant");
    assert_eq!((stored.user_count, stored.admin_count), (1, 1));
    let member = store.get_member(&tenant.id, &admin).await.expect("admin");
    assert_eq!(member.role, Role::Admin);
}

/// State changes write only what they change: invitations, removals and role changes made
/// meanwhile keep their effect on the counters.
pub async fn state_changes_never_revert_concurrent_seat_changes<S: ContractControl>(store: &S) {
    let (tenant, _, _) = onboarded(store).await;
    let mut tasks = Vec::new();
    for i in 0..8 {
        let (inviter, id) = (store.clone(), tenant.id);
        tasks.push(tokio::spawn(async move {
            invite(&inviter, &id, Role::Member).await;
        }));
        let (changer, id) = (store.clone(), tenant.id);
        tasks.push(tokio::spawn(async move {
            let tier = if i % 2 == 0 {
                Tier::Standard
            } else {
                Tier::Basic
            };
            let change = TenantStateChange {
                tier: Some(tier),
                ..TenantStateChange::default()
            };
            // A concurrent state change may lose its own race (a conflict), never another's.
            match changer.set_tenant_state(&id, change).await {
                Ok(_) | Err(StoreError::VersionConflict) => {}
                Err(err) => panic!("state change: {err}"),
            }
        }));
    }
    for task in tasks {
        task.await.expect("task");
    }
    let stored = store.get_tenant(&tenant.id).await.expect("tenant");
    let members = store
        .list_members(&tenant.id, 100, None)
        .await
        .expect("members")
        .items;
    let admins = members.iter().filter(|m| m.role == Role::Admin).count() as u64;
    assert_eq!(
        (stored.user_count, stored.admin_count),
        (members.len() as u64, admins),
        "the counters equal the real counts"
    );
    assert_eq!(members.len(), 9);
}

/// Invariant: whatever runs at once (invitations, one of which fails; removals; promotions and
/// demotions of every admin; state changes), the stored counters equal the real counts and the
/// tenant keeps an admin.
pub async fn counters_and_the_last_admin_hold_under_concurrent_changes_of_every_kind<
    S: ContractControl,
>(
    store: &S,
) {
    let (tenant, first_admin, _) = onboarded(store).await;
    let id = tenant.id;
    let mut admins = vec![first_admin];
    for _ in 0..3 {
        admins.push(invite(store, &id, Role::Admin).await);
    }
    let mut members = Vec::new();
    for _ in 0..4 {
        members.push(invite(store, &id, Role::Member).await);
    }
    let expected = |result: Result<(), StoreError>| match result {
        Ok(()) | Err(StoreError::LastAdmin) | Err(StoreError::VersionConflict) => {}
        Err(err) => panic!("unexpected failure: {err}"),
    };
    let mut tasks: Vec<tokio::task::JoinHandle<()>> = Vec::new();
    for admin in admins.clone() {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            expected(
                store
                    .change_role(&id, &admin, Role::Member)
                    .await
                    .map(|_| ()),
            );
        }));
    }
    for member in &members[..2] {
        let (store, member) = (store.clone(), member.clone());
        tasks.push(tokio::spawn(async move {
            expected(store.remove_member(&id, &member).await.map(|_| ()));
        }));
    }
    for member in &members[2..] {
        let (store, member) = (store.clone(), member.clone());
        tasks.push(tokio::spawn(async move {
            expected(
                store
                    .change_role(&id, &member, Role::Admin)
                    .await
                    .map(|_| ()),
            );
        }));
    }
    for role in [Role::Admin, Role::Member] {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            invite(&store, &id, role).await;
        }));
    }
    {
        // A pending admin invitation that then fails (Cognito refused the address, say).
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let (_, held) = reserve(&store, &id, "doomed", Role::Admin).await;
            store.cancel_invite(&id, &held).await.expect("cancel");
        }));
    }
    for tier in [Tier::Standard, Tier::Basic, Tier::Standard] {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let change = TenantStateChange {
                tier: Some(tier),
                ..TenantStateChange::default()
            };
            expected(store.set_tenant_state(&id, change).await.map(|_| ()));
        }));
    }
    for task in tasks {
        task.await.expect("task");
    }
    let stored = store.get_tenant(&id).await.expect("tenant");
    let listed = store
        .list_members(&id, 100, None)
        .await
        .expect("members")
        .items;
    let real_admins = listed.iter().filter(|m| m.role == Role::Admin).count() as u64;
    assert_eq!(
        (stored.user_count, stored.admin_count),
        (listed.len() as u64, real_admins),
        "the counters equal the real counts"
    );
    assert!(real_admins >= 1, "the tenant keeps an admin");
    assert_eq!(listed.len(), 1 + 3 + 4 - 2 + 2);
}

pub async fn removals_and_demotions_revoke_earlier_grants<S: ContractControl>(store: &S) {
    let (tenant, _, _) = onboarded(store).await;
    let removed = invite(store, &tenant.id, Role::Member).await;
    let granted = store
        .membership(&removed)
        .await
        .expect("lookup")
        .expect("membership")
        .granted_at;
    assert!(granted > 0);
    store
        .remove_member(&tenant.id, &removed)
        .await
        .expect("remove");
    let record = store.get_tenant(&tenant.id).await.expect("tenant");
    assert!(
        record.revoked[&removed] > granted,
        "removal revokes the grant"
    );

    let demoted = invite(store, &tenant.id, Role::Admin).await;
    let before = store
        .membership(&demoted)
        .await
        .expect("lookup")
        .expect("membership")
        .granted_at;
    store
        .change_role(&tenant.id, &demoted, Role::Member)
        .await
        .expect("demote");
    let after = store
        .membership(&demoted)
        .await
        .expect("lookup")
        .expect("membership");
    let record = store.get_tenant(&tenant.id).await.expect("tenant");
    assert_eq!(after.role, Role::Member);
    assert!(after.granted_at > before);
    assert_eq!(
        record.revoked[&demoted], after.granted_at,
        "the new grant is exactly the revocation: new tokens pass, old ones do not"
    );
    assert!(
        record.revoked.contains_key(&removed),
        "the earlier revocation is kept"
    );
    // A promotion takes nothing away: no revocation.
    let promoted = invite(store, &tenant.id, Role::Member).await;
    store
        .change_role(&tenant.id, &promoted, Role::Admin)
        .await
        .expect("promote");
    let record = store.get_tenant(&tenant.id).await.expect("tenant");
    assert!(!record.revoked.contains_key(&promoted));
}

pub async fn authority_is_the_stored_role_and_status<S: ContractControl>(store: &S) {
    let (tenant, admin, _) = onboarded(store).await;
    let member = invite(store, &tenant.id, Role::Member).await;
    let caller = |user: &UserId, role: Role, grant: u64| TenantContext {
        tenant_id: tenant.id,
        user_id: user.clone(),
        role,
        tier: Tier::Premium,
        grant,
        mfa: false,
        machine: None,
    };
    let now = crate::domain::time::now_millis();
    let authority = store
        .authority(&caller(&member, Role::Admin, now))
        .await
        .expect("a member");
    assert_eq!(
        (authority.role, authority.tenant.tier),
        (Role::Member, Tier::Basic),
        "the stored role and tier, not the token's"
    );
    store
        .remove_member(&tenant.id, &member)
        .await
        .expect("remove");
    assert!(matches!(
        store.authority(&caller(&member, Role::Member, 0)).await,
        Err(StoreError::Revoked)
    ));
    // Even a token that claims to be newer than the revocation: the member entry is gone.
    assert!(matches!(
        store
            .authority(&caller(&member, Role::Member, u64::MAX))
            .await,
        Err(StoreError::Revoked)
    ));
    let suspend = TenantStateChange {
        status: Some(TenantStatus::Suspended),
        ..TenantStateChange::default()
    };
    store
        .set_tenant_state(&tenant.id, suspend)
        .await
        .expect("suspend");
    assert!(matches!(
        store.authority(&caller(&admin, Role::Admin, now)).await,
        Err(StoreError::TenantInactive)
    ));
    let other = TenantContext {
        tenant_id: TenantId::generate(),
        ..caller(&admin, Role::Admin, now)
    };
    assert!(matches!(
        store.authority(&other).await,
        Err(StoreError::TenantInactive)
    ));
}

/// An invitation that a crash interrupted after its first step (address and seat held) is taken
/// over by the next invitation of that address to that tenant, without a second seat; a late
/// cancel of the finished invitation takes nothing away.
pub async fn an_interrupted_invitation_is_resumed_not_refused<S: ContractControl>(store: &S) {
    let (tenant, _, _) = onboarded(store).await;
    let (other, _, _) = onboarded(store).await;
    let (invitation, first) = reserve(store, &tenant.id, "interrupted", Role::Admin).await;
    assert!(!first.resumed);
    // ... the process dies here. Another tenant still cannot have the address.
    assert!(matches!(
        reserve_new(store, &other.id, &invitation, 100).await,
        Err(StoreError::EmailTaken { same_tenant: false })
    ));
    let again = reserve_new(store, &tenant.id, &invitation, 100)
        .await
        .expect("the re-invitation takes over");
    assert!(again.resumed);
    let stored = store.get_tenant(&tenant.id).await.expect("tenant");
    assert_eq!(
        (stored.user_count, stored.admin_count),
        (2, 1),
        "one seat held, the pending admin not counted"
    );
    let user = new_user();
    store
        .complete_invite(&tenant.id, &again, &user)
        .await
        .expect("complete");
    // The first request's late clean-up (it saw an error) must not undo the finished one.
    store
        .cancel_invite(&tenant.id, &first)
        .await
        .expect("cancel");
    let stored = store.get_tenant(&tenant.id).await.expect("tenant");
    assert_eq!((stored.user_count, stored.admin_count), (2, 2));
    for to in [&tenant.id, &other.id] {
        assert_eq!(
            store
                .reserve_invite(to, &invitation, 100)
                .await
                .expect("reserve"),
            Reserved::Existing(Some(user.clone()))
        );
    }
    assert_eq!(
        store
            .get_member(&tenant.id, &user)
            .await
            .expect("member")
            .role,
        Role::Admin
    );
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

/// One person, admin of A and invited to B as admin: the invitation is no membership until
/// accepted; once accepted, a switch chooses B; removal from B leaves A as it was.
pub async fn a_person_belongs_to_several_organizations<S: ContractControl>(store: &S) {
    let (a, person, email) = onboarded(store).await;
    let (b, _, _) = onboarded(store).await;
    invite_person(store, &b.id, &person, &email, Role::Admin).await;
    let profile = store
        .profile(&person)
        .await
        .expect("lookup")
        .expect("profile");
    assert_eq!(profile.memberships.len(), 2);
    assert_eq!(profile.chosen().map(|m| m.tenant_id), Some(a.id));
    assert_eq!(profile.invitations().count(), 1);
    let now = crate::domain::time::now_millis();
    assert!(matches!(
        store
            .authority(&caller_in(&b.id, &person, Role::Admin, now))
            .await,
        Err(StoreError::Revoked)
    ));
    assert!(matches!(
        store.set_active(&person, &b.id).await,
        Err(StoreError::NotFound)
    ));
    store
        .answer_invitation(&person, &b.id, true)
        .await
        .expect("accept");
    let stored = store.get_tenant(&b.id).await.expect("tenant");
    assert_eq!(counts(&stored), (2, 2), "the accepted admin is counted");
    store.set_active(&person, &b.id).await.expect("switch");
    let profile = store
        .profile(&person)
        .await
        .expect("lookup")
        .expect("profile");
    let chosen = profile.chosen().expect("a choice");
    assert_eq!((chosen.tenant_id, chosen.role), (b.id, Role::Admin));
    assert_eq!(chosen.tier, stored.tier);
    let authority = store
        .authority(&caller_in(&b.id, &person, Role::Admin, chosen.granted_at))
        .await
        .expect("authority in B");
    assert_eq!(authority.role, Role::Admin);
    // Removed from B: A is untouched and becomes the choice again.
    let removed = store.remove_member(&b.id, &person).await.expect("remove");
    assert_eq!(removed.remaining, 1);
    let profile = store
        .profile(&person)
        .await
        .expect("lookup")
        .expect("profile");
    assert_eq!(profile.chosen().map(|m| m.tenant_id), Some(a.id));
    assert!(profile.of(&b.id).is_none());
    assert_eq!(counts(&store.get_tenant(&a.id).await.expect("a")), (1, 1));
    assert_eq!(counts(&store.get_tenant(&b.id).await.expect("b")), (1, 1));
    assert!(
        !store.forget_person(&person, &email).await.expect("forget"),
        "a person with an organization is not forgotten"
    );
}

/// An invitation is answered by its invitee only, once; declined or withdrawn, it is gone and
/// its seat is free.
pub async fn invitations_are_answered_once_by_their_invitee<S: ContractControl>(store: &S) {
    let (a, person, email) = onboarded(store).await;
    let (_, stranger, _) = onboarded(store).await;
    let (b, _, _) = onboarded(store).await;
    invite_person(store, &b.id, &person, &email, Role::Member).await;
    assert!(matches!(
        store.answer_invitation(&stranger, &b.id, true).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.answer_invitation(&person, &a.id, true).await,
        Err(StoreError::AlreadyAnswered)
    ));
    store
        .answer_invitation(&person, &b.id, true)
        .await
        .expect("accept");
    for accept in [true, false] {
        assert!(matches!(
            store.answer_invitation(&person, &b.id, accept).await,
            Err(StoreError::AlreadyAnswered)
        ));
    }
    assert_eq!(counts(&store.get_tenant(&b.id).await.expect("b")), (2, 1));
    // Declined: seat back, nothing left.
    let (c, _, _) = onboarded(store).await;
    invite_person(store, &c.id, &person, &email, Role::Admin).await;
    store
        .answer_invitation(&person, &c.id, false)
        .await
        .expect("decline");
    assert_eq!(counts(&store.get_tenant(&c.id).await.expect("c")), (1, 1));
    assert!(matches!(
        store.get_member(&c.id, &person).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        store.answer_invitation(&person, &c.id, true).await,
        Err(StoreError::NotFound)
    ));
    // Withdrawn by the organization: the same.
    invite_person(store, &c.id, &person, &email, Role::Member).await;
    let withdrawn = store.remove_member(&c.id, &person).await.expect("withdraw");
    assert_eq!(withdrawn.remaining, 2);
    assert_eq!(counts(&store.get_tenant(&c.id).await.expect("c")), (1, 1));
    assert!(matches!(
        store.answer_invitation(&person, &c.id, true).await,
        Err(StoreError::NotFound)
    ));
    assert!(
        !store
            .get_tenant(&c.id)
            .await
            .expect("c")
            .revoked
            .contains_key(&person),
        "a withdrawn invitation had no token to revoke"
    );
    // A pending invitation's role waits for the answer.
    invite_person(store, &c.id, &person, &email, Role::Member).await;
    assert!(matches!(
        store.change_role(&c.id, &person, Role::Admin).await,
        Err(StoreError::InvitationPending)
    ));
}

/// Accepting, declining, withdrawing and leaving at the same time keep every tenant's counters
/// equal to its real members, and the profiles equal to the member entries.
pub async fn concurrent_answers_withdrawals_and_leaves_keep_the_counts<S: ContractControl>(
    store: &S,
) {
    let (org, _, _) = onboarded(store).await;
    let mut people = Vec::new();
    for _ in 0..4 {
        let (_, person, email) = onboarded(store).await;
        invite_person(store, &org.id, &person, &email, Role::Admin).await;
        people.push(person);
    }
    let mut tasks = Vec::new();
    for (i, person) in people.iter().enumerate() {
        let (answering, tenant, invitee) = (store.clone(), org.id, person.clone());
        tasks.push(tokio::spawn(async move {
            // Either outcome is fine (the withdrawal may come first); the counts must agree.
            let _ = answering
                .answer_invitation(&invitee, &tenant, i % 2 == 0)
                .await;
        }));
        let (store, person) = (store.clone(), person.clone());
        let tenant = org.id;
        tasks.push(tokio::spawn(async move {
            let _ = store.remove_member(&tenant, &person).await;
        }));
    }
    for task in tasks {
        task.await.expect("task");
    }
    let members = store
        .list_members(&org.id, 100, None)
        .await
        .expect("members")
        .items;
    let stored = store.get_tenant(&org.id).await.expect("tenant");
    let active_admins = members
        .iter()
        .filter(|m| {
            m.role == Role::Admin && m.status == crate::domain::member::MemberStatus::Active
        })
        .count() as u64;
    assert_eq!(counts(&stored), (members.len() as u64, active_admins));
    assert!(stored.admin_count >= 1);
    for person in &people {
        let entry = store
            .profile(person)
            .await
            .expect("lookup")
            .and_then(|p| p.of(&org.id).cloned());
        let member = members.iter().find(|m| &m.user_id == person);
        assert_eq!(
            entry.is_some(),
            member.is_some(),
            "profile and member entry agree for {person}"
        );
    }
}

/// Every admin leaving at once: one stays, the others go, and the counters agree.
pub async fn admins_leaving_at_once_leave_one_admin<S: ContractControl>(store: &S) {
    let (org, first, _) = onboarded(store).await;
    let mut admins = vec![first];
    for _ in 0..3 {
        let (_, person, email) = onboarded(store).await;
        invite_person(store, &org.id, &person, &email, Role::Admin).await;
        store
            .answer_invitation(&person, &org.id, true)
            .await
            .expect("accept");
        admins.push(person);
    }
    let tasks: Vec<_> = admins
        .iter()
        .map(|admin| {
            let (store, tenant, admin) = (store.clone(), org.id, admin.clone());
            tokio::spawn(async move { store.remove_member(&tenant, &admin).await })
        })
        .collect();
    let mut left = 0;
    for task in tasks {
        match task.await.expect("task") {
            Ok(_) => left += 1,
            Err(StoreError::LastAdmin | StoreError::VersionConflict) => {}
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    let stored = store.get_tenant(&org.id).await.expect("tenant");
    assert_eq!(counts(&stored), (4 - left, 4 - left));
    assert_eq!(stored.admin_count, 1, "exactly one admin stays");
}

/// A signed-in person creates organizations of their own; offboarding one detaches only it.
pub async fn a_person_creates_organizations_and_loses_only_an_offboarded_one<S: ContractControl>(
    store: &S,
) {
    let (a, person, email) = onboarded(store).await;
    let second = new_tenant(Tier::Basic);
    store
        .create_organization(&second, &person, &email)
        .await
        .expect("create");
    let stored = store.get_tenant(&second.id).await.expect("tenant");
    assert_eq!(counts(&stored), (1, 1));
    let profile = store
        .profile(&person)
        .await
        .expect("lookup")
        .expect("profile");
    let mut both = [a.id, second.id];
    both.sort();
    assert_eq!(
        profile
            .organizations()
            .map(|m| (m.tenant_id, m.role))
            .collect::<Vec<_>>(),
        both.iter().map(|id| (*id, Role::Admin)).collect::<Vec<_>>()
    );
    let listed: Vec<TenantId> = store
        .tenants(&[second.id, a.id, TenantId::generate()])
        .await
        .expect("tenants")
        .into_iter()
        .map(|t| t.id)
        .collect();
    assert_eq!(listed.len(), 2);
    assert!(
        !store.detach_member(&a.id, &person).await.expect("detach"),
        "the person keeps the other organization"
    );
    let profile = store
        .profile(&person)
        .await
        .expect("lookup")
        .expect("profile");
    assert_eq!(
        profile.chosen().map(|m| m.tenant_id),
        Some(second.id),
        "the remaining organization is chosen"
    );
    assert!(
        store
            .detach_member(&second.id, &person)
            .await
            .expect("detach")
    );
    assert!(store.profile(&person).await.expect("lookup").is_none());
}

/// One customer per tenant at the provider, whoever asks first; customers find their tenant.
pub async fn a_tenant_has_one_customer_at_the_payment_provider<S: ContractControl>(store: &S) {
    let (tenant, _, _) = onboarded(store).await;
    let account = store.account(&tenant.id).await.expect("account");
    assert_eq!((account.customer, account.version), (None, 0));
    let (first, second) = (
        format!("cus_{}", uuid::Uuid::new_v4().simple()),
        format!("cus_{}", uuid::Uuid::new_v4().simple()),
    );
    let (a, b) = tokio::join!(
        store.attach_customer(&tenant.id, &first),
        store.attach_customer(&tenant.id, &second)
    );
    let (a, b) = (a.expect("attach"), b.expect("attach"));
    assert_eq!(a, b, "both requests agree on one customer");
    assert_eq!(
        store.tenant_of_customer(&a).await.expect("lookup"),
        Some(tenant.id)
    );
    let loser = if a == first { &second } else { &first };
    assert_eq!(store.tenant_of_customer(loser).await.expect("lookup"), None);
    assert_eq!(
        store.account(&tenant.id).await.expect("account").customer,
        Some(a)
    );
}

/// An event changes an account once, however often and however concurrently it is delivered;
/// a change based on an old version is refused.
pub async fn a_webhook_event_changes_an_account_once<S: ContractControl>(store: &S) {
    use crate::billing::subscription::{Standing, Subscription};
    let (tenant, _, _) = onboarded(store).await;
    store
        .attach_customer(
            &tenant.id,
            &format!("cus_{}", uuid::Uuid::new_v4().simple()),
        )
        .await
        .expect("attach");
    let mut account = store.account(&tenant.id).await.expect("account");
    account.billing.subscription = Some(Subscription {
        id: "sub_1".into(),
        plan: Tier::Premium,
        standing: Standing::PastDue { since: 100 },
        period_end: Some(2_000),
        as_of: 100,
    });
    account.note_invoice(
        &crate::billing::events::Invoice {
            id: "in_1".into(),
            amount: 2900,
            currency: "eur".into(),
            url: None,
        },
        "failed",
        100,
    );
    let event = format!("evt_{}", uuid::Uuid::new_v4().simple());
    assert_eq!(
        store
            .save_account(&tenant.id, &account, Some(&event))
            .await
            .expect("save"),
        Saved::Saved
    );
    let stored = store.account(&tenant.id).await.expect("account");
    assert_eq!(stored.version, 1);
    assert!(stored.customer.is_some(), "the customer stays");
    assert_eq!(
        (stored.billing.clone(), stored.invoices.clone()),
        (account.billing.clone(), account.invoices.clone())
    );
    assert!(store.event_seen(&event).await.expect("seen"));
    // Redelivered: nothing written.
    assert_eq!(
        store
            .save_account(&tenant.id, &account, Some(&event))
            .await
            .expect("save"),
        Saved::Duplicate
    );
    // Another event based on the old version: refused.
    assert!(matches!(
        store
            .save_account(&tenant.id, &account, Some(&format!("{event}-other")))
            .await,
        Err(StoreError::VersionConflict)
    ));
    // One event delivered five times at once: written once.
    let next = format!("{event}-next");
    let tasks: Vec<_> = (0..5)
        .map(|_| {
            let (store, id, account, next) =
                (store.clone(), tenant.id, stored.clone(), next.clone());
            tokio::spawn(async move { store.save_account(&id, &account, Some(&next)).await })
        })
        .collect();
    let mut saved = 0;
    for task in tasks {
        match task.await.expect("task") {
            Ok(Saved::Saved) => saved += 1,
            Ok(Saved::Duplicate) | Err(StoreError::VersionConflict) => {}
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(saved, 1);
    assert_eq!(store.account(&tenant.id).await.expect("account").version, 2);
    // Its payment failed at 100: listed once the grace period that started then is over.
    let listed = |failed_by| {
        let store = store.clone();
        async move {
            store
                .grace_expired(failed_by, 10_000)
                .await
                .expect("grace expired")
                .contains(&tenant.id)
        }
    };
    assert!(listed(100).await);
    assert!(!listed(99).await);
    // Suspended (a save without an event): no longer listed.
    let mut suspended = store.account(&tenant.id).await.expect("account");
    suspended.suspended_for_payment = true;
    assert_eq!(
        store
            .save_account(&tenant.id, &suspended, None)
            .await
            .expect("save"),
        Saved::Saved
    );
    assert!(!listed(i64::MAX - 1).await);
    assert_eq!(store.account(&tenant.id).await.expect("account").version, 3);
}

/// Whether `tenant` is on the pages of [`BillingStore::billed_tenants`], read to the end.
async fn billed<S: ContractControl>(store: &S, tenant: &TenantId) -> bool {
    let mut after: Option<String> = None;
    loop {
        let page = store
            .billed_tenants(after.as_deref(), 50)
            .await
            .expect("billed tenants");
        if page.items.contains(tenant) {
            return true;
        }
        match page.next_cursor {
            Some(next) => after = Some(next),
            None => return false,
        }
    }
}

pub async fn the_sweep_lists_the_accounts_whose_subscription_decides_the_tier<
    S: ContractControl,
>(
    store: &S,
) {
    use crate::billing::subscription::{Standing, Subscription};
    let (tenant, _, _) = onboarded(store).await;
    assert!(!billed(store, &tenant.id).await, "never subscribed");
    let save = |account: crate::billing::Account| {
        let store = store.clone();
        async move {
            store
                .save_account(&tenant.id, &account, None)
                .await
                .expect("save");
            store.account(&tenant.id).await.expect("account")
        }
    };
    let mut account = store.account(&tenant.id).await.expect("account");
    account.billing.subscription = Some(Subscription {
        id: "sub_1".into(),
        plan: Tier::Standard,
        standing: Standing::Active,
        period_end: None,
        as_of: 100,
    });
    let account = save(account).await;
    assert!(billed(store, &tenant.id).await, "paying");
    // Awaiting suspension: listed still (and among the expired grace periods).
    let mut failing = account.clone();
    if let Some(subscription) = failing.billing.subscription.as_mut() {
        subscription.standing = Standing::PastDue { since: 200 };
    }
    let failing = save(failing).await;
    assert!(billed(store, &tenant.id).await, "awaiting suspension");
    assert!(
        store
            .grace_expired(200, 10_000)
            .await
            .expect("grace expired")
            .contains(&tenant.id)
    );
    // Ended: listed until its end is seen applied, then no more.
    let mut ended = failing.clone();
    if let Some(subscription) = ended.billing.subscription.as_mut() {
        subscription.standing = Standing::Ended;
    }
    let ended = save(ended).await;
    assert!(billed(store, &tenant.id).await, "ended, not yet applied");
    let mut settled = ended.clone();
    settled.settled_end = Some("sub_1".into());
    save(settled).await;
    assert!(!billed(store, &tenant.id).await, "ended and applied");
}

pub async fn a_suspension_keeps_its_cause_until_it_is_lifted<S: ContractControl>(store: &S) {
    use crate::domain::tenant::SuspensionCause;
    let (tenant, _, _) = onboarded(store).await;
    let change = |status, cause| TenantStateChange {
        status: Some(status),
        suspended_for: cause,
        ..TenantStateChange::default()
    };
    let held = store
        .set_tenant_state(
            &tenant.id,
            change(TenantStatus::Suspended, Some(SuspensionCause::Payment)),
        )
        .await
        .expect("suspend");
    assert_eq!(held.suspended_for, Some(SuspensionCause::Payment));
    // A change that leaves it suspended, naming no cause, keeps it; one that names a cause
    // replaces it.
    let tiered = store
        .set_tenant_state(
            &tenant.id,
            TenantStateChange {
                tier: Some(Tier::Standard),
                ..TenantStateChange::default()
            },
        )
        .await
        .expect("tier");
    assert_eq!(tiered.suspended_for, Some(SuspensionCause::Payment));
    let operated = store
        .set_tenant_state(
            &tenant.id,
            change(TenantStatus::Suspended, Some(SuspensionCause::Operator)),
        )
        .await
        .expect("operator");
    assert_eq!(operated.suspended_for, Some(SuspensionCause::Operator));
    assert_eq!(
        store
            .get_tenant(&tenant.id)
            .await
            .expect("read")
            .suspended_for,
        Some(SuspensionCause::Operator)
    );
    // Lifted: no cause.
    let active = store
        .set_tenant_state(&tenant.id, change(TenantStatus::Active, None))
        .await
        .expect("reactivate");
    assert_eq!(active.suspended_for, None);
    assert_eq!(
        store
            .get_tenant(&tenant.id)
            .await
            .expect("read")
            .suspended_for,
        None
    );
}

pub async fn a_held_e_mail_is_listed_until_released<S: ContractControl>(store: &S) {
    use crate::mail::Email;
    let subject = format!("held {}", uuid::Uuid::new_v4().simple());
    let email = Email {
        to: EmailAddress::parse("held@outbox.example").expect("address"),
        subject: subject.clone(),
        text: "Plain <text>".into(),
        html: "<p>Plain &lt;text&gt;</p>".into(),
    };
    store.hold(&email).await.expect("hold");
    let mine = |held: Vec<crate::mail::Held>| {
        held.into_iter()
            .filter(|held| held.email.subject == subject)
            .collect::<Vec<_>>()
    };
    let listed = mine(store.held(1000).await.expect("held"));
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].email, email);
    store.release(&listed[0].id).await.expect("release");
    assert!(mine(store.held(1000).await.expect("held")).is_empty());
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
