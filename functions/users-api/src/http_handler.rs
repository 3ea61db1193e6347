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
mod tests {
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
        shared::testing::assert_routes_documented(
            "users-api",
            ROUTES.iter().map(|(route, _)| *route),
        );
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
        let leave =
            |from: &str| fixture("leave-organization", "a-member").path_param("tenantId", from);
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
}
