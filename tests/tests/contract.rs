#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.
//! The API's document, as served: anyone gets docs/openapi.json at `GET /openapi.json`, with no
//! token, through the gateway. (That every answer of the API keeps to it is the Schemathesis run
//! of `make test`; that its operations are the template's routes and the handlers' route tables,
//! `scripts/openapi.py --check` and each function's unit tests.)

use serde_json::Value;
use tenantry_tests::stack::Stack;

#[tokio::test]
async fn the_document_is_served_without_a_token() {
    let stack = Stack::from_env();
    let reply = stack.call(None, "GET", "/openapi.json", None).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let file: Value = serde_json::from_str(
        &std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/openapi.json"),
        )
        .unwrap(),
    )
    .unwrap();
    assert!(
        reply.body == file,
        "the served document is not docs/openapi.json"
    );
    // With a token it is the same document: nothing in it depends on who asks.
    let other = stack
        .call(Some("not-a-token"), "GET", "/openapi.json", None)
        .await;
    assert!(other.status == 200 && other.body == file);
}
