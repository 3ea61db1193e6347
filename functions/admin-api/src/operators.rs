//! Whether the caller is a platform operator now: the group `platform-admin` as the user pool has
//! it, not as the token says (an ID token keeps its groups for its whole lifetime).
//!
//! Writes ask the user pool every time, so a removed operator can change nothing from then on.
//! Reads ask it at most once per [`RECHECK_AFTER`] per operator and execution environment: a
//! removed operator reads nothing once that bound has passed, the same 10 s as every revocation
//! on the data routes, and browsing the tenant list costs no Cognito call per page
//! (`AdminListGroupsForUser` shares a small per-account request quota).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use shared::claims::PLATFORM_ADMIN_GROUP;
use shared::identity::{DirectoryError, UserDirectory};
use shared::ids::UserId;
use shared::tenancy::access::{Clock, RECORD_TTL};

/// How long a confirmed operator is believed for a read.
pub const RECHECK_AFTER: Duration = RECORD_TTL;

/// How fresh a confirmation a request needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    /// A write: asked of the user pool now.
    Now,
    /// A read: a confirmation at most [`RECHECK_AFTER`] old will do.
    Recent,
}

/// When each operator was last confirmed in the group, in this execution environment.
#[derive(Debug)]
pub struct Operators {
    clock: Arc<dyn Clock>,
    confirmed: Mutex<HashMap<UserId, SystemTime>>,
}

impl Operators {
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            clock,
            confirmed: Mutex::new(HashMap::new()),
        }
    }

    /// Whether `user` is in the operators' group, as fresh as `freshness` asks.
    pub async fn confirm<D: UserDirectory>(
        &self,
        directory: &D,
        user: &UserId,
        freshness: Freshness,
    ) -> Result<bool, DirectoryError> {
        let now = self.clock.now();
        if freshness == Freshness::Recent && self.confirmed_since(user, now) {
            return Ok(true);
        }
        let member = directory
            .groups_of(user)
            .await?
            .iter()
            .any(|group| group == PLATFORM_ADMIN_GROUP);
        let mut confirmed = self
            .confirmed
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if member {
            confirmed.insert(user.clone(), now);
        } else {
            confirmed.remove(user);
        }
        Ok(member)
    }

    fn confirmed_since(&self, user: &UserId, now: SystemTime) -> bool {
        self.confirmed
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(user)
            .is_some_and(|at| now.duration_since(*at).is_ok_and(|age| age < RECHECK_AFTER))
    }
}
