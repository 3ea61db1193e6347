//! Tenants: onboarding, versioned updates, state changes and what they reach, the MFA
//! requirement, deletion and listing.

use super::*;

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
