#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.
//! Profiles against the local DynamoDB server: a stack whose profiles were written when a person
//! had one organization is upgraded in place, and an invitation's expiry is enforced by the store.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use shared::domain::email::EmailAddress;
use shared::domain::member::{Invitation, MembershipState};
use shared::domain::tenant::{Tenant, TenantName, TenantStatus};
use shared::domain::{Role, Tier};
use shared::ids::{TenantId, UserId};
use shared::store::StoreError;
use shared::store::control::{
    MemberStore, MembershipLookup, Onboarding, PersonStore, Reserved, TenantStateChange,
    TenantStore,
};
use tenantry_tests::{control_store, dynamodb, env};

fn new_user() -> UserId {
    UserId::parse(&uuid::Uuid::new_v4().to_string()).unwrap()
}

fn s(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_owned())
}

/// A person who signed up for a new organization, with a unique address.
async fn signed_up() -> (Tenant, UserId, EmailAddress) {
    let tenant = Tenant::new(TenantName::parse("Layout Org").unwrap(), Tier::Basic);
    let user = new_user();
    let email = EmailAddress::parse(&format!("{user}@example.com")).unwrap();
    control_store()
        .onboard(&tenant, &user, &email)
        .await
        .unwrap();
    (tenant, user, email)
}

async fn raw_item(pk: &str, sk: &str) -> Option<HashMap<String, AttributeValue>> {
    dynamodb()
        .get_item()
        .table_name(env("TENANTRY_CONTROL_TABLE"))
        .key("pk", s(pk))
        .key("sk", s(sk))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
}

/// Rewrites the person's profile and e-mail claim exactly as the single-organization layout
/// wrote them: the membership's fields at the top level, a claim without the person's id.
async fn rewrite_in_the_single_membership_layout(
    tenant: &TenantId,
    user: &UserId,
    email: &EmailAddress,
    role: Role,
) {
    let client = dynamodb();
    let table = env("TENANTRY_CONTROL_TABLE");
    client
        .put_item()
        .table_name(&table)
        .item("pk", s(&format!("USER#{user}")))
        .item("sk", s("MEMBERSHIP"))
        .item("entity", s("membership"))
        .item("user_id", s(user.as_str()))
        .item("tenant_id", s(&tenant.to_string()))
        .item("role", s(role.as_str()))
        .item("tier", s("basic"))
        .item("tenant_status", s("active"))
        .item("email", s(email.as_str()))
        .item("granted_at", AttributeValue::N("1795681600000".into()))
        .item("require_mfa", AttributeValue::Bool(false))
        .send()
        .await
        .unwrap();
    client
        .put_item()
        .table_name(&table)
        .item("pk", s(&format!("EMAIL#{email}")))
        .item("sk", s("EMAIL"))
        .item("entity", s("email"))
        .item("tenant_id", s(&tenant.to_string()))
        .item("state", s("member"))
        .send()
        .await
        .unwrap();
}

#[tokio::test]
async fn profiles_of_the_single_organization_layout_are_read_and_upgraded_in_place() {
    let control = control_store();
    let (a, person, email) = signed_up().await;
    rewrite_in_the_single_membership_layout(&a.id, &person, &email, Role::Admin).await;

    // Read as is: one membership, chosen, for sign-in's single GetItem.
    let profile = control.profile(&person).await.unwrap().unwrap();
    assert_eq!(profile.memberships.len(), 1);
    let chosen = profile.chosen().unwrap();
    assert_eq!(
        (chosen.tenant_id, chosen.role, chosen.granted_at),
        (a.id, Role::Admin, 1_795_681_600_000)
    );

    // Another organization invites the address: the claim, written before claims named
    // anyone, says only that an account exists.
    let (b, _, _) = signed_up().await;
    let invitation = Invitation {
        email: email.clone(),
        role: Role::Member,
    };
    assert_eq!(
        control
            .reserve_invite(&b.id, &invitation, 10)
            .await
            .unwrap(),
        Reserved::Existing(None)
    );
    control
        .invite_existing(&b.id, &invitation, &person, 10)
        .await
        .unwrap();
    let raw = raw_item(&format!("USER#{person}"), "MEMBERSHIP")
        .await
        .unwrap();
    assert!(
        raw.contains_key("orgs") && !raw.contains_key("tenant_id") && !raw.contains_key("role"),
        "rewritten in the layout of several organizations: {raw:?}"
    );
    let profile = control.profile(&person).await.unwrap().unwrap();
    assert_eq!(profile.memberships.len(), 2);
    assert_eq!(profile.active, Some(a.id));
    assert_eq!(
        profile.of(&a.id).unwrap().granted_at,
        1_795_681_600_000,
        "the grant is kept"
    );
    control
        .answer_invitation(&person, &b.id, true)
        .await
        .unwrap();
    control.set_active(&person, &b.id).await.unwrap();
    let profile = control.profile(&person).await.unwrap().unwrap();
    assert_eq!(profile.chosen().unwrap().tenant_id, b.id);
}

#[tokio::test]
async fn every_change_to_a_single_layout_profile_works_and_upgrades_it() {
    let control = control_store();
    // A state change copies into a profile of the old layout.
    let (a, admin, admin_email) = signed_up().await;
    rewrite_in_the_single_membership_layout(&a.id, &admin, &admin_email, Role::Admin).await;
    let suspend = TenantStateChange {
        status: Some(TenantStatus::Suspended),
        tier: Some(Tier::Standard),
        ..TenantStateChange::default()
    };
    control.set_tenant_state(&a.id, suspend).await.unwrap();
    let profile = control.profile(&admin).await.unwrap().unwrap();
    let membership = profile.of(&a.id).unwrap();
    assert_eq!(
        (membership.tenant_status, membership.tier),
        (TenantStatus::Suspended, Tier::Standard)
    );
    assert!(
        profile.chosen().is_none(),
        "a suspended tenant is not carried"
    );
    let reactivate = TenantStateChange {
        status: Some(TenantStatus::Active),
        ..TenantStateChange::default()
    };
    control.set_tenant_state(&a.id, reactivate).await.unwrap();

    // A member of the old layout: promoted, demoted, removed, forgotten.
    let member = new_user();
    let member_email = EmailAddress::parse(&format!("{member}@example.com")).unwrap();
    let invitation = Invitation {
        email: member_email.clone(),
        role: Role::Member,
    };
    let Reserved::New(reservation) = control
        .reserve_invite(&a.id, &invitation, 10)
        .await
        .unwrap()
    else {
        panic!("a new address");
    };
    control
        .complete_invite(&a.id, &reservation, &member)
        .await
        .unwrap();
    rewrite_in_the_single_membership_layout(&a.id, &member, &member_email, Role::Member).await;
    control
        .change_role(&a.id, &member, Role::Admin)
        .await
        .unwrap();
    let promoted = control.profile(&member).await.unwrap().unwrap();
    assert_eq!(promoted.of(&a.id).unwrap().role, Role::Admin);
    control
        .change_role(&a.id, &member, Role::Member)
        .await
        .unwrap();
    let removed = control.remove_member(&a.id, &member).await.unwrap();
    assert_eq!(removed.remaining, 0);
    assert!(control.forget_person(&member, &member_email).await.unwrap());
    assert!(control.profile(&member).await.unwrap().is_none());
    assert!(
        raw_item(&format!("EMAIL#{member_email}"), "EMAIL")
            .await
            .is_none(),
        "a claim without the person's id is deleted with the person"
    );
    let record = control.get_tenant(&a.id).await.unwrap();
    assert_eq!((record.user_count, record.admin_count), (1, 1));
}

#[tokio::test]
async fn an_expired_invitation_cannot_be_accepted_but_can_be_declined() {
    let control = control_store();
    let (_, person, email) = signed_up().await;
    let (b, _, _) = signed_up().await;
    let invitation = Invitation {
        email,
        role: Role::Admin,
    };
    control
        .invite_existing(&b.id, &invitation, &person, 10)
        .await
        .unwrap();
    let profile = control.profile(&person).await.unwrap().unwrap();
    let MembershipState::Invited { expires_at } = profile.of(&b.id).unwrap().state else {
        panic!("pending");
    };
    let now = shared::domain::time::now_millis();
    let week = 7 * 24 * 60 * 60 * 1000;
    assert!(expires_at > now + week - 60_000 && expires_at <= now + week);
    // A week passes.
    dynamodb()
        .update_item()
        .table_name(env("TENANTRY_CONTROL_TABLE"))
        .key("pk", s(&format!("USER#{person}")))
        .key("sk", s("MEMBERSHIP"))
        .update_expression("SET #orgs.#tenant.expires_at = :past")
        .expression_attribute_names("#orgs", "orgs")
        .expression_attribute_names("#tenant", b.id.to_string())
        .expression_attribute_values(":past", AttributeValue::N((now - 1).to_string()))
        .send()
        .await
        .unwrap();
    assert!(matches!(
        control.answer_invitation(&person, &b.id, true).await,
        Err(StoreError::InvitationExpired)
    ));
    let record = control.get_tenant(&b.id).await.unwrap();
    assert_eq!(
        (record.user_count, record.admin_count),
        (2, 1),
        "nothing changed"
    );
    control
        .answer_invitation(&person, &b.id, false)
        .await
        .unwrap();
    let record = control.get_tenant(&b.id).await.unwrap();
    assert_eq!((record.user_count, record.admin_count), (1, 1));
    assert!(
        control
            .profile(&person)
            .await
            .unwrap()
            .unwrap()
            .of(&b.id)
            .is_none()
    );
}

#[tokio::test]
async fn the_names_of_a_persons_organizations_come_in_one_batch() {
    let control = control_store();
    let (a, person, email) = signed_up().await;
    let mut ids = vec![a.id];
    for name in ["Second Org", "Third Org"] {
        let tenant = Tenant::new(TenantName::parse(name).unwrap(), Tier::Basic);
        control
            .create_organization(&tenant, &person, &email)
            .await
            .unwrap();
        ids.push(tenant.id);
    }
    ids.push(TenantId::generate());
    let names: Vec<String> = control
        .tenants(&ids)
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name.as_str().to_owned())
        .collect();
    assert_eq!(names, ["Layout Org", "Second Org", "Third Org"]);
}

#[tokio::test]
async fn expired_revocations_are_pruned_after_the_next_one_and_fresh_ones_stay() {
    let control = control_store();
    let (a, _, _) = signed_up().await;
    let member = new_user();
    let invitation = Invitation {
        email: EmailAddress::parse(&format!("{member}@example.com")).unwrap(),
        role: Role::Member,
    };
    let Reserved::New(reservation) = control
        .reserve_invite(&a.id, &invitation, 10)
        .await
        .unwrap()
    else {
        panic!("a new address");
    };
    control
        .complete_invite(&a.id, &reservation, &member)
        .await
        .unwrap();
    // Two people removed long ago: one two hours ago (expired), one a minute ago (not).
    let now = shared::domain::time::now_millis();
    let (old, recent) = (new_user(), new_user());
    dynamodb()
        .update_item()
        .table_name(env("TENANTRY_CONTROL_TABLE"))
        .key("pk", s(&format!("TENANT#{}", a.id)))
        .key("sk", s("TENANT"))
        .update_expression("SET #revoked = :revoked")
        .expression_attribute_names("#revoked", "revoked")
        .expression_attribute_values(
            ":revoked",
            AttributeValue::M(HashMap::from([
                (
                    old.to_string(),
                    AttributeValue::N((now - 2 * 3_600_000).to_string()),
                ),
                (
                    recent.to_string(),
                    AttributeValue::N((now - 60_000).to_string()),
                ),
            ])),
        )
        .send()
        .await
        .unwrap();
    control.remove_member(&a.id, &member).await.unwrap();
    let revoked = control.get_tenant(&a.id).await.unwrap().revoked;
    assert!(!revoked.contains_key(&old), "the expired one is pruned");
    assert!(revoked.contains_key(&recent) && revoked.contains_key(&member));
}
