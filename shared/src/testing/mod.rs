//! Test support: fixture events from `events/`, adjusted per test, and response helpers.

pub mod control_contract;
pub mod directory;
pub mod jobs;
pub mod mailer;
pub mod memory_control;
pub mod memory_store;
pub mod payments;
pub mod store_contract;

use std::path::PathBuf;

use lambda_http::{Body, Request, Response};
use serde_json::Value;

/// The two helpers an HTTP function's handler tests share, written into the test module: `call`
/// serves an event with the crate's `function_handler` and the test's dependencies, as the
/// runtime would (the handler never fails the invocation: its errors are answers), and
/// `fixture(route, who)` loads `events/<function>/<route>.<who>.json`.
#[macro_export]
macro_rules! handler_test_harness {
    ($function:literal, $deps:ty) => {
        async fn call(
            deps: &$deps,
            event: $crate::testing::Event,
        ) -> ::lambda_http::Response<::lambda_http::Body> {
            function_handler(deps, event.request())
                .await
                .expect("the handler never fails the invocation")
        }

        fn fixture(route: &str, who: &str) -> $crate::testing::Event {
            $crate::testing::Event::load(&format!("{}/{route}.{who}.json", $function))
        }
    };
}

/// How many tenants `store` holds (up to 100: what a test makes).
pub async fn tenant_count<S: crate::store::control::TenantStore>(store: &S) -> usize {
    store
        .list_tenants(100, None)
        .await
        .expect("the tenants are listed")
        .items
        .len()
}

/// The sample tenants of `events/`.
pub const TENANT_A: &str = "01JB8Z4K2M6Q9R3T5V7W9XAAAA";
pub const TENANT_B: &str = "01JB8Z4K2M6Q9R3T5V7W9XBBBB";

/// The repository's `events/` directory.
pub fn events_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("events")
}

/// A fixture event, as JSON, to adjust and turn into a request.
#[derive(Debug, Clone)]
pub struct Event(pub Value);

impl Event {
    /// Loads `events/<name>`, e.g. `products-api/get-product.a-admin.json`.
    pub fn load(name: &str) -> Self {
        let path = events_dir().join(name);
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|err| panic!("fixture {}: {err}", path.display()));
        Self(
            serde_json::from_str(&text)
                .unwrap_or_else(|err| panic!("fixture {}: {err}", path.display())),
        )
    }

    /// Sets a path parameter and rebuilds `path` from the resource template.
    pub fn path_param(mut self, name: &str, value: &str) -> Self {
        let event = &mut self.0;
        if !event["pathParameters"].is_object() {
            event["pathParameters"] = Value::Object(Default::default());
        }
        event["pathParameters"][name] = Value::String(value.to_owned());
        let mut path = event["resource"].as_str().unwrap_or("/").to_owned();
        if let Some(params) = event["pathParameters"].as_object() {
            for (param, value) in params {
                path = path.replace(&format!("{{{param}}}"), value.as_str().unwrap_or(""));
            }
        }
        event["path"] = Value::String(path);
        self
    }

    /// Replaces the body with `json` (any text: tests send malformed bodies too).
    pub fn body(mut self, json: &str) -> Self {
        self.0["body"] = Value::String(json.to_owned());
        self
    }

    pub fn query(mut self, name: &str, value: &str) -> Self {
        let event = &mut self.0;
        if !event["queryStringParameters"].is_object() {
            event["queryStringParameters"] = Value::Object(Default::default());
            event["multiValueQueryStringParameters"] = Value::Object(Default::default());
        }
        event["queryStringParameters"][name] = Value::String(value.to_owned());
        event["multiValueQueryStringParameters"][name] = serde_json::json!([value]);
        self
    }

    pub fn without_query(mut self) -> Self {
        self.0["queryStringParameters"] = Value::Null;
        self.0["multiValueQueryStringParameters"] = Value::Null;
        self
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.0["headers"][name] = Value::String(value.to_owned());
        self.0["multiValueHeaders"][name] = serde_json::json!([value]);
        self
    }

    /// Removes a header, whatever its case.
    pub fn without_header(mut self, name: &str) -> Self {
        for map in ["headers", "multiValueHeaders"] {
            if let Some(headers) = self.0[map].as_object_mut() {
                headers.retain(|key, _| !key.eq_ignore_ascii_case(name));
            }
        }
        self
    }

    /// Sets (`Some`) or removes (`None`) one authorizer claim.
    pub fn claim(mut self, name: &str, value: Option<&str>) -> Self {
        let claims = &mut self.0["requestContext"]["authorizer"]["claims"];
        match value {
            Some(value) => claims[name] = Value::String(value.to_owned()),
            None => {
                if let Some(map) = claims.as_object_mut() {
                    map.remove(name);
                }
            }
        }
        self
    }

    /// The claims a machine client's access token of the fixture's tenant carries, as the
    /// pre-token trigger issues them: [`MACHINE_CLIENT`] acting as [`MACHINE_PRINCIPAL`], a
    /// member's role, and `scopes` (e.g. `products.read`).
    pub fn as_machine(mut self, scopes: &[&str]) -> Self {
        use crate::claims;
        for person_only in [
            claims::EMAIL,
            claims::GROUPS,
            "email_verified",
            "cognito:username",
        ] {
            self = self.claim(person_only, None);
        }
        let scope = scopes
            .iter()
            .map(|scope| format!("{}/{scope}", crate::api_clients::RESOURCE_SERVER))
            .collect::<Vec<_>>()
            .join(" ");
        self.claim(claims::TOKEN_USE, Some("access"))
            .claim(claims::SUB, Some(MACHINE_CLIENT))
            .claim(claims::CLIENT_ID, Some(MACHINE_CLIENT))
            .claim(claims::TENANT_PRINCIPAL, Some(MACHINE_PRINCIPAL))
            .claim(claims::TENANT_ROLE, Some("member"))
            .claim(claims::SCOPE, Some(&scope))
    }

    /// Removes the authorizer entirely, as on a route with no authorizer.
    pub fn without_authorizer(mut self) -> Self {
        if let Some(context) = self.0["requestContext"].as_object_mut() {
            context.remove("authorizer");
        }
        self
    }

    pub fn request(&self) -> Request {
        lambda_http::request::from_str(&self.0.to_string())
            .expect("fixture is a valid API Gateway event")
    }
}

/// The response body as JSON (panics, failing the test, if it is not).
pub fn body_json(response: &Response<Body>) -> Value {
    let text = match response.body() {
        Body::Text(text) => text.clone(),
        Body::Binary(bytes) => String::from_utf8_lossy(bytes).into_owned(),
        Body::Empty => return Value::Null,
        _ => String::new(),
    };
    serde_json::from_str(&text)
        .unwrap_or_else(|err| panic!("response body is not JSON ({err}): {text}"))
}

/// Asserts a problem+json response with this status and code, and returns its body.
pub fn assert_problem(response: &Response<Body>, status: u16, code: &str) -> Value {
    let body = body_json(response);
    assert_eq!(
        response.status().as_u16(),
        status,
        "unexpected status, body: {body}"
    );
    assert_eq!(
        response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/problem+json"),
        "body: {body}"
    );
    assert_eq!(body["code"], code, "body: {body}");
    body
}

/// The sample users of `events/`: (tenant, role) → (sub, e-mail).
pub const USERS: [(&str, crate::domain::Role, &str, &str); 4] = [
    (
        TENANT_A,
        crate::domain::Role::Admin,
        "0a000000-0000-4000-8000-00000000a0ad",
        "alice@acme.example",
    ),
    (
        TENANT_A,
        crate::domain::Role::Member,
        "0a000000-0000-4000-8000-00000000a0ae",
        "amir@acme.example",
    ),
    (
        TENANT_B,
        crate::domain::Role::Admin,
        "0b000000-0000-4000-8000-00000000b0ad",
        "bea@bolt.example",
    ),
    (
        TENANT_B,
        crate::domain::Role::Member,
        "0b000000-0000-4000-8000-00000000b0ae",
        "bo@bolt.example",
    ),
];

/// The `tenant_grant` claim of every sample token in `events/` (ms): a revocation after it
/// covers them.
pub const FIXTURE_GRANT: u64 = 1_795_681_600_000;

/// The sample API client of [`Event::as_machine`] (a Cognito app client id) and the principal
/// its tokens act as.
pub const MACHINE_CLIENT: &str = "5machine0client0id0tenantry";
pub const MACHINE_PRINCIPAL: &str = "0a000000-0000-4000-8000-0000000c11e7";

/// The sample platform operator (group `platform-admin`, no tenant).
pub const PLATFORM_ADMIN: &str = "0c000000-0000-4000-8000-0000000000ad";

/// The user id of a sample user, e.g. `user_id("a-member")`.
pub fn user_id(who: &str) -> crate::ids::UserId {
    let index = match who {
        "a-admin" => 0,
        "a-member" => 1,
        "b-admin" => 2,
        "b-member" => 3,
        other => panic!("no sample user {other}"),
    };
    crate::ids::UserId::parse(USERS[index].2).expect("sample user ids are valid")
}

/// Onboards the sample tenants of `events/` into a control store: tenant a (basic) and b
/// (standard), each with its admin and one member, with the fixtures' ids.
pub async fn seed_sample_tenants<S>(store: &S)
where
    S: crate::store::control::Onboarding + crate::store::control::MemberStore,
{
    use crate::domain::email::EmailAddress;
    use crate::domain::member::Invitation;
    use crate::domain::tenant::{Tenant, TenantName};
    use crate::domain::{Role, Tier};
    use crate::ids::{TenantId, UserId};

    for (tenant_id, name, tier) in [
        (TENANT_A, "Acme Tea", Tier::Basic),
        (TENANT_B, "Bolt Coffee", Tier::Standard),
    ] {
        let mut tenant = Tenant::new(TenantName::parse(name).expect("name"), tier);
        tenant.id = TenantId::parse(tenant_id).expect("id");
        for (_, role, sub, email) in USERS.iter().filter(|u| u.0 == tenant_id) {
            let (user, email) = (
                UserId::parse(sub).expect("sub"),
                EmailAddress::parse(email).expect("email"),
            );
            match role {
                Role::Admin => {
                    store
                        .onboard(&tenant, &user, &email)
                        .await
                        .expect("onboard");
                }
                Role::Member => {
                    let invitation = Invitation { email, role: *role };
                    let reservation = reserve_new(store, &tenant.id, &invitation, 100)
                        .await
                        .expect("reserve");
                    store
                        .complete_invite(&tenant.id, &reservation, &user)
                        .await
                        .expect("complete");
                }
            }
        }
    }
}

/// A person in both sample tenants who chose b (the `several-organizations` pre-token event).
pub const IN_TWO: (&str, &str) = ("0a000000-0000-4000-8000-0000000000a5", "sam@acme.example");
/// A person in both sample tenants who chose b and was then removed from it (the
/// `chosen-organization-gone` pre-token event).
pub const CHOICE_GONE: (&str, &str) = ("0a000000-0000-4000-8000-0000000000a6", "gil@acme.example");

/// Adds [`IN_TWO`] and [`CHOICE_GONE`] to the sample tenants (seeded first): each a member of a,
/// invited to b, accepted, b chosen; the second then removed from b.
pub async fn seed_people_in_two_organizations<S>(store: &S)
where
    S: crate::store::control::MemberStore + crate::store::control::PersonStore,
{
    use crate::domain::Role;
    use crate::domain::email::EmailAddress;
    use crate::domain::member::Invitation;
    use crate::ids::{TenantId, UserId};

    let (a, b) = (
        TenantId::parse(TENANT_A).expect("id"),
        TenantId::parse(TENANT_B).expect("id"),
    );
    for (sub, email) in [IN_TWO, CHOICE_GONE] {
        let user = UserId::parse(sub).expect("sub");
        let invitation = Invitation {
            email: EmailAddress::parse(email).expect("email"),
            role: Role::Member,
        };
        let reservation = reserve_new(store, &a, &invitation, 100)
            .await
            .expect("reserve");
        store
            .complete_invite(&a, &reservation, &user)
            .await
            .expect("complete");
        store
            .invite_existing(&b, &invitation, &user, 100)
            .await
            .expect("invite to b");
        store
            .answer_invitation(&user, &b, true)
            .await
            .expect("accept");
        store.set_active(&user, &b).await.expect("choose b");
    }
    let gone = UserId::parse(CHOICE_GONE.0).expect("sub");
    store.remove_member(&b, &gone).await.expect("remove from b");
}

/// Reserves an invitation of an address that must be new (a test's own unique address).
pub async fn reserve_new<S: crate::store::control::MemberStore>(
    store: &S,
    tenant: &crate::ids::TenantId,
    invitation: &crate::domain::member::Invitation,
    max_users: u64,
) -> Result<crate::store::control::Reservation, crate::store::StoreError> {
    match store.reserve_invite(tenant, invitation, max_users).await? {
        crate::store::control::Reserved::New(reservation) => Ok(reservation),
        crate::store::control::Reserved::Existing(user) => {
            panic!("{} belongs to {user:?} already", invitation.email)
        }
    }
}

use std::future::Future;

/// Tests of people with one organization read "the" membership of a profile.
pub trait SoleMembership {
    /// The profile's one membership, or `None` without a profile or with an empty one; panics
    /// if the person has several.
    fn membership(
        &self,
        user: &crate::ids::UserId,
    ) -> impl Future<
        Output = Result<Option<crate::domain::member::Membership>, crate::store::StoreError>,
    > + Send;
}

impl<S: crate::store::control::MembershipLookup> SoleMembership for S {
    async fn membership(
        &self,
        user: &crate::ids::UserId,
    ) -> Result<Option<crate::domain::member::Membership>, crate::store::StoreError> {
        let Some(profile) = self.profile(user).await? else {
            return Ok(None);
        };
        assert!(
            profile.memberships.len() <= 1,
            "{user} has several memberships"
        );
        Ok(profile.memberships.into_values().next())
    }
}

/// Asserts that `function`'s route table is exactly the operations `docs/openapi.json` gives to
/// it (`x-tenantry-function`). With the end-to-end check that the document's operations are the
/// template's routes, this proves the document, the template and the handlers agree.
pub fn assert_routes_documented(
    function: &str,
    routes: impl IntoIterator<Item = crate::http::Route>,
) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("docs")
        .join("openapi.json");
    let text = std::fs::read_to_string(&path).expect("docs/openapi.json (scripts/openapi.py)");
    let document: Value = serde_json::from_str(&text).expect("docs/openapi.json is JSON");
    let mut documented = std::collections::BTreeSet::new();
    for (template, item) in document["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("path item") {
            if operation["x-tenantry-function"].as_str() == Some(function) {
                documented.insert((method.to_uppercase(), template.clone()));
            }
        }
    }
    let table: std::collections::BTreeSet<(String, String)> = routes
        .into_iter()
        .map(|route| (route.method.to_owned(), route.template.to_owned()))
        .collect();
    assert_eq!(
        table, documented,
        "{function}'s route table (left) and the operations docs/openapi.json gives it (right)"
    );
}

/// Asserts that every `match op { ... }` in a handler's `source` names each operation in its
/// arms: a catch-all arm (`_ =>`) would send an operation added later to another operation's
/// handler instead of failing to compile.
pub fn assert_operations_matched_by_name(source: &str) {
    let mut found = 0;
    for (start, _) in source.match_indices("match op {") {
        found += 1;
        let mut depth = 0_usize;
        let body = &source[start + "match op ".len()..];
        for line in body.lines() {
            if depth == 1 {
                let arm = line.trim_start();
                assert!(
                    !(arm.starts_with("_ =>") || arm.starts_with("_ if ")),
                    "a `match op` has a catch-all arm: {arm:?}"
                );
            }
            for c in line.chars() {
                match c {
                    '{' => depth += 1,
                    '}' => depth = depth.saturating_sub(1),
                    _ => {}
                }
            }
            if depth == 0 {
                break;
            }
        }
    }
    assert!(found > 0, "no `match op` found");
}
