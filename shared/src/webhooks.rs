//! Tenants' webhook endpoints: what they are, which addresses they may name, how deliveries
//! are signed, and when a failing endpoint is tried again.
//!
//! Deliveries follow the Standard Webhooks specification: headers `webhook-id` (the event's id,
//! the same at every attempt), `webhook-timestamp` (unix seconds of the attempt) and
//! `webhook-signature` (`v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">`, once per
//! signing secret: two during a rotation's overlap).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::domain::ValidationError;
use crate::domain::time::Timestamp;
use crate::events::{Event, EventType};
use crate::ids::{TenantId, UserId, WebhookId};

/// How long an endpoint that still fails is tried before it is disabled.
pub const GIVE_UP_AFTER: Duration = Duration::from_secs(24 * 60 * 60);

/// How long a receiver has to answer.
pub const TIMEOUT: Duration = Duration::from_secs(5);

/// How long the previous secret still signs after a rotation.
pub const ROTATION_OVERLAP: Duration = Duration::from_secs(24 * 60 * 60);

/// How long delivery attempts are kept for `GET /webhooks/{id}/deliveries`.
pub const ATTEMPT_RETENTION: Duration = Duration::from_secs(3 * 24 * 60 * 60);

/// The longest URL an endpoint may have.
pub const MAX_URL_BYTES: usize = 2048;

/// The waits between the attempts of a failing endpoint: the `n`th failure in a row waits the
/// `n`th (the last one repeats until [`GIVE_UP_AFTER`]).
const BACKOFF: [Duration; 8] = [
    Duration::from_secs(5),
    Duration::from_secs(15),
    Duration::from_secs(60),
    Duration::from_secs(5 * 60),
    Duration::from_secs(30 * 60),
    Duration::from_secs(2 * 60 * 60),
    Duration::from_secs(5 * 60 * 60),
    Duration::from_secs(10 * 60 * 60),
];

/// The wait after `failures` failures in a row (at least one).
pub fn backoff(failures: u32) -> Duration {
    let index = (failures.max(1) as usize - 1).min(BACKOFF.len() - 1);
    BACKOFF[index]
}

/// Which receivers an endpoint may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UrlPolicy {
    /// https, to public addresses only (deployed).
    PublicHttps,
    /// Also http, and the loopback addresses (the local stack, whose receivers run on
    /// 127.0.0.1). Private, link-local and metadata addresses stay refused.
    LoopbackHttp,
}

impl UrlPolicy {
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "public-https" => Some(Self::PublicHttps),
            "loopback-http" => Some(Self::LoopbackHttp),
            _ => None,
        }
    }

    /// Whether a receiver at `ip` may be reached.
    pub fn allows(self, ip: IpAddr) -> bool {
        let loopback_allowed = self == Self::LoopbackHttp;
        match ip {
            IpAddr::V4(v4) => v4_allowed(v4, loopback_allowed),
            IpAddr::V6(v6) => match embedded_v4(v6) {
                Some(v4) => v4_allowed(v4, loopback_allowed),
                None => v6_allowed(v6, loopback_allowed),
            },
        }
    }

    /// Checks an endpoint's URL as registered: the scheme, no credentials or fragment, and a
    /// host that is not a refused address or name. The addresses a name resolves to are checked
    /// again at every connection (see `allows`), so a name that later resolves to a private
    /// address is refused then.
    pub fn check(self, raw: &str) -> Result<url::Url, ValidationError> {
        let invalid = |message: &str| ValidationError::new("url", message);
        if raw.len() > MAX_URL_BYTES {
            return Err(invalid("must be at most 2048 bytes"));
        }
        let url = url::Url::parse(raw).map_err(|_| invalid("must be an absolute URL"))?;
        match (url.scheme(), self) {
            ("https", _) | ("http", Self::LoopbackHttp) => {}
            _ => return Err(invalid("must use https")),
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(invalid("must not carry credentials"));
        }
        if url.fragment().is_some() {
            return Err(invalid("must not have a fragment"));
        }
        let refused = || {
            invalid(
                "names an address that is not allowed (private, loopback, link-local or metadata)",
            )
        };
        match url.host() {
            None => return Err(invalid("must name a host")),
            Some(url::Host::Ipv4(ip)) if !self.allows(IpAddr::V4(ip)) => return Err(refused()),
            Some(url::Host::Ipv6(ip)) if !self.allows(IpAddr::V6(ip)) => return Err(refused()),
            Some(url::Host::Domain(name)) => {
                let name = name.trim_end_matches('.').to_ascii_lowercase();
                let local_name = name == "localhost" || name.ends_with(".localhost");
                let internal = [".internal", ".local", ".localdomain", ".home.arpa"]
                    .iter()
                    .any(|suffix| name.ends_with(suffix))
                    || !name.contains('.') && !local_name;
                if internal || local_name && self == Self::PublicHttps {
                    return Err(refused());
                }
            }
            Some(_) => {}
        }
        Ok(url)
    }
}

fn v4_allowed(ip: Ipv4Addr, loopback_allowed: bool) -> bool {
    if ip.is_loopback() {
        return loopback_allowed;
    }
    let [a, b, c, _] = ip.octets();
    let refused = ip.is_unspecified()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || a >= 240
        || a == 100 && (64..128).contains(&b)
        || a == 192 && b == 0 && c == 0
        || a == 198 && (18..20).contains(&b);
    !refused
}

fn v6_allowed(ip: Ipv6Addr, loopback_allowed: bool) -> bool {
    if ip.is_loopback() {
        return loopback_allowed;
    }
    let s = ip.segments();
    // Ranges that carry an IPv4 address some router may translate (IPv4-compatible `::/96`,
    // 6to4 `2002::/16`, the local-use NAT64 prefix `64:ff9b:1::/48`) are refused whole, whatever
    // the address inside: no public receiver needs them, and checking the embedded address
    // would depend on how each network translates it. Site-local `fec0::/10` is deprecated and
    // reaches a site's own network.
    let embeds_v4 = s[..6] == [0, 0, 0, 0, 0, 0]
        || s[0] == 0x2002
        || s[0] == 0x64 && s[1] == 0xff9b && s[2] == 1;
    let refused = ip.is_unspecified()
        || ip.is_multicast()
        || embeds_v4
        || s[0] & 0xfe00 == 0xfc00
        || s[0] & 0xffc0 == 0xfe80
        || s[0] & 0xffc0 == 0xfec0
        || s[0] == 0x2001 && s[1] == 0x0db8;
    !refused
}

/// The IPv4 address inside an IPv4-mapped or NAT64 IPv6 address.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return Some(v4);
    }
    let s = ip.segments();
    (s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0]).then(|| {
        let [a, b] = s[6].to_be_bytes();
        let [c, d] = s[7].to_be_bytes();
        Ipv4Addr::new(a, b, c, d)
    })
}

/// A signing secret, `whsec_<base64 of 32 random bytes>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SigningSecret {
    pub secret: String,
    /// Until when (ms since the epoch) a replaced secret still signs; `None` for the current one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_ms: Option<u64>,
}

impl SigningSecret {
    pub fn generate() -> Self {
        let mut bytes = [0_u8; 32];
        // The system's random source; it does not fail on the platforms Lambda runs.
        let _ = aws_lc_rs::rand::fill(&mut bytes);
        Self {
            secret: format!("whsec_{}", STANDARD.encode(bytes)),
            expires_ms: None,
        }
    }

    fn key(&self) -> hmac::Key {
        let encoded = self.secret.strip_prefix("whsec_").unwrap_or(&self.secret);
        let bytes = STANDARD.decode(encoded).unwrap_or_default();
        hmac::Key::new(hmac::HMAC_SHA256, &bytes)
    }

    /// `v1,<signature>` of one delivery.
    pub fn sign(&self, message_id: &str, timestamp: i64, body: &[u8]) -> String {
        let mut context = hmac::Context::with_key(&self.key());
        context.update(format!("{message_id}.{timestamp}.").as_bytes());
        context.update(body);
        format!("v1,{}", STANDARD.encode(context.sign().as_ref()))
    }
}

/// A tenant's webhook endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhook {
    pub id: WebhookId,
    pub tenant_id: TenantId,
    pub url: String,
    pub events: Vec<EventType>,
    pub description: Option<String>,
    pub enabled: bool,
    /// Why it is disabled.
    pub status_reason: Option<String>,
    /// The first failure of the current run of failures (ms since the epoch).
    pub failing_since: Option<u64>,
    /// Failures in a row.
    pub failures: u32,
    /// When the next attempt of a failing endpoint is due (ms since the epoch).
    pub next_attempt_ms: Option<u64>,
    /// The current secret first, then one being replaced.
    pub secrets: Vec<SigningSecret>,
    pub created_at: Timestamp,
    /// The stored record's version, as read (0 for a record written before versions): each
    /// writer's update is conditioned on it (see [`WebhookPart`]).
    pub version: u64,
    /// The admin who registered it (`None` for an endpoint registered before this was kept).
    pub created_by: Option<UserId>,
    /// The admin who set its current secret by a rotation (`None`: the creator's secret).
    pub secret_by: Option<UserId>,
}

/// The parts of an endpoint's record, each written only by the writers it belongs to, and each
/// write conditioned on the version its writer read. A writer that read before another's write
/// reads again and redoes its own change on what is there now: a rotation or a disable is never
/// undone by a deliverer that read the record earlier, and the delivery lease (attributes of
/// their own, which no part includes) survives every write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookPart {
    /// Events, description, enabled and why not: an admin's change, or the deliverer giving up.
    Settings,
    /// The signing secrets, and who set the current one: a rotation.
    Secrets,
    /// Failures in a row, since when, the next attempt and the endpoint's place in the retry
    /// index: the deliverer, and an admin who enables or disables the endpoint.
    Delivery,
}

impl Webhook {
    pub fn new(
        tenant_id: TenantId,
        url: String,
        events: Vec<EventType>,
        description: Option<String>,
        created_by: UserId,
    ) -> Self {
        Self {
            id: WebhookId::generate(),
            tenant_id,
            url,
            events,
            description,
            enabled: true,
            status_reason: None,
            failing_since: None,
            failures: 0,
            next_attempt_ms: None,
            secrets: vec![SigningSecret::generate()],
            created_at: Timestamp::now(),
            version: 1,
            created_by: Some(created_by),
            secret_by: None,
        }
    }

    /// Who knows the current secret: the admin who rotated it last, or else its creator.
    pub fn secret_holder(&self) -> Option<&UserId> {
        self.secret_by.as_ref().or(self.created_by.as_ref())
    }

    /// Whether events of `kind` go to this endpoint.
    pub fn wants(&self, kind: EventType) -> bool {
        self.enabled && self.events.contains(&kind)
    }

    /// The `webhook-signature` header of one delivery: a signature per secret still valid.
    pub fn signature(&self, message_id: &str, timestamp: i64, body: &[u8], now_ms: u64) -> String {
        self.secrets
            .iter()
            .filter(|secret| secret.expires_ms.is_none_or(|until| until > now_ms))
            .map(|secret| secret.sign(message_id, timestamp, body))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// A new current secret; the previous one signs too for [`ROTATION_OVERLAP`].
    pub fn rotate(&mut self, now_ms: u64) -> (&SigningSecret, u64) {
        let until = now_ms + ROTATION_OVERLAP.as_millis() as u64;
        let mut previous = self.secrets.first().cloned();
        if let Some(previous) = previous.as_mut() {
            previous.expires_ms = Some(until);
        }
        self.secrets = std::iter::once(SigningSecret::generate())
            .chain(previous)
            .collect();
        (&self.secrets[0], until)
    }

    /// The endpoint as the API shows it (never its secrets). `orphaned`: whoever knows its
    /// current secret (see [`Webhook::secret_holder`]) is no longer a member of the organization.
    pub fn view(&self, orphaned: bool) -> Value {
        json!({
            "id": self.id,
            "url": self.url,
            "events": self.events,
            "description": self.description,
            "status": if self.enabled { "enabled" } else { "disabled" },
            "status_reason": self.status_reason,
            "failing_since": self.failing_since.map(|ms| Timestamp::from_millis(ms).to_string()),
            "created_at": self.created_at,
            "created_by": self.created_by,
            "orphaned": orphaned,
        })
    }
}

/// An event waiting for delivery to one endpoint, in the order of `order`.
#[derive(Debug, Clone, PartialEq)]
pub struct Pending {
    pub webhook: WebhookId,
    pub order: String,
    pub event: Event,
}

/// What an attempt came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Delivered,
    Failed,
}

/// One delivery attempt, as `GET /webhooks/{id}/deliveries` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    pub id: String,
    pub event_id: String,
    pub event_type: EventType,
    pub attempted_at: String,
    pub outcome: Outcome,
    pub response_status: Option<u16>,
    pub error: Option<String>,
    pub duration_ms: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn admin() -> UserId {
        UserId::parse("3f1c1e4a-9c3b-4e0b-9f49-0b4c8c1e2d3a")
            .unwrap_or_else(|_| panic!("a user id"))
    }

    #[test]
    fn the_secrets_holder_is_who_rotated_it_last_else_the_creator() {
        let mut webhook = Webhook::new(
            TenantId::generate(),
            "https://hooks.example.com/".to_owned(),
            vec![EventType::OrderCreated],
            None,
            admin(),
        );
        assert_eq!(webhook.secret_holder(), Some(&admin()));
        let other = UserId::parse("4f1c1e4a-9c3b-4e0b-9f49-0b4c8c1e2d3a")
            .unwrap_or_else(|_| panic!("a user id"));
        webhook.secret_by = Some(other.clone());
        assert_eq!(webhook.secret_holder(), Some(&other));
        let view = webhook.view(true);
        assert_eq!(
            (&view["created_by"], &view["orphaned"]),
            (&json!(admin()), &json!(true))
        );
    }

    #[test]
    fn backoff_grows_then_stays_at_ten_hours() {
        assert_eq!(backoff(1), Duration::from_secs(5));
        assert_eq!(backoff(2), Duration::from_secs(15));
        assert_eq!(backoff(8), Duration::from_secs(36_000));
        assert_eq!(backoff(50), Duration::from_secs(36_000));
        assert_eq!(backoff(0), Duration::from_secs(5));
    }

    #[test]
    fn deployed_endpoints_are_https_to_public_hosts() {
        let policy = UrlPolicy::PublicHttps;
        assert!(
            policy
                .check("https://hooks.example.com/tenantry?x=1")
                .is_ok()
        );
        assert!(policy.check("https://203.0.114.10:8443/in").is_ok());
        for refused in [
            "http://hooks.example.com/",
            "https://user:pw@hooks.example.com/",
            "https://hooks.example.com/#frag",
            "https://localhost/",
            "https://127.0.0.1/",
            "https://10.1.2.3/",
            "https://172.16.0.1/",
            "https://192.168.1.1/",
            "https://169.254.169.254/latest/meta-data/",
            "https://100.64.0.1/",
            "https://0.0.0.0/",
            "https://[::1]/",
            "https://[fd00:ec2::254]/",
            "https://[fe80::1]/",
            "https://[::ffff:127.0.0.1]/",
            "https://[::ffff:169.254.169.254]/",
            "https://[64:ff9b::a9fe:a9fe]/",
            "https://metadata.google.internal/",
            "https://printer.local/",
            "https://intranet/",
            "ftp://hooks.example.com/",
            "not a url",
        ] {
            assert!(policy.check(refused).is_err(), "{refused} was accepted");
        }
        assert!(
            policy
                .check(&format!("https://a.example/{}", "x".repeat(2100)))
                .is_err()
        );
    }

    /// IPv6 forms that carry an IPv4 address or reach a site's own network: the deprecated
    /// IPv4-compatible `::a.b.c.d`, 6to4 (`2002::/16`), the local-use NAT64 prefix
    /// (`64:ff9b:1::/48`) and the deprecated site-local `fec0::/10`, under both policies.
    #[test]
    fn ipv6_forms_that_embed_ipv4_or_are_site_local_are_refused() {
        for policy in [UrlPolicy::PublicHttps, UrlPolicy::LoopbackHttp] {
            for refused in [
                "::127.0.0.1",
                "::10.0.0.1",
                "::a9fe:a9fe",
                "::8.8.8.8",
                "2002:a9fe:a9fe::1",
                "2002:808:808::1",
                "64:ff9b:1::a9fe:a9fe",
                "64:ff9b:1:ffff::1",
                "fec0::1",
                "feff:ffff::1",
            ] {
                let ip: Ipv6Addr = refused
                    .parse()
                    .unwrap_or_else(|_| panic!("{refused} is an address"));
                assert!(
                    !policy.allows(IpAddr::V6(ip)),
                    "{policy:?} allows {refused}"
                );
                let url = format!("https://[{refused}]/hook");
                assert!(policy.check(&url).is_err(), "{policy:?} accepted {url}");
            }
        }
        // Neighbours of those ranges are ordinary public addresses.
        for allowed in ["2001:4860:4860::8888", "2003::1", "64:ff9b:2::1"] {
            let ip: Ipv6Addr = allowed
                .parse()
                .unwrap_or_else(|_| panic!("{allowed} is an address"));
            assert!(UrlPolicy::PublicHttps.allows(IpAddr::V6(ip)), "{allowed}");
        }
    }

    #[test]
    fn the_local_stack_also_allows_loopback_http_but_nothing_private() {
        let policy = UrlPolicy::LoopbackHttp;
        assert!(policy.check("http://127.0.0.1:8123/hook").is_ok());
        assert!(policy.check("http://localhost:8123/hook").is_ok());
        assert!(policy.check("http://[::1]:8123/hook").is_ok());
        for refused in [
            "http://10.0.0.1/",
            "http://169.254.169.254/",
            "http://192.168.0.10/",
        ] {
            assert!(policy.check(refused).is_err(), "{refused} was accepted");
        }
        assert!(
            !UrlPolicy::PublicHttps.allows(
                "127.0.0.1"
                    .parse()
                    .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST))
            )
        );
    }

    /// The example of the Standard Webhooks specification's reference implementations.
    #[test]
    fn signatures_match_the_specification() {
        let secret = SigningSecret {
            secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_owned(),
            expires_ms: None,
        };
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(
            secret.sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1_614_265_330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn a_rotation_signs_with_both_secrets_until_the_overlap_ends() {
        let mut webhook = Webhook::new(
            TenantId::generate(),
            "https://hooks.example.com/".to_owned(),
            vec![EventType::ProductCreated],
            None,
            admin(),
        );
        let first = webhook.secrets[0].clone();
        let (second, until) = webhook.rotate(1_000);
        assert_ne!(second.secret, first.secret);
        assert_eq!(until, 1_000 + ROTATION_OVERLAP.as_millis() as u64);
        let during = webhook.signature("msg", 1, b"{}", 2_000);
        assert_eq!(during.split(' ').count(), 2);
        assert!(during.contains(&first.sign("msg", 1, b"{}")));
        let after = webhook.signature("msg", 1, b"{}", until + 1);
        assert_eq!(after, webhook.secrets[0].sign("msg", 1, b"{}"));
        // A second rotation forgets the first secret.
        webhook.rotate(3_000);
        assert_eq!(webhook.secrets.len(), 2);
        assert!(webhook.secrets.iter().all(|s| s.secret != first.secret));
    }

    #[test]
    fn secrets_are_random_and_never_shown() {
        assert_ne!(SigningSecret::generate(), SigningSecret::generate());
        let webhook = Webhook::new(
            TenantId::generate(),
            "https://hooks.example.com/".to_owned(),
            vec![EventType::OrderCreated],
            None,
            admin(),
        );
        let view = webhook.view(false).to_string();
        assert!(!view.contains("whsec_"), "{view}");
        assert!(webhook.wants(EventType::OrderCreated));
        assert!(!webhook.wants(EventType::ProductCreated));
    }
}
