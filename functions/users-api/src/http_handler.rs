//! `users-api`: who the caller is, their organizations, and a tenant's members, managed by its
//! admins.
//!
//! | route | who |
//! | --- | --- |
//! | `GET /me` | any signed-in user (a user with no tenant sees `tenant: null`) |
//! | `GET /me/organizations` | any signed-in user: their organizations, which one is active |
//! | `POST /me/organizations` (`{"name"}`) | any signed-in user: a new basic organization, as its admin |
//! | `DELETE /me/organizations/{tenantId}` | a member: leave (not the last admin) |
//! | `PUT /me/active-organization` (`{"tenant_id"}`) | a member: the next token carries it |
//! | `GET /me/invitations` | any signed-in user: invitations waiting for an answer |
//! | `POST /me/invitations/{tenantId}` (`{"accept"}`) | the invitee: accept or decline |
//! | `GET /users` (`limit`, `cursor`) | members and admins |
//! | `GET /users/{userId}` | members and admins |
//! | `POST /users` (`{"email", "role"}`) | admins: invite |
//! | `PATCH /users/{userId}` (`{"role"}`) | admins |
//! | `DELETE /users/{userId}` | admins: remove a member, or withdraw an invitation |
//!
//! A tenant always keeps at least one admin. The `/me/...` routes act on the caller's own profile,
//! named by the token's verified `sub`, whatever organization the token carries (or none).
//!
//! Inviting a new address holds the address and a seat, then creates the Cognito user (which
//! e-mails a temporary password), then writes the membership, in force at once; a failure at any
//! step undoes the steps before it. Inviting someone who already has an account writes a pending
//! invitation (holding a seat) that they accept or decline within 7 days.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Error, Request, Response};
use serde_json::{Value, json};

use shared::authority::{Authority, ControlAuthority};
use shared::claims;
use shared::context::{Claims, TenantContext};
use shared::domain::Tier;
use shared::domain::ValidationError;
use shared::domain::email::EmailAddress;
use shared::domain::member::{
    ActiveOrganizationBody, AnswerBody, ChangeRoleBody, Invitation, InviteBody, MemberStatus,
    Membership, MembershipState, Profile,
};
use shared::domain::tenant::{Tenant, TenantName};
use shared::domain::time::Timestamp;
use shared::http::{
    ApiError, MAX_BODY_BYTES, PathParams, Route, created, json, json_body, list_params,
    match_route, no_content, page, serve_caller, tenant_of,
};
use shared::identity::{DirectoryError, InvitedBy, UserDirectory};
use shared::ids::{TenantId, UserId};
use shared::plans::PlanLimits;
use shared::store::StoreError;
use shared::store::control::{MemberStore, PersonStore, Reservation, Reserved};

pub struct Deps<S, D> {
    pub store: S,
    pub directory: D,
}

/// What a request asks for: dispatched by `match`es without a catch-all arm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    /// The caller's own profile, whatever tenant the token carries (or none).
    Mine(Mine),
    /// The members of the tenant the token carries.
    Members(Members),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mine {
    Me,
    Organizations,
    CreateOrganization,
    Leave,
    Switch,
    Invitations,
    Answer,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Members {
    List,
    Invite,
    Get,
    ChangeRole,
    Remove,
}

const ROUTES: &[(Route, Op)] = &[
    (Route::new("GET", "/me"), Op::Mine(Mine::Me)),
    (
        Route::new("GET", "/me/organizations"),
        Op::Mine(Mine::Organizations),
    ),
    (
        Route::new("POST", "/me/organizations"),
        Op::Mine(Mine::CreateOrganization),
    ),
    (
        Route::new("DELETE", "/me/organizations/{tenantId}"),
        Op::Mine(Mine::Leave),
    ),
    (
        Route::new("PUT", "/me/active-organization"),
        Op::Mine(Mine::Switch),
    ),
    (
        Route::new("GET", "/me/invitations"),
        Op::Mine(Mine::Invitations),
    ),
    (
        Route::new("POST", "/me/invitations/{tenantId}"),
        Op::Mine(Mine::Answer),
    ),
    (Route::new("GET", "/users"), Op::Members(Members::List)),
    (Route::new("POST", "/users"), Op::Members(Members::Invite)),
    (
        Route::new("GET", "/users/{userId}"),
        Op::Members(Members::Get),
    ),
    (
        Route::new("PATCH", "/users/{userId}"),
        Op::Members(Members::ChangeRole),
    ),
    (
        Route::new("DELETE", "/users/{userId}"),
        Op::Members(Members::Remove),
    ),
];

pub async fn function_handler<S, D>(
    deps: &Deps<S, D>,
    event: Request,
) -> Result<Response<Body>, Error>
where
    S: MemberStore + PersonStore + ControlAuthority,
    D: UserDirectory,
{
    Ok(serve_caller(event, |claims, request| handle(deps, claims, request)).await)
}

async fn handle<S, D>(
    deps: &Deps<S, D>,
    claims: Claims,
    request: Request,
) -> Result<Response<Body>, ApiError>
where
    S: MemberStore + PersonStore + ControlAuthority,
    D: UserDirectory,
{
    let (op, params) = match_route(&request, ROUTES)?;
    let op = match op {
        Op::Mine(mine) => {
            return match mine {
                Mine::Me => me(deps, &claims).await,
                Mine::Organizations => organizations(deps, &claims).await,
                Mine::CreateOrganization => create_organization(deps, &claims, &request).await,
                Mine::Leave => leave(deps, &claims, &params).await,
                Mine::Switch => switch(deps, &claims, &request).await,
                Mine::Invitations => invitations(deps, &claims).await,
                Mine::Answer => answer(deps, &claims, &request, &params).await,
            };
        }
        Op::Members(op) => op,
    };
    let context = tenant_of(&claims)?;
    // The caller's stored role and the tenant's status, read strongly consistently: a removed or
    // demoted admin, or a suspended tenant, is refused at once.
    let authority = deps.store.authority(&context).await?;
    match op {
        Members::List => list(deps, &context, &request).await,
        Members::Get => get(deps, &context, &params).await,
        Members::Invite => invite(deps, &context, &authority, &claims, &request).await,
        Members::ChangeRole => change_role(deps, &context, &authority, &request, &params).await,
        Members::Remove => remove(deps, &context, &authority, &params).await,
    }
}

/// A malformed id cannot name a member of this tenant: the same 404 as a missing one.
fn user_id(params: &PathParams) -> Result<UserId, ApiError> {
    UserId::parse(params.get("userId")).map_err(|_| ApiError::NotFound)
}

/// A malformed id cannot name one of the caller's organizations: the same 404 as another's.
fn tenant_param(params: &PathParams) -> Result<TenantId, ApiError> {
    TenantId::parse(params.get("tenantId")).map_err(|_| ApiError::NotFound)
}

async fn profile_of<S: PersonStore, D>(
    deps: &Deps<S, D>,
    user: &UserId,
) -> Result<Option<Profile>, ApiError> {
    Ok(deps.store.profile(user).await?)
}

/// The caller, with the organization their token carries as the control table has it now (role
/// and tier), and how many other organizations and invitations they have.
async fn me<S: PersonStore + ControlAuthority, D>(
    deps: &Deps<S, D>,
    claims: &Claims,
) -> Result<Response<Body>, ApiError> {
    let user = claims.user_id()?;
    let profile = profile_of(deps, &user).await?;
    let context = match tenant_of(claims) {
        Err(ApiError::NoTenant) => None,
        Err(err) => return Err(err),
        Ok(context) => Some(context),
    };
    let tenant = match &context {
        None => Value::Null,
        Some(context) => match deps.store.authority(context).await {
            Ok(authority) => json!({
                "id": authority.tenant.id,
                "name": authority.tenant.name,
                "role": authority.role,
                "tier": authority.tenant.tier,
            }),
            // The caller may still learn why everything else is refused.
            Err(StoreError::MfaRequired) => {
                json!({ "id": context.tenant_id, "mfa_required": true })
            }
            Err(err) => return Err(err.into()),
        },
    };
    let carried = context.map(|context| context.tenant_id);
    let (others, pending) = profile.as_ref().map_or((0, 0), |profile| {
        (
            profile
                .organizations()
                .filter(|m| Some(m.tenant_id) != carried)
                .count(),
            profile.invitations().count(),
        )
    });
    Ok(json(
        StatusCode::OK,
        &json!({
            "user_id": user,
            "email": claims.get(claims::EMAIL),
            "tenant": tenant,
            "other_organizations": others,
            "pending_invitations": pending,
            "groups": claims.groups(),
        }),
    ))
}

/// One of the caller's organizations as `/me/organizations` shows it.
fn organization_view(membership: &Membership, tenant: Option<&Tenant>, active: bool) -> Value {
    json!({
        "id": membership.tenant_id,
        "name": tenant.map(|t| t.name.as_str()),
        "role": membership.role,
        "tier": tenant.map_or(membership.tier, |t| t.tier),
        "status": tenant.map_or(membership.tenant_status, |t| t.status),
        "active": active,
    })
}

/// The tenant records of `memberships`, for names and current state.
async fn records<'a, S: PersonStore, D>(
    deps: &Deps<S, D>,
    memberships: impl Iterator<Item = &'a Membership>,
) -> Result<Vec<Tenant>, ApiError> {
    let ids: Vec<TenantId> = memberships.map(|m| m.tenant_id).collect();
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(deps.store.tenants(&ids).await?)
}

async fn organizations<S: PersonStore, D>(
    deps: &Deps<S, D>,
    claims: &Claims,
) -> Result<Response<Body>, ApiError> {
    let user = claims.user_id()?;
    let Some(profile) = profile_of(deps, &user).await? else {
        return Ok(json(StatusCode::OK, &json!({ "items": [] })));
    };
    let tenants = records(deps, profile.organizations()).await?;
    let chosen = profile.chosen().map(|m| m.tenant_id);
    let items: Vec<Value> = profile
        .organizations()
        .map(|m| {
            let tenant = tenants.iter().find(|t| t.id == m.tenant_id);
            organization_view(m, tenant, Some(m.tenant_id) == chosen)
        })
        .collect();
    Ok(json(StatusCode::OK, &json!({ "items": items })))
}

/// The body of `POST /me/organizations`.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateOrganizationBody {
    name: String,
}

async fn create_organization<S: PersonStore, D>(
    deps: &Deps<S, D>,
    claims: &Claims,
    request: &Request,
) -> Result<Response<Body>, ApiError> {
    let user = claims.user_id()?;
    let body: CreateOrganizationBody = json_body(request, MAX_BODY_BYTES)?;
    let name = TenantName::parse(&body.name)?;
    let email = claims.email().ok_or_else(|| {
        ApiError::from(ValidationError::new(
            "email",
            "your account has no valid e-mail address",
        ))
    })?;
    // Like a sign-up: basic, pooled, usable at once; paid plans are chosen afterwards.
    let tenant = Tenant::new(name, Tier::Basic);
    deps.store
        .create_organization(&tenant, &user, &email)
        .await?;
    tracing::info!(tenant_id = %tenant.id, "organization created by a signed-in user");
    // Carried by the next token only if the person had no usable organization before.
    let profile = profile_of(deps, &user).await?.ok_or(ApiError::NotFound)?;
    let membership = profile.of(&tenant.id).ok_or(ApiError::NotFound)?;
    let chosen = profile.chosen().map(|m| m.tenant_id) == Some(tenant.id);
    Ok(created(
        &format!("/me/organizations/{}", tenant.id),
        &organization_view(membership, Some(&tenant), chosen),
    ))
}

/// Leaves an organization: the same removal an admin makes (the last admin cannot leave, the
/// tokens carrying it are revoked), but the account stays, whatever is left.
async fn leave<S: MemberStore, D>(
    deps: &Deps<S, D>,
    claims: &Claims,
    params: &PathParams,
) -> Result<Response<Body>, ApiError> {
    let user = claims.user_id()?;
    let tenant = tenant_param(params)?;
    deps.store.remove_member(&tenant, &user).await?;
    tracing::info!(tenant_id = %tenant, "member left the organization");
    Ok(no_content())
}

async fn switch<S: PersonStore, D>(
    deps: &Deps<S, D>,
    claims: &Claims,
    request: &Request,
) -> Result<Response<Body>, ApiError> {
    let user = claims.user_id()?;
    let body: ActiveOrganizationBody = json_body(request, MAX_BODY_BYTES)?;
    let tenant = TenantId::parse(&body.tenant_id)
        .map_err(|_| ValidationError::new("tenant_id", "is not an organization id"))?;
    deps.store.set_active(&user, &tenant).await?;
    let profile = profile_of(deps, &user).await?.ok_or(ApiError::NotFound)?;
    let membership = profile.of(&tenant).ok_or(ApiError::NotFound)?;
    let tenants = deps.store.tenants(&[tenant]).await?;
    let usable = profile.chosen().map(|m| m.tenant_id) == Some(tenant);
    let mut view = organization_view(membership, tenants.first(), usable);
    view["detail"] = json!(if usable {
        "Refresh your token: the next one carries this organization."
    } else {
        "Recorded, but this organization is not open for work now: tokens carry another one until it is."
    });
    Ok(json(StatusCode::OK, &view))
}

async fn invitations<S: PersonStore, D>(
    deps: &Deps<S, D>,
    claims: &Claims,
) -> Result<Response<Body>, ApiError> {
    let user = claims.user_id()?;
    let Some(profile) = profile_of(deps, &user).await? else {
        return Ok(json(StatusCode::OK, &json!({ "items": [] })));
    };
    let tenants = records(deps, profile.invitations()).await?;
    let now = shared::domain::time::now_millis();
    let items: Vec<Value> = profile
        .invitations()
        .filter_map(|m| {
            let MembershipState::Invited { expires_at } = m.state else {
                return None;
            };
            let tenant = tenants.iter().find(|t| t.id == m.tenant_id);
            Some(json!({
                "tenant_id": m.tenant_id,
                "name": tenant.map(|t| t.name.as_str()),
                "role": m.role,
                "expires_at": Timestamp::from_millis(expires_at),
                "expired": expires_at <= now,
            }))
        })
        .collect();
    Ok(json(StatusCode::OK, &json!({ "items": items })))
}

async fn answer<S: PersonStore, D>(
    deps: &Deps<S, D>,
    claims: &Claims,
    request: &Request,
    params: &PathParams,
) -> Result<Response<Body>, ApiError> {
    let user = claims.user_id()?;
    let tenant = tenant_param(params)?;
    let body: AnswerBody = json_body(request, MAX_BODY_BYTES)?;
    deps.store
        .answer_invitation(&user, &tenant, body.accept)
        .await?;
    tracing::info!(tenant_id = %tenant, accepted = body.accept, "invitation answered");
    if !body.accept {
        return Ok(no_content());
    }
    let profile = profile_of(deps, &user).await?.ok_or(ApiError::NotFound)?;
    let membership = profile.of(&tenant).ok_or(ApiError::NotFound)?;
    let tenants = deps.store.tenants(&[tenant]).await?;
    let chosen = profile.chosen().map(|m| m.tenant_id) == Some(tenant);
    Ok(json(
        StatusCode::OK,
        &organization_view(membership, tenants.first(), chosen),
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
    claims: &Claims,
    request: &Request,
) -> Result<Response<Body>, ApiError> {
    authority.require_admin("invite users")?;
    let body: InviteBody = json_body(request, MAX_BODY_BYTES)?;
    let invitation = Invitation::try_from(body)?;
    let max_users = PlanLimits::of(authority.tenant.tier).max_users;
    let invited_by = InvitedBy {
        organization: authority.tenant.name.as_str().to_owned(),
        inviter: claims.get(claims::EMAIL).map(str::to_owned),
        locale: authority.tenant.settings.locale.clone(),
    };
    match invite_once(deps, context, &invitation, &invited_by, max_users).await {
        // Expired invitations hold their seats until withdrawn: at the plan's limit, they are
        // withdrawn, and the invitation is tried once more.
        Err(ApiError::QuotaExceeded { .. }) if withdraw_expired(deps, context).await? > 0 => {
            invite_once(deps, context, &invitation, &invited_by, max_users).await
        }
        outcome => outcome,
    }
}

/// Withdraws the tenant's expired invitations; returns how many.
async fn withdraw_expired<S: MemberStore, D>(
    deps: &Deps<S, D>,
    context: &TenantContext,
) -> Result<usize, ApiError> {
    let now = Timestamp::now();
    let mut withdrawn = 0;
    let mut cursor = None;
    loop {
        let listed = deps
            .store
            .list_members(&context.tenant_id, 100, cursor.as_deref())
            .await?;
        for member in &listed.items {
            let expired = member.status == MemberStatus::Invited
                && member.expires_at.is_some_and(|at| at <= now);
            if !expired {
                continue;
            }
            match deps
                .store
                .remove_member(&context.tenant_id, &member.user_id)
                .await
            {
                Ok(_) => withdrawn += 1,
                // Answered or withdrawn meanwhile.
                Err(StoreError::NotFound | StoreError::VersionConflict) => {}
                Err(err) => return Err(err.into()),
            }
        }
        match listed.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    if withdrawn > 0 {
        tracing::info!(
            withdrawn,
            "expired invitations withdrawn to free their seats"
        );
    }
    Ok(withdrawn)
}

/// One attempt at an invitation (see [`invite`]).
async fn invite_once<S: MemberStore, D: UserDirectory>(
    deps: &Deps<S, D>,
    context: &TenantContext,
    invitation: &Invitation,
    invited_by: &InvitedBy,
    max_users: u64,
) -> Result<Response<Body>, ApiError> {
    let tenant = &context.tenant_id;
    let invitation = invitation.clone();

    // 1. Hold the address and a seat (or take over the hold of an invitation of this address
    //    that a crash interrupted), unless the address has an account.
    let reservation = match deps
        .store
        .reserve_invite(tenant, &invitation, max_users)
        .await?
    {
        Reserved::New(reservation) => reservation,
        Reserved::Existing(user) => {
            return invite_existing(deps, context, &invitation, user, max_users).await;
        }
    };
    // 2. Create the user in Cognito; on failure, release the hold. A resumed invitation may
    //    find the user its predecessor created: it carries on with that one. An account that
    //    exists without the control table knowing it (an operator, or one whose clean-up
    //    stopped half way) gets an invitation to accept.
    let (user, created_here) = match deps
        .directory
        .create_user(&invitation.email, invited_by)
        .await
    {
        Ok(user) => (user, true),
        Err(DirectoryError::AlreadyExists) => {
            let found = deps.directory.find_user(&invitation.email).await;
            match found {
                Ok(Some(user)) if reservation.resumed => (user, false),
                Ok(found) => {
                    release(deps, context, &reservation).await;
                    return invite_existing(deps, context, &invitation, found, max_users).await;
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
            return Err(ApiError::Internal(format!(
                "creating the invited user: {err}"
            )));
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

/// Invites someone who has an account: a pending invitation they accept from
/// `/me/invitations`. The account is the one the user pool has for the address now (`claimed`,
/// the one the address's claim names, must be it): people change their addresses, and an
/// invitation must never reach whoever held the address before.
async fn invite_existing<S: MemberStore, D: UserDirectory>(
    deps: &Deps<S, D>,
    context: &TenantContext,
    invitation: &Invitation,
    claimed: Option<UserId>,
    max_users: u64,
) -> Result<Response<Body>, ApiError> {
    let found = deps
        .directory
        .find_user(&invitation.email)
        .await
        .map_err(|err| ApiError::Internal(format!("finding the invited user: {err}")))?;
    let user = match (claimed, found) {
        (Some(claimed), Some(found)) if claimed == found => found,
        (None, Some(found)) => found,
        (claimed, found) => {
            tracing::warn!(claimed = ?claimed, found = ?found, "the address's claim and the user pool disagree: not invited");
            return Err(StoreError::EmailTaken { same_tenant: false }.into());
        }
    };
    let member = deps
        .store
        .invite_existing(&context.tenant_id, invitation, &user, max_users)
        .await?;
    tracing::info!(invited_user = %user, role = %member.role, "existing user invited");
    Ok(created(&format!("/users/{user}"), &member))
}

async fn release<S: MemberStore, D>(
    deps: &Deps<S, D>,
    context: &TenantContext,
    reservation: &Reservation,
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
    authority.require_admin("change roles")?;
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

/// Removes the membership first (that, and the revocation it records, takes every power in
/// this organization away: the tokens carrying it are refused within 10 s, the next token
/// carries another organization or none), or withdraws a pending invitation. A person left with
/// no organization and no invitation is then signed out everywhere and deleted from the user
/// pool: their personal data goes, and the address can be invited again. A person who still
/// belongs elsewhere keeps their account and sessions, untouched. A failure of those last
/// steps is logged, not returned: the membership, which carries all authority, is already gone.
async fn remove<S: MemberStore, D: UserDirectory>(
    deps: &Deps<S, D>,
    context: &TenantContext,
    authority: &Authority,
    params: &PathParams,
) -> Result<Response<Body>, ApiError> {
    authority.require_admin("remove users")?;
    let user = user_id(params)?;
    let removed = deps.store.remove_member(&context.tenant_id, &user).await?;
    if removed.member.status == MemberStatus::Invited {
        tracing::info!(target_user = %user, "invitation withdrawn");
        return Ok(no_content());
    }
    tracing::info!(target_user = %user, remaining = removed.remaining, "member removed");
    if removed.remaining == 0 {
        delete_account(deps, &user, &removed.member.email).await;
    }
    Ok(no_content())
}

/// Deletes the account of a person left with nothing: signed out everywhere first (no refresh
/// token outlives the profile), then the profile and claim (unless an invitation came
/// meanwhile), then the Cognito user.
async fn delete_account<S: MemberStore, D: UserDirectory>(
    deps: &Deps<S, D>,
    user: &UserId,
    email: &EmailAddress,
) {
    if let Err(err) = deps.directory.sign_out_everywhere(user).await {
        tracing::warn!(target_user = %user, error = %err, "removed member could not be signed out globally");
    }
    match deps.store.forget_person(user, email).await {
        Ok(true) => {}
        Ok(false) => {
            tracing::info!(target_user = %user, "the removed member was invited meanwhile: the account stays");
            return;
        }
        Err(err) => {
            tracing::error!(target_user = %user, error = %err, "the profile of a removed member could not be deleted");
            return;
        }
    }
    match deps.directory.delete_user(user).await {
        Ok(()) | Err(DirectoryError::NotFound) => {}
        Err(err) => {
            tracing::error!(target_user = %user, error = %err, "removed member could not be deleted from the user pool");
        }
    }
}

#[cfg(test)]
mod tests;
