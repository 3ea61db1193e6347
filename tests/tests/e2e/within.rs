//! How long a revocation takes to reach a route, measured call by call against the bound.

use super::*;

/// The longest a revocation may take to reach a route: the data APIs' cache of the tenant record.
pub(crate) const REVOCATION_BOUND: Duration = Duration::from_secs(10);

/// Calls `method path` with `token` until it answers `status` with `code`. Returns when, after
/// `since`, the first call started and the last call that was still served started (`None` if
/// the first call was refused): the promise is that no call starting later than the bound is
/// served; and whether a call succeeded (2xx). Fails after 20 s.
pub(crate) async fn last_served_after(
    stack: &Stack,
    since: Instant,
    token: &str,
    (method, path, body): (&str, &str, Option<Value>),
    (status, code): (u16, &str),
) -> (Duration, Option<Duration>, bool) {
    let first = since.elapsed();
    let mut last_served = None;
    let mut succeeded = false;
    loop {
        let started = since.elapsed();
        let reply = stack.call(Some(token), method, path, body.as_ref()).await;
        if reply.status == status && reply.body["code"] == code {
            return (first, last_served, succeeded);
        }
        succeeded |= (200..300).contains(&reply.status);
        assert!(
            reply.status < 500,
            "{method} {path} failed: {} {}",
            reply.status,
            reply.body
        );
        assert!(
            since.elapsed() < Duration::from_secs(20),
            "{method} {path} still answers {} ({}), expected {status} {code}",
            reply.status,
            reply.body
        );
        last_served = Some(started);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Asserts that every one of `calls` is refused with `status`/`code`, and that none was served
/// when it started more than the bound after `since`; prints the measured times. The calls are
/// probed concurrently, each from `since`: none is judged after another's calls refreshed a
/// cache. Returns, for each call (method, path), whether it was ever served, and whether it
/// ever succeeded (2xx).
pub(crate) async fn all_refused_within_bound(
    stack: &Stack,
    label: &str,
    since: Instant,
    token: &str,
    calls: Vec<(&str, String, Option<Value>)>,
    (status, code): (u16, &str),
) -> Vec<(String, String, bool, bool)> {
    let probes: Vec<_> = calls
        .into_iter()
        .map(|(method, path, body)| {
            let (stack, token, method, code) = (
                stack.clone(),
                token.to_owned(),
                method.to_owned(),
                code.to_owned(),
            );
            tokio::spawn(async move {
                let outcome = last_served_after(
                    &stack,
                    since,
                    &token,
                    (&method, &path, body),
                    (status, &code),
                )
                .await;
                (method, path, outcome)
            })
        })
        .collect();
    let mut outcomes = Vec::new();
    for probe in probes {
        let (method, path, (first, served, succeeded)) = probe
            .await
            .unwrap_or_else(|err| std::panic::resume_unwind(err.into_panic()));
        outcomes.push((method.clone(), path.clone(), served.is_some(), succeeded));
        match served {
            None => eprintln!(
                "{label}: {method} {path}: refused ({status} {code}) from the first call, {first:?} after the change"
            ),
            Some(served) => {
                eprintln!(
                    "{label}: {method} {path}: last served by a call that started {served:?} after the change, refused ({status} {code}) since"
                );
                assert!(
                    served <= REVOCATION_BOUND,
                    "{label}: {method} {path} was still served {served:?} after the change"
                );
            }
        }
    }
    outcomes
}
