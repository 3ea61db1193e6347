//! Isolation: every route attacked by another tenant's admin and member, and tokens the
//! authorizer refuses before any function runs.

use super::*;
use crate::attacks::*;

/// Every route of template.yaml, attacked by tenant b's admin and member with tenant a's ids,
/// cursors and bodies naming tenant a. Afterwards tenant a's data, read as a, is unchanged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn isolation_attack_matrix_over_every_route() {
    let stack = Stack::from_env();
    let (a, b) = tokio::join!(
        organization(&stack, "victim"),
        organization(&stack, "attacker")
    );
    let victim = prepare_victim(&stack, &a).await;
    let before = snapshot(&stack, &a).await;
    let t = &a.tenant_id;
    let mut attacks = tenant_route_attacks(&a, &victim);
    // The caller's own organizations: b's people are no members of a, whatever they name.
    attacks.extend::<Vec<Attack>>(vec![
        (
            "/me/organizations",
            "GET",
            "/me/organizations".into(),
            None,
            &[200],
            &[200],
        ),
        (
            "/me/organizations",
            "POST",
            "/me/organizations".into(),
            Some(json!({"name": "Hijack Shop", "tenant_id": t})),
            &[400],
            &[400],
        ),
        (
            "/me/organizations/{tenantId}",
            "DELETE",
            format!("/me/organizations/{t}"),
            None,
            &[404],
            &[404],
        ),
        (
            "/me/active-organization",
            "PUT",
            "/me/active-organization".into(),
            Some(json!({"tenant_id": t})),
            &[404],
            &[404],
        ),
        (
            "/me/invitations",
            "GET",
            "/me/invitations".into(),
            None,
            &[200],
            &[200],
        ),
        (
            "/me/invitations/{tenantId}",
            "POST",
            format!("/me/invitations/{t}"),
            Some(json!({"accept": true})),
            &[404],
            &[404],
        ),
    ]);
    run_attacks(&stack, &a, &attacks, Some(&b.admin.id), Some(&b.member.id)).await;
    // The routes with nothing to attack answer with b's own data only.
    for (path, field) in [("/me", "/tenant/id"), ("/tenant", "/id")] {
        let reply = stack.call(Some(&b.member.id), "GET", path, None).await;
        assert_eq!(
            reply.body.pointer(field).and_then(Value::as_str),
            Some(b.tenant_id.as_str()),
            "{path}"
        );
    }
    // b's admin deletes b, naming a in the query: b goes, a stays.
    let deleted = stack
        .call(
            Some(&b.admin.id),
            "DELETE",
            &format!("/tenant?tenant_id={t}"),
            None,
        )
        .await;
    assert_eq!(deleted.status, 202, "{}", deleted.body);

    // Every route of the template was attacked (or checked above).
    let covered: BTreeSet<(String, String)> = attacks
        .iter()
        .map(|(route, method, ..)| (method.to_string(), route.to_string()))
        .chain(
            [("GET", "/me"), ("GET", "/tenant"), ("GET", "/openapi.json")]
                .map(|(m, r)| (m.to_owned(), r.to_owned())),
        )
        .collect();
    let routes: Value =
        serde_json::from_str(&std::fs::read_to_string(stack.logs.join("routes.json")).unwrap())
            .unwrap();
    // Exactly these routes go without the Cognito authorizer (the payment provider's calls,
    // authenticated by their signature); any other route without it is a mistake.
    // And the API's document, which says nothing of any tenant.
    let exempt = BTreeSet::from([
        ("POST".to_owned(), "/billing/webhook".to_owned()),
        ("GET".to_owned(), "/openapi.json".to_owned()),
    ]);
    for route in routes.as_array().unwrap() {
        let key = (
            route["method"].as_str().unwrap().to_owned(),
            route["path"].as_str().unwrap().to_owned(),
        );
        assert!(
            covered.contains(&key),
            "route {key:?} has no cross-tenant case"
        );
        assert_eq!(
            route["auth"].as_bool(),
            Some(!exempt.contains(&key)),
            "route {key:?}: the authorizer must guard every route but {exempt:?}"
        );
    }

    assert_eq!(
        snapshot(&stack, &a).await,
        before,
        "tenant a's data changed"
    );
}

/// Tokens that API Gateway's Cognito authorizer refuses are refused by the local gateway, and no
/// function runs for them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_refuses_bad_tokens_before_any_function_runs() {
    let stack = Stack::from_env();
    let a = organization(&stack, "tokens").await;
    let real = claims(&a.admin.id);
    let pool_key = {
        let keys: Value = serde_json::from_str(
            &std::fs::read_to_string(
                std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("../node_modules/cognito-local/lib/keys/cognitoLocal.private.json"),
            )
            .unwrap(),
        )
        .unwrap();
        EncodingKey::from_rsa_pem(keys["pem"].as_str().unwrap().as_bytes()).unwrap()
    };
    let other_key = EncodingKey::from_rsa_pem(
        &std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../local/gateway/tests/fixtures/other-key.pem"),
        )
        .unwrap(),
    )
    .unwrap();
    let sign = |claims: &Value, key: &EncodingKey| {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some("CognitoLocal".into());
        jsonwebtoken::encode(&header, claims, key).unwrap()
    };
    let with = |field: &str, value: Value| {
        let mut c = real.clone();
        c[field] = value;
        c
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let b64 = |v: &Value| {
        base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            v.to_string(),
        )
    };
    let parts: Vec<&str> = a.admin.id.split('.').collect();
    let edited = format!(
        "{}.{}.{}",
        parts[0],
        b64(&with("tenant_role", json!("owner"))),
        parts[2]
    );
    let unsigned = format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "typ": "JWT"})),
        b64(&real)
    );

    let attacks: Vec<(&str, Option<String>)> = vec![
        ("no token", None),
        ("garbage", Some("not-a-token".into())),
        ("alg none", Some(unsigned)),
        ("another key", Some(sign(&real, &other_key))),
        (
            "expired",
            Some(sign(&with("exp", json!(now - 60)), &pool_key)),
        ),
        (
            "another client",
            Some(sign(
                &with("aud", json!("someoneelsesclient0000001")),
                &pool_key,
            )),
        ),
        (
            "another issuer",
            Some(sign(
                &with("iss", json!("http://127.0.0.1:1/us-east-1_Other")),
                &pool_key,
            )),
        ),
        ("access token", Some(a.admin.access.clone())),
        ("edited payload", Some(edited)),
    ];
    let mut refused_ids = Vec::new();
    for (what, token) in &attacks {
        let reply = stack
            .call(
                token.as_deref(),
                "POST",
                "/products",
                Some(&product_body("FORGED")),
            )
            .await;
        assert_eq!(
            (reply.status, &reply.body),
            (401, &json!({"message": "Unauthorized"})),
            "{what}"
        );
        refused_ids.push((what, reply.request_id));
    }
    // A valid request's id reaches the functions' log; none of the refused ones do.
    let valid = stack
        .call(Some(&a.admin.id), "GET", "/products", None)
        .await;
    assert_eq!(valid.status, 200);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !stack.functions_log().contains(&valid.request_id) {
        assert!(
            Instant::now() < deadline,
            "a valid request never reached the functions' log"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let log = stack.functions_log();
    for (what, id) in refused_ids {
        assert!(
            !id.is_empty() && !log.contains(&id),
            "{what} reached a function"
        );
    }
    assert_eq!(
        valid.body["items"],
        json!([]),
        "no forged product was created"
    );
}
