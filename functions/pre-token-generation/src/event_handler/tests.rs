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
    assert_eq!(shared::testing::tenant_count(&deps.store).await, 2);
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
