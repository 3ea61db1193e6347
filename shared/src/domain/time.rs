//! Timestamps: UTC, RFC 3339 on the wire and in the store.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Serialize, Serializer};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timestamp(OffsetDateTime);

impl Timestamp {
    pub fn now() -> Self {
        Self(OffsetDateTime::now_utc())
    }

    pub fn parse(raw: &str) -> Option<Self> {
        OffsetDateTime::parse(raw, &Rfc3339).ok().map(Self)
    }

    /// The instant `millis` ms after the epoch (saturating at the far ends of the range).
    pub fn from_millis(millis: u64) -> Self {
        let nanos = i128::from(millis) * 1_000_000;
        Self(OffsetDateTime::from_unix_timestamp_nanos(nanos).unwrap_or(OffsetDateTime::UNIX_EPOCH))
    }

    /// The instant `seconds` after the epoch (before it: the epoch).
    pub fn from_unix_seconds(seconds: i64) -> Self {
        Self::from_millis((seconds.max(0) as u64).saturating_mul(1000))
    }

    pub fn unix_seconds(&self) -> i64 {
        self.0.unix_timestamp()
    }

    /// `YYYY-MM` of this instant, used for monthly usage counters.
    pub fn year_month(&self) -> String {
        format!("{:04}-{:02}", self.0.year(), u8::from(self.0.month()))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.format(&Rfc3339) {
            Ok(text) => f.write_str(&text),
            Err(_) => Err(fmt::Error),
        }
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|since| since.as_millis() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_rfc3339() {
        let now = Timestamp::now();
        assert_eq!(Timestamp::parse(&now.to_string()), Some(now));
        assert_eq!(
            Timestamp::parse("2026-02-03T04:05:06Z")
                .unwrap()
                .year_month(),
            "2026-02"
        );
        assert_eq!(
            Timestamp::from_millis(1_795_681_600_000).to_string(),
            "2026-11-26T08:26:40Z"
        );
    }
}
