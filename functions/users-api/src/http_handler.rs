//! `users-api`: who the caller is, and a tenant's members, managed by its admins.
//!
//! | route | who |
//! | --- | --- |
//! | `GET /me` | any signed-in user (a user with no tenant sees `tenant: null`) |
//! | `GET /users` (`limit`, `cursor`) | members and admins |
//! | `GET /users/{userId}` | members and admins |
//! | `POST /users` (`{"email", "role"}`) | admins: invite |
//! | `PATCH /users/{userId}` (`{"role"}`) | admins |
//! | `DELETE /users/{userId}` | admins |
//!
//! A tenant always keeps at least one admin. Invitations hold the e-mail address and a seat,
//! then create the Cognito user (which e-mails a temporary password), then write the membership;
//! a failure at any step undoes the steps before it.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Error, Request, Response};
use serde_json::json;

use shared::authority::{Authority, ControlAuthority};
use shared::claims;
use shared::context::{Claims, TenantContext};
use shared::domain::member::{ChangeRoleBody, Invitation, InviteBody};
use shared::http::{
    ApiError, MAX_BODY_BYTES, PathParams, Route, created, json, json_body, list_params,
    match_route, no_content, page, serve_caller, tenant_of,
};
use shared::identity::{DirectoryError, UserDirectory};
use shared::ids::UserId;
use shared::plans::PlanLimits;
use shared::store::StoreError;
use shared::store::control::MemberStore;

pub struct Deps<S, D> {
    pub store: S,
    pub directory: D,
}

/// What a request asks for: dispatched by a `match` without a catch-all arm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Me,
    List,
    Invite,
    Get,
    ChangeRole,
    Remove,
}

const ROUTES: &[(Route, Op)] = &[
    (Route::new("GET", "/me"), Op::Me),
    (Route::new("GET", "/users"), Op::List),
    (Route::new("POST", "/users"), Op::Invite),
    (Route::new("GET", "/users/{userId}"), Op::Get),
    (Route::new("PATCH", "/users/{userId}"), Op::ChangeRole),
    (Route::new("DELETE", "/users/{userId}"), Op::Remove),
];

pub async fn function_handler<S: MemberStore + ControlAuthority, D: UserDirectory>(
    deps: &Deps<S, D>,
    event: Request,
) -> Result<Response<Body>, Error> {
    Ok(serve_caller(event, |claims, request| handle(deps, claims, request)).await)
}

async fn handle<S: MemberStore + ControlAuthority, D: UserDirectory>(
    deps: &Deps<S, D>,
    claims: Claims,
    request: Request,
) -> Result<Response<Body>, ApiError> {
    let (op, params) = match_route(&request, ROUTES)?;
    let context = match tenant_of(&claims) {
        Ok(context) => context,
        Err(ApiError::NoTenant) if op == Op::Me => return me(&claims, None),
        Err(err) => return Err(err),
    };
    // The caller's stored role and the tenant's status, read strongly consistently: a removed or
    // demoted admin, or a suspended tenant, is refused at once.
    let authority = match deps.store.authority(&context).await {
        Ok(authority) => authority,
        // The caller may still learn why everything else is refused.
        Err(StoreError::MfaRequired) if op == Op::Me => {
            return me_without_second_factor(&claims, &context);
        }
        Err(err) => return Err(err.into()),
    };
    match op {
        Op::Me => me(&claims, Some(&authority)),
        Op::List => list(deps, &context, &request).await,
        Op::Get => get(deps, &context, &params).await,
        Op::Invite => invite(deps, &context, &authority, &request).await,
        Op::ChangeRole => change_role(deps, &context, &authority, &request, &params).await,
        Op::Remove => remove(deps, &context, &authority, &params).await,
    }
}

fn require_admin(authority: &Authority, action: &str) -> Result<(), ApiError> {
    if authority.is_admin() {
        Ok(())
    } else {
        Err(ApiError::forbidden(format!("Only an admin can {action}.")))
    }
}

/// A malformed id cannot name a member of this tenant: the same 404 as a missing one.
fn user_id(params: &PathParams) -> Result<UserId, ApiError> {
    UserId::parse(params.get("userId")).map_err(|_| ApiError::NotFound)
}

/// The caller of an organization that requires a second factor they did not sign in with.
fn me_without_second_factor(
    claims: &Claims,
    context: &TenantContext,
) -> Result<Response<Body>, ApiError> {
    Ok(json(
        StatusCode::OK,
        &json!({
            "user_id": context.user_id,
            "email": claims.get(claims::EMAIL),
            "tenant": { "id": context.tenant_id, "mfa_required": true },
            "groups": claims.groups(),
        }),
    ))
}

/// The caller, with their organization as the control table has it now (role and tier).
fn me(claims: &Claims, authority: Option<&Authority>) -> Result<Response<Body>, ApiError> {
    let user = claims.user_id()?;
    let tenant = match authority {
        Some(authority) => json!({
            "id": authority.tenant.id,
            "role": authority.role,
            "tier": authority.tenant.tier,
        }),
        None => serde_json::Value::Null,
    };
    Ok(json(
        StatusCode::OK,
        &json!({
            "user_id": user,
            "email": claims.get(claims::EMAIL),
            "tenant": tenant,
            "groups": claims.groups(),
        }),
    ))
}

async fn list<S: MemberStore, D>(
    deps: &Deps<S, D>,
    context: &TenantContext,
    request: &Request,
) -> Result<Response<Body>, ApiError> {
    let (limit, cursor) = list_params(request)?;
    let listed = deps
        .store
        .list_members(&context.tenant_id, limit, cursor.as_deref())
        .await?;
    Ok(page(&listed))
}

async fn get<S: MemberStore, D>(
    deps: &Deps<S, D>,
    context: &TenantContext,
    params: &PathParams,
) -> Result<Response<Body>, ApiError> {
    let member = deps
        .store
        .get_member(&context.tenant_id, &user_id(params)?)
        .await?;
    Ok(json(StatusCode::OK, &member))
}

async fn invite<S: MemberStore, D: UserDirectory>(
    deps: &Deps<S, D>,
    context: &TenantContext,
    authority: &Authority,
    request: &Request,
) -> Result<Response<Body>, ApiError> {
    require_admin(authority, "invite users")?;
    let body: InviteBody = json_body(request, MAX_BODY_BYTES)?;
    let invitation = Invitation::try_from(body)?;
    let tenant = &context.tenant_id;
    let max_users = PlanLimits::of(authority.tenant.tier).max_users;

    // 1. Hold the address and a seat (or take over the hold of an invitation of this address
    //    that a crash interrupted).
    let reservation = deps
        .store
        .reserve_invite(tenant, &invitation, max_users)
        .await?;
    // 2. Create the user in Cognito; on failure, release the hold. A resumed invitation may
    //    find the user its predecessor created: it carries on with that one.
    let (user, created_here) = match deps.directory.create_user(&invitation.email).await {
        Ok(user) => (user, true),
        Err(DirectoryError::AlreadyExists) if reservation.resumed => {
            match deps.directory.find_user(&invitation.email).await {
                Ok(Some(user)) => (user, false),
                Ok(None) => {
                    release(deps, context, &reservation).await;
                    return Err(ApiError::Internal(
                        "the invited user exists and then does not".into(),
                    ));
                }
                Err(err) => {
                    release(deps, context, &reservation).await;
                    return Err(ApiError::Internal(format!(
                        "finding the invited user: {err}"
                    )));
                }
            }
        }
        Err(err) => {
            release(deps, context, &reservation).await;
            return Err(match err {
                DirectoryError::AlreadyExists => {
                    StoreError::EmailTaken { same_tenant: false }.into()
                }
                other => ApiError::Internal(format!("creating the invited user: {other}")),
            });
        }
    };
    if reservation.resumed {
        tracing::info!(invited_user = %user, created = created_here, "an interrupted invitation is resumed");
    }
    // 3. Write the membership; on failure, remove the Cognito user this request created (never
    //    one it found) and release the hold.
    match deps
        .store
        .complete_invite(tenant, &reservation, &user)
        .await
    {
        Ok(member) => {
            tracing::info!(invited_user = %user, role = %member.role, "user invited");
            Ok(created(&format!("/users/{user}"), &member))
        }
        Err(err) => {
            if created_here && let Err(undo) = deps.directory.delete_user(&user).await {
                tracing::error!(invited_user = %user, error = %undo, "could not delete the Cognito user of a failed invitation");
            }
            release(deps, context, &reservation).await;
            Err(err.into())
        }
    }
}

async fn release<S: MemberStore, D>(
    deps: &Deps<S, D>,
    context: &TenantContext,
    reservation: &shared::store::control::Reservation,
) {
    if let Err(err) = deps
        .store
        .cancel_invite(&context.tenant_id, reservation)
        .await
    {
        tracing::error!(error = %err, "could not release the seat of a failed invitation");
    }
}

async fn change_role<S: MemberStore, D>(
    deps: &Deps<S, D>,
    context: &TenantContext,
    authority: &Authority,
    request: &Request,
    params: &PathParams,
) -> Result<Response<Body>, ApiError> {
    require_admin(authority, "change roles")?;
    let user = user_id(params)?;
    let body: ChangeRoleBody = json_body(request, MAX_BODY_BYTES)?;
    let role = body.role()?;
    let member = deps
        .store
        .change_role(&context.tenant_id, &user, role)
        .await?;
    tracing::info!(target_user = %user, role = %role, "role changed");
    Ok(json(StatusCode::OK, &member))
}

/// Removes the membership first (that, and the revocation it records, takes every power away:
/// the tokens the user holds are refused within 10 s, their next token names no tenant), then
/// revokes the user's refresh tokens and deletes them from the user pool: a membership is keyed
/// by the user, so this was their only one, and their personal data goes with it (the address
/// can be invited again). A failure of those last two is logged, not returned: the membership,
/// which carries all authority, is already gone.
async fn remove<S: MemberStore, D: UserDirectory>(
    deps: &Deps<S, D>,
    context: &TenantContext,
    authority: &Authority,
    params: &PathParams,
) -> Result<Response<Body>, ApiError> {
    require_admin(authority, "remove users")?;
    let user = user_id(params)?;
    deps.store.remove_member(&context.tenant_id, &user).await?;
    if let Err(err) = deps.directory.sign_out_everywhere(&user).await {
        tracing::warn!(target_user = %user, error = %err, "removed member could not be signed out globally");
    }
    match deps.directory.delete_user(&user).await {
        Ok(()) | Err(DirectoryError::NotFound) => {}
        Err(err) => {
            tracing::error!(target_user = %user, error = %err, "removed member could not be deleted from the user pool");
        }
    }
    tracing::info!(target_user = %user, "member removed");
    Ok(no_content())
}

#[cfg(test)]
mod tests {
    use serde_json::Value;
    use shared::context::Role;
    use shared::identity::memory::MemoryDirectory;
    use shared::ids::TenantId;
    use shared::store::control::{MembershipLookup, TenantStore};
    use shared::store::memory_control::MemoryControl;
    use shared::testing::{
        Event, TENANT_A, TENANT_B, assert_problem, body_json, seed_sample_tenants, user_id,
    };

    use super::*;

    type TestDeps = Deps<MemoryControl, MemoryDirectory>;

    async fn deps() -> TestDeps {
        let store = MemoryControl::new();
        seed_sample_tenants(&store).await;
        Deps {
            store,
            directory: MemoryDirectory::new(),
        }
    }

    async fn call(deps: &TestDeps, event: Event) -> Response<Body> {
        function_handler(deps, event.request())
            .await
            .expect("the handler never fails the invocation")
    }

    fn fixture(route: &str, who: &str) -> Event {
        Event::load(&format!("users-api/{route}.{who}.json"))
    }

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
            json!({"id": TENANT_A, "role": "member", "tier": "basic"})
        );
        let operator = body_json(&call(&deps, fixture("me", "platform")).await);
        assert_eq!(operator["tenant"], Value::Null);
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
        let first =
            body_json(&call(&deps, fixture("list-users", "a-admin").query("limit", "1")).await);
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
        assert_eq!(deps.directory.user_count(), 0);
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

    #[tokio::test]
    async fn an_invitation_cannot_attach_a_member_of_another_tenant() {
        let deps = deps().await;
        let response = invite(&deps, "a-admin", "bo@bolt.example", "admin").await;
        let problem = assert_problem(&response, 409, "email-unavailable");
        assert!(!problem["detail"].as_str().unwrap().contains("Bolt"));
        assert!(!problem.to_string().contains(TENANT_B));
        assert_eq!(
            deps.store
                .membership(&user_id("b-member"))
                .await
                .unwrap()
                .unwrap()
                .tenant_id,
            tenant(TENANT_B)
        );
        let own = invite(&deps, "a-admin", "amir@acme.example", "member").await;
        assert_problem(&own, 409, "already-member");
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
    async fn a_failed_cognito_call_leaves_nothing_behind() {
        let deps = deps().await;
        deps.directory.fail_next_create();
        let response = invite(&deps, "a-admin", "carol@acme.example", "admin").await;
        assert_problem(&response, 500, "internal");
        let record = deps.store.get_tenant(&tenant(TENANT_A)).await.unwrap();
        assert_eq!((record.user_count, record.admin_count), (2, 1));
        assert_eq!(deps.directory.user_count(), 0);
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
    async fn an_existing_cognito_user_is_a_conflict_that_leaves_nothing_behind() {
        let deps = deps().await;
        // A user the directory knows but no tenant does (e.g. removed earlier).
        deps.directory.insert(
            UserId::parse("0e000000-0000-4000-8000-0000000000e1").unwrap(),
            shared::domain::email::EmailAddress::parse("ghost@example.com").unwrap(),
        );
        assert_problem(
            &invite(&deps, "a-admin", "ghost@example.com", "member").await,
            409,
            "email-unavailable",
        );
        assert_eq!(
            deps.store
                .get_tenant(&tenant(TENANT_A))
                .await
                .unwrap()
                .user_count,
            2
        );
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
        let email = shared::domain::email::EmailAddress::parse("eve@acme.example").unwrap();
        let invitation = Invitation {
            email: email.clone(),
            role: Role::Member,
        };
        deps.store
            .reserve_invite(&a, &invitation, 100)
            .await
            .unwrap();
        let orphan = deps.directory.create_user(&email).await.unwrap();
        // Inviting the address again finishes the job with that same user.
        let response = invite(&deps, "a-admin", "eve@acme.example", "member").await;
        assert_eq!(response.status(), 201, "{}", body_json(&response));
        assert_eq!(body_json(&response)["user_id"], orphan.as_str());
        assert_eq!(deps.directory.user_count(), 1, "no second Cognito user");
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
        let max = PlanLimits::of(shared::context::Tier::Basic).max_users;
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
                fixture("invite-user", "a-admin")
                    .body(r#"{"email":"x@example.com","role":"owner"}"#),
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
        assert_eq!(deps.directory.user_count(), 0);
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
}
