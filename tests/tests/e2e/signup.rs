//! Signing up: organizations made through the real sign-up flow work apart, a retried
//! trigger makes one tenant, a wrong code is refused.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_organizations_sign_up_and_work_independently() {
    let stack = Stack::from_env();
    let (a, b) = tokio::join!(organization(&stack, "alpha"), organization(&stack, "beta"));

    // Cognito's invitation e-mail is the service's: the pool's custom-message trigger (as the
    // local Cognito invokes it) names the organization and who invited. (cognito-local's log of
    // what it "sent" is written asynchronously and not always complete, so the trigger is
    // invoked here as Cognito invokes it, with the client metadata users-api passes.)
    let config: Value = serde_json::from_str(
        &std::fs::read_to_string(stack.logs.join("cognito/.cognito/config.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        config["TriggerFunctions"]["CustomMessage"], "custom-message",
        "the local pool calls the trigger"
    );
    let mut event: Value = serde_json::from_str(
        &std::fs::read_to_string(
            shared::testing::events_dir().join("custom-message/admin-create-user.json"),
        )
        .unwrap(),
    )
    .unwrap();
    event["request"]["clientMetadata"] =
        json!({"organization": "alpha Org", "inviter": a.admin_email});
    let (status, written) = stack.invoke("custom-message", &event).await;
    assert_eq!(status, 200, "{written}");
    let message = written["response"]["emailMessage"].as_str().unwrap();
    assert!(
        message.contains(&format!("{} invited you to alpha Org", a.admin_email))
            && message.contains("{####}")
            && message.contains("{username}"),
        "{message}"
    );

    // The pre-token trigger put each tenant into its users' ID tokens.
    assert_ne!(a.tenant_id, b.tenant_id);
    for (org, token, role) in [
        (&a, &a.admin, "admin"),
        (&a, &a.member, "member"),
        (&b, &b.member, "member"),
    ] {
        let c = claims(&token.id);
        assert_eq!(
            (
                c["tenant_id"].as_str(),
                c["tenant_role"].as_str(),
                c["tenant_tier"].as_str()
            ),
            (Some(org.tenant_id.as_str()), Some(role), Some("basic"))
        );
        assert_eq!(c["token_use"], "id");
    }
    let me = stack.call(Some(&a.member.id), "GET", "/me", None).await;
    assert_eq!(
        me.body["tenant"],
        json!({"id": a.tenant_id, "name": "alpha Org", "role": "member", "tier": "basic"})
    );
    assert_eq!(me.body["email"], a.member_email);

    // Products: create, list, replace with If-Match.
    let tea = create_product(&stack, &a.member.id, "TEA-1").await;
    let cup = create_product(&stack, &a.admin.id, "CUP-1").await;
    let listed = stack
        .call(Some(&a.member.id), "GET", "/products", None)
        .await;
    let ids: Vec<&str> = listed.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        vec![cup["id"].as_str().unwrap(), tea["id"].as_str().unwrap()]
    );
    let path = format!("/products/{}", tea["id"].as_str().unwrap());
    let mut replacement = product_body("TEA-1");
    replacement["price"] = json!(1400);
    replacement["version"] = json!(1);
    let replaced = stack
        .call(Some(&a.member.id), "PUT", &path, Some(&replacement))
        .await;
    assert_eq!(
        (replaced.status, replaced.etag.as_deref()),
        (200, Some("\"2\""))
    );
    let stale = stack
        .call(Some(&a.member.id), "PUT", &path, Some(&replacement))
        .await;
    assert_eq!(
        (stale.status, stale.body["code"].as_str()),
        (409, Some("version-conflict"))
    );

    // Orders: priced from the catalogue, listed, moved along the lifecycle.
    let order = create_order(&stack, &a.member.id, tea["id"].as_str().unwrap(), 3).await;
    assert_eq!(
        (order["total"].as_i64(), order["status"].as_str()),
        (Some(3 * 1400), Some("pending"))
    );
    let order_path = format!("/orders/{}", order["id"].as_str().unwrap());
    let paid = stack
        .call(
            Some(&a.admin.id),
            "PATCH",
            &order_path,
            Some(&json!({"status": "paid", "version": 1})),
        )
        .await;
    assert_eq!(paid.body["status"], "paid");
    let skipped = stack
        .call(
            Some(&a.admin.id),
            "PATCH",
            &order_path,
            Some(&json!({"status": "delivered"})),
        )
        .await;
    assert_eq!(
        (skipped.status, skipped.body["code"].as_str()),
        (409, Some("invalid-transition"))
    );
    let orders = stack.call(Some(&a.member.id), "GET", "/orders", None).await;
    assert_eq!(orders.body["items"].as_array().unwrap().len(), 1);

    // Tenant b sees none of it.
    let theirs = stack
        .call(Some(&b.admin.id), "GET", "/products", None)
        .await;
    assert_eq!(theirs.body["items"], json!([]));
    let tenant = stack.call(Some(&b.member.id), "GET", "/tenant", None).await;
    assert_eq!(
        (
            tenant.body["id"].as_str(),
            tenant.body["usage"]["products"].as_u64()
        ),
        (Some(b.tenant_id.as_str()), Some(0))
    );
}

/// Cognito retries post-confirmation; here the retries (and concurrent ones) go through the same
/// Invoke API cognito-local uses, with the event it sends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retried_post_confirmation_still_makes_one_tenant() {
    let stack = Stack::from_env();
    let email = unique_email("retry");
    let organization = format!(
        "Retry Org {}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    let sub = stack.sign_up(&email, &organization, None).await;
    let event = json!({
        "version": "0", "region": "local", "userPoolId": stack.user_pool_id, "userName": sub,
        "callerContext": {"awsSdkVersion": "2.1693.0", "clientId": stack.client_id},
        "triggerSource": "PostConfirmation_ConfirmSignUp",
        "request": {"userAttributes": {"cognito:user_status": "CONFIRMED", "custom:tenant_name": organization, "email": email, "sub": sub}},
        "response": {}
    });
    let first = stack.invoke("post-confirmation", &event).await;
    let (second, third) = tokio::join!(
        stack.invoke("post-confirmation", &event),
        stack.invoke("post-confirmation", &event)
    );
    for (status, body) in [first, second, third] {
        assert_eq!(status, 200, "{body}");
        assert_eq!(body, event, "the trigger returns the event it received");
    }
    let control = tenantry_tests::control_store();
    let mut named = 0;
    let mut cursor: Option<String> = None;
    loop {
        let page = control.list_tenants(100, cursor.as_deref()).await.unwrap();
        named += page
            .items
            .iter()
            .filter(|t| t.name.as_str() == organization)
            .count();
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(named, 1, "exactly one tenant for the sign-up");
}

#[tokio::test]
async fn a_wrong_confirmation_code_is_refused() {
    let stack = Stack::from_env();
    let email = unique_email("wrong-code");
    let attribute = |name: &str, value: &str| {
        aws_sdk_cognitoidentityprovider::types::AttributeType::builder()
            .name(name)
            .value(value)
            .build()
            .unwrap()
    };
    stack
        .cognito
        .sign_up()
        .client_id(&stack.client_id)
        .username(&email)
        .password(PASSWORD)
        .user_attributes(attribute("email", &email))
        .user_attributes(attribute("custom:tenant_name", "Wrong Code Org"))
        .send()
        .await
        .unwrap();
    let wrong = if stack.delivered_code() == "000000" {
        "111111"
    } else {
        "000000"
    };
    let refused = stack
        .cognito
        .confirm_sign_up()
        .client_id(&stack.client_id)
        .username(&email)
        .confirmation_code(wrong)
        .send()
        .await;
    assert!(refused.is_err(), "a wrong code confirmed the sign-up");
    assert!(
        stack.sign_in(&email, PASSWORD).await.is_err(),
        "an unconfirmed user signed in"
    );
}
