//! A platform operator's work: suspension and reactivation, offboarding, the move to premium.

use super::*;
use crate::within::*;

/// A platform operator (group platform-admin, no tenant) suspends a tenant: its users cannot sign
/// in, and its data APIs refuse it; reactivated, everything works again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_platform_operator_suspends_and_reactivates_a_tenant() {
    let stack = Stack::from_env();
    let a = organization(&stack, "suspended").await;
    let ops = stack.platform_operator().await;
    assert!(
        claims(&ops.id).get("tenant_id").is_none(),
        "an operator has no tenant"
    );
    assert_eq!(
        stack
            .call(Some(&ops.id), "GET", "/products", None)
            .await
            .body["code"],
        "no-tenant"
    );
    assert_eq!(
        stack
            .call(Some(&a.admin.id), "GET", "/admin/tenants", None)
            .await
            .status,
        403
    );

    let path = format!("/admin/tenants/{}", a.tenant_id);
    let read = stack.call(Some(&ops.id), "GET", &path, None).await;
    assert_eq!(
        (read.status, read.body["status"].as_str()),
        (200, Some("active"))
    );
    let suspended = stack
        .call(
            Some(&ops.id),
            "PATCH",
            &path,
            Some(&json!({"status": "suspended"})),
        )
        .await;
    assert_eq!(suspended.body["status"], "suspended", "{}", suspended.body);
    // Its users still sign in (they may belong elsewhere, or create an organization), but no
    // token carries it any more.
    let signed_in = stack
        .sign_in(&a.member_email, "Member-Chosen-Password-7")
        .await
        .expect("sign-in works");
    assert_eq!(claims(&signed_in.id).get("tenant_id"), None);
    let theirs = stack
        .call(Some(&signed_in.id), "GET", "/me/organizations", None)
        .await;
    assert_eq!(
        (
            theirs.body["items"][0]["id"].as_str(),
            theirs.body["items"][0]["status"].as_str()
        ),
        (Some(a.tenant_id.as_str()), Some("suspended"))
    );
    let refused = stack
        .call(Some(&signed_in.id), "GET", "/products", None)
        .await;
    assert_eq!(
        (refused.status, refused.body["code"].as_str()),
        (403, Some("no-tenant"))
    );
    // Tokens issued before stay valid until they expire, but the data APIs refuse the tenant once
    // their cache of its record (10 s) has expired.
    wait_for_status(&stack, &a.member.id, "/products", 403).await;

    let active = stack
        .call(
            Some(&ops.id),
            "PATCH",
            &path,
            Some(&json!({"status": "active"})),
        )
        .await;
    assert_eq!(active.body["status"], "active");
    let signed_in = stack
        .sign_in(&a.member_email, "Member-Chosen-Password-7")
        .await
        .expect("sign-in works");
    assert_eq!(
        claims(&signed_in.id)["tenant_id"].as_str(),
        Some(a.tenant_id.as_str())
    );
    wait_for_status(&stack, &a.member.id, "/products", 200).await;
}

async fn wait_for_status(stack: &Stack, token: &str, path: &str, status: u16) -> Reply {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let reply = stack.call(Some(token), "GET", path, None).await;
        if reply.status == status {
            return reply;
        }
        assert!(
            Instant::now() < deadline,
            "{path} still answers {} ({}), expected {status}",
            reply.status,
            reply.body
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Offboarding through the API: the tenant goes, its users lose it, its data is purged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offboarding_removes_the_tenant_and_only_it() {
    let stack = Stack::from_env();
    let (gone, stays) = tokio::join!(
        organization(&stack, "leaving"),
        organization(&stack, "staying")
    );
    create_product(&stack, &gone.admin.id, "BYE-1").await;
    let kept = create_product(&stack, &stays.admin.id, "STAY-1").await;
    // The leaving tenant's admin also belongs to the staying one.
    let invited = stack
        .call(
            Some(&stays.admin.id),
            "POST",
            "/users",
            Some(&json!({"email": gone.admin_email, "role": "member"})),
        )
        .await;
    assert_eq!(invited.status, 201, "{}", invited.body);
    let accepted = stack
        .call(
            Some(&gone.admin.id),
            "POST",
            &format!("/me/invitations/{}", stays.tenant_id),
            Some(&json!({"accept": true})),
        )
        .await;
    assert_eq!(accepted.status, 200, "{}", accepted.body);
    let by_member = stack
        .call(Some(&gone.member.id), "DELETE", "/tenant", None)
        .await;
    assert_eq!(by_member.status, 403);
    let deleted = stack
        .call(Some(&gone.admin.id), "DELETE", "/tenant", None)
        .await;
    assert_eq!(
        (deleted.status, deleted.body["status"].as_str()),
        (202, Some("deleting"))
    );
    // From then on the tokens its users hold are refused everywhere (the job may already have
    // finished: deleting or deleted, the answer is the same).
    all_refused_within_bound(
        &stack,
        "offboarded tenant",
        Instant::now(),
        &gone.member.id,
        vec![
            ("GET", "/users".into(), None),
            ("GET", "/tenant".into(), None),
            ("GET", "/products".into(), None),
            ("GET", "/orders".into(), None),
        ],
        (403, "tenant-inactive"),
    )
    .await;

    let tenant_id = gone.tenant_id.parse().unwrap();
    let control = tenantry_tests::control_store();
    let deadline = Instant::now() + Duration::from_secs(60);
    while control.get_tenant(&tenant_id).await.unwrap().status
        != shared::domain::tenant::TenantStatus::Deleted
    {
        assert!(
            Instant::now() < deadline,
            "the offboarding job did not finish"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let storage = tenantry_tests::tenant_storage();
    assert_eq!(
        storage
            .count_items(&tenant_id, storage.pooled_table())
            .await
            .unwrap(),
        0
    );
    // Its users with nothing else are deleted from the pool: they cannot sign in, and the
    // address is free again. Its admin, who belongs to the other tenant too, stays, with it.
    assert_gone_and_invitable(&stack, &gone.member_email, &stays.admin.id).await;
    let still = stack
        .sign_in(&gone.admin_email, PASSWORD)
        .await
        .expect("a person who belongs elsewhere keeps their account");
    assert_eq!(
        claims(&still.id)["tenant_id"].as_str(),
        Some(stays.tenant_id.as_str())
    );
    let theirs = stack
        .call(Some(&still.id), "GET", "/me/organizations", None)
        .await;
    assert_eq!(theirs.body["items"].as_array().unwrap().len(), 1);
    let theirs = stack
        .call(
            Some(&stays.admin.id),
            "GET",
            &format!("/products/{}", kept["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(theirs.body, kept);
}

/// Sign-up makes basic organizations only; a premium tenant (here made by an operator) gets its
/// own table: the migration job moves its data there, and it then lives there and nowhere else.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn premium_tenants_live_in_their_own_table() {
    let stack = Stack::from_env();
    let refused = stack
        .cognito
        .sign_up()
        .client_id(&stack.client_id)
        .username(unique_email("greedy"))
        .password(PASSWORD)
        .user_attributes(
            aws_sdk_cognitoidentityprovider::types::AttributeType::builder()
                .name("custom:tenant_name")
                .value("Greedy Org")
                .build()
                .unwrap(),
        )
        .user_attributes(
            aws_sdk_cognitoidentityprovider::types::AttributeType::builder()
                .name("custom:plan")
                .value("premium")
                .build()
                .unwrap(),
        )
        .send()
        .await;
    // cognito-local does not pass the trigger's message on (Cognito does); its log has it.
    assert!(refused.is_err(), "a premium sign-up is refused");
    assert!(
        stack
            .functions_log()
            .contains("paid plans are chosen once signed in"),
        "pre-sign-up refused it for its plan"
    );

    let email = unique_email("premium");
    stack.sign_up(&email, "Premium Org", None).await;
    let admin = stack.sign_in(&email, PASSWORD).await.unwrap();
    assert_eq!(claims(&admin.id)["tenant_tier"], "basic");
    let tenant_id: shared::ids::TenantId = claims(&admin.id)["tenant_id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    create_product(&stack, &admin.id, "GOLD-1").await;
    let ops = stack.platform_operator().await;
    let upgraded = stack
        .call(
            Some(&ops.id),
            "PATCH",
            &format!("/admin/tenants/{tenant_id}"),
            Some(&json!({"tier": "premium"})),
        )
        .await;
    assert!(
        upgraded.status == 200 || upgraded.status == 202,
        "{}",
        upgraded.body
    );
    let control = tenantry_tests::control_store();
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let record = control.get_tenant(&tenant_id).await.unwrap();
        if record.tier == shared::domain::Tier::Premium
            && record.status == shared::domain::tenant::TenantStatus::Active
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the migration did not finish: {record:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // The token still says basic; limits and storage follow the stored record.
    let ready = wait_for_status(&stack, &admin.id, "/products", 200).await;
    assert_eq!(ready.body["items"].as_array().unwrap().len(), 1);
    create_product(&stack, &admin.id, "GOLD-2").await;
    let storage: TenantStorage = tenantry_tests::tenant_storage();
    let silo = storage.silo_table(&tenant_id);
    let deadline = Instant::now() + Duration::from_secs(30);
    while storage
        .count_items(&tenant_id, storage.pooled_table())
        .await
        .unwrap()
        != 0
    {
        assert!(Instant::now() < deadline, "the pooled copy was not purged");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(
        storage.count_items(&tenant_id, &silo).await.unwrap(),
        5,
        "two products, two SKU claims, the counter"
    );
}
