//! Members: invitations, seats under the plan's limit, the last admin, removal, revocation and
//! the authority read from the stored role, across tenants and under concurrency.

use super::*;

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
