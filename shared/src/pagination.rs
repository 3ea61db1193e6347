//! Opaque cursors and the newest-first merge of sharded collections.
//!
//! A cursor names the tenant and the collection it was issued for and, per shard, where the
//! next page starts. The partition to read is always rebuilt from the caller's
//! [`TenantContext`](crate::context::TenantContext), never from the cursor, and a cursor issued to
//! another tenant (or for another collection) is refused as invalid: replaying tenant A's cursor
//! as tenant B can at most page through B's own items, and in practice is a 400.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use crate::ids::TenantId;

pub const DEFAULT_LIMIT: usize = 20;
pub const MAX_LIMIT: usize = 100;

/// A cursor that is malformed, or belongs to another tenant or collection.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the cursor is not valid for this request")]
pub struct InvalidCursor;

/// Where one shard's next page starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Position {
    /// From the newest item.
    Start,
    /// Items older than this sort key.
    Before(String),
    /// Nothing left.
    Done,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub tenant: TenantId,
    pub collection: String,
    pub positions: Vec<Position>,
}

#[derive(Serialize, Deserialize)]
struct Wire {
    t: String,
    c: String,
    /// `null`: done; `""`: start; otherwise the sort key to continue before.
    p: Vec<Option<String>>,
}

impl Cursor {
    pub fn start(tenant: TenantId, collection: &str, shards: usize) -> Self {
        Self {
            tenant,
            collection: collection.to_owned(),
            positions: vec![Position::Start; shards],
        }
    }

    pub fn is_done(&self) -> bool {
        self.positions.iter().all(|p| *p == Position::Done)
    }

    pub fn encode(&self) -> String {
        let wire = Wire {
            t: self.tenant.to_string(),
            c: self.collection.clone(),
            p: self
                .positions
                .iter()
                .map(|p| match p {
                    Position::Start => Some(String::new()),
                    Position::Before(sk) => Some(sk.clone()),
                    Position::Done => None,
                })
                .collect(),
        };
        // Serializing a struct of strings cannot fail.
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&wire).unwrap_or_default())
    }

    /// Decodes a cursor and checks that it was issued to `tenant` for `collection` with `shards`
    /// positions, each a valid sort key according to `valid_sort_key`.
    pub fn decode(
        raw: &str,
        tenant: &TenantId,
        collection: &str,
        shards: usize,
        valid_sort_key: impl Fn(&str) -> bool,
    ) -> Result<Self, InvalidCursor> {
        if raw.len() > 2048 {
            return Err(InvalidCursor);
        }
        let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| InvalidCursor)?;
        let wire: Wire = serde_json::from_slice(&bytes).map_err(|_| InvalidCursor)?;
        let issued_to = TenantId::parse(&wire.t).map_err(|_| InvalidCursor)?;
        if issued_to != *tenant || wire.c != collection || wire.p.len() != shards {
            return Err(InvalidCursor);
        }
        let positions = wire
            .p
            .into_iter()
            .map(|p| match p {
                None => Ok(Position::Done),
                Some(sk) if sk.is_empty() => Ok(Position::Start),
                Some(sk) if valid_sort_key(&sk) => Ok(Position::Before(sk)),
                Some(_) => Err(InvalidCursor),
            })
            .collect::<Result<Vec<_>, _>>()?;
        let cursor = Self {
            tenant: issued_to,
            collection: wire.c,
            positions,
        };
        if cursor.is_done() {
            return Err(InvalidCursor);
        }
        Ok(cursor)
    }
}

/// A page of items and the cursor for the next one, if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<Cursor>,
}

/// What one shard's query returned: items newest first with their sort keys, and whether the
/// query stopped before the end of the shard.
#[derive(Debug)]
pub struct ShardPage<T> {
    pub items: Vec<(String, T)>,
    pub more: bool,
}

/// Merges per-shard pages (each newest first, sort keys descending) into the newest `limit`
/// items overall, and works out where each shard continues.
///
/// `pages[i]` is `None` for a shard that was not queried because it was already done.
pub fn merge_newest_first<T>(
    cursor: Cursor,
    pages: Vec<Option<ShardPage<T>>>,
    limit: usize,
) -> Page<T> {
    let mut tagged: Vec<(String, usize, T)> = Vec::new();
    let mut fetched = vec![0usize; pages.len()];
    let mut more = vec![false; pages.len()];
    for (shard, page) in pages.into_iter().enumerate() {
        if let Some(page) = page {
            fetched[shard] = page.items.len();
            more[shard] = page.more;
            tagged.extend(page.items.into_iter().map(|(sk, item)| (sk, shard, item)));
        }
    }
    tagged.sort_by(|a, b| b.0.cmp(&a.0));
    tagged.truncate(limit);

    let mut positions = cursor.positions;
    let mut taken = vec![0usize; positions.len()];
    for (sk, shard, _) in &tagged {
        taken[*shard] += 1;
        positions[*shard] = Position::Before(sk.clone());
    }
    for shard in 0..positions.len() {
        if positions[shard] == Position::Done {
            continue;
        }
        let exhausted = taken[shard] == fetched[shard] && !more[shard];
        if exhausted {
            positions[shard] = Position::Done;
        }
    }
    let next = Cursor {
        tenant: cursor.tenant,
        collection: cursor.collection,
        positions,
    };
    Page {
        items: tagged.into_iter().map(|(_, _, item)| item).collect(),
        next: (!next.is_done()).then_some(next),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(sks: &[&str], more: bool) -> Option<ShardPage<String>> {
        Some(ShardPage {
            items: sks
                .iter()
                .map(|sk| (sk.to_string(), sk.to_string()))
                .collect(),
            more,
        })
    }

    #[test]
    fn cursors_round_trip_and_are_bound_to_tenant_and_collection() {
        let tenant = TenantId::generate();
        let mut cursor = Cursor::start(tenant, "products", 2);
        cursor.positions[1] = Position::Before("B".into());
        let raw = cursor.encode();
        assert_eq!(
            Cursor::decode(&raw, &tenant, "products", 2, |_| true),
            Ok(cursor)
        );
        assert_eq!(
            Cursor::decode(&raw, &TenantId::generate(), "products", 2, |_| true),
            Err(InvalidCursor)
        );
        assert_eq!(
            Cursor::decode(&raw, &tenant, "orders", 2, |_| true),
            Err(InvalidCursor)
        );
        assert_eq!(
            Cursor::decode(&raw, &tenant, "products", 4, |_| true),
            Err(InvalidCursor)
        );
        assert_eq!(
            Cursor::decode(&raw, &tenant, "products", 2, |_| false),
            Err(InvalidCursor)
        );
        assert_eq!(
            Cursor::decode("%%%", &tenant, "products", 2, |_| true),
            Err(InvalidCursor)
        );
        assert_eq!(
            Cursor::decode("e30", &tenant, "products", 2, |_| true),
            Err(InvalidCursor)
        );
    }

    #[test]
    fn merge_takes_the_newest_across_shards_and_resumes_each_shard() {
        let tenant = TenantId::generate();
        let cursor = Cursor::start(tenant, "x", 3);
        let merged = merge_newest_first(
            cursor,
            vec![
                page(&["9", "5", "1"], false),
                page(&["8", "7"], true),
                page(&[], false),
            ],
            3,
        );
        assert_eq!(merged.items, vec!["9", "8", "7"]);
        let next = merged.next.unwrap();
        assert_eq!(
            next.positions,
            vec![
                Position::Before("9".into()),
                Position::Before("7".into()),
                Position::Done
            ]
        );
    }

    #[test]
    fn the_last_page_has_no_cursor() {
        let tenant = TenantId::generate();
        let merged = merge_newest_first(
            Cursor::start(tenant, "x", 2),
            vec![page(&["3"], false), page(&["2"], false)],
            5,
        );
        assert_eq!(merged.items, vec!["3", "2"]);
        assert_eq!(merged.next, None);
    }

    #[test]
    fn a_shard_with_nothing_taken_keeps_its_position() {
        let tenant = TenantId::generate();
        let mut cursor = Cursor::start(tenant, "x", 2);
        cursor.positions[1] = Position::Before("5".into());
        let merged = merge_newest_first(
            cursor,
            vec![page(&["9", "8"], true), page(&["4"], false)],
            2,
        );
        assert_eq!(merged.items, vec!["9", "8"]);
        assert_eq!(
            merged.next.unwrap().positions,
            vec![Position::Before("8".into()), Position::Before("5".into())]
        );
    }
}
