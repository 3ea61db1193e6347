#![allow(clippy::unwrap_used)] // Test code: a failed unwrap is a failed test.
//! Webhooks end to end: changes made through the API reach a tenant's receiver from the
//! tables' change stream, signed (checked by the `standardwebhooks` library in
//! `local/webhook_receiver.py`), once each and in order, through an outage of the receiver;
//! and never another tenant's receiver.

use std::collections::{BTreeMap, HashSet};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use shared::store::control::TenantStore;
use tenantry_tests::stack::{Stack, Tokens};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A free port on 127.0.0.1 (free when asked; the receiver binds it soon after).
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// `local/webhook_receiver.py`: verifies each delivery's signature with the Standard Webhooks
/// library, writes the accepted ones to `out` (one JSON line each), the refused ones to
/// `out.rejected`. Killed when dropped.
struct Receiver {
    child: Child,
    out: PathBuf,
}

impl Receiver {
    fn start(port: u16, secrets: &[&str], out: &Path) -> Self {
        Self::start_with(port, secrets, out, &[])
    }

    fn start_with(port: u16, secrets: &[&str], out: &Path, extra: &[&str]) -> Self {
        let mut command = Command::new(repo().join(".venv/bin/python"));
        command
            .arg(repo().join("local/webhook_receiver.py"))
            .args(["--port", &port.to_string(), "--out"])
            .arg(out)
            .args(extra);
        for secret in secrets {
            command.args(["--secret", secret]);
        }
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the receiver starts (is .venv bootstrapped?)");
        // Ready once it says it listens.
        let stdout = child.stdout.take().unwrap();
        let mut line = String::new();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line).unwrap();
        assert!(line.contains("listening"), "receiver said {line:?}");
        Self {
            child,
            out: out.to_owned(),
        }
    }

    /// The deliveries accepted so far.
    fn received(&self) -> Vec<Value> {
        read_lines(&self.out)
    }

    fn rejected(&self) -> Vec<Value> {
        read_lines(&PathBuf::from(format!("{}.rejected", self.out.display())))
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.kill();
    }
}

fn read_lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

fn output_file(label: &str) -> PathBuf {
    let dir = repo().join(".local/webhook-tests");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{label}-{}.jsonl", ulid_like()));
    let _ = std::fs::remove_file(&path);
    path
}

fn ulid_like() -> String {
    format!(
        "{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    )
}

async fn organization(stack: &Stack, label: &str) -> (String, Tokens) {
    let (tenant, admin, _) = stack.new_organization(label).await;
    (tenant, admin)
}

async fn register(stack: &Stack, token: &str, url: &str, events: &[&str]) -> Value {
    let reply = stack
        .call(
            Some(token),
            "POST",
            "/webhooks",
            Some(&json!({"url": url, "events": events, "description": "ERP"})),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    assert!(reply.body["secret"].as_str().unwrap().starts_with("whsec_"));
    reply.body
}

async fn create_product(stack: &Stack, token: &str, sku: &str) -> Value {
    let body = json!({"name": "Sencha", "description": "Green tea", "sku": sku, "price": 1250, "currency": "EUR"});
    let reply = stack
        .call(Some(token), "POST", "/products", Some(&body))
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    reply.body
}

async fn replace_product(stack: &Stack, token: &str, product: &Value, price: i64) -> Value {
    let mut body = json!({"name": "Sencha", "description": "Green tea", "sku": product["sku"], "price": price, "currency": "EUR"});
    body["version"] = product["version"].clone();
    let path = format!("/products/{}", product["id"].as_str().unwrap());
    let reply = stack.call(Some(token), "PUT", &path, Some(&body)).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.body
}

/// Waits until `receiver` accepted at least `count` deliveries.
async fn wait_for(receiver: &Receiver, count: usize, seconds: u64) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    loop {
        let received = receiver.received();
        if received.len() >= count {
            return received;
        }
        assert!(
            Instant::now() < deadline,
            "{} of {count} deliveries after {seconds} s: {received:#?}",
            received.len()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_gets_each_change_once_signed_and_in_order_through_an_outage() {
    let stack = Stack::from_env();
    let ((tenant_a, a), (tenant_b, b)) = tokio::join!(
        organization(&stack, "hooked"),
        organization(&stack, "neighbour")
    );
    let events = [
        "product.created",
        "product.updated",
        "product.deleted",
        "order.created",
        "order.status_changed",
    ];
    let (port_a, port_b) = (free_port(), free_port());
    let hook_a = register(
        &stack,
        &a.id,
        &format!("http://127.0.0.1:{port_a}/hook"),
        &events,
    )
    .await;
    let hook_b = register(
        &stack,
        &b.id,
        &format!("http://127.0.0.1:{port_b}/hook"),
        &events,
    )
    .await;
    let out_a = output_file("a");
    let mut receiver_a = Receiver::start(port_a, &[hook_a["secret"].as_str().unwrap()], &out_a);
    let receiver_b = Receiver::start(
        port_b,
        &[hook_b["secret"].as_str().unwrap()],
        &output_file("b"),
    );

    // Changes while the receiver is up.
    let tea = create_product(&stack, &a.id, "TEA-1").await;
    let tea = replace_product(&stack, &a.id, &tea, 1300).await;
    let tea = replace_product(&stack, &a.id, &tea, 1400).await;
    let order = stack
        .call(
            Some(&a.id),
            "POST",
            "/orders",
            Some(&json!({"lines": [{"product_id": tea["id"], "quantity": 2}]})),
        )
        .await;
    assert_eq!(order.status, 201, "{}", order.body);
    let order_path = format!("/orders/{}", order.body["id"].as_str().unwrap());
    let paid = stack
        .call(
            Some(&a.id),
            "PATCH",
            &order_path,
            Some(&json!({"status": "paid", "version": 1})),
        )
        .await;
    assert_eq!(paid.status, 200, "{}", paid.body);
    wait_for(&receiver_a, 5, 60).await;

    // The receiver goes down; changes go on.
    receiver_a.kill();
    let tea = replace_product(&stack, &a.id, &tea, 1500).await;
    let cup = create_product(&stack, &a.id, "CUP-1").await;
    let deleted = stack
        .call(
            Some(&a.id),
            "DELETE",
            &format!("/products/{}", cup["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(deleted.status, 204, "{}", deleted.body);
    // The attempts fail, and the endpoint says so.
    let hook_path = format!("/webhooks/{}", hook_a["id"].as_str().unwrap());
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let attempts = stack
            .call(Some(&a.id), "GET", &format!("{hook_path}/deliveries"), None)
            .await;
        assert_eq!(attempts.status, 200, "{}", attempts.body);
        let failed = attempts.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|attempt| attempt["outcome"] == "failed");
        if let Some(failed) = failed {
            assert_eq!(failed["error"], "connection refused", "{failed}");
            assert!(failed["response_status"].is_null());
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no failed attempt: {}",
            attempts.body
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let failing = stack.call(Some(&a.id), "GET", &hook_path, None).await;
    assert!(
        failing.body["failing_since"].is_string(),
        "{}",
        failing.body
    );
    assert_eq!(failing.body["status"], "enabled");

    // Back up: the retries deliver the rest, in order.
    let receiver_a = Receiver::start(port_a, &[hook_a["secret"].as_str().unwrap()], &out_a);
    let received = wait_for(&receiver_a, 8, 90).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let received = receiver_a
        .received()
        .into_iter()
        .chain(received)
        .collect::<Vec<_>>();
    let received: Vec<Value> = {
        // The file was read twice above; keep each line once.
        let mut seen = HashSet::new();
        received
            .into_iter()
            .filter(|d| seen.insert(d.to_string()))
            .collect()
    };
    assert!(
        receiver_a.rejected().is_empty(),
        "{:?}",
        receiver_a.rejected()
    );

    // Each event once: the webhook-id is the event's id, the same at every attempt.
    let ids: Vec<&str> = received
        .iter()
        .map(|d| d["webhook_id"].as_str().unwrap())
        .collect();
    let unique: HashSet<&&str> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "an event arrived twice: {ids:?}");
    assert_eq!(ids.len(), 8, "{received:#?}");
    for delivery in &received {
        let payload = &delivery["payload"];
        assert_eq!(payload["tenant_id"], tenant_a.as_str(), "{payload}");
        assert_eq!(payload["id"], delivery["webhook_id"]);
    }
    // In order per object, by version.
    let mut by_object: BTreeMap<String, Vec<(String, u64)>> = BTreeMap::new();
    for delivery in &received {
        let payload = &delivery["payload"];
        by_object
            .entry(payload["object"]["id"].as_str().unwrap().to_owned())
            .or_default()
            .push((
                payload["type"].as_str().unwrap().to_owned(),
                payload["object"]["version"].as_u64().unwrap(),
            ));
    }
    let tea_id = tea["id"].as_str().unwrap();
    let kinds = |id: &str| by_object[id].clone();
    assert_eq!(
        kinds(tea_id),
        vec![
            ("product.created".to_owned(), 1),
            ("product.updated".to_owned(), 2),
            ("product.updated".to_owned(), 3),
            ("product.updated".to_owned(), 4),
        ]
    );
    assert_eq!(
        kinds(cup["id"].as_str().unwrap()),
        vec![
            ("product.created".to_owned(), 1),
            ("product.deleted".to_owned(), 1)
        ]
    );
    assert_eq!(
        kinds(order.body["id"].as_str().unwrap()),
        vec![
            ("order.created".to_owned(), 1),
            ("order.status_changed".to_owned(), 2)
        ]
    );
    // The event shows the object as the API does.
    let last = received
        .iter()
        .find(|d| d["payload"]["object"]["version"] == 4)
        .unwrap();
    assert_eq!(last["payload"]["data"]["price"], 1500);

    // Recovered: the endpoint leaves the failing state.
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let hook = stack.call(Some(&a.id), "GET", &hook_path, None).await;
        if hook.body["failing_since"].is_null() {
            break;
        }
        assert!(Instant::now() < deadline, "still failing: {}", hook.body);
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // The neighbour's receiver saw nothing of it (and the neighbour changed nothing).
    assert!(
        receiver_b.received().is_empty(),
        "{:?}",
        receiver_b.received()
    );
    let _ = tenant_b;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoints_are_the_tenants_own_checked_and_bounded_by_the_plan() {
    let stack = Stack::from_env();
    let ((_, a), (_, b)) = tokio::join!(
        organization(&stack, "owner"),
        organization(&stack, "intruder")
    );
    let port = free_port();
    let hook = register(
        &stack,
        &a.id,
        &format!("http://127.0.0.1:{port}/in"),
        &["tenant.updated"],
    )
    .await;
    let path = format!("/webhooks/{}", hook["id"].as_str().unwrap());

    // Another tenant's admin cannot see, change, test or delete it: the same 404 as none.
    for (method, suffix, body) in [
        ("GET", "", None),
        ("PATCH", "", Some(json!({"enabled": false}))),
        ("DELETE", "", None),
        ("POST", "/rotate-secret", None),
        ("POST", "/test", None),
        ("GET", "/deliveries", None),
    ] {
        let reply = stack
            .call(
                Some(&b.id),
                method,
                &format!("{path}{suffix}"),
                body.as_ref(),
            )
            .await;
        assert_eq!(
            (reply.status, reply.body["code"].as_str()),
            (404, Some("not-found")),
            "{method} {suffix}: {}",
            reply.body
        );
    }
    // A member of the organization is no admin: refused.
    let member = stack.new_member(&a, "hook-member").await;
    for (method, target) in [("GET", "/webhooks".to_owned()), ("DELETE", path.clone())] {
        let reply = stack.call(Some(&member.id), method, &target, None).await;
        assert_eq!(
            (reply.status, reply.body["code"].as_str()),
            (403, Some("forbidden")),
            "{method} {target}: {}",
            reply.body
        );
    }
    let listed = stack.call(Some(&b.id), "GET", "/webhooks", None).await;
    assert_eq!(listed.body["items"], json!([]));
    let own = stack.call(Some(&a.id), "GET", "/webhooks", None).await;
    assert_eq!(own.body["items"].as_array().unwrap().len(), 1);
    assert!(
        !own.body.to_string().contains("whsec_"),
        "a secret is shown again"
    );

    // Addresses a server must not be made to call are refused, even on the local stack.
    for url in [
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.8/hook",
        "http://192.168.1.1/hook",
        "http://[fd00:ec2::254]/",
        "ftp://127.0.0.1/hook",
        "http://user:pw@127.0.0.1/hook",
    ] {
        let reply = stack
            .call(
                Some(&a.id),
                "POST",
                "/webhooks",
                Some(&json!({"url": url, "events": ["product.created"]})),
            )
            .await;
        assert_eq!(
            (reply.status, reply.body["code"].as_str()),
            (400, Some("validation-failed")),
            "{url}: {}",
            reply.body
        );
    }
    let unknown = stack
        .call(
            Some(&a.id),
            "POST",
            "/webhooks",
            Some(&json!({"url": "http://127.0.0.1:9/x", "events": ["product.exploded"]})),
        )
        .await;
    assert_eq!(unknown.status, 400, "{}", unknown.body);

    // A rotated secret: deliveries are signed with the new one (and the old one, a day more).
    let rotated = stack
        .call(Some(&a.id), "POST", &format!("{path}/rotate-secret"), None)
        .await;
    assert_eq!(rotated.status, 200, "{}", rotated.body);
    let new_secret = rotated.body["secret"].as_str().unwrap().to_owned();
    assert_ne!(new_secret, hook["secret"].as_str().unwrap());
    let receiver = Receiver::start(port, &[&new_secret], &output_file("rotated"));
    let tested = stack
        .call(Some(&a.id), "POST", &format!("{path}/test"), None)
        .await;
    assert_eq!(tested.status, 202, "{}", tested.body);
    // A change of the tenant's settings is an event too.
    let version = stack.call(Some(&a.id), "GET", "/tenant", None).await.body["version"].clone();
    let renamed = stack
        .call(
            Some(&a.id),
            "PATCH",
            "/tenant",
            Some(&json!({"name": "Owner Renamed", "version": version})),
        )
        .await;
    assert_eq!(renamed.status, 200, "{}", renamed.body);
    let received = wait_for(&receiver, 2, 60).await;
    let types: HashSet<&str> = received
        .iter()
        .map(|d| d["payload"]["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, HashSet::from(["webhook.test", "tenant.updated"]));
    let signatures = received[0]["signatures"].as_str().unwrap();
    assert_eq!(
        signatures.split(' ').count(),
        2,
        "both secrets sign: {signatures}"
    );
    assert!(receiver.rejected().is_empty());
    let renamed_event = received
        .iter()
        .find(|d| d["payload"]["type"] == "tenant.updated")
        .unwrap();
    assert_eq!(renamed_event["payload"]["data"]["name"], "Owner Renamed");

    // The basic plan has two endpoints; a third is refused.
    register(
        &stack,
        &a.id,
        "http://127.0.0.1:9/second",
        &["order.created"],
    )
    .await;
    let third = stack
        .call(
            Some(&a.id),
            "POST",
            "/webhooks",
            Some(&json!({"url": "http://127.0.0.1:9/third", "events": ["order.created"]})),
        )
        .await;
    assert_eq!(
        (third.status, third.body["code"].as_str()),
        (429, Some("quota-exceeded")),
        "{}",
        third.body
    );

    // Deleted: gone for its owner too.
    let deleted = stack.call(Some(&a.id), "DELETE", &path, None).await;
    assert_eq!(deleted.status, 204);
    let gone = stack.call(Some(&a.id), "GET", &path, None).await;
    assert_eq!(gone.status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endpoint_failing_for_a_day_is_disabled_its_admins_told_and_can_be_enabled_again() {
    let stack = Stack::from_env();
    // (Lower-case: the service keeps addresses as it normalizes them, and the mailbox is read by
    // exact address.)
    let (tenant, admin, email) = stack.new_organization("dayfail").await;
    // Nothing listens on this port.
    let port = free_port();
    let hook = register(
        &stack,
        &admin.id,
        &format!("http://127.0.0.1:{port}/gone"),
        &["product.created"],
    )
    .await;
    let path = format!("/webhooks/{}", hook["id"].as_str().unwrap());

    // A day of failures, as the deliverer would have left it, but not listed for the retry
    // sweep: a sweep finding the queue still empty would rightly forget them (an endpoint with
    // nothing left to retry has recovered), so the product's delivery is what tries it next.
    let control = tenantry_tests::control_store();
    let tenant_id = shared::ids::TenantId::parse(&tenant).unwrap();
    let webhook_id = shared::ids::WebhookId::parse(hook["id"].as_str().unwrap()).unwrap();
    let mut webhook = control
        .webhook(&tenant_id, &webhook_id)
        .await
        .unwrap()
        .unwrap();
    let now = shared::domain::time::now_millis();
    webhook.failures = 8;
    webhook.failing_since = Some(now - 25 * 60 * 60 * 1000);
    webhook.next_attempt_ms = None;
    assert!(
        control
            .update_webhook(&mut webhook, &[shared::webhooks::WebhookPart::Delivery])
            .await
            .unwrap()
    );
    // An event to send: its attempt fails once more, and that is the end of it.
    create_product(&stack, &admin.id, "GONE-1").await;

    let deadline = Instant::now() + Duration::from_secs(60);
    let disabled = loop {
        let reply = stack.call(Some(&admin.id), "GET", &path, None).await;
        if reply.body["status"] == "disabled" {
            break reply.body;
        }
        assert!(Instant::now() < deadline, "still {}", reply.body);
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert!(
        disabled["status_reason"]
            .as_str()
            .unwrap()
            .contains("24 hours"),
        "{disabled}"
    );
    // The admins are told by e-mail.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let mail = stack.sent_mail(&email).await;
        if let Some((subject, body)) = mail
            .iter()
            .find(|(subject, _)| subject.contains("webhook endpoint was disabled"))
        {
            assert!(subject.starts_with("dayfail Org"), "{subject}");
            assert!(body.contains(&format!("127.0.0.1:{port}/gone")), "{body}");
            break;
        }
        assert!(Instant::now() < deadline, "no notice: {mail:?}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // A disabled endpoint cannot be tested, and gets nothing more.
    let tested = stack
        .call(Some(&admin.id), "POST", &format!("{path}/test"), None)
        .await;
    assert_eq!(
        (tested.status, tested.body["code"].as_str()),
        (409, Some("webhook-disabled")),
        "{}",
        tested.body
    );
    assert!(control.pending(&webhook_id, 10).await.unwrap().is_empty());

    // Enabled again: a fresh start.
    let enabled = stack
        .call(
            Some(&admin.id),
            "PATCH",
            &path,
            Some(&json!({"enabled": true})),
        )
        .await;
    assert_eq!(enabled.status, 200, "{}", enabled.body);
    assert_eq!(enabled.body["status"], "enabled");
    assert!(enabled.body["failing_since"].is_null());
    assert!(enabled.body["status_reason"].is_null());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_is_a_failed_attempt_never_followed() {
    let stack = Stack::from_env();
    let (_, admin, _) = stack.new_organization("moved").await;
    let (moved, elsewhere) = (free_port(), free_port());
    let hook = register(
        &stack,
        &admin.id,
        &format!("http://127.0.0.1:{moved}/hook"),
        &["product.created"],
    )
    .await;
    let secret = hook["secret"].as_str().unwrap();
    // The endpoint answers 307 to another receiver, which would accept the delivery.
    let redirecting = Receiver::start_with(
        moved,
        &[secret],
        &output_file("moved"),
        &[
            "--redirect-to",
            &format!("http://127.0.0.1:{elsewhere}/hook"),
        ],
    );
    let target = Receiver::start(elsewhere, &[secret], &output_file("elsewhere"));
    let tested = stack
        .call(
            Some(&admin.id),
            "POST",
            &format!("/webhooks/{}/test", hook["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(tested.status, 202, "{}", tested.body);
    wait_for(&redirecting, 1, 30).await;
    let path = format!("/webhooks/{}/deliveries", hook["id"].as_str().unwrap());
    let deadline = Instant::now() + Duration::from_secs(15);
    let attempt = loop {
        let reply = stack.call(Some(&admin.id), "GET", &path, None).await;
        if let Some(first) = reply.body["items"]
            .as_array()
            .and_then(|items| items.first())
        {
            break first.clone();
        }
        assert!(
            Instant::now() < deadline,
            "no attempt recorded: {}",
            reply.body
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert_eq!(
        (&attempt["outcome"], &attempt["response_status"]),
        (&json!("failed"), &json!(307)),
        "{attempt}"
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(target.received().is_empty(), "the redirect was followed");
}

/// Polls until `check` holds, or fails with `what`.
async fn eventually<F: Future<Output = bool>>(what: &str, seconds: u64, check: impl Fn() -> F) {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    while !check().await {
        assert!(Instant::now() < deadline, "{what} after {seconds} s");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_paying_organization_stops_its_billing_and_integrations_and_sends_nothing_of_the_purge()
 {
    let stack = Stack::from_env();
    let ((tenant, admin, email), (_, neighbour)) = tokio::join!(
        stack.new_organization("leaving"),
        organization(&stack, "staying")
    );
    // A paying customer.
    let checkout = stack
        .call(
            Some(&admin.id),
            "POST",
            "/billing/checkout",
            Some(&json!({"plan": "standard", "interval": "month"})),
        )
        .await;
    assert_eq!(checkout.status, 200, "{}", checkout.body);
    stack.customer_step(&email, "pay").await;
    eventually("not standard", 60, || async {
        stack
            .call(Some(&admin.id), "GET", "/tenant", None)
            .await
            .body["tier"]
            == "standard"
    })
    .await;
    // Its integrations: an endpoint that hears every product change, and an API client.
    let events = ["product.created", "product.deleted"];
    let (port, other_port) = (free_port(), free_port());
    let hook = register(
        &stack,
        &admin.id,
        &format!("http://127.0.0.1:{port}/hook"),
        &events,
    )
    .await;
    let other_hook = register(
        &stack,
        &neighbour.id,
        &format!("http://127.0.0.1:{other_port}/hook"),
        &events,
    )
    .await;
    let receiver = Receiver::start(
        port,
        &[hook["secret"].as_str().unwrap()],
        &output_file("leaving"),
    );
    let other = Receiver::start(
        other_port,
        &[other_hook["secret"].as_str().unwrap()],
        &output_file("staying"),
    );
    create_product(&stack, &admin.id, "TEA-LEAVE").await;
    wait_for(&receiver, 1, 60).await;
    let client = stack
        .call(
            Some(&admin.id),
            "POST",
            "/api-clients",
            Some(&json!({"name": "ERP", "scopes": ["products.read"]})),
        )
        .await;
    assert_eq!(client.status, 201, "{}", client.body);
    let client_id = client.body["client_id"].as_str().unwrap().to_owned();

    let deleted = stack.call(Some(&admin.id), "DELETE", "/tenant", None).await;
    assert_eq!(deleted.status, 202, "{}", deleted.body);
    let control = tenantry_tests::control_store();
    let id = tenant.parse().unwrap();
    eventually("not offboarded", 120, || async {
        control.get_tenant(&id).await.unwrap().status
            == shared::domain::tenant::TenantStatus::Deleted
    })
    .await;
    // The subscription was cancelled at once: what is due is invoiced now, nothing credited.
    let subscriptions = stack.subscriptions_of(&email).await;
    assert_eq!(subscriptions.len(), 1, "{subscriptions:?}");
    assert_eq!(subscriptions[0]["status"], "canceled", "{subscriptions:?}");
    assert_eq!(
        subscriptions[0]["cancellation"],
        json!({"invoice_now": "true", "prorate": "false"})
    );
    // Its endpoints, pending deliveries, API clients and app clients are gone.
    assert!(control.webhooks(&id).await.unwrap().is_empty());
    assert!(control.api_clients(&id).await.unwrap().is_empty());
    let app_client = stack
        .cognito
        .describe_user_pool_client()
        .user_pool_id(&stack.user_pool_id)
        .client_id(&client_id)
        .send()
        .await;
    assert!(app_client.is_err(), "the app client is deleted");
    // Nothing of the purge reached its endpoint: a change of the neighbour made after it (the
    // stream is read in order) is delivered, and the leaving organization heard nothing more.
    create_product(&stack, &neighbour.id, "TEA-STAY").await;
    wait_for(&other, 1, 60).await;
    let heard: Vec<String> = receiver
        .received()
        .iter()
        .map(|d| d["payload"]["type"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(
        heard,
        ["product.created"],
        "the purge was sent to the endpoint"
    );
}

/// An endpoint that takes one delivery at a time and answers only when told (a delivery held
/// in flight); once its `release` is dropped it answers at once.
struct HeldEndpoint {
    port: u16,
    arrived: std::sync::mpsc::Receiver<()>,
    release: Option<std::sync::mpsc::Sender<u16>>,
}

impl HeldEndpoint {
    fn start() -> Self {
        use std::io::{BufRead, BufReader, Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let (arrived_tx, arrived) = std::sync::mpsc::channel();
        let (release, released) = std::sync::mpsc::channel::<u16>();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut length = 0;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    if let Some((name, value)) = line.split_once(':')
                        && name.eq_ignore_ascii_case("content-length")
                    {
                        length = value.trim().parse().unwrap_or(0);
                    }
                }
                let mut body = vec![0; length];
                let _ = reader.read_exact(&mut body);
                let _ = arrived_tx.send(());
                let status = released.recv().unwrap_or(500);
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status} Held\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                );
            }
        });
        Self {
            port,
            arrived,
            release: Some(release),
        }
    }

    /// Waits until a delivery is being held.
    async fn holding(&self, seconds: u64) {
        let deadline = Instant::now() + Duration::from_secs(seconds);
        while self.arrived.try_recv().is_err() {
            assert!(Instant::now() < deadline, "no delivery within {seconds} s");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Answers the held delivery with `status`, and every later one at once.
    fn answer(&mut self, status: u16) {
        if let Some(release) = self.release.take() {
            let _ = release.send(status);
        }
    }
}

/// The endpoint's record as stored (what the API never shows: the lease, the secrets).
async fn stored_endpoint(
    tenant: &str,
    webhook: &str,
) -> std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue> {
    use aws_sdk_dynamodb::types::AttributeValue;
    let key = shared::keys::webhook(
        &shared::ids::TenantId::parse(tenant).unwrap(),
        &shared::ids::WebhookId::parse(webhook).unwrap(),
    );
    tenantry_tests::dynamodb()
        .get_item()
        .table_name(tenantry_tests::env("TENANTRY_CONTROL_TABLE"))
        .key("pk", AttributeValue::S(key.pk))
        .key("sk", AttributeValue::S(key.sk))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
        .expect("the endpoint is stored")
}

fn text(
    item: &std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>,
    name: &str,
) -> Option<String> {
    item.get(name).and_then(|v| v.as_s().ok()).cloned()
}

/// While a delivery is in flight (its deliverer holds the endpoint's lease and a copy of its
/// record read before), an admin changes the endpoint and rotates its secret: neither undoes
/// the other, the lease stays with the deliverer (no second deliverer could take the endpoint),
/// and the deliverer's failure, recorded after, undoes neither.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_during_a_delivery_undoes_nothing_and_keeps_the_lease() {
    let stack = Stack::from_env();
    let (tenant, admin) = organization(&stack, "concurrent").await;
    let mut endpoint = HeldEndpoint::start();
    let hook = register(
        &stack,
        &admin.id,
        &format!("http://127.0.0.1:{}/hook", endpoint.port),
        &["product.created"],
    )
    .await;
    let id = hook["id"].as_str().unwrap();
    let path = format!("/webhooks/{id}");
    create_product(&stack, &admin.id, "HELD-1").await;
    endpoint.holding(60).await;
    let holder = text(&stored_endpoint(&tenant, id).await, "lease_holder");
    assert!(holder.is_some(), "the deliverer holds the endpoint's lease");

    let changed = stack
        .call(
            Some(&admin.id),
            "PATCH",
            &path,
            Some(&json!({"description": "changed during a delivery"})),
        )
        .await;
    assert_eq!(changed.status, 200, "{}", changed.body);
    let rotated = stack
        .call(
            Some(&admin.id),
            "POST",
            &format!("{path}/rotate-secret"),
            None,
        )
        .await;
    assert_eq!(rotated.status, 200, "{}", rotated.body);
    let new_secret = rotated.body["secret"].as_str().unwrap().to_owned();
    let stored = stored_endpoint(&tenant, id).await;
    assert_eq!(
        text(&stored, "lease_holder"),
        holder,
        "the delivery lease was dropped by the admin's change"
    );

    endpoint.answer(500);
    // The deliverer records the failure on the record it read before the admin's changes.
    let deadline = Instant::now() + Duration::from_secs(30);
    let stored = loop {
        let stored = stored_endpoint(&tenant, id).await;
        if stored.get("failures").and_then(|v| v.as_n().ok()) == Some(&"1".to_owned()) {
            break stored;
        }
        assert!(Instant::now() < deadline, "no failure recorded: {stored:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let secrets: Value = serde_json::from_str(&text(&stored, "secrets").unwrap()).unwrap();
    assert_eq!(
        secrets[0]["secret"], new_secret,
        "the rotation was undone by the deliverer"
    );
    assert_eq!(
        secrets.as_array().unwrap().len(),
        2,
        "the previous secret still signs for its overlap"
    );
    let read = stack.call(Some(&admin.id), "GET", &path, None).await;
    assert_eq!(
        read.body["description"], "changed during a delivery",
        "the admin's change was undone by the deliverer: {}",
        read.body
    );
    assert_eq!(read.body["status"], "enabled");
    assert!(
        !read.body["failing_since"].is_null(),
        "the failure is recorded: {}",
        read.body
    );
}

/// Credentials know who made them: an endpoint and an API client made by an admin who is then
/// removed are flagged (`orphaned`) for the organization's other admins, who rotate the
/// endpoint's secret (which clears its flag) or delete the client, each in one request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_of_a_removed_admin_are_flagged_for_the_other_admins() {
    let stack = Stack::from_env();
    let (_, alice) = organization(&stack, "credentials").await;
    let carol_email = tenantry_tests::stack::unique_email("carol");
    let invited = stack
        .call(
            Some(&alice.id),
            "POST",
            "/users",
            Some(&json!({"email": carol_email, "role": "admin"})),
        )
        .await;
    assert_eq!(invited.status, 201, "{}", invited.body);
    let carol_id = invited.body["user_id"].as_str().unwrap().to_owned();
    let carol = stack
        .first_sign_in(&carol_email, "Carol-Chosen-Password-5")
        .await;
    let hook = register(
        &stack,
        &carol.id,
        "http://127.0.0.1:9/carol",
        &["order.created"],
    )
    .await;
    let client = stack
        .call(
            Some(&carol.id),
            "POST",
            "/api-clients",
            Some(&json!({"name": "Carol's ERP", "scopes": ["orders.read"]})),
        )
        .await;
    assert_eq!(client.status, 201, "{}", client.body);
    let hook_path = format!("/webhooks/{}", hook["id"].as_str().unwrap());
    let client_path = format!(
        "/api-clients/{}",
        client.body["client_id"].as_str().unwrap()
    );
    assert_eq!(
        (&hook["created_by"], &hook["orphaned"]),
        (&json!(carol_id), &json!(false)),
        "{hook}"
    );
    assert_eq!(
        (&client.body["created_by"], &client.body["orphaned"]),
        (&json!(carol_id), &json!(false)),
        "{}",
        client.body
    );

    let removed = stack
        .call(
            Some(&alice.id),
            "DELETE",
            &format!("/users/{carol_id}"),
            None,
        )
        .await;
    assert_eq!(removed.status, 204, "{}", removed.body);
    for (list, one) in [("/webhooks", &hook_path), ("/api-clients", &client_path)] {
        let listed = stack.call(Some(&alice.id), "GET", list, None).await;
        let items = listed.body["items"].as_array().unwrap();
        assert_eq!(items.len(), 1, "{}", listed.body);
        assert_eq!(
            (&items[0]["created_by"], &items[0]["orphaned"]),
            (&json!(carol_id), &json!(true)),
            "{list}: {}",
            listed.body
        );
        let read = stack.call(Some(&alice.id), "GET", one, None).await;
        assert_eq!(read.body["orphaned"], true, "{one}: {}", read.body);
    }

    // One request each: the secret rotated by a present admin, the client deleted.
    let rotated = stack
        .call(
            Some(&alice.id),
            "POST",
            &format!("{hook_path}/rotate-secret"),
            None,
        )
        .await;
    assert_eq!(rotated.status, 200, "{}", rotated.body);
    let read = stack.call(Some(&alice.id), "GET", &hook_path, None).await;
    assert_eq!(
        (&read.body["created_by"], &read.body["orphaned"]),
        (&json!(carol_id), &json!(false)),
        "{}",
        read.body
    );
    let deleted = stack
        .call(Some(&alice.id), "DELETE", &client_path, None)
        .await;
    assert_eq!(deleted.status, 204, "{}", deleted.body);
}

/// Has the EventBridge stand-in refuse the events containing `text` (none: accept them all).
async fn refuse_on_the_bus(stack: &Stack, text: Option<&str>) {
    let state: Value = serde_json::from_str(
        &std::fs::read_to_string(tenantry_tests::env("TENANTRY_STACK")).unwrap(),
    )
    .unwrap();
    let bus = state["bus_endpoint"].as_str().unwrap();
    let answer = stack
        .http
        .post(format!("{bus}/test/refuse"))
        .json(&json!({ "containing": text }))
        .send()
        .await
        .unwrap();
    assert!(answer.status().is_success());
}

/// A record the bus refuses every time neither blocks its shard nor is lost: it is kept whole
/// in the failed-records queue, the changes after it are delivered, and once the cause is gone
/// the replay (`scripts/replay_stream_records.py`) delivers it too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_that_cannot_be_published_is_kept_whole_and_replayed_without_blocking_its_shard() {
    let stack = Stack::from_env();
    let (_, admin) = organization(&stack, "poisoned").await;
    let port = free_port();
    let hook = register(
        &stack,
        &admin.id,
        &format!("http://127.0.0.1:{port}/hook"),
        &["product.created"],
    )
    .await;
    let receiver = Receiver::start(
        port,
        &[hook["secret"].as_str().unwrap()],
        &output_file("poisoned"),
    );
    let poison = format!("POISON-{}", ulid_like());
    refuse_on_the_bus(&stack, Some(&poison)).await;
    create_product(&stack, &admin.id, &poison).await;
    create_product(&stack, &admin.id, "TEA-AFTER").await;
    let received = wait_for(&receiver, 1, 60).await;
    assert_eq!(
        received[0]["payload"]["data"]["sku"], "TEA-AFTER",
        "the change after the refused one is delivered"
    );
    refuse_on_the_bus(&stack, None).await;
    let replay = Command::new(repo().join(".venv/bin/python"))
        .arg(repo().join("scripts/replay_stream_records.py"))
        .args(["--stack-file", &tenantry_tests::env("TENANTRY_STACK")])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&replay.stdout);
    assert!(replay.status.success(), "{said}");
    assert!(!said.contains(" 0 replayed"), "{said}");
    let received = wait_for(&receiver, 2, 60).await;
    assert_eq!(
        received[1]["payload"]["data"]["sku"], poison,
        "the kept record is delivered once replayed"
    );
}
