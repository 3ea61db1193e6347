#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.
//! End to end, through the real sign-up flow: cognito-local with the real triggers, the local
//! API gateway verifying tokens, the functions served by `cargo lambda watch`, moto behind them.
//! The stack is started by `make test` (local/local_stack.py).

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use shared::store::control::TenantStore;
use shared::tenancy::storage::TenantStorage;
use tenantry_tests::stack::{PASSWORD, Reply, Stack, Tokens, claims, unique_email};

mod attacks;
mod isolation;
mod memberships;
mod mfa;
mod operator;
mod revocation;
mod signup;
mod within;

/// An organization with an admin and a member, both signed in.
struct Org {
    tenant_id: String,
    admin_email: String,
    admin: Tokens,
    member: Tokens,
    member_id: String,
    member_email: String,
}

/// Signs up an organization through Cognito, then its admin invites a colleague through the API,
/// who signs in with the temporary password and sets a new one.
async fn organization(stack: &Stack, label: &str) -> Org {
    let admin_email = unique_email(&format!("{label}-admin"));
    stack
        .sign_up(&admin_email, &format!("{label} Org"), None)
        .await;
    let admin = stack.sign_in(&admin_email, PASSWORD).await.unwrap();
    let tenant_id = claims(&admin.id)["tenant_id"]
        .as_str()
        .expect("the ID token names the tenant")
        .to_owned();

    let member_email = unique_email(&format!("{label}-member"));
    let invited = stack
        .call(
            Some(&admin.id),
            "POST",
            "/users",
            Some(&json!({"email": member_email, "role": "member"})),
        )
        .await;
    assert_eq!(invited.status, 201, "{}", invited.body);
    let member = stack
        .first_sign_in(&member_email, "Member-Chosen-Password-7")
        .await;
    Org {
        tenant_id,
        admin_email,
        admin,
        member,
        member_id: invited.body["user_id"].as_str().unwrap().to_owned(),
        member_email,
    }
}

/// A removed or offboarded member: deleted from the pool (their password no longer signs in),
/// and their address free to be invited again (here by `inviter`).
async fn assert_gone_and_invitable(stack: &Stack, email: &str, inviter: &str) {
    assert!(
        stack
            .sign_in(email, "Member-Chosen-Password-7")
            .await
            .is_err(),
        "the user is deleted from the pool"
    );
    let invited = stack
        .call(
            Some(inviter),
            "POST",
            "/users",
            Some(&json!({"email": email, "role": "member"})),
        )
        .await;
    assert_eq!(
        invited.status, 201,
        "the address can be invited again: {}",
        invited.body
    );
}

fn product_body(sku: &str) -> Value {
    json!({"name": "Sencha", "description": "Green tea", "sku": sku, "price": 1250, "currency": "EUR"})
}

async fn create_product(stack: &Stack, token: &str, sku: &str) -> Value {
    let reply = stack
        .call(Some(token), "POST", "/products", Some(&product_body(sku)))
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    reply.body
}

async fn create_order(stack: &Stack, token: &str, product_id: &str, quantity: u32) -> Value {
    let body = json!({"lines": [{"product_id": product_id, "quantity": quantity}]});
    let reply = stack
        .call(Some(token), "POST", "/orders", Some(&body))
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    reply.body
}
