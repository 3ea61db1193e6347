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
mod tests {
    use lambda_runtime::Context;
    use shared::domain::email::EmailAddress;
    use shared::domain::tenant::TenantStatus;
    use shared::domain::tenant::{Tenant, TenantName};
    use shared::domain::{Role, Tier};
    use shared::ids::TenantId;
    use shared::store::control::{MemberStore, PersonStore, TenantStateChange, TenantStore};
    use shared::testing::SoleMembership;
    use shared::testing::directory::MemoryDirectory;
    use shared::testing::events_dir;
    use shared::testing::memory_control::MemoryControl;

    use super::*;

    const ALICE: &str = "0a000000-0000-4000-8000-00000000a0ad";

    async fn deps_with_alice() -> (Deps<MemoryControl, MemoryDirectory>, TenantId, u64) {
        let store = MemoryControl::new();
        let tenant = Tenant::new(TenantName::parse("Acme Tea").unwrap(), Tier::Standard);
        let alice = UserId::parse(ALICE).unwrap();
        store
            .onboard(
                &tenant,
                &alice,
                &EmailAddress::parse("alice@acme.example").unwrap(),
            )
            .await
            .unwrap();
        let granted = store.membership(&alice).await.unwrap().unwrap().granted_at;
        assert!(granted > 0, "onboarding stamps the grant");
        (
            Deps {
                store,
                second_factor: MemoryDirectory::new(),
            },
            tenant.id,
            granted,
        )
    }

    fn event(name: &str) -> Value {
        let text =
            std::fs::read_to_string(events_dir().join("pre-token-generation").join(name)).unwrap();
        serde_json::from_str(&text).unwrap()
    }

    async fn invoke(
        deps: &Deps<MemoryControl, MemoryDirectory>,
        payload: Value,
    ) -> Result<Value, String> {
        function_handler(deps, LambdaEvent::new(payload, Context::default()))
            .await
            .map_err(|e| e.to_string())
    }

    fn expected_claims(tenant: &TenantId, granted: u64) -> Value {
        json!({"tenant_id": tenant.to_string(), "tenant_role": Role::Admin.as_str(),
               "tenant_tier": "standard", "tenant_grant": granted.to_string()})
    }

    #[tokio::test]
    async fn v1_events_get_the_claims_in_the_id_token_and_keep_their_groups() {
        let (deps, tenant, granted) = deps_with_alice().await;
        let original = event("v1-authentication.json");
        let out = invoke(&deps, original.clone()).await.unwrap();
        let details = &out["response"]["claimsOverrideDetails"];
        assert_eq!(
            details["claimsToAddOrOverride"],
            expected_claims(&tenant, granted)
        );
        assert!(
            details.get("groupOverrideDetails").is_none(),
            "groups must not be overridden"
        );
        assert_eq!(out["request"], original["request"]);
        assert!(
            out["response"]
                .get("claimsAndScopeOverrideDetails")
                .is_none()
        );
    }

    #[tokio::test]
    async fn v2_and_v3_events_get_the_claims_in_both_tokens() {
        let (deps, tenant, granted) = deps_with_alice().await;
        for fixture in ["v2-authentication.json", "v3-refresh.json"] {
            let out = invoke(&deps, event(fixture)).await.unwrap();
            let details = &out["response"]["claimsAndScopeOverrideDetails"];
            for token in ["idTokenGeneration", "accessTokenGeneration"] {
                assert_eq!(
                    details[token]["claimsToAddOrOverride"],
                    expected_claims(&tenant, granted),
                    "{fixture} {token}"
                );
            }
            assert!(details.get("groupOverrideDetails").is_none(), "{fixture}");
        }
    }

    #[tokio::test]
    async fn emulator_events_are_accepted() {
        let (deps, tenant, granted) = deps_with_alice().await;
        let out = invoke(&deps, event("emulator.json")).await.unwrap();
        assert_eq!(
            out["response"]["claimsOverrideDetails"]["claimsToAddOrOverride"],
            expected_claims(&tenant, granted)
        );
        assert_eq!(out["version"], "0");
    }

    #[tokio::test]
    async fn a_claim_smuggled_into_the_request_is_overridden() {
        let (deps, tenant, _) = deps_with_alice().await;
        let mut forged = event("v1-authentication.json");
        forged["request"]["userAttributes"]["tenant_id"] = json!(TenantId::generate().to_string());
        let out = invoke(&deps, forged).await.unwrap();
        assert_eq!(
            out["response"]["claimsOverrideDetails"]["claimsToAddOrOverride"]["tenant_id"],
            tenant.to_string()
        );
    }

    #[tokio::test]
    async fn a_user_without_membership_gets_no_tenant_claims() {
        let (deps, _, _) = deps_with_alice().await;
        let out = invoke(&deps, event("v1-operator.json")).await.unwrap();
        let details = &out["response"]["claimsOverrideDetails"];
        assert!(details.get("claimsToAddOrOverride").is_none());
        assert_eq!(
            details["claimsToSuppress"],
            json!([
                "tenant_id",
                "tenant_role",
                "tenant_tier",
                "tenant_grant",
                "tenant_mfa"
            ])
        );
        assert!(details.get("groupOverrideDetails").is_none());
    }

    #[tokio::test]
    async fn a_tenant_that_requires_mfa_gets_the_users_second_factor_in_the_token() {
        let (deps, tenant, _) = deps_with_alice().await;
        let alice = UserId::parse(ALICE).unwrap();
        let claim = |out: &Value| {
            out["response"]["claimsOverrideDetails"]["claimsToAddOrOverride"]["tenant_mfa"].clone()
        };
        // Not required: no claim (and no question to the user pool).
        let out = invoke(&deps, event("v1-authentication.json"))
            .await
            .unwrap();
        assert_eq!(claim(&out), Value::Null);
        deps.store
            .update_tenant(&tenant, None, None, None, Some(true))
            .await
            .unwrap();
        deps.store.sync_memberships(&tenant).await.unwrap();
        let out = invoke(&deps, event("v1-authentication.json"))
            .await
            .unwrap();
        assert_eq!(claim(&out), "false", "required, and alice has no TOTP yet");
        deps.second_factor.set_totp(&alice, true);
        let out = invoke(&deps, event("v2-authentication.json"))
            .await
            .unwrap();
        assert_eq!(
            out["response"]["claimsAndScopeOverrideDetails"]["idTokenGeneration"]["claimsToAddOrOverride"]
                ["tenant_mfa"],
            "true"
        );
    }

    #[tokio::test]
    async fn a_sign_up_whose_onboarding_failed_is_completed_at_sign_in() {
        let (deps, _, _) = deps_with_alice().await;
        let payload = event("v1-new-user.json");
        let user = UserId::parse(
            payload["request"]["userAttributes"]["sub"]
                .as_str()
                .unwrap(),
        )
        .unwrap();
        assert!(deps.store.membership(&user).await.unwrap().is_none());
        let out = invoke(&deps, payload.clone()).await.unwrap();
        let issued = &out["response"]["claimsOverrideDetails"]["claimsToAddOrOverride"];
        assert_eq!(issued["tenant_role"], "admin");
        assert_eq!(issued["tenant_tier"], "basic");
        let membership = deps.store.membership(&user).await.unwrap().unwrap();
        assert_eq!(issued["tenant_id"], membership.tenant_id.to_string());
        // The next sign-in finds the membership: the same organization, no second one.
        let again = invoke(&deps, payload).await.unwrap();
        assert_eq!(
            again["response"]["claimsOverrideDetails"]["claimsToAddOrOverride"]["tenant_id"],
            membership.tenant_id.to_string()
        );
        assert_eq!(
            deps.store
                .list_tenants(100, None)
                .await
                .unwrap()
                .items
                .len(),
            2
        );
    }

    #[tokio::test]
    async fn a_sign_up_whose_address_is_taken_gets_a_clear_refusal() {
        let (deps, _, _) = deps_with_alice().await;
        let mut payload = event("v1-new-user.json");
        payload["request"]["userAttributes"]["email"] = json!("alice@acme.example");
        let refused = invoke(&deps, payload).await.unwrap_err();
        assert!(
            refused.contains("ask its admin for an invitation"),
            "{refused}"
        );
    }

    /// The tenant id a v1 event's response carries, or `None` if the claims are suppressed.
    fn carried(out: &Value) -> Option<String> {
        let details = &out["response"]["claimsOverrideDetails"];
        match details["claimsToAddOrOverride"][TENANT_ID].as_str() {
            Some(tenant) => Some(tenant.to_owned()),
            None => {
                assert!(
                    details["claimsToSuppress"]
                        .as_array()
                        .is_some_and(|names| names.contains(&json!(TENANT_ID))),
                    "no tenant claims must mean suppressed ones: {out}"
                );
                None
            }
        }
    }

    #[tokio::test]
    async fn a_suspended_or_deleted_tenant_is_not_carried_but_its_members_sign_in() {
        let (deps, tenant, _) = deps_with_alice().await;
        for status in [TenantStatus::Suspended, TenantStatus::Deleting] {
            let change = TenantStateChange {
                status: Some(status),
                ..TenantStateChange::default()
            };
            deps.store.set_tenant_state(&tenant, change).await.unwrap();
            let out = invoke(&deps, event("v1-authentication.json"))
                .await
                .unwrap();
            assert_eq!(carried(&out), None, "{status}");
        }
    }

    #[tokio::test]
    async fn the_chosen_organization_is_carried_and_another_when_it_is_gone() {
        let (deps, first, _) = deps_with_alice().await;
        let alice = UserId::parse(ALICE).unwrap();
        let email = EmailAddress::parse("alice@acme.example").unwrap();
        let second = Tenant::new(TenantName::parse("Bolt Coffee").unwrap(), Tier::Basic);
        deps.store
            .create_organization(&second, &alice, &email)
            .await
            .unwrap();
        let out = invoke(&deps, event("v1-authentication.json"))
            .await
            .unwrap();
        assert_eq!(carried(&out), Some(first.to_string()), "still the first");
        deps.store.set_active(&alice, &second.id).await.unwrap();
        let out = invoke(&deps, event("v1-authentication.json"))
            .await
            .unwrap();
        assert_eq!(carried(&out), Some(second.id.to_string()), "switched");
        assert_eq!(
            out["response"]["claimsOverrideDetails"]["claimsToAddOrOverride"][TENANT_TIER],
            "basic"
        );
        // The chosen one suspended: the other is carried meanwhile.
        let suspend = TenantStateChange {
            status: Some(TenantStatus::Suspended),
            ..TenantStateChange::default()
        };
        deps.store
            .set_tenant_state(&second.id, suspend)
            .await
            .unwrap();
        let out = invoke(&deps, event("v1-authentication.json"))
            .await
            .unwrap();
        assert_eq!(carried(&out), Some(first.to_string()), "fallback");
        // Left: the first stays; left too: none, but sign-in still works.
        let reactivate = TenantStateChange {
            status: Some(TenantStatus::Active),
            ..TenantStateChange::default()
        };
        deps.store
            .set_tenant_state(&second.id, reactivate)
            .await
            .unwrap();
        let other_admin = UserId::parse("0b000000-0000-4000-8000-00000000b0ad").unwrap();
        let invitation = shared::domain::member::Invitation {
            email: EmailAddress::parse("bob@bolt.example").unwrap(),
            role: Role::Admin,
        };
        let reservation = shared::testing::reserve_new(&deps.store, &first, &invitation, 100)
            .await
            .unwrap();
        deps.store
            .complete_invite(&first, &reservation, &other_admin)
            .await
            .unwrap();
        deps.store.remove_member(&first, &alice).await.unwrap();
        let out = invoke(&deps, event("v1-authentication.json"))
            .await
            .unwrap();
        assert_eq!(carried(&out), Some(second.id.to_string()));
    }

    #[tokio::test]
    async fn the_sample_events_of_people_in_two_organizations() {
        let store = MemoryControl::new();
        shared::testing::seed_sample_tenants(&store).await;
        shared::testing::seed_people_in_two_organizations(&store).await;
        let deps = Deps {
            store,
            second_factor: MemoryDirectory::new(),
        };
        for (fixture, tenant, tier) in [
            (
                "v3-refresh.several-organizations.json",
                shared::testing::TENANT_B,
                "standard",
            ),
            (
                "v2-authentication.chosen-organization-gone.json",
                shared::testing::TENANT_A,
                "basic",
            ),
        ] {
            let out = invoke(&deps, event(fixture)).await.unwrap();
            let details = &out["response"]["claimsAndScopeOverrideDetails"];
            for token in ["idTokenGeneration", "accessTokenGeneration"] {
                let claims = &details[token]["claimsToAddOrOverride"];
                assert_eq!(
                    (
                        &claims[TENANT_ID],
                        &claims[TENANT_ROLE],
                        &claims[TENANT_TIER]
                    ),
                    (&json!(tenant), &json!("member"), &json!(tier)),
                    "{fixture} {token}"
                );
            }
        }
    }

    fn erp_client(tenant: TenantId) -> shared::api_clients::ApiClient {
        shared::api_clients::ApiClient {
            client_id: ClientId::parse("5example0client0id0tenantry").unwrap(),
            tenant_id: tenant,
            name: "ERP".to_owned(),
            scopes: vec![shared::api_clients::Scope::ProductsRead],
            principal: UserId::parse("7c9e6679-7425-40de-944b-e07fc1f90ae7").unwrap(),
            created_ms: 1_700_000_000_123,
            created_by: None,
        }
    }

    #[tokio::test]
    async fn a_machine_client_gets_its_tenant_in_the_access_token_only() {
        let (deps, tenant, _) = deps_with_alice().await;
        deps.store.add_api_client(erp_client(tenant));
        let answered = invoke(&deps, event("v3-client-credentials.json"))
            .await
            .unwrap();
        let details = &answered["response"]["claimsAndScopeOverrideDetails"];
        assert_eq!(
            details["accessTokenGeneration"]["claimsToAddOrOverride"],
            json!({"tenant_id": tenant.to_string(), "tenant_role": "member", "tenant_tier": "standard",
                   "tenant_grant": "1700000000123", "tenant_principal": "7c9e6679-7425-40de-944b-e07fc1f90ae7"})
        );
        assert!(details.get("idTokenGeneration").is_none(), "{details}");
    }

    #[tokio::test]
    async fn an_unknown_client_or_a_closed_tenant_gets_no_token() {
        let (deps, tenant, _) = deps_with_alice().await;
        assert_eq!(
            invoke(&deps, event("v3-client-credentials.json"))
                .await
                .unwrap_err(),
            "This client is not known."
        );
        deps.store.add_api_client(erp_client(tenant));
        let record = deps.store.get_tenant(&tenant).await.unwrap();
        deps.store
            .set_tenant_state(
                &tenant,
                TenantStateChange {
                    expected_version: Some(record.version),
                    status: Some(TenantStatus::Suspended),
                    ..TenantStateChange::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(
            invoke(&deps, event("v3-client-credentials.json"))
                .await
                .unwrap_err(),
            "This client's organization is not active."
        );
    }

    #[tokio::test]
    async fn an_event_without_a_user_fails_closed() {
        let (deps, _, _) = deps_with_alice().await;
        let mut nameless = event("v1-authentication.json");
        nameless["request"]["userAttributes"]
            .as_object_mut()
            .unwrap()
            .remove("sub");
        nameless["userName"] = json!("not-a-uuid");
        assert_eq!(
            invoke(&deps, nameless).await.unwrap_err(),
            "Sign-in failed."
        );
    }
}
