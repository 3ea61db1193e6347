//! Multi-factor authentication: TOTP set up and used, and an organization that requires it.

use super::*;
use crate::within::*;

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Turns TOTP on for the holder of `access_token`, as an authenticator app's set-up does through
/// Cognito's own API; returns the secret the app would keep.
async fn enable_totp(stack: &Stack, access_token: &str) -> String {
    use aws_sdk_cognitoidentityprovider::types::SoftwareTokenMfaSettingsType;
    let secret = stack
        .cognito
        .associate_software_token()
        .access_token(access_token)
        .send()
        .await
        .unwrap()
        .secret_code()
        .expect("a TOTP secret")
        .to_owned();
    let verified = stack
        .cognito
        .verify_software_token()
        .access_token(access_token)
        .user_code(tenantry_tests::stack::totp(&secret, unix_now()))
        .friendly_device_name("phone")
        .send()
        .await
        .unwrap();
    assert_eq!(verified.status().map(|s| s.as_str()), Some("SUCCESS"));
    stack
        .cognito
        .set_user_mfa_preference()
        .access_token(access_token)
        .software_token_mfa_settings(
            SoftwareTokenMfaSettingsType::builder()
                .enabled(true)
                .preferred_mfa(true)
                .build(),
        )
        .send()
        .await
        .unwrap();
    secret
}

/// Signs in a user who uses TOTP: the password, then the app's `code` for the challenge.
/// Returns the ID token, or the error of the challenge's answer.
async fn sign_in_with_totp(
    stack: &Stack,
    email: &str,
    password: &str,
    code: String,
) -> Result<String, String> {
    use aws_sdk_cognitoidentityprovider::types::{AuthFlowType, ChallengeNameType};
    let started = stack
        .cognito
        .initiate_auth()
        .client_id(&stack.client_id)
        .auth_flow(AuthFlowType::UserPasswordAuth)
        .auth_parameters("USERNAME", email)
        .auth_parameters("PASSWORD", password)
        .send()
        .await
        .unwrap();
    assert_eq!(
        started.challenge_name(),
        Some(&ChallengeNameType::SoftwareTokenMfa),
        "the password alone is no longer enough"
    );
    let answered = stack
        .cognito
        .respond_to_auth_challenge()
        .client_id(&stack.client_id)
        .challenge_name(ChallengeNameType::SoftwareTokenMfa)
        .session(started.session().unwrap_or_default())
        .challenge_responses("USERNAME", email)
        .challenge_responses("SOFTWARE_TOKEN_MFA_CODE", code)
        .send()
        .await
        .map_err(|err| format!("{err:?}"))?;
    Ok(answered
        .authentication_result()
        .and_then(|r| r.id_token())
        .expect("tokens after the code")
        .to_owned())
}

/// A user turns on TOTP (an authenticator app) through Cognito's own API; signing in then asks
/// for the app's code, refuses a wrong one, and the right one gives a token that works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_turns_on_totp_and_then_signs_in_with_it() {
    let stack = Stack::from_env();
    let org = organization(&stack, "totp").await;
    let secret = enable_totp(&stack, &org.member.access).await;
    let password = "Member-Chosen-Password-7";
    let right = tenantry_tests::stack::totp(&secret, unix_now());
    let wrong = format!("{:06}", (right.parse::<u32>().unwrap() + 1) % 1_000_000);
    assert!(
        sign_in_with_totp(&stack, &org.member_email, password, wrong)
            .await
            .is_err(),
        "a wrong code is refused"
    );
    let id_token = sign_in_with_totp(
        &stack,
        &org.member_email,
        password,
        tenantry_tests::stack::totp(&secret, unix_now()),
    )
    .await
    .unwrap();
    assert_eq!(claims(&id_token)["tenant_id"], org.tenant_id.as_str());
    let listed = stack.call(Some(&id_token), "GET", "/products", None).await;
    assert_eq!(listed.status, 200, "{}", listed.body);
}

/// An organization that requires a second factor: its users' tokens without one are refused on
/// every route (control at once, data within 10 s) but `GET /me`, which says why; a user who
/// turns TOTP on and signs in with it works again. Another organization is untouched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_organization_requiring_mfa_refuses_its_users_until_they_use_it() {
    let stack = Stack::from_env();
    let (org, other) = tokio::join!(
        organization(&stack, "strict"),
        organization(&stack, "lenient")
    );
    let product = create_product(&stack, &org.admin.id, "MFA-1").await;
    let current = stack
        .call(Some(&org.admin.id), "GET", "/tenant", None)
        .await;
    let required = stack
        .call(
            Some(&org.admin.id),
            "PATCH",
            "/tenant",
            Some(&json!({"require_mfa": true, "version": current.body["version"]})),
        )
        .await;
    assert_eq!(required.status, 200, "{}", required.body);
    assert_eq!(required.body["require_mfa"], true);
    let since = Instant::now();
    all_refused_within_bound(
        &stack,
        "MFA required",
        since,
        &org.member.id,
        vec![
            ("GET", "/users".into(), None),
            ("GET", "/tenant".into(), None),
            ("GET", "/products".into(), None),
            (
                "GET",
                format!("/products/{}", product["id"].as_str().unwrap()),
                None,
            ),
            ("GET", "/orders".into(), None),
        ],
        (403, "mfa-required"),
    )
    .await;
    let me = stack.call(Some(&org.member.id), "GET", "/me", None).await;
    assert_eq!(me.status, 200, "{}", me.body);
    assert_eq!(me.body["tenant"]["mfa_required"], true);
    // Signing in again without a second factor changes nothing.
    let password = "Member-Chosen-Password-7";
    let again = stack.sign_in(&org.member_email, password).await.unwrap();
    assert_eq!(claims(&again.id)["tenant_mfa"], "false");
    let refused = stack.call(Some(&again.id), "GET", "/products", None).await;
    assert_eq!(refused.body["code"], "mfa-required", "{}", refused.body);
    // With TOTP turned on and used, the user works again.
    let secret = enable_totp(&stack, &again.access).await;
    let with_mfa = sign_in_with_totp(
        &stack,
        &org.member_email,
        password,
        tenantry_tests::stack::totp(&secret, unix_now()),
    )
    .await
    .unwrap();
    assert_eq!(claims(&with_mfa)["tenant_mfa"], "true");
    for path in ["/products", "/users", "/tenant"] {
        let reply = stack.call(Some(&with_mfa), "GET", path, None).await;
        assert_eq!(reply.status, 200, "{path}: {}", reply.body);
    }
    // The other organization never required anything.
    let theirs = stack
        .call(Some(&other.member.id), "GET", "/products", None)
        .await;
    assert_eq!(theirs.status, 200, "{}", theirs.body);
}
