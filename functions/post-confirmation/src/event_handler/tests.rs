use lambda_runtime::Context;
use shared::domain::tenant::TenantStatus;
use shared::domain::{Role, Tier};
use shared::store::control::TenantStore;
use shared::testing::SoleMembership;
use shared::testing::events_dir;
use shared::testing::mailer::MemoryMailer;
use shared::testing::memory_control::MemoryControl;

use super::*;

const NEW_USER: &str = "0d000000-0000-4000-8000-0000000000d1";

type TestDeps = Deps<MemoryControl, MemoryMailer>;

fn deps() -> TestDeps {
    Deps {
        store: MemoryControl::new(),
        mailer: MemoryMailer::default(),
        sign_in_url: "https://console.example".into(),
    }
}

fn event(name: &str) -> Value {
    let text = std::fs::read_to_string(events_dir().join("post-confirmation").join(name)).unwrap();
    serde_json::from_str(&text).unwrap()
}

async fn invoke(deps: &TestDeps, payload: Value) -> Result<Value, Error> {
    function_handler(deps, LambdaEvent::new(payload, Context::default())).await
}

#[tokio::test]
async fn a_confirmed_sign_up_creates_a_tenant_with_its_admin() {
    for fixture in ["confirm-sign-up.json", "confirm-sign-up.emulator.json"] {
        let deps = deps();
        let payload = event(fixture);
        assert_eq!(
            invoke(&deps, payload.clone()).await.unwrap(),
            payload,
            "the event comes back unchanged"
        );
        let user = UserId::parse(NEW_USER).unwrap();
        let membership = deps
            .store
            .membership(&user)
            .await
            .unwrap()
            .expect("membership");
        assert_eq!(membership.role, Role::Admin);
        assert_eq!(membership.tier, Tier::Basic);
        let tenant = deps.store.get_tenant(&membership.tenant_id).await.unwrap();
        assert_eq!(
            (tenant.name.as_str(), tenant.status),
            ("Delta Tea Co.", TenantStatus::Active)
        );
    }
}

#[tokio::test]
async fn cognito_retries_create_nothing_new_and_send_one_welcome() {
    let deps = deps();
    for _ in 0..3 {
        invoke(&deps, event("confirm-sign-up.json")).await.unwrap();
    }
    let page = deps.store.list_tenants(100, None).await.unwrap();
    assert_eq!(page.items.len(), 1);
    let sent = deps.mailer.sent();
    assert_eq!(sent.len(), 1, "one welcome e-mail");
    assert_eq!(sent[0].to.as_str(), "dana@delta.example");
    assert!(
        sent[0].text.contains("Delta Tea Co.") && sent[0].text.contains("https://console.example")
    );
    assert!(sent[0].text.contains("Basic (free)"), "{}", sent[0].text);
}

#[tokio::test]
async fn concurrent_retries_create_one_tenant() {
    let deps = std::sync::Arc::new(deps());
    let tasks: Vec<_> = (0..3)
        .map(|_| {
            let deps = std::sync::Arc::clone(&deps);
            tokio::spawn(async move {
                invoke(&deps, event("confirm-sign-up.json"))
                    .await
                    .map_err(|e| e.to_string())
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    assert_eq!(shared::testing::tenant_count(&deps.store).await, 1);
}

#[tokio::test]
async fn a_forgotten_password_is_not_a_sign_up() {
    let deps = deps();
    let payload = event("confirm-forgot-password.json");
    assert_eq!(invoke(&deps, payload.clone()).await.unwrap(), payload);
    assert_eq!(shared::testing::tenant_count(&deps.store).await, 0);
}

#[tokio::test]
async fn a_sign_up_asking_for_a_paid_plan_still_gets_a_basic_tenant() {
    let deps = deps();
    let mut payload = event("confirm-sign-up.json");
    payload["request"]["userAttributes"]["custom:plan"] = "premium".into();
    invoke(&deps, payload.clone()).await.unwrap();
    let membership = deps
        .store
        .membership(&UserId::parse(NEW_USER).unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (membership.tier, membership.tenant_status),
        (Tier::Basic, TenantStatus::Active)
    );
}

#[tokio::test]
async fn an_invited_user_is_not_onboarded_again() {
    let deps = deps();
    let mut payload = event("confirm-sign-up.json");
    payload["request"]["userAttributes"]
        .as_object_mut()
        .unwrap()
        .remove(SIGN_UP_TENANT_NAME);
    invoke(&deps, payload).await.unwrap();
    assert_eq!(shared::testing::tenant_count(&deps.store).await, 0);
}

#[tokio::test]
async fn malformed_sign_ups_fail_with_a_safe_message() {
    let deps = deps();
    let mut bad_name = event("confirm-sign-up.json");
    bad_name["request"]["userAttributes"]["custom:tenant_name"] = "<script>".into();
    assert_eq!(
        invoke(&deps, bad_name).await.unwrap_err().to_string(),
        "The organization name or plan is invalid."
    );
    let mut no_email = event("confirm-sign-up.json");
    no_email["request"]["userAttributes"]
        .as_object_mut()
        .unwrap()
        .remove("email");
    assert!(invoke(&deps, no_email).await.is_err());
    assert!(
        invoke(&deps, serde_json::json!({"triggerSource": 7}))
            .await
            .is_err()
    );
    assert_eq!(shared::testing::tenant_count(&deps.store).await, 0);
}
