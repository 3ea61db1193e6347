//! People: one person in several organizations, invitations answered, leaving, organizations
//! a person creates.

use super::*;

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
