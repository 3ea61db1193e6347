//! `pre-token-generation`: puts the caller's tenant into the token.
//!
//! **One DynamoDB round trip per sign-in and refresh:** a strongly consistent `GetItem` of the
//! user's profile (`USER#<sub>`), which holds every membership (tenant id, role, and a copy of
//! the tenant's tier and status, kept in step by every change of those; see
//! `TenantStore::set_tenant_state`) and the organization the person chose. So no second read
//! of a tenant record is needed.
//!
//! **Exactly one organization per token:** the chosen one while its membership is in force and
//! its tenant open for work; otherwise the in-force membership of the oldest open organization;
//! otherwise none (see `Profile::chosen`). A person whose every organization is suspended, or
//! who left them all, still signs in: their token carries no tenant, so they can create an
//! organization or accept an invitation.
//!
//! The claims `tenant_id`, `tenant_role`, `tenant_tier` and `tenant_grant` (when the membership
//! was granted as it is, checked against the tenant's revocations by the APIs) are injected into the ID token (event
//! version 1, and the local emulator's version 0) or into both the ID and the access token
//! (versions 2 and 3), overriding anything else. No group override is ever sent, so the user's
//! `cognito:groups` are never touched (an empty override would wipe them).
//!
//! A user with no profile (a platform operator) gets a token without tenant claims, which the
//! tenant routes answer with 403 `no-tenant`: platform operators must still be able to sign in. A
//! self-service sign-up without a profile is one whose onboarding failed after Cognito confirmed
//! it: that sign-in completes it (the only case with more than one request).
//!
//! The event is handled as JSON rather than `aws_lambda_events`' typed struct: that struct
//! rejects the emulator's events, and its response type would always send a group override.

use lambda_runtime::{Error, LambdaEvent};
use serde_json::{Map, Value, json};

use shared::api_clients::ClientId;
use shared::claims::SIGN_UP_TENANT_NAME;
use shared::claims::{
    TENANT_GRANT, TENANT_ID, TENANT_MFA, TENANT_PRINCIPAL, TENANT_ROLE, TENANT_TIER,
};
use shared::domain::Role;
use shared::domain::Tier;
use shared::domain::email::EmailAddress;
use shared::domain::member::{Membership, Profile};
use shared::domain::tenant::{Tenant, TenantName};
use shared::identity::{DirectoryError, SecondFactor};
use shared::ids::UserId;
use shared::store::StoreError;
use shared::store::control::{MachineLookup, Onboarding};

pub struct Deps<S, F> {
    pub store: S,
    pub second_factor: F,
}

/// Why sign-in is refused. The message is shown to the user by Cognito: short and safe.
#[derive(Debug, thiserror::Error)]
pub enum SignInRefused {
    #[error("Sign-in failed.")]
    MalformedEvent,
    #[error(
        "This e-mail address already belongs to an organization: ask its admin for an invitation."
    )]
    AddressTaken,
    #[error("Sign-in is temporarily unavailable; please try again.")]
    Store(#[source] StoreError),
    #[error("Sign-in is temporarily unavailable; please try again.")]
    Directory(#[source] DirectoryError),
    #[error("This client is not known.")]
    UnknownClient,
    #[error("This client's organization is not active.")]
    TenantClosed,
}

/// Where the claims go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    /// `claimsOverrideDetails`: the ID token only.
    V1,
    /// `claimsAndScopeOverrideDetails`: the ID and the access token.
    V2,
}

fn format(event: &Value) -> Format {
    match event["version"].as_str() {
        Some("2") | Some("3") => Format::V2,
        _ => Format::V1,
    }
}

fn user_of(event: &Value) -> Result<UserId, SignInRefused> {
    event["request"]["userAttributes"]["sub"]
        .as_str()
        .or_else(|| event["userName"].as_str())
        .and_then(|sub| UserId::parse(sub).ok())
        .ok_or(SignInRefused::MalformedEvent)
}

/// The tenant claims; `mfa` (whether the user uses TOTP) only for a tenant that requires it.
fn claims_of(membership: &Membership, mfa: Option<bool>) -> Value {
    let mut claims = json!({
        TENANT_ID: membership.tenant_id.to_string(),
        TENANT_ROLE: membership.role.as_str(),
        TENANT_TIER: membership.tier.as_str(),
        TENANT_GRANT: membership.granted_at.to_string(),
    });
    if let Some(mfa) = mfa {
        claims[TENANT_MFA] = json!(mfa.to_string());
    }
    claims
}

/// Sets `response.<path...>.<key> = value`, keeping whatever else the response already holds.
fn set(event: &mut Value, path: &[&str], key: &str, value: Value) {
    let mut node = &mut event["response"];
    for step in path {
        if !node.get(*step).is_some_and(Value::is_object) {
            node[*step] = Value::Object(Map::new());
        }
        node = &mut node[*step];
    }
    node[key] = value;
}

fn apply(event: &mut Value, key: &str, value: Value) {
    match format(event) {
        Format::V1 => set(event, &["claimsOverrideDetails"], key, value),
        Format::V2 => {
            set(
                event,
                &["claimsAndScopeOverrideDetails", "idTokenGeneration"],
                key,
                value.clone(),
            );
            set(
                event,
                &["claimsAndScopeOverrideDetails", "accessTokenGeneration"],
                key,
                value,
            );
        }
    }
}

/// A self-service sign-up (it carries the organization's name) whose organization was never
/// created: post-confirmation failed after Cognito had confirmed the user (every retry), so
/// this sign-in creates it, exactly as post-confirmation would have (a basic tenant, the user
/// its admin; idempotent, keyed by the user). Returns the profile, or `None` for a user who is
/// no sign-up (an operator).
async fn complete_onboarding<S: Onboarding, F>(
    deps: &Deps<S, F>,
    event: &Value,
    user: &UserId,
) -> Result<Option<Profile>, SignInRefused> {
    let attributes = &event["request"]["userAttributes"];
    let (Some(name), Some(email)) = (
        attributes[SIGN_UP_TENANT_NAME].as_str(),
        attributes["email"].as_str(),
    ) else {
        return Ok(None);
    };
    let (Ok(name), Ok(email)) = (TenantName::parse(name), EmailAddress::parse(email)) else {
        tracing::warn!(user_id = %user, "a sign-up whose organization name or address is invalid");
        return Ok(None);
    };
    let tenant = Tenant::new(name, Tier::Basic);
    match deps.store.onboard(&tenant, user, &email).await {
        Ok(outcome) => {
            tracing::warn!(user_id = %user, tenant_id = %tenant.id, ?outcome, "onboarding completed at sign-in");
        }
        Err(StoreError::EmailTaken { .. }) => return Err(SignInRefused::AddressTaken),
        Err(err) => {
            tracing::error!(user_id = %user, error = %err, "onboarding at sign-in failed");
            return Err(SignInRefused::Store(err));
        }
    }
    deps.store.profile(user).await.map_err(SignInRefused::Store)
}

/// A machine client's token (event version 3, client credentials): the tenant claims from the
/// client's record, into the access token (the only one). A client that is not recorded (or
/// was deleted), or whose tenant is not open for work, gets no token.
async fn machine_claims<S: MachineLookup, F>(
    deps: &Deps<S, F>,
    event: &mut Value,
) -> Result<(), SignInRefused> {
    let client = event["callerContext"]["clientId"]
        .as_str()
        .and_then(|raw| ClientId::parse(raw).ok())
        .ok_or(SignInRefused::MalformedEvent)?;
    let found = deps.store.machine_client(&client).await.map_err(|err| {
        tracing::error!(client_id = %client, error = %err, "API client lookup failed");
        SignInRefused::Store(err)
    })?;
    let Some((api_client, tenant)) = found else {
        tracing::warn!(client_id = %client, "a token asked for by an unknown API client");
        return Err(SignInRefused::UnknownClient);
    };
    if !tenant.status.allows_access() {
        tracing::info!(client_id = %client, tenant_id = %tenant.id, status = %tenant.status, "no token: the tenant is not active");
        return Err(SignInRefused::TenantClosed);
    }
    tracing::info!(client_id = %client, tenant_id = %tenant.id, "machine tenant claims issued");
    set(
        event,
        &["claimsAndScopeOverrideDetails", "accessTokenGeneration"],
        "claimsToAddOrOverride",
        json!({
            TENANT_ID: tenant.id.to_string(),
            TENANT_ROLE: Role::Member.as_str(),
            TENANT_TIER: tenant.tier.as_str(),
            TENANT_GRANT: api_client.created_ms.to_string(),
            TENANT_PRINCIPAL: api_client.principal.as_str(),
        }),
    );
    Ok(())
}

pub async fn function_handler<S: Onboarding + MachineLookup, F: SecondFactor>(
    deps: &Deps<S, F>,
    event: LambdaEvent<Value>,
) -> Result<Value, Error> {
    let mut event = event.payload;
    if !event["response"].is_object() {
        event["response"] = Value::Object(Map::new());
    }
    if event["triggerSource"].as_str() == Some("TokenGeneration_ClientCredentials") {
        machine_claims(deps, &mut event).await?;
        return Ok(event);
    }
    let user = user_of(&event)?;
    let mut profile = deps.store.profile(&user).await.map_err(|err| {
        tracing::error!(user_id = %user, error = %err, "profile lookup failed");
        SignInRefused::Store(err)
    })?;
    if profile.is_none() {
        profile = complete_onboarding(deps, &event, &user).await?;
    }
    let chosen: Option<Membership> = profile.as_ref().and_then(Profile::chosen).cloned();
    if let Some(profile) = &profile
        && profile.active.is_some()
        && profile.active != chosen.as_ref().map(|m| m.tenant_id)
    {
        tracing::info!(user_id = %user, chosen = ?profile.active, carried = ?chosen.as_ref().map(|m| m.tenant_id), "the chosen organization is not usable: another one is carried");
    }
    match chosen {
        None => {
            tracing::info!(user_id = %user, "no usable membership: token without tenant claims");
            apply(
                &mut event,
                "claimsToSuppress",
                json!([
                    TENANT_ID,
                    TENANT_ROLE,
                    TENANT_TIER,
                    TENANT_GRANT,
                    TENANT_MFA
                ]),
            );
        }
        Some(membership) => {
            // Only for a tenant that requires a second factor: one question to the user pool
            // (the pool is in the event), so other sign-ins keep their single read.
            let mfa = if membership.require_mfa {
                let pool = event["userPoolId"]
                    .as_str()
                    .ok_or(SignInRefused::MalformedEvent)?;
                Some(
                    deps.second_factor
                        .uses_totp(pool, &user)
                        .await
                        .map_err(|err| {
                            tracing::error!(user_id = %user, error = %err, "second-factor lookup failed");
                            SignInRefused::Directory(err)
                        })?,
                )
            } else {
                None
            };
            tracing::info!(user_id = %user, tenant_id = %membership.tenant_id, role = %membership.role, mfa = ?mfa, "tenant claims issued");
            apply(
                &mut event,
                "claimsToAddOrOverride",
                claims_of(&membership, mfa),
            );
        }
    }
    Ok(event)
}

#[cfg(test)]
mod tests;
