use serde_json::Value;
use shared::domain::Role;
use shared::ids::TenantId;
use shared::store::control::{MembershipLookup, TenantStore};
use shared::testing::SoleMembership;
use shared::testing::directory::MemoryDirectory;
use shared::testing::memory_control::MemoryControl;
use shared::testing::{
    Event, TENANT_A, TENANT_B, USERS, assert_problem, body_json, seed_sample_tenants, user_id,
};

use super::*;

#[test]
fn the_route_table_is_the_documents() {
    shared::testing::assert_routes_documented("users-api", ROUTES.iter().map(|(route, _)| *route));
}

type TestDeps = Deps<MemoryControl, MemoryDirectory>;

/// The sample tenants, their people also in the user pool (as [`SAMPLE_ACCOUNTS`]).
async fn deps() -> TestDeps {
    let store = MemoryControl::new();
    seed_sample_tenants(&store).await;
    let directory = MemoryDirectory::new();
    for (_, _, sub, email) in USERS {
        directory.insert(
            UserId::parse(sub).unwrap(),
            EmailAddress::parse(email).unwrap(),
        );
    }
    Deps { store, directory }
}

/// The accounts the user pool holds before a test does anything.
const SAMPLE_ACCOUNTS: usize = USERS.len();

shared::handler_test_harness!("users-api", TestDeps);

fn tenant(raw: &str) -> TenantId {
    raw.parse().unwrap()
}

async fn invite(deps: &TestDeps, who: &str, email: &str, role: &str) -> Response<Body> {
    let body = json!({"email": email, "role": role}).to_string();
    call(deps, fixture("invite-user", who).body(&body)).await
}

#[tokio::test]
async fn me_describes_the_caller_with_or_without_a_tenant() {
    let deps = deps().await;
    let mine = body_json(&call(&deps, fixture("me", "a-member")).await);
    assert_eq!(mine["user_id"], user_id("a-member").as_str());
    assert_eq!(mine["email"], "amir@acme.example");
    assert_eq!(
        mine["tenant"],
        json!({"id": TENANT_A, "name": "Acme Tea", "role": "member", "tier": "basic"})
    );
    assert_eq!(
        (&mine["other_organizations"], &mine["pending_invitations"]),
        (&json!(0), &json!(0))
    );
    let operator = body_json(&call(&deps, fixture("me", "platform")).await);
    assert_eq!(operator["tenant"], Value::Null);
    assert_eq!(operator["other_organizations"], 0);
    assert_eq!(operator["groups"], json!(["platform-admin"]));
    assert_problem(
        &call(&deps, fixture("me", "a-admin").claim("sub", None)).await,
        401,
        "unauthenticated",
    );
}

#[tokio::test]
async fn members_list_their_own_tenant_only() {
    let deps = deps().await;
    for who in ["a-admin", "a-member"] {
        let listed = body_json(&call(&deps, fixture("list-users", who)).await);
        let ids: Vec<&str> = listed["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["user_id"].as_str().unwrap())
            .collect();
        assert_eq!(ids.len(), 2, "{who}");
        assert!(
            ids.contains(&user_id("a-admin").as_str())
                && ids.contains(&user_id("a-member").as_str())
        );
    }
    let first = body_json(&call(&deps, fixture("list-users", "a-admin").query("limit", "1")).await);
    let cursor = first["next_cursor"].as_str().unwrap();
    assert_problem(
        &call(
            &deps,
            fixture("list-users", "b-admin").query("cursor", cursor),
        )
        .await,
        400,
        "invalid-cursor",
    );
}

#[tokio::test]
async fn an_admin_invites_a_colleague() {
    let deps = deps().await;
    let response = invite(&deps, "a-admin", "New.Colleague@Example.com", "member").await;
    assert_eq!(response.status(), 201);
    let member = body_json(&response);
    assert_eq!(member["email"], "new.colleague@example.com");
    assert_eq!(member["role"], "member");
    let user = UserId::parse(member["user_id"].as_str().unwrap()).unwrap();
    assert!(deps.directory.user(&user).is_some());
    assert_eq!(
        deps.directory
            .invited_by(&EmailAddress::parse("new.colleague@example.com").unwrap()),
        Some(InvitedBy {
            organization: "Acme Tea".into(),
            inviter: Some("alice@acme.example".into()),
            locale: None,
        }),
        "the invitation e-mail names the organization and who invited"
    );
    let membership = deps.store.membership(&user).await.unwrap().unwrap();
    assert_eq!(
        (membership.tenant_id, membership.role),
        (tenant(TENANT_A), Role::Member)
    );
    let read = call(
        &deps,
        fixture("get-user", "a-member").path_param("userId", user.as_str()),
    )
    .await;
    assert_eq!(body_json(&read), member);
}

#[tokio::test]
async fn members_cannot_manage_users() {
    let deps = deps().await;
    assert_problem(
        &invite(&deps, "a-member", "x@example.com", "member").await,
        403,
        "forbidden",
    );
    let admin = user_id("a-admin");
    let promote = fixture("change-user-role", "a-member")
        .path_param("userId", admin.as_str())
        .body(r#"{"role":"member"}"#);
    assert_problem(&call(&deps, promote).await, 403, "forbidden");
    let remove = fixture("remove-user", "a-member").path_param("userId", admin.as_str());
    assert_problem(&call(&deps, remove).await, 403, "forbidden");
    assert_eq!(deps.directory.user_count(), SAMPLE_ACCOUNTS);
    assert_eq!(
        deps.store
            .get_tenant(&tenant(TENANT_A))
            .await
            .unwrap()
            .admin_count,
        1
    );
}

#[tokio::test]
async fn the_last_admin_cannot_be_demoted_or_removed() {
    let deps = deps().await;
    let admin = user_id("a-admin");
    let demote = fixture("change-user-role", "a-admin")
        .path_param("userId", admin.as_str())
        .body(r#"{"role":"member"}"#);
    assert_problem(&call(&deps, demote).await, 409, "last-admin");
    let remove = fixture("remove-user", "a-admin").path_param("userId", admin.as_str());
    assert_problem(&call(&deps, remove).await, 409, "last-admin");
    // With a second admin, the first can step down.
    let member = user_id("a-member");
    let promote = fixture("change-user-role", "a-admin")
        .path_param("userId", member.as_str())
        .body(r#"{"role":"admin"}"#);
    assert_eq!(body_json(&call(&deps, promote).await)["role"], "admin");
    let demote = fixture("change-user-role", "a-admin")
        .path_param("userId", admin.as_str())
        .body(r#"{"role":"member"}"#);
    assert_eq!(call(&deps, demote).await.status(), 200);
}

#[tokio::test]
async fn an_admin_of_a_gets_404_for_b_users_on_every_verb() {
    let deps = deps().await;
    for target in ["b-admin", "b-member"] {
        let user = user_id(target);
        for who in ["a-admin", "a-member"] {
            assert_problem(
                &call(
                    &deps,
                    fixture("get-user", who).path_param("userId", user.as_str()),
                )
                .await,
                404,
                "not-found",
            );
        }
        let promote = fixture("change-user-role", "a-admin")
            .path_param("userId", user.as_str())
            .body(r#"{"role":"admin"}"#);
        assert_problem(&call(&deps, promote).await, 404, "not-found");
        let remove = fixture("remove-user", "a-admin").path_param("userId", user.as_str());
        assert_problem(&call(&deps, remove).await, 404, "not-found");
    }
    let b_members = deps
        .store
        .list_members(&tenant(TENANT_B), 10, None)
        .await
        .unwrap();
    assert_eq!(b_members.items.len(), 2);
    assert_eq!(
        deps.store
            .membership(&user_id("b-member"))
            .await
            .unwrap()
            .unwrap()
            .role,
        Role::Member
    );
}

/// Bo, a member of B, invited to A as admin: a pending invitation he sees, accepts, and
/// switches to; his membership of B is untouched throughout.
#[tokio::test]
async fn a_member_of_another_tenant_is_invited_to_accept() {
    let deps = deps().await;
    let bo = user_id("b-member");
    let response = invite(&deps, "a-admin", "Bo@Bolt.example", "admin").await;
    assert_eq!(response.status(), 201, "{:?}", response.body());
    let pending = body_json(&response);
    assert_eq!(
        (&pending["user_id"], &pending["status"]),
        (&json!(bo.as_str()), &json!("invited"))
    );
    assert!(pending["expires_at"].is_string());
    let record = deps.store.get_tenant(&tenant(TENANT_A)).await.unwrap();
    assert_eq!(
        (record.user_count, record.admin_count),
        (3, 1),
        "a seat is held, no admin is counted yet"
    );
    // The invitation is no membership: A's routes refuse a token claiming it.
    let forged = fixture("list-users", "b-member")
        .claim("tenant_id", Some(TENANT_A))
        .claim("tenant_role", Some("admin"));
    assert_problem(&call(&deps, forged).await, 401, "token-revoked");
    // Bo sees it, with A's name, from his B token.
    let listed = body_json(&call(&deps, fixture("my-invitations", "b-member")).await);
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
    assert_eq!(
        (
            &listed["items"][0]["tenant_id"],
            &listed["items"][0]["name"]
        ),
        (&json!(TENANT_A), &json!("Acme Tea"))
    );
    assert_eq!(listed["items"][0]["expired"], false);
    let me = body_json(&call(&deps, fixture("me", "b-member")).await);
    assert_eq!(me["pending_invitations"], 1);
    let accepted = call(
        &deps,
        fixture("answer-invitation", "b-member").path_param("tenantId", TENANT_A),
    )
    .await;
    assert_eq!(accepted.status(), 200);
    assert_eq!(
        (
            &body_json(&accepted)["role"],
            &body_json(&accepted)["active"]
        ),
        (&json!("admin"), &json!(false))
    );
    let record = deps.store.get_tenant(&tenant(TENANT_A)).await.unwrap();
    assert_eq!((record.user_count, record.admin_count), (3, 2));
    let mine = body_json(&call(&deps, fixture("my-organizations", "b-member")).await);
    let orgs: Vec<(String, String, bool)> = mine["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["id"].as_str().unwrap().to_owned(),
                o["role"].as_str().unwrap().to_owned(),
                o["active"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        orgs,
        vec![
            (TENANT_A.to_owned(), "admin".to_owned(), false),
            (TENANT_B.to_owned(), "member".to_owned(), true),
        ]
    );
    let switched = call(
        &deps,
        fixture("switch-organization", "b-member")
            .body(&json!({"tenant_id": TENANT_A}).to_string()),
    )
    .await;
    assert_eq!(switched.status(), 200);
    assert_eq!(body_json(&switched)["active"], true);
    let profile = deps.store.profile(&bo).await.unwrap().unwrap();
    let chosen = profile.chosen().unwrap();
    assert_eq!(
        (chosen.tenant_id, chosen.role),
        (tenant(TENANT_A), Role::Admin)
    );
    assert_eq!(
        profile.of(&tenant(TENANT_B)).unwrap().role,
        Role::Member,
        "B is untouched"
    );
    // Already a member of A: a second invitation is refused.
    let again = invite(&deps, "a-admin", "bo@bolt.example", "member").await;
    assert_problem(&again, 409, "already-member");
    let own = invite(&deps, "a-admin", "amir@acme.example", "member").await;
    assert_problem(&own, 409, "already-member");
}

#[tokio::test]
async fn an_invitation_is_answered_by_its_invitee_once() {
    let deps = deps().await;
    assert_eq!(
        invite(&deps, "a-admin", "bo@bolt.example", "member")
            .await
            .status(),
        201
    );
    let answer = |who: &str, accept: bool| {
        fixture("answer-invitation", who)
            .path_param("tenantId", TENANT_A)
            .body(&json!({ "accept": accept }).to_string())
    };
    // Not Bea's invitation, nor a malformed or unknown organization's.
    assert_problem(
        &call(&deps, answer("b-admin", true)).await,
        404,
        "not-found",
    );
    assert_problem(
        &call(
            &deps,
            answer("b-member", true).path_param("tenantId", "nope"),
        )
        .await,
        404,
        "not-found",
    );
    assert_problem(
        &call(
            &deps,
            answer("b-member", true).body("{\"accept\": \"yes\"}"),
        )
        .await,
        400,
        "invalid-request",
    );
    assert_eq!(call(&deps, answer("b-member", true)).await.status(), 200);
    assert_problem(
        &call(&deps, answer("b-member", true)).await,
        409,
        "already-member",
    );
    assert_problem(
        &call(&deps, answer("b-member", false)).await,
        409,
        "already-member",
    );
    // Bea is invited, then declines: seat back, nothing left.
    assert_eq!(
        invite(&deps, "a-admin", "bea@bolt.example", "admin")
            .await
            .status(),
        201
    );
    assert_eq!(call(&deps, answer("b-admin", false)).await.status(), 204);
    assert_problem(
        &call(&deps, answer("b-admin", true)).await,
        404,
        "not-found",
    );
    let record = deps.store.get_tenant(&tenant(TENANT_A)).await.unwrap();
    assert_eq!((record.user_count, record.admin_count), (3, 1));
    // Invited again, then withdrawn by the admin: gone for her too.
    assert_eq!(
        invite(&deps, "a-admin", "bea@bolt.example", "admin")
            .await
            .status(),
        201
    );
    let withdraw =
        fixture("remove-user", "a-admin").path_param("userId", user_id("b-admin").as_str());
    assert_eq!(call(&deps, withdraw).await.status(), 204);
    assert_problem(
        &call(&deps, answer("b-admin", true)).await,
        404,
        "not-found",
    );
    let record = deps.store.get_tenant(&tenant(TENANT_A)).await.unwrap();
    assert_eq!((record.user_count, record.admin_count), (3, 1));
    let bea = deps
        .store
        .profile(&user_id("b-admin"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(bea.memberships.len(), 1, "her own organization stays");
}

#[tokio::test]
async fn an_expired_invitation_cannot_be_accepted_but_can_be_declined() {
    let deps = deps().await;
    assert_eq!(
        invite(&deps, "a-admin", "bo@bolt.example", "member")
            .await
            .status(),
        201
    );
    deps.store
        .expire_invitation(&tenant(TENANT_A), &user_id("b-member"));
    let answer = |accept: bool| {
        fixture("answer-invitation", "b-member")
            .path_param("tenantId", TENANT_A)
            .body(&json!({ "accept": accept }).to_string())
    };
    let listed = body_json(&call(&deps, fixture("my-invitations", "b-member")).await);
    assert_eq!(listed["items"][0]["expired"], true);
    assert_problem(&call(&deps, answer(true)).await, 409, "invitation-expired");
    assert_eq!(call(&deps, answer(false)).await.status(), 204);
    let record = deps.store.get_tenant(&tenant(TENANT_A)).await.unwrap();
    assert_eq!(record.user_count, 2);
}

#[tokio::test]
async fn expired_invitations_give_their_seats_back_at_the_plans_limit() {
    let deps = deps().await;
    let max = PlanLimits::of(Tier::Basic).max_users;
    for i in 2..max - 1 {
        let response = invite(
            &deps,
            "a-admin",
            &format!("filler{i}@acme.example"),
            "member",
        )
        .await;
        assert_eq!(response.status(), 201);
    }
    assert_eq!(
        invite(&deps, "a-admin", "bo@bolt.example", "member")
            .await
            .status(),
        201
    );
    let full = invite(&deps, "a-admin", "late@acme.example", "member").await;
    assert_problem(&full, 429, "quota-exceeded");
    deps.store
        .expire_invitation(&tenant(TENANT_A), &user_id("b-member"));
    let freed = invite(&deps, "a-admin", "late@acme.example", "member").await;
    assert_eq!(freed.status(), 201, "{:?}", freed.body());
    assert!(
        deps.store
            .profile(&user_id("b-member"))
            .await
            .unwrap()
            .unwrap()
            .of(&tenant(TENANT_A))
            .is_none(),
        "the expired invitation was withdrawn"
    );
    let record = deps.store.get_tenant(&tenant(TENANT_A)).await.unwrap();
    assert_eq!(record.user_count, max);
}

#[tokio::test]
async fn a_person_creates_switches_and_leaves_organizations() {
    let deps = deps().await;
    let amir = user_id("a-member");
    let created = call(&deps, fixture("create-organization", "a-member")).await;
    assert_eq!(created.status(), 201);
    let second = body_json(&created);
    assert_eq!(
        (&second["name"], &second["role"], &second["tier"]),
        (&json!("Second Shop"), &json!("admin"), &json!("basic"))
    );
    let second_id = second["id"].as_str().unwrap().to_owned();
    let record = deps.store.get_tenant(&tenant(&second_id)).await.unwrap();
    assert_eq!((record.user_count, record.admin_count), (1, 1));
    for (bad, code) in [
        (json!({"name": "x"}), "validation-failed"),
        (
            json!({"name": "Shop", "tier": "premium"}),
            "invalid-request",
        ),
    ] {
        assert_problem(
            &call(
                &deps,
                fixture("create-organization", "a-member").body(&bad.to_string()),
            )
            .await,
            400,
            code,
        );
    }
    // Not a member of B: no switching there; a malformed id is a bad request.
    let switch = |to: &str| {
        fixture("switch-organization", "a-member").body(&json!({ "tenant_id": to }).to_string())
    };
    assert_problem(&call(&deps, switch(TENANT_B)).await, 404, "not-found");
    assert_problem(&call(&deps, switch("nope")).await, 400, "validation-failed");
    assert_eq!(call(&deps, switch(&second_id)).await.status(), 200);
    assert_eq!(
        deps.store
            .profile(&amir)
            .await
            .unwrap()
            .unwrap()
            .chosen()
            .unwrap()
            .tenant_id,
        tenant(&second_id)
    );
    // The last admin of the new one cannot leave it; leaving A is fine, and revokes.
    let leave = |from: &str| fixture("leave-organization", "a-member").path_param("tenantId", from);
    assert_problem(&call(&deps, leave(&second_id)).await, 409, "last-admin");
    assert_problem(&call(&deps, leave(TENANT_B)).await, 404, "not-found");
    assert_eq!(call(&deps, leave(TENANT_A)).await.status(), 204);
    let a = deps.store.get_tenant(&tenant(TENANT_A)).await.unwrap();
    assert_eq!(a.user_count, 1);
    assert!(a.revoked.contains_key(&amir), "the A tokens are refused");
    let mine = body_json(&call(&deps, fixture("my-organizations", "a-member")).await);
    assert_eq!(mine["items"].as_array().unwrap().len(), 1);
    assert_eq!(mine["items"][0]["id"], second_id);
    // The old A token is refused everywhere in A.
    assert_problem(
        &call(&deps, fixture("list-users", "a-member")).await,
        401,
        "token-revoked",
    );
}

#[tokio::test]
async fn removing_a_person_who_belongs_elsewhere_keeps_their_account() {
    let deps = deps().await;
    let bo = user_id("b-member");
    deps.directory
        .insert(bo.clone(), EmailAddress::parse("bo@bolt.example").unwrap());
    invite(&deps, "a-admin", "bo@bolt.example", "member").await;
    let accept = fixture("answer-invitation", "b-member").path_param("tenantId", TENANT_A);
    assert_eq!(call(&deps, accept).await.status(), 200);
    let remove = fixture("remove-user", "a-admin").path_param("userId", bo.as_str());
    assert_eq!(call(&deps, remove).await.status(), 204);
    assert!(deps.directory.user(&bo).is_some(), "the account stays");
    assert!(!deps.directory.was_signed_out(&bo), "B's sessions stay");
    let profile = deps.store.profile(&bo).await.unwrap().unwrap();
    assert_eq!(
        profile.memberships.keys().copied().collect::<Vec<_>>(),
        vec![tenant(TENANT_B)]
    );
    assert!(
        deps.store
            .get_tenant(&tenant(TENANT_A))
            .await
            .unwrap()
            .revoked
            .contains_key(&bo)
    );
}

#[tokio::test]
async fn a_failed_cognito_call_leaves_nothing_behind() {
    let deps = deps().await;
    deps.directory.fail_next_create();
    let response = invite(&deps, "a-admin", "carol@acme.example", "admin").await;
    assert_problem(&response, 500, "internal");
    let record = deps.store.get_tenant(&tenant(TENANT_A)).await.unwrap();
    assert_eq!((record.user_count, record.admin_count), (2, 1));
    assert_eq!(deps.directory.user_count(), SAMPLE_ACCOUNTS);
    assert_eq!(
        deps.store
            .list_members(&tenant(TENANT_A), 10, None)
            .await
            .unwrap()
            .items
            .len(),
        2
    );
    // The address is free again: a retry succeeds.
    assert_eq!(
        invite(&deps, "a-admin", "carol@acme.example", "admin")
            .await
            .status(),
        201
    );
}

#[tokio::test]
async fn an_address_its_owner_gave_up_invites_nobody() {
    let deps = deps().await;
    // Bo changed his address: the pool no longer knows the old one, the claim still does.
    let bo = user_id("b-member");
    deps.directory.insert(
        bo.clone(),
        EmailAddress::parse("bo.new@bolt.example").unwrap(),
    );
    let response = invite(&deps, "a-admin", "bo@bolt.example", "member").await;
    assert_problem(&response, 409, "email-unavailable");
    let profile = deps.store.profile(&bo).await.unwrap().unwrap();
    assert!(profile.of(&tenant(TENANT_A)).is_none(), "bo is not invited");
    assert_eq!(
        deps.store
            .get_tenant(&tenant(TENANT_A))
            .await
            .unwrap()
            .user_count,
        2
    );
}

#[tokio::test]
async fn an_account_the_control_table_does_not_know_is_invited_to_accept() {
    let deps = deps().await;
    // A user the directory knows but no tenant does (e.g. an operator).
    let ghost = UserId::parse("0e000000-0000-4000-8000-0000000000e1").unwrap();
    deps.directory.insert(
        ghost.clone(),
        EmailAddress::parse("ghost@example.com").unwrap(),
    );
    let response = invite(&deps, "a-admin", "ghost@example.com", "member").await;
    assert_eq!(response.status(), 201);
    assert_eq!(body_json(&response)["status"], "invited");
    assert_eq!(
        deps.directory.user_count(),
        SAMPLE_ACCOUNTS + 1,
        "no second account"
    );
    let record = deps.store.get_tenant(&tenant(TENANT_A)).await.unwrap();
    assert_eq!(record.user_count, 3);
    let profile = deps.store.profile(&ghost).await.unwrap().unwrap();
    assert_eq!(profile.invitations().count(), 1);
}

/// Amir (a member) made admin, with a token issued after that: what the token says and
/// what the store says agree.
async fn amir_as_admin(deps: &TestDeps) -> String {
    deps.store
        .change_role(&tenant(TENANT_A), &user_id("a-member"), Role::Admin)
        .await
        .unwrap();
    let membership = deps
        .store
        .membership(&user_id("a-member"))
        .await
        .unwrap()
        .unwrap();
    membership.granted_at.to_string()
}

fn as_amir_admin(route: &str, grant: &str) -> Event {
    fixture(route, "a-member")
        .claim("tenant_role", Some("admin"))
        .claim("tenant_grant", Some(grant))
}

#[tokio::test]
async fn a_removed_admin_can_do_nothing_with_the_token_they_still_hold() {
    let deps = deps().await;
    let grant = amir_as_admin(&deps).await;
    let before = invite(&deps, "a-admin", "first@acme.example", "member").await;
    assert_eq!(before.status(), 201);
    let mallory = json!({"email": "mallory@evil.example", "role": "admin"}).to_string();
    let allowed = call(&deps, as_amir_admin("invite-user", &grant).body(&mallory)).await;
    assert_eq!(
        allowed.status(),
        201,
        "an admin's token works while it is true"
    );
    let removed = call(
        &deps,
        fixture("remove-user", "a-admin").path_param("userId", user_id("a-member").as_str()),
    )
    .await;
    assert_eq!(removed.status(), 204);
    let users_before = deps
        .store
        .get_tenant(&tenant(TENANT_A))
        .await
        .unwrap()
        .user_count;
    let second = json!({"email": "mallory2@evil.example", "role": "admin"}).to_string();
    let demote_alice = json!({"role": "member"}).to_string();
    for event in [
        as_amir_admin("invite-user", &grant).body(&second),
        as_amir_admin("change-user-role", &grant)
            .path_param("userId", user_id("a-admin").as_str())
            .body(&demote_alice),
        as_amir_admin("list-users", &grant),
        as_amir_admin("me", &grant),
    ] {
        assert_problem(&call(&deps, event).await, 401, "token-revoked");
    }
    let after = deps.store.get_tenant(&tenant(TENANT_A)).await.unwrap();
    assert_eq!(after.user_count, users_before, "nothing was invited");
    let alice = deps
        .store
        .get_member(&tenant(TENANT_A), &user_id("a-admin"))
        .await
        .unwrap();
    assert_eq!(alice.role, Role::Admin, "alice is still admin");
}

#[tokio::test]
async fn a_demoted_admin_keeps_only_a_members_powers() {
    let deps = deps().await;
    let grant = amir_as_admin(&deps).await;
    let demote = json!({"role": "member"}).to_string();
    let demoted = call(
        &deps,
        fixture("change-user-role", "a-admin")
            .path_param("userId", user_id("a-member").as_str())
            .body(&demote),
    )
    .await;
    assert_eq!(demoted.status(), 200);
    let invitation = json!({"email": "x@evil.example", "role": "admin"}).to_string();
    assert_problem(
        &call(
            &deps,
            as_amir_admin("invite-user", &grant).body(&invitation),
        )
        .await,
        401,
        "token-revoked",
    );
    // The token a refresh gives now: role member, the grant of the demotion.
    let membership = deps
        .store
        .membership(&user_id("a-member"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(membership.role, Role::Member);
    let fresh = membership.granted_at.to_string();
    let listed = call(
        &deps,
        fixture("list-users", "a-member").claim("tenant_grant", Some(&fresh)),
    )
    .await;
    assert_eq!(listed.status(), 200);
    // Even a forged role claim on a fresh token gets no admin power: the stored role decides.
    assert_problem(
        &call(
            &deps,
            as_amir_admin("invite-user", &fresh).body(&invitation),
        )
        .await,
        403,
        "forbidden",
    );
}

#[tokio::test]
async fn a_suspended_tenants_users_can_change_or_read_nothing() {
    let deps = deps().await;
    let suspend = shared::store::control::TenantStateChange {
        status: Some(shared::domain::tenant::TenantStatus::Suspended),
        ..Default::default()
    };
    deps.store
        .set_tenant_state(&tenant(TENANT_A), suspend)
        .await
        .unwrap();
    for (route, who) in [
        ("invite-user", "a-admin"),
        ("list-users", "a-member"),
        ("remove-user", "a-admin"),
        ("change-user-role", "a-admin"),
        ("get-user", "a-admin"),
    ] {
        assert_problem(
            &call(&deps, fixture(route, who)).await,
            403,
            "tenant-inactive",
        );
    }
    // Tenant b is untouched.
    assert_eq!(
        call(&deps, fixture("list-users", "b-member"))
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn re_inviting_after_an_interrupted_invitation_repairs_it() {
    let deps = deps().await;
    let a = tenant(TENANT_A);
    let before = deps.store.get_tenant(&a).await.unwrap().user_count;
    // What a crash after steps 1 and 2 leaves: the address and a seat held, the Cognito user
    // created, no membership. Nobody can see or remove that user through the API.
    let email = EmailAddress::parse("eve@acme.example").unwrap();
    let invitation = Invitation {
        email: email.clone(),
        role: Role::Member,
    };
    deps.store
        .reserve_invite(&a, &invitation, 100)
        .await
        .unwrap();
    let invited_by = InvitedBy {
        organization: "Acme Tea".into(),
        inviter: None,
        locale: None,
    };
    let orphan = deps
        .directory
        .create_user(&email, &invited_by)
        .await
        .unwrap();
    // Inviting the address again finishes the job with that same user.
    let response = invite(&deps, "a-admin", "eve@acme.example", "member").await;
    assert_eq!(response.status(), 201, "{}", body_json(&response));
    assert_eq!(body_json(&response)["user_id"], orphan.as_str());
    assert_eq!(
        deps.directory.user_count(),
        SAMPLE_ACCOUNTS + 1,
        "no second Cognito user"
    );
    let record = deps.store.get_tenant(&a).await.unwrap();
    assert_eq!(record.user_count, before + 1, "one seat, not two");
    let membership = deps.store.membership(&orphan).await.unwrap().unwrap();
    assert_eq!(membership.tenant_id, a);
    // And only once: the address is now a member's.
    assert_problem(
        &invite(&deps, "a-admin", "eve@acme.example", "member").await,
        409,
        "already-member",
    );
}

#[tokio::test]
async fn removing_a_member_signs_them_out_deletes_them_and_frees_the_address() {
    let deps = deps().await;
    let response = invite(&deps, "a-admin", "dan@acme.example", "member").await;
    let user = UserId::parse(body_json(&response)["user_id"].as_str().unwrap()).unwrap();
    let remove = fixture("remove-user", "a-admin").path_param("userId", user.as_str());
    assert_eq!(call(&deps, remove).await.status(), 204);
    assert!(deps.directory.was_signed_out(&user));
    assert!(
        deps.directory.user(&user).is_none(),
        "deleted from the pool"
    );
    assert!(deps.store.membership(&user).await.unwrap().is_none());
    // The address can be invited again.
    let again = invite(&deps, "a-admin", "dan@acme.example", "member").await;
    assert_eq!(again.status(), 201, "{}", body_json(&again));
    assert_problem(
        &call(
            &deps,
            fixture("get-user", "a-admin").path_param("userId", user.as_str()),
        )
        .await,
        404,
        "not-found",
    );
}

#[tokio::test]
async fn the_user_limit_of_the_plan_is_enforced() {
    let deps = deps().await;
    let max = PlanLimits::of(Tier::Basic).max_users;
    for i in 2..max {
        assert_eq!(
            invite(&deps, "a-admin", &format!("u{i}@acme.example"), "member")
                .await
                .status(),
            201
        );
    }
    let over = assert_problem(
        &invite(&deps, "a-admin", "one.more@acme.example", "member").await,
        429,
        "quota-exceeded",
    );
    assert_eq!(over["limit"], "max_users");
}

#[tokio::test]
async fn bad_input_is_a_4xx_problem() {
    let deps = deps().await;
    let cases: Vec<(Event, u16, &str)> = vec![
        (
            fixture("invite-user", "a-admin").body("{"),
            400,
            "malformed-json",
        ),
        (
            fixture("invite-user", "a-admin").body(r#"{"email":"not-an-email"}"#),
            400,
            "validation-failed",
        ),
        (
            fixture("invite-user", "a-admin").body(r#"{"email":"x@example.com","role":"owner"}"#),
            400,
            "validation-failed",
        ),
        (
            fixture("invite-user", "a-admin")
                .body(r#"{"email":"x@example.com","tenant_id":"01JB8Z4K2M6Q9R3T5V7W9XBBBB"}"#),
            400,
            "invalid-request",
        ),
        (
            fixture("change-user-role", "a-admin")
                .path_param("userId", "nobody")
                .body(r#"{"role":"admin"}"#),
            404,
            "not-found",
        ),
        (
            fixture("change-user-role", "a-admin").body(r#"{"role":7}"#),
            400,
            "invalid-request",
        ),
        (
            fixture("list-users", "a-admin").query("limit", "9999"),
            400,
            "invalid-request",
        ),
    ];
    for (event, status, code) in cases {
        assert_problem(&call(&deps, event).await, status, code);
    }
    assert_eq!(deps.directory.user_count(), SAMPLE_ACCOUNTS);
}

#[tokio::test]
async fn a_platform_operator_without_tenant_cannot_list_users() {
    let deps = deps().await;
    let mut event = fixture("list-users", "a-admin");
    for claim in ["tenant_id", "tenant_role", "tenant_tier"] {
        event = event.claim(claim, None);
    }
    assert_problem(&call(&deps, event).await, 403, "no-tenant");
}
