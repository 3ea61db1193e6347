use lambda_runtime::Context;
use shared::testing::events_dir;

use super::*;

fn event(name: &str) -> CognitoEventUserPoolsPreSignup {
    let text = std::fs::read_to_string(events_dir().join("pre-sign-up").join(name)).unwrap();
    serde_json::from_str(&text).unwrap()
}

async fn invoke(
    event: CognitoEventUserPoolsPreSignup,
) -> Result<CognitoEventUserPoolsPreSignup, String> {
    function_handler(LambdaEvent::new(event, Context::default()))
        .await
        .map_err(|e| e.to_string())
}

#[tokio::test]
async fn a_valid_sign_up_passes_unchanged() {
    for fixture in ["sign-up.json", "sign-up.emulator.json"] {
        let original = event(fixture);
        assert_eq!(
            invoke(original.clone()).await.unwrap(),
            original,
            "{fixture}"
        );
    }
}

#[tokio::test]
async fn bad_organization_names_and_plans_are_refused_with_a_clear_message() {
    let cases = [
        (
            None,
            None,
            "Organization name is required (attribute custom:tenant_name).",
        ),
        (
            Some("A"),
            None,
            "Organization name must be at least 2 characters.",
        ),
        (
            Some("<script>"),
            None,
            "Organization name may contain only letters, digits, spaces and & ' . , - ( ).",
        ),
        (
            Some("Acme"),
            Some("gold"),
            "Sign-up creates a basic organization; paid plans are chosen once signed in.",
        ),
        (
            Some("Acme"),
            Some("premium"),
            "Sign-up creates a basic organization; paid plans are chosen once signed in.",
        ),
    ];
    for (name, plan, message) in cases {
        let mut signup = event("sign-up.json");
        let attributes = &mut signup.request.user_attributes;
        attributes.remove(TENANT_NAME);
        attributes.remove(PLAN);
        if let Some(name) = name {
            attributes.insert(TENANT_NAME.into(), name.into());
        }
        if let Some(plan) = plan {
            attributes.insert(PLAN.into(), plan.into());
        }
        assert_eq!(invoke(signup).await.unwrap_err(), message);
    }
}

#[tokio::test]
async fn invited_users_need_no_organization_name() {
    let invited = event("admin-create-user.json");
    assert!(!invited.request.user_attributes.contains_key(TENANT_NAME));
    assert!(invoke(invited).await.is_ok());
}

#[tokio::test]
async fn the_plan_is_optional() {
    let mut signup = event("sign-up.json");
    signup.request.user_attributes.remove(PLAN);
    assert!(invoke(signup).await.is_ok());
}
