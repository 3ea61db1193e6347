//! Revocations: for each person recently removed from an organization or demoted in it, the
//! instant it happened. A token granted before that instant must not outlive it (see
//! [`crate::authority`] for how the APIs compare them).

use std::collections::BTreeMap;
use std::time::Duration;

use super::time::now_millis;
use crate::ids::UserId;

/// For each recently removed or demoted user, when (ms since the epoch): tokens granted before
/// that are refused.
pub type Revocations = BTreeMap<UserId, u64>;

/// How long a revocation is kept: at least the ID-token lifetime set on the user pool client
/// (`IdTokenValidity` in template.yaml, 15 minutes), with room to raise it to an hour.
pub const REVOCATION_RETENTION: Duration = Duration::from_secs(60 * 60);

/// The grant stamp of a membership granted or changed now, strictly after `previous` (so a
/// demotion within the same millisecond as the grant still supersedes it).
pub fn next_grant(previous: u64) -> u64 {
    now_millis().max(previous.saturating_add(1))
}

/// The revocations that no token can still need, at `now` (ms), with their instants (a pruning
/// must not drop one that a newer revocation of the same user replaced meanwhile).
pub fn expired_revocations(revoked: &Revocations, now: u64) -> Vec<(UserId, u64)> {
    let horizon = now.saturating_sub(REVOCATION_RETENTION.as_millis() as u64);
    revoked
        .iter()
        .filter(|(_, at)| **at < horizon)
        .map(|(user, at)| (user.clone(), *at))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grants_move_forward_and_old_revocations_expire() {
        let far_future = now_millis() + 60_000;
        assert_eq!(next_grant(far_future), far_future + 1);
        assert!(next_grant(0) >= now_millis() - 1_000);
        let retention = REVOCATION_RETENTION.as_millis() as u64;
        let old = UserId::parse("3f1c1e4a-9c3b-4e0b-9f49-0b4c8c1e2d3a").unwrap();
        let recent = UserId::parse("4f1c1e4a-9c3b-4e0b-9f49-0b4c8c1e2d3a").unwrap();
        let now = 10 * retention;
        let revoked: Revocations = [(old.clone(), now - retention - 1), (recent, now - 5)]
            .into_iter()
            .collect();
        assert_eq!(
            expired_revocations(&revoked, now),
            vec![(old, now - retention - 1)]
        );
    }
}
