//! The Cognito user pool authorizer: the `Authorization` header must hold an ID token of the
//! configured user pool and app client, signed RS256 by a key of the pool's JWKS and not expired.
//! Its claims reach the function as strings, the way API Gateway hands them on.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, JwkSet, KeyAlgorithm};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};
use time::OffsetDateTime;
use tokio::sync::{Mutex, RwLock};

use crate::causes::with_causes;

/// Verified claims, every value a string (`authorizer.claims` of a REST proxy event).
pub type Claims = BTreeMap<String, String>;

/// Why a request is refused with 401. The text is logged; the client only sees `Unauthorized`.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("no token in the Authorization header")]
    MissingToken,
    #[error("the token header does not parse: {0}")]
    MalformedHeader(#[source] jsonwebtoken::errors::Error),
    #[error("the token is signed with {0:?}, not RS256")]
    WrongAlgorithm(Algorithm),
    #[error("the token names no key id")]
    NoKeyId,
    #[error("the key {0} is not in the user pool's JWKS")]
    UnknownKey(String),
    #[error("the token is rejected: {0}")]
    Rejected(#[source] jsonwebtoken::errors::Error),
    #[error("the token is not of the kind this API takes (token_use {0:?})")]
    NotAnIdToken(Option<String>),
}

#[derive(Debug, thiserror::Error)]
pub enum JwksError {
    #[error("cannot fetch the JWKS from {url}: {}", with_causes(.source))]
    Fetch { url: String, source: reqwest::Error },
    #[error("the JWKS at {url} holds no RSA signing key")]
    NoKeys { url: String },
}

/// How long after a refetch of the JWKS another one may be made for a token naming an unknown
/// key id. Anyone can send tokens with made-up key ids, and without a limit each of them would
/// make one request to Cognito's JWKS endpoint; with it a flood of forged tokens costs at most one
/// request per interval. Cognito rotates its keys rarely, so a genuinely new key is still picked
/// up by the first token that names it, unless a refetch was made less than this long before; it
/// is then picked up by the first token that names it once the interval has passed.
pub const JWKS_REFETCH_INTERVAL: Duration = Duration::from_secs(30);

/// The time source of the refetch limit: the monotonic system clock, or in tests one they move.
#[derive(Clone)]
struct Clock(Arc<dyn Fn() -> Instant + Send + Sync>);

impl Clock {
    fn system() -> Self {
        Self(Arc::new(Instant::now))
    }

    fn now(&self) -> Instant {
        (self.0)()
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Clock")
    }
}

/// The user pool's signing keys by key id, fetched once and fetched again when a token names a
/// key that is not known yet (Cognito rotates keys rarely, but a local identity server may be
/// recreated while the gateway runs), at most once per [`JWKS_REFETCH_INTERVAL`].
#[derive(Debug)]
pub struct Jwks {
    url: String,
    client: reqwest::Client,
    keys: RwLock<HashMap<String, Arc<DecodingKey>>>,
    /// When the last refetch started (`None` before the first). Held during a refetch, so only
    /// one is in flight and the requests that wait for it see its keys.
    last_refetch: Mutex<Option<Instant>>,
    clock: Clock,
}

impl Jwks {
    /// Fetches the keys, retrying for up to `wait`: the identity server may still be starting.
    pub async fn fetch(
        url: &str,
        client: reqwest::Client,
        wait: Duration,
    ) -> Result<Self, JwksError> {
        let deadline = Instant::now() + wait;
        let retry_every = Duration::from_millis(500);
        let mut warned = false;
        let keys = loop {
            match fetch_keys(&client, url).await {
                Ok(keys) => break keys,
                Err(error) if Instant::now() + retry_every < deadline => {
                    if !warned {
                        tracing::warn!(%error, "JWKS not available yet; retrying");
                        warned = true;
                    }
                    tokio::time::sleep(retry_every).await;
                }
                Err(error) => return Err(error),
            }
        };
        Ok(Self::with_keys(url, client, keys, Clock::system()))
    }

    fn with_keys(
        url: &str,
        client: reqwest::Client,
        keys: HashMap<String, Arc<DecodingKey>>,
        clock: Clock,
    ) -> Self {
        Self {
            url: url.to_owned(),
            client,
            keys: RwLock::new(keys),
            last_refetch: Mutex::new(None),
            clock,
        }
    }

    /// The key named `kid`, refetching the JWKS if it is not known and the last refetch was at
    /// least [`JWKS_REFETCH_INTERVAL`] ago.
    async fn key(&self, kid: &str) -> Option<Arc<DecodingKey>> {
        if let Some(key) = self.keys.read().await.get(kid) {
            return Some(key.clone());
        }
        // One refetch at a time; a request that waited may find the key already loaded.
        let mut last_refetch = self.last_refetch.lock().await;
        if let Some(key) = self.keys.read().await.get(kid) {
            return Some(key.clone());
        }
        let now = self.clock.now();
        if let Some(last) = *last_refetch
            && now.saturating_duration_since(last) < JWKS_REFETCH_INTERVAL
        {
            tracing::debug!(kid, "unknown key id; the JWKS was refetched too recently");
            return None;
        }
        // A failed refetch counts too: it is a request to the identity server all the same.
        *last_refetch = Some(now);
        match fetch_keys(&self.client, &self.url).await {
            Ok(keys) => {
                let key = keys.get(kid).cloned();
                *self.keys.write().await = keys;
                key
            }
            Err(error) => {
                tracing::warn!(%error, "cannot refetch the JWKS");
                None
            }
        }
    }
}

async fn fetch_keys(
    client: &reqwest::Client,
    url: &str,
) -> Result<HashMap<String, Arc<DecodingKey>>, JwksError> {
    let fetch_error = |source| JwksError::Fetch {
        url: url.to_owned(),
        source,
    };
    let set: JwkSet = client
        .get(url)
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(fetch_error)?
        .json()
        .await
        .map_err(fetch_error)?;
    let keys = rsa_signing_keys(&set);
    if keys.is_empty() {
        return Err(JwksError::NoKeys {
            url: url.to_owned(),
        });
    }
    Ok(keys)
}

/// The RS256 keys of a JWKS by key id; keys of other types or algorithms cannot sign a token
/// this authorizer accepts.
fn rsa_signing_keys(set: &JwkSet) -> HashMap<String, Arc<DecodingKey>> {
    set.keys
        .iter()
        .filter(|jwk| matches!(jwk.algorithm, AlgorithmParameters::RSA(_)))
        .filter(|jwk| matches!(jwk.common.key_algorithm, None | Some(KeyAlgorithm::RS256)))
        .filter_map(|jwk| {
            let kid = jwk.common.key_id.clone()?;
            let key = DecodingKey::from_jwk(jwk).ok()?;
            Some((kid, Arc::new(key)))
        })
        .collect()
}

/// Verifies tokens the way API Gateway's `COGNITO_USER_POOLS` authorizer does: ID tokens for a
/// method without OAuth scopes, access tokens carrying one of the method's scopes otherwise.
#[derive(Debug)]
pub struct Authorizer {
    jwks: Jwks,
    validation: Validation,
    token_use: &'static str,
}

impl Authorizer {
    /// ID tokens of the app client `audience`.
    pub fn new(jwks: Jwks, issuer: &str, audience: &str) -> Self {
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        validation.leeway = 0;
        Self {
            jwks,
            validation,
            token_use: "id",
        }
    }

    /// Access tokens (no `aud`: the scopes decide, see [`Authorizer::allows`]).
    pub fn for_access_tokens(jwks: Jwks, issuer: &str) -> Self {
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_issuer(&[issuer]);
        validation.validate_aud = false;
        validation.set_required_spec_claims(&["exp", "iss"]);
        validation.leeway = 0;
        Self {
            jwks,
            validation,
            token_use: "access",
        }
    }

    /// Whether verified `claims` may call a method that requires one of `scopes`: for ID tokens
    /// always (their methods have none); for access tokens, one of the token's scopes must be
    /// one of the method's, and a method with none takes no access token.
    pub fn allows(&self, claims: &Claims, scopes: &[String]) -> bool {
        if self.token_use == "id" {
            return true;
        }
        let granted = claims.get("scope").map(String::as_str).unwrap_or("");
        granted
            .split_whitespace()
            .any(|scope| scopes.iter().any(|needed| needed == scope))
    }

    /// Checks the `Authorization` header value (a raw JWT, or `Bearer <jwt>`) and returns the
    /// token's claims as strings.
    pub async fn verify(&self, authorization: Option<&str>) -> Result<Claims, AuthError> {
        let token = authorization
            .map(bearer_token)
            .filter(|token| !token.is_empty())
            .ok_or(AuthError::MissingToken)?;
        let header = jsonwebtoken::decode_header(token).map_err(AuthError::MalformedHeader)?;
        if header.alg != Algorithm::RS256 {
            return Err(AuthError::WrongAlgorithm(header.alg));
        }
        let kid = header.kid.ok_or(AuthError::NoKeyId)?;
        let key = self
            .jwks
            .key(&kid)
            .await
            .ok_or(AuthError::UnknownKey(kid))?;
        let claims = jsonwebtoken::decode::<Map<String, Value>>(token, &key, &self.validation)
            .map_err(AuthError::Rejected)?
            .claims;
        match claims.get("token_use") {
            Some(Value::String(token_use)) if token_use == self.token_use => {
                Ok(claims_as_strings(claims))
            }
            other => Err(AuthError::NotAnIdToken(other.map(Value::to_string))),
        }
    }
}

/// The token in an `Authorization` header, with or without the `Bearer` scheme.
fn bearer_token(value: &str) -> &str {
    let value = value.trim();
    match value.strip_prefix("Bearer") {
        Some(rest) if rest.is_empty() || rest.starts_with(char::is_whitespace) => rest.trim_start(),
        _ => value,
    }
}

/// API Gateway's rendering of token claims: strings as they are, numbers and booleans as their
/// JSON text, lists joined with commas, and `exp`/`iat` as a Java `Date` in UTC
/// (`Thu Nov 26 09:26:40 UTC 2026`), which is what a Cognito authorizer really delivers.
fn claims_as_strings(claims: Map<String, Value>) -> Claims {
    claims
        .into_iter()
        .map(|(name, value)| {
            let text = match (name.as_str(), value) {
                ("exp" | "iat", Value::Number(seconds)) => seconds
                    .as_i64()
                    .and_then(java_date)
                    .unwrap_or_else(|| seconds.to_string()),
                (_, Value::Array(items)) => items
                    .into_iter()
                    .map(scalar_text)
                    .collect::<Vec<_>>()
                    .join(","),
                (_, value) => scalar_text(value),
            };
            (name, text)
        })
        .collect()
}

fn scalar_text(value: Value) -> String {
    match value {
        Value::String(text) => text,
        other => other.to_string(),
    }
}

fn java_date(seconds: i64) -> Option<String> {
    let description = time::format_description::parse_borrowed::<2>(
        "[weekday repr:short] [month repr:short] [day] [hour]:[minute]:[second] UTC [year]",
    )
    .ok()?;
    OffsetDateTime::from_unix_timestamp(seconds)
        .ok()?
        .format(&description)
        .ok()
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use jsonwebtoken::jwk::Jwk;
    use jsonwebtoken::{EncodingKey, Header};
    use serde_json::json;

    use super::*;

    const ISSUER: &str = "http://127.0.0.1:9229/local_pool";
    const AUDIENCE: &str = "local-client";
    const KID: &str = "test-key";
    const SIGNING_KEY: &[u8] = include_bytes!("../tests/fixtures/signing-key.pem");
    const OTHER_KEY: &[u8] = include_bytes!("../tests/fixtures/other-key.pem");

    fn now() -> u64 {
        jsonwebtoken::get_current_timestamp()
    }

    fn id_claims() -> Value {
        json!({
            "sub": "0a000000-0000-4000-8000-00000000a0ad",
            "email_verified": true,
            "iss": ISSUER,
            "cognito:username": "alice",
            "cognito:groups": ["platform-admin", "ops"],
            "aud": AUDIENCE,
            "token_use": "id",
            "auth_time": 1795600000,
            "exp": now() + 3600,
            "iat": now(),
            "email": "alice@acme.example",
            "tenant_id": "01JB8Z4K2M6Q9R3T5V7W9XAAAA",
            "tenant_role": "admin",
            "tenant_tier": "basic",
        })
    }

    fn sign_with(pem: &[u8], kid: &str, claims: &Value) -> String {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(kid.to_owned());
        let key = EncodingKey::from_rsa_pem(pem).unwrap();
        jsonwebtoken::encode(&header, claims, &key).unwrap()
    }

    fn sign(claims: &Value) -> String {
        sign_with(SIGNING_KEY, KID, claims)
    }

    fn public_jwk(pem: &[u8], kid: &str) -> Jwk {
        let key = EncodingKey::from_rsa_pem(pem).unwrap();
        let mut jwk = Jwk::from_encoding_key(&key, Algorithm::RS256).unwrap();
        jwk.common.key_id = Some(kid.to_owned());
        jwk
    }

    /// The JWKS of the test signing key, as a user pool publishes it.
    fn jwks_json() -> Value {
        serde_json::to_value(JwkSet {
            keys: vec![public_jwk(SIGNING_KEY, KID)],
        })
        .unwrap()
    }

    fn authorizer() -> Authorizer {
        let set: JwkSet = serde_json::from_value(jwks_json()).unwrap();
        let jwks = Jwks::with_keys(
            "http://127.0.0.1:9/unused",
            reqwest::Client::new(),
            rsa_signing_keys(&set),
            Clock::system(),
        );
        Authorizer::new(jwks, ISSUER, AUDIENCE)
    }

    fn with(changes: Value) -> Value {
        let mut claims = id_claims();
        for (name, value) in changes.as_object().unwrap() {
            if value.is_null() {
                claims.as_object_mut().unwrap().remove(name);
            } else {
                claims[name] = value.clone();
            }
        }
        claims
    }

    async fn verify(token: &str) -> Result<Claims, AuthError> {
        authorizer().verify(Some(token)).await
    }

    #[tokio::test]
    async fn a_valid_id_token_is_accepted_with_or_without_bearer() {
        let token = sign(&id_claims());
        let claims = verify(&token).await.unwrap();
        assert_eq!(claims["tenant_id"], "01JB8Z4K2M6Q9R3T5V7W9XAAAA");
        assert_eq!(claims["token_use"], "id");
        let bearer = verify(&format!("Bearer {token}")).await.unwrap();
        assert_eq!(bearer, claims);
    }

    #[test]
    fn claims_are_all_strings_as_api_gateway_renders_them() {
        let rendered = claims_as_strings(
            with(json!({
                "exp": 1_795_685_200,
                "iat": 1_795_681_600,
                "auth_time": 1_795_681_000,
                "origin_iat": 1_793_955_600,
                "score": 1.5,
                "address": {"country": "NL"},
                "nothing": [],
            }))
            .as_object()
            .unwrap()
            .clone(),
        );
        assert_eq!(rendered["email_verified"], "true");
        assert_eq!(rendered["auth_time"], "1795681000");
        assert_eq!(rendered["origin_iat"], "1793955600");
        assert_eq!(rendered["exp"], "Thu Nov 26 09:26:40 UTC 2026");
        assert_eq!(rendered["iat"], "Thu Nov 26 08:26:40 UTC 2026");
        let early_in_the_month = json!({"exp": 1_793_955_600});
        assert_eq!(
            claims_as_strings(early_in_the_month.as_object().unwrap().clone())["exp"],
            "Fri Nov 06 09:00:00 UTC 2026",
            "days are two digits, as in Java"
        );
        assert_eq!(rendered["cognito:groups"], "platform-admin,ops");
        assert_eq!(rendered["score"], "1.5");
        assert_eq!(rendered["address"], r#"{"country":"NL"}"#);
        assert_eq!(rendered["nothing"], "");
    }

    #[tokio::test]
    async fn a_missing_or_empty_header_is_refused() {
        let authorizer = authorizer();
        for header in [None, Some(""), Some("Bearer "), Some("   ")] {
            assert!(matches!(
                authorizer.verify(header).await,
                Err(AuthError::MissingToken)
            ));
        }
    }

    #[tokio::test]
    async fn an_unsigned_token_is_refused() {
        let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","kid":"test-key"}"#);
        let payload = URL_SAFE_NO_PAD.encode(id_claims().to_string());
        for token in [
            format!("{header}.{payload}."),
            format!("{header}.{payload}"),
        ] {
            assert!(matches!(
                verify(&token).await,
                Err(AuthError::MalformedHeader(_))
            ));
        }
    }

    #[tokio::test]
    async fn an_hmac_token_is_refused_even_when_keyed_with_the_public_key() {
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(KID.to_owned());
        let public_key = serde_json::to_vec(&jwks_json()).unwrap();
        let token = jsonwebtoken::encode(
            &header,
            &id_claims(),
            &EncodingKey::from_secret(&public_key),
        )
        .unwrap();
        assert!(matches!(
            verify(&token).await,
            Err(AuthError::WrongAlgorithm(Algorithm::HS256))
        ));
    }

    #[tokio::test]
    async fn other_rsa_algorithms_are_refused() {
        for algorithm in [Algorithm::RS512, Algorithm::PS256] {
            let mut header = Header::new(algorithm);
            header.kid = Some(KID.to_owned());
            let key = EncodingKey::from_rsa_pem(SIGNING_KEY).unwrap();
            let token = jsonwebtoken::encode(&header, &id_claims(), &key).unwrap();
            assert!(matches!(
                verify(&token).await,
                Err(AuthError::WrongAlgorithm(_))
            ));
        }
    }

    #[tokio::test]
    async fn a_token_signed_by_another_key_is_refused() {
        let token = sign_with(OTHER_KEY, KID, &id_claims());
        assert!(matches!(verify(&token).await, Err(AuthError::Rejected(_))));
    }

    #[tokio::test]
    async fn an_expired_token_is_refused() {
        let token = sign(&with(json!({"exp": now() - 1})));
        assert!(matches!(verify(&token).await, Err(AuthError::Rejected(_))));
    }

    #[tokio::test]
    async fn a_token_of_another_pool_or_client_is_refused() {
        for changes in [
            json!({"iss": "http://127.0.0.1:9229/other_pool"}),
            json!({"aud": "other-client"}),
            json!({"iss": null}),
            json!({"aud": null}),
            json!({"exp": null}),
        ] {
            let token = sign(&with(changes.clone()));
            assert!(
                matches!(verify(&token).await, Err(AuthError::Rejected(_))),
                "{changes}"
            );
        }
    }

    #[tokio::test]
    async fn an_access_token_is_refused() {
        for token_use in [json!("access"), json!(null)] {
            let token = sign(&with(json!({"token_use": token_use})));
            assert!(matches!(
                verify(&token).await,
                Err(AuthError::NotAnIdToken(_))
            ));
        }
    }

    #[tokio::test]
    async fn an_edited_payload_is_refused() {
        let token = sign(&id_claims());
        let mut parts: Vec<&str> = token.split('.').collect();
        let edited = URL_SAFE_NO_PAD
            .encode(with(json!({"tenant_id": "01JB8Z4K2M6Q9R3T5V7W9XBBBB"})).to_string());
        parts[1] = &edited;
        assert!(matches!(
            verify(&parts.join(".")).await,
            Err(AuthError::Rejected(_))
        ));
    }

    #[tokio::test]
    async fn a_token_without_a_known_key_id_is_refused() {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = None;
        let key = EncodingKey::from_rsa_pem(SIGNING_KEY).unwrap();
        let token = jsonwebtoken::encode(&header, &id_claims(), &key).unwrap();
        assert!(matches!(verify(&token).await, Err(AuthError::NoKeyId)));
        // The refetch fails (nothing listens on the JWKS url), so the key stays unknown.
        let token = sign_with(SIGNING_KEY, "rotated", &id_claims());
        assert!(matches!(
            verify(&token).await,
            Err(AuthError::UnknownKey(_))
        ));
    }

    /// A JWKS endpoint that starts with the test key and can be given the other key later.
    async fn serve_jwks(
        keys: Arc<std::sync::Mutex<Vec<Jwk>>>,
        fetches: Arc<AtomicUsize>,
    ) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
        let app = axum::Router::new().route(
            "/jwks.json",
            axum::routing::get(move || async move {
                fetches.fetch_add(1, Ordering::SeqCst);
                let set = JwkSet {
                    keys: keys.lock().unwrap().clone(),
                };
                serde_json::to_string(&set).unwrap()
            }),
        );
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        url
    }

    #[tokio::test]
    async fn an_unknown_key_id_refetches_the_jwks_once() {
        let keys = Arc::new(std::sync::Mutex::new(vec![public_jwk(SIGNING_KEY, KID)]));
        let fetches = Arc::new(AtomicUsize::new(0));
        let url = serve_jwks(keys.clone(), fetches.clone()).await;
        let jwks = Jwks::fetch(&url, reqwest::Client::new(), Duration::ZERO)
            .await
            .unwrap();
        let authorizer = Authorizer::new(jwks, ISSUER, AUDIENCE);
        assert_eq!(fetches.load(Ordering::SeqCst), 1);

        authorizer.verify(Some(&sign(&id_claims()))).await.unwrap();
        assert_eq!(fetches.load(Ordering::SeqCst), 1, "a known key is cached");

        // The pool rotates its key: the first token signed with it refetches the JWKS.
        keys.lock().unwrap().push(public_jwk(OTHER_KEY, "rotated"));
        let rotated = sign_with(OTHER_KEY, "rotated", &id_claims());
        authorizer.verify(Some(&rotated)).await.unwrap();
        assert_eq!(
            fetches.load(Ordering::SeqCst),
            2,
            "one refetch per unknown key"
        );
        authorizer.verify(Some(&rotated)).await.unwrap();
        assert_eq!(fetches.load(Ordering::SeqCst), 2, "the new key is cached");
    }

    /// A clock that stands still until the test moves it.
    #[derive(Clone)]
    struct ManualClock(Arc<std::sync::Mutex<Instant>>);

    impl ManualClock {
        fn new() -> Self {
            Self(Arc::new(std::sync::Mutex::new(Instant::now())))
        }

        fn advance(&self, by: Duration) {
            *self.0.lock().unwrap() += by;
        }

        fn clock(&self) -> Clock {
            let now = self.0.clone();
            Clock(Arc::new(move || *now.lock().unwrap()))
        }
    }

    /// An authorizer whose JWKS comes from `url` (one fetch) and whose time is `clock`'s.
    async fn authorizer_of(url: &str, clock: &ManualClock) -> Authorizer {
        let client = reqwest::Client::new();
        let keys = fetch_keys(&client, url).await.unwrap();
        Authorizer::new(
            Jwks::with_keys(url, client, keys, clock.clock()),
            ISSUER,
            AUDIENCE,
        )
    }

    fn forged_token() -> String {
        sign_with(OTHER_KEY, &uuid::Uuid::new_v4().to_string(), &id_claims())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn forged_key_ids_do_not_multiply_jwks_fetches() {
        let keys = Arc::new(std::sync::Mutex::new(vec![public_jwk(SIGNING_KEY, KID)]));
        let fetches = Arc::new(AtomicUsize::new(0));
        let url = serve_jwks(keys, fetches.clone()).await;
        let clock = ManualClock::new();
        let authorizer = Arc::new(authorizer_of(&url, &clock).await);
        assert_eq!(fetches.load(Ordering::SeqCst), 1);

        // Concurrent tokens, each naming a key id of its own: one refetch in flight, the rest
        // wait for it and are refused.
        let mut requests = tokio::task::JoinSet::new();
        for _ in 0..64 {
            let authorizer = authorizer.clone();
            requests.spawn(async move { authorizer.verify(Some(&forged_token())).await });
        }
        let mut refused = 0;
        while let Some(result) = requests.join_next().await {
            assert!(matches!(result.unwrap(), Err(AuthError::UnknownKey(_))));
            refused += 1;
        }
        assert_eq!(refused, 64);
        assert_eq!(
            fetches.load(Ordering::SeqCst),
            2,
            "one refetch for them all"
        );

        // More of them until the interval is all but over: no further fetch.
        clock.advance(JWKS_REFETCH_INTERVAL - Duration::from_millis(1));
        for _ in 0..16 {
            assert!(matches!(
                authorizer.verify(Some(&forged_token())).await,
                Err(AuthError::UnknownKey(_))
            ));
        }
        assert_eq!(fetches.load(Ordering::SeqCst), 2);

        // Tokens signed with a key the JWKS holds are accepted meanwhile, without a fetch.
        authorizer.verify(Some(&sign(&id_claims()))).await.unwrap();
        assert_eq!(fetches.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn an_unknown_key_id_is_fetched_again_after_the_refetch_interval() {
        let keys = Arc::new(std::sync::Mutex::new(vec![public_jwk(SIGNING_KEY, KID)]));
        let fetches = Arc::new(AtomicUsize::new(0));
        let url = serve_jwks(keys.clone(), fetches.clone()).await;
        let clock = ManualClock::new();
        let authorizer = authorizer_of(&url, &clock).await;

        assert!(matches!(
            authorizer.verify(Some(&forged_token())).await,
            Err(AuthError::UnknownKey(_))
        ));
        assert_eq!(fetches.load(Ordering::SeqCst), 2);

        // The pool rotates its key within the interval: its tokens are refused until it is over.
        keys.lock().unwrap().push(public_jwk(OTHER_KEY, "rotated"));
        let rotated = sign_with(OTHER_KEY, "rotated", &id_claims());
        assert!(matches!(
            authorizer.verify(Some(&rotated)).await,
            Err(AuthError::UnknownKey(_))
        ));
        assert_eq!(fetches.load(Ordering::SeqCst), 2);

        clock.advance(JWKS_REFETCH_INTERVAL);
        authorizer.verify(Some(&rotated)).await.unwrap();
        assert_eq!(
            fetches.load(Ordering::SeqCst),
            3,
            "one refetch for the new key"
        );
        authorizer.verify(Some(&rotated)).await.unwrap();
        assert_eq!(fetches.load(Ordering::SeqCst), 3, "the new key is cached");

        // That refetch starts a new interval.
        assert!(matches!(
            authorizer.verify(Some(&forged_token())).await,
            Err(AuthError::UnknownKey(_))
        ));
        assert_eq!(fetches.load(Ordering::SeqCst), 3);
        clock.advance(JWKS_REFETCH_INTERVAL);
        assert!(matches!(
            authorizer.verify(Some(&forged_token())).await,
            Err(AuthError::UnknownKey(_))
        ));
        assert_eq!(fetches.load(Ordering::SeqCst), 4);
    }

    #[tokio::test]
    async fn a_failed_refetch_also_waits_for_the_interval() {
        // The endpoint answers, but with no key: each refetch fails (and is counted).
        let fetches = Arc::new(AtomicUsize::new(0));
        let url = serve_jwks(Arc::default(), fetches.clone()).await;
        let set: JwkSet = serde_json::from_value(jwks_json()).unwrap();
        let clock = ManualClock::new();
        let jwks = Jwks::with_keys(
            &url,
            reqwest::Client::new(),
            rsa_signing_keys(&set),
            clock.clock(),
        );
        let authorizer = Authorizer::new(jwks, ISSUER, AUDIENCE);

        for _ in 0..8 {
            assert!(matches!(
                authorizer.verify(Some(&forged_token())).await,
                Err(AuthError::UnknownKey(_))
            ));
        }
        assert_eq!(fetches.load(Ordering::SeqCst), 1);
        authorizer.verify(Some(&sign(&id_claims()))).await.unwrap();

        clock.advance(JWKS_REFETCH_INTERVAL);
        for _ in 0..8 {
            assert!(matches!(
                authorizer.verify(Some(&forged_token())).await,
                Err(AuthError::UnknownKey(_))
            ));
        }
        assert_eq!(fetches.load(Ordering::SeqCst), 2);
        authorizer
            .verify(Some(&sign(&id_claims())))
            .await
            .expect("a failed refetch keeps the keys known before");
    }

    #[tokio::test]
    async fn an_unreachable_jwks_fails_after_the_wait() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
        drop(listener);
        let result = Jwks::fetch(&url, reqwest::Client::new(), Duration::ZERO).await;
        assert!(matches!(result, Err(JwksError::Fetch { .. })));
    }
}
