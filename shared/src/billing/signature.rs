//! Webhook signatures in Stripe's scheme.
//!
//! The `Stripe-Signature` header reads `t=<unix seconds>,v1=<hex>[,v1=<hex>...][,v0=<hex>]`. Each
//! `v1` is HMAC-SHA256, keyed with an endpoint secret, over `<t>.<the raw body>`; while a secret
//! is being rolled, Stripe signs with the old and the new one, so an event carries several `v1`
//! values. An event is genuine when one of them matches one of the secrets the service holds
//! (the current one, and the previous one during a rotation), and recent when `t` is within
//! [`TOLERANCE`] of now, in either direction: an old event replayed by someone who recorded it is
//! refused even with a valid signature (the event id's idempotency record covers replays within
//! the tolerance). Other schemes (`v0`) are ignored. Comparisons are in constant time.
//!
//! Why an event is refused ([`SignatureError`]) is for logs only: the client is told the same
//! thing whatever the reason, so an attacker learns nothing from trying.

use std::fmt;
use std::time::Duration;

use aws_lc_rs::{constant_time, hmac};

/// How far an event's timestamp may be from now (Stripe's default).
pub const TOLERANCE: Duration = Duration::from_secs(300);

/// A webhook endpoint's signing secret. Never printed.
#[derive(Clone)]
pub struct WebhookSecret(hmac::Key);

impl WebhookSecret {
    /// The secret as the provider shows it (`whsec_...`); the whole string is the HMAC key.
    pub fn new(secret: &str) -> Self {
        Self(hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes()))
    }
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret(..)")
    }
}

/// The secrets an event may be signed with: the current one, and the previous one while a
/// rotation is under way.
#[derive(Debug, Clone)]
pub struct WebhookSecrets {
    pub current: WebhookSecret,
    pub previous: Option<WebhookSecret>,
}

/// Why an event's signature is not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("no signature header")]
    Missing,
    #[error("the signature header does not parse")]
    Malformed,
    #[error("the event's timestamp is outside the tolerance")]
    Stale,
    #[error("no signature matches a secret")]
    Mismatch,
}

/// A key that signs an event: HMAC-SHA256 ([`WebhookSecret`]); a port so that what a check
/// costs can be counted.
pub trait Signer {
    /// The MAC of `<timestamp>.<payload>`.
    fn mac(&self, timestamp: i64, payload: &[u8]) -> hmac::Tag;
}

impl Signer for WebhookSecret {
    fn mac(&self, timestamp: i64, payload: &[u8]) -> hmac::Tag {
        // Fed in parts: the body (up to 256 KB) is never copied.
        let mut context = hmac::Context::with_key(&self.0);
        context.update(timestamp.to_string().as_bytes());
        context.update(b".");
        context.update(payload);
        context.sign()
    }
}

impl WebhookSecrets {
    /// The current secret, then the previous one.
    pub fn keys(&self) -> impl Iterator<Item = &WebhookSecret> {
        std::iter::once(&self.current).chain(self.previous.as_ref())
    }
}

/// Checks `header` (the `Stripe-Signature` value) against the raw `payload` at `now` (unix
/// seconds); returns the event's timestamp.
pub fn verify(
    header: Option<&str>,
    payload: &[u8],
    secrets: &WebhookSecrets,
    now: i64,
) -> Result<i64, SignatureError> {
    verify_with(header, payload, secrets.keys(), now)
}

/// [`verify`] with any signers.
pub fn verify_with<'a, S: Signer + 'a>(
    header: Option<&str>,
    payload: &[u8],
    keys: impl IntoIterator<Item = &'a S>,
    now: i64,
) -> Result<i64, SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let (timestamp, signatures) = parse(header)?;
    let tolerance = TOLERANCE.as_secs() as i64;
    if timestamp.abs_diff(now) > tolerance as u64 {
        return Err(SignatureError::Stale);
    }
    // The route is open to anyone: one MAC per secret, then comparisons (cheap), so a header
    // with many `v1` values costs no more than one with a single value.
    for key in keys {
        let expected = key.mac(timestamp, payload);
        if signatures.iter().any(|signature| {
            constant_time::verify_slices_are_equal(expected.as_ref(), signature).is_ok()
        }) {
            return Ok(timestamp);
        }
    }
    Err(SignatureError::Mismatch)
}

/// The timestamp and the `v1` signatures of a header. Exactly one `t`; at least one `v1`.
fn parse(header: &str) -> Result<(i64, Vec<Vec<u8>>), SignatureError> {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        let (key, value) = part
            .trim()
            .split_once('=')
            .ok_or(SignatureError::Malformed)?;
        match key {
            "t" => {
                let parsed = value
                    .parse::<i64>()
                    .map_err(|_| SignatureError::Malformed)?;
                if timestamp.replace(parsed).is_some() {
                    return Err(SignatureError::Malformed);
                }
            }
            "v1" => signatures.push(hex(value).ok_or(SignatureError::Malformed)?),
            _ => {}
        }
    }
    match (timestamp, signatures.is_empty()) {
        (Some(timestamp), false) => Ok((timestamp, signatures)),
        _ => Err(SignatureError::Malformed),
    }
}

fn hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || text.len() > 128 {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// A `Stripe-Signature` header for `payload` at `timestamp`, signed with each of `secrets` (what
/// the provider sends; for tests and the local stand-in).
#[cfg(any(test, feature = "testing"))]
pub fn sign(payload: &[u8], timestamp: i64, secrets: &[&str]) -> String {
    let mut header = format!("t={timestamp}");
    for secret in secrets {
        let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
        let mut context = hmac::Context::with_key(&key);
        context.update(timestamp.to_string().as_bytes());
        context.update(b".");
        context.update(payload);
        let tag = context.sign();
        header.push_str(",v1=");
        for byte in tag.as_ref() {
            header.push_str(&format!("{byte:02x}"));
        }
    }
    header
}

#[cfg(test)]
mod tests {
    use super::*;

    const CURRENT: &str = "whsec_current_0123456789abcdef";
    const PREVIOUS: &str = "whsec_previous_0123456789abcdef";
    const OTHER: &str = "whsec_someone_else";
    const NOW: i64 = 1_796_200_000;
    const BODY: &[u8] = br#"{"id":"evt_1","type":"invoice.paid"}"#;

    fn secrets(previous: Option<&str>) -> WebhookSecrets {
        WebhookSecrets {
            current: WebhookSecret::new(CURRENT),
            previous: previous.map(WebhookSecret::new),
        }
    }

    fn check(header: &str, body: &[u8], previous: Option<&str>) -> Result<i64, SignatureError> {
        verify(Some(header), body, &secrets(previous), NOW)
    }

    #[test]
    fn a_fresh_event_signed_with_the_current_secret_is_accepted() {
        assert_eq!(check(&sign(BODY, NOW, &[CURRENT]), BODY, None), Ok(NOW));
        // Clocks differ a little either way.
        for skew in [-300, -1, 1, 300] {
            let header = sign(BODY, NOW + skew, &[CURRENT]);
            assert_eq!(check(&header, BODY, None), Ok(NOW + skew), "{skew}");
        }
    }

    #[test]
    fn another_secret_or_a_tampered_body_is_a_mismatch() {
        assert_eq!(
            check(&sign(BODY, NOW, &[OTHER]), BODY, None),
            Err(SignatureError::Mismatch)
        );
        let tampered = br#"{"id":"evt_1","type":"invoice.paid" }"#;
        assert_eq!(
            check(&sign(BODY, NOW, &[CURRENT]), tampered, None),
            Err(SignatureError::Mismatch)
        );
        // The timestamp is signed too: moving it breaks the signature.
        let header =
            sign(BODY, NOW, &[CURRENT]).replacen(&format!("t={NOW}"), &format!("t={}", NOW + 1), 1);
        assert_eq!(check(&header, BODY, None), Err(SignatureError::Mismatch));
    }

    #[test]
    fn during_a_rotation_either_secret_signs() {
        let old = sign(BODY, NOW, &[PREVIOUS]);
        assert_eq!(check(&old, BODY, None), Err(SignatureError::Mismatch));
        assert_eq!(check(&old, BODY, Some(PREVIOUS)), Ok(NOW));
        let both = sign(BODY, NOW, &[OTHER, PREVIOUS]);
        assert_eq!(check(&both, BODY, Some(PREVIOUS)), Ok(NOW));
    }

    #[test]
    fn one_valid_signature_among_several_is_enough() {
        let header = sign(BODY, NOW, &[OTHER, CURRENT, OTHER]);
        assert_eq!(check(&header, BODY, None), Ok(NOW));
        let with_v0 = format!(
            "{},v0=6ffbb59b2300aae63f272406069a9788598b792a944a07aba816edb039989a39",
            sign(BODY, NOW, &[CURRENT])
        );
        assert_eq!(check(&with_v0, BODY, None), Ok(NOW));
    }

    #[test]
    fn stale_or_future_events_are_refused_even_when_signed() {
        for skew in [-301, -86_400, 301, 86_400] {
            let header = sign(BODY, NOW + skew, &[CURRENT]);
            assert_eq!(
                check(&header, BODY, None),
                Err(SignatureError::Stale),
                "{skew}"
            );
        }
    }

    #[test]
    fn missing_or_malformed_headers_are_refused() {
        assert_eq!(
            verify(None, BODY, &secrets(None), NOW),
            Err(SignatureError::Missing)
        );
        let valid = sign(BODY, NOW, &[CURRENT]);
        let v1 = valid.split_once(",v1=").unwrap().1;
        for header in [
            String::new(),
            "garbage".to_owned(),
            format!("t={NOW}"),
            format!("v1={v1}"),
            format!("t=soon,v1={v1}"),
            format!("t={NOW},t={NOW},v1={v1}"),
            format!("t={NOW},v1=zz{}", &v1[2..]),
            format!("t={NOW},v1={}", &v1[1..]),
            format!("t={NOW},v0={v1}"),
        ] {
            assert_eq!(
                check(&header, BODY, None),
                Err(SignatureError::Malformed),
                "{header:?}"
            );
        }
    }

    /// Counts the MACs computed: the webhook route is open to anyone, so what a forged header
    /// makes it compute must not grow with the number of `v1` values it carries.
    #[derive(Debug)]
    struct Counting<'a>(WebhookSecret, &'a std::cell::Cell<usize>);

    impl Signer for Counting<'_> {
        fn mac(&self, timestamp: i64, payload: &[u8]) -> hmac::Tag {
            self.1.set(self.1.get() + 1);
            self.0.mac(timestamp, payload)
        }
    }

    #[test]
    fn a_header_costs_one_mac_per_secret_however_many_signatures_it_carries() {
        let count = std::cell::Cell::new(0);
        let keys = [
            Counting(WebhookSecret::new(CURRENT), &count),
            Counting(WebhookSecret::new(PREVIOUS), &count),
        ];
        let forged = sign(BODY, NOW, &[OTHER; 50]);
        assert_eq!(
            verify_with(Some(&forged), BODY, &keys, NOW),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(count.get(), 2, "one MAC per secret");
        count.set(0);
        let genuine = sign(BODY, NOW, &[OTHER, OTHER, PREVIOUS]);
        assert_eq!(verify_with(Some(&genuine), BODY, &keys, NOW), Ok(NOW));
        assert_eq!(count.get(), 2);
    }

    #[test]
    fn a_secret_never_shows_in_debug_output() {
        let printed = format!("{:?}", secrets(Some(PREVIOUS)));
        assert!(!printed.contains("whsec"), "{printed}");
    }
}
