//! Every DynamoDB key string is built here and nowhere else.
//!
//! # Layout of a data table (pooled, or a premium tenant's silo: the same layout)
//!
//! | item | `pk` | `sk` |
//! | --- | --- | --- |
//! | product | `<tenant>#PRODUCT#<shard>` | `<product id>` |
//! | SKU claim | `<tenant>#SKU#<shard>` | `<SKU>` |
//! | order | `<tenant>#ORDER#<shard>` | `<order id>` |
//! | counters | `<tenant>#COUNTER` | `PRODUCTS`, `ORDERS#<YYYY-MM>` |
//!
//! Every partition key starts with the tenant id and `#`. Ids are ULIDs (Crockford base32), SKUs
//! are `A-Z0-9._-`, so `#` can occur in neither and `<tenant>#` is an exact prefix: IAM's
//! `dynamodb:LeadingKeys` condition `"<tenant>#*"` matches this tenant's items and no other's.
//!
//! # Why shards
//!
//! A partition key value is served by one DynamoDB partition (about 1,000 writes and 3,000
//! reads a second) and, because ids sort by time, new items would always land at the same end of
//! it, where adaptive capacity cannot split. So a tenant's products, orders and SKU claims are
//! spread over [`SHARDS`] partition key values each; the shard is derived from the item's own id
//! (the ULID's random bits) or from the SKU (a hash), so a point read or write still names exactly
//! one key and costs one request. Listing newest-first queries the shards in parallel and merges
//! them (see [`crate::pagination`]). The only per-tenant single key is the counter item, written
//! once per product create/delete and per order.
//!
//! The shard count is part of the stored layout: changing it needs a data migration.
//!
//! # Layout of the control table
//!
//! | item | `pk` | `sk` | `gsi1pk` / `gsi1sk` |
//! | --- | --- | --- | --- |
//! | tenant | `TENANT#<tenant>` | `TENANT` | `TENANTS` / `<tenant>` |
//! | member (the tenant's view) | `TENANT#<tenant>` | `MEMBER#<user>` | |
//! | profile (the person's view: every membership) | `USER#<user>` | `MEMBERSHIP` | |
//! | e-mail claim (address → person) | `EMAIL#<address>` | `EMAIL` | |
//! | tier migration in progress | `MIGRATION#<tenant>` | `MIGRATION` | |
//! | the tenant's account with the payment provider | `TENANT#<tenant>` | `BILLING` | `BILLING` / `DUE#<failed at>#<tenant>` while awaiting suspension, else `PAYING#<tenant>` while its subscription decides the tier |
//! | the provider's customer → its tenant | `CUSTOMER#<customer>` | `CUSTOMER` | |
//! | a webhook event already handled (expires by TTL) | `WEBHOOK#<event id>` | `EVENT` | |
//! | an e-mail waiting for another attempt (expires by TTL) | `OUTBOX#<ulid>` | `MAIL` | `OUTBOX` / `<ulid>` |
//! | a tenant's webhook endpoint | `TENANT#<tenant>` | `WEBHOOK#<webhook>` | `WEBHOOKS_FAILING` / `<next attempt>#<tenant>#<webhook>`, while failing |
//! | an event waiting for delivery to an endpoint | `ENDPOINT#<webhook>` | `PENDING#<order key>` | |
//! | a delivery attempt (expires by TTL) | `ENDPOINT#<webhook>` | `ATTEMPT#<ulid>` | |
//! | an API client (the pre-token trigger reads it) | `APICLIENT#<client id>` | `APICLIENT` | |
//! | the tenant's list of its API clients | `TENANT#<tenant>` | `APICLIENT#<client id>` | |
//!
//! The control table is the platform's own: it is reached by the triggers and the control-plane
//! functions under their own roles, never with tenant-scoped credentials. A profile is keyed by
//! the Cognito `sub`, never by e-mail: a user can change their e-mail address, not their `sub`.
//!
//! A person can belong to several organizations. "All members of this organization" is one
//! `Query` of the tenant's partition (`MEMBER#` entries); "all of my organizations" is one
//! `GetItem` of the profile, whose `orgs` map holds each membership (role, state, and copies of
//! the tenant's tier, status and MFA requirement) and whose `active` names the chosen one. So
//! the pre-token trigger still reads one item at every sign-in and refresh. The map is bounded
//! ([`crate::domain::member::MAX_MEMBERSHIPS`] entries, a few KB). A profile written when a
//! person had one organization (its fields at the top level, no map) is read as is and rewritten
//! in the new layout by the first change made to it.

use crate::domain::email::EmailAddress;
use crate::domain::text::Sku;
use crate::ids::{OrderId, ProductId, TenantId, UserId, WebhookId};

/// Separates the parts of a key. Cannot occur in any id or SKU.
pub const DELIMITER: char = '#';

/// How many partition key values one tenant's products (and orders, and SKU claims) spread over.
pub const SHARDS: u8 = 4;

/// The attribute names of the table's key.
pub const PK: &str = "pk";
pub const SK: &str = "sk";

/// A full primary key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ItemKey {
    pub pk: String,
    pub sk: String,
}

/// The prefix every partition key of `tenant` starts with.
pub fn tenant_prefix(tenant: &TenantId) -> String {
    format!("{tenant}{DELIMITER}")
}

/// The kinds of sharded collection a tenant has in a data table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Collection {
    Products,
    Skus,
    Orders,
}

impl Collection {
    pub const ALL: [Self; 3] = [Self::Products, Self::Skus, Self::Orders];

    fn tag(self) -> &'static str {
        match self {
            Self::Products => "PRODUCT",
            Self::Skus => "SKU",
            Self::Orders => "ORDER",
        }
    }
}

/// One shard of one of a tenant's collections.
pub fn partition(tenant: &TenantId, collection: Collection, shard: u8) -> String {
    format!("{tenant}{DELIMITER}{}{DELIMITER}{shard}", collection.tag())
}

fn shard_of_ulid(id: ulid::Ulid) -> u8 {
    (id.random() % u128::from(SHARDS)) as u8
}

fn shard_of_text(text: &str) -> u8 {
    // FNV-1a: stable across releases and platforms, unlike std's hasher.
    let hash = text.bytes().fold(0x811c_9dc5_u32, |hash, byte| {
        (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193)
    });
    (hash % u32::from(SHARDS)) as u8
}

pub fn product(tenant: &TenantId, id: &ProductId) -> ItemKey {
    ItemKey {
        pk: partition(tenant, Collection::Products, shard_of_ulid(id.as_ulid())),
        sk: id.to_string(),
    }
}

/// The item that makes a SKU unique within a tenant.
pub fn sku(tenant: &TenantId, sku: &Sku) -> ItemKey {
    ItemKey {
        pk: partition(tenant, Collection::Skus, shard_of_text(sku.as_str())),
        sk: sku.as_str().to_owned(),
    }
}

pub fn order(tenant: &TenantId, id: &OrderId) -> ItemKey {
    ItemKey {
        pk: partition(tenant, Collection::Orders, shard_of_ulid(id.as_ulid())),
        sk: id.to_string(),
    }
}

fn counters(tenant: &TenantId) -> String {
    format!("{tenant}{DELIMITER}COUNTER")
}

/// How many products the tenant has.
pub fn product_count(tenant: &TenantId) -> ItemKey {
    ItemKey {
        pk: counters(tenant),
        sk: "PRODUCTS".to_owned(),
    }
}

/// How many orders the tenant placed in `year_month` (`YYYY-MM`).
pub fn monthly_order_count(tenant: &TenantId, year_month: &str) -> ItemKey {
    ItemKey {
        pk: counters(tenant),
        sk: format!("ORDERS{DELIMITER}{year_month}"),
    }
}

/// Every partition key value the tenant can have in a data table: enough to find all of its
/// items with `Query` alone (offboarding and tier migration never need a `Scan`).
pub fn tenant_partitions(tenant: &TenantId) -> Vec<String> {
    let mut partitions: Vec<String> = Collection::ALL
        .into_iter()
        .flat_map(|collection| (0..SHARDS).map(move |shard| partition(tenant, collection, shard)))
        .collect();
    partitions.push(counters(tenant));
    partitions
}

/// The control table's index of all tenants (platform administration only).
pub const GSI1: &str = "gsi1";
pub const GSI1_PK: &str = "gsi1pk";
pub const GSI1_SK: &str = "gsi1sk";
pub const ALL_TENANTS: &str = "TENANTS";
/// The same index's list of the billing accounts the hourly sweep looks at (sparse): those
/// awaiting suspension (`DUE#<failed at>#<tenant>`, sorted by when their payment failed; an
/// account leaves that list once suspended or paid), then those whose subscription decides the
/// tenant's tier (`PAYING#<tenant>`).
pub const BILLING_ACCOUNTS: &str = "BILLING";

/// The index sort key of an account awaiting suspension since `failed_at` (unix seconds).
pub fn past_due_sort_key(failed_at: i64, tenant: &TenantId) -> String {
    format!("DUE{DELIMITER}{:012}{DELIMITER}{tenant}", failed_at.max(0))
}

/// Sorts after the keys of every account whose payment failed at or before `failed_at`, and
/// before every paying account's.
pub fn past_due_bound(failed_at: i64) -> String {
    format!("DUE{DELIMITER}{:012}", failed_at.saturating_add(1).max(0))
}

/// The index sort key of an account whose subscription decides its tenant's tier.
pub fn paying_sort_key(tenant: &TenantId) -> String {
    format!("PAYING{DELIMITER}{tenant}")
}

fn tenant_partition(tenant: &TenantId) -> String {
    format!("TENANT{DELIMITER}{tenant}")
}

pub fn tenant(tenant: &TenantId) -> ItemKey {
    ItemKey {
        pk: tenant_partition(tenant),
        sk: "TENANT".to_owned(),
    }
}

/// The prefix of every member entry's sort key in a tenant's partition.
pub const MEMBER_PREFIX: &str = "MEMBER#";

pub fn member(tenant: &TenantId, user: &UserId) -> ItemKey {
    ItemKey {
        pk: tenant_partition(tenant),
        sk: format!("{MEMBER_PREFIX}{user}"),
    }
}

/// The partition holding a tenant's record and its member entries.
pub fn members_partition(tenant: &TenantId) -> String {
    tenant_partition(tenant)
}

/// A person's profile: every membership and invitation they have (the sort key is the one of
/// the single membership it replaces, so a stack's existing items are upgraded in place).
pub fn profile(user: &UserId) -> ItemKey {
    ItemKey {
        pk: format!("USER{DELIMITER}{user}"),
        sk: "MEMBERSHIP".to_owned(),
    }
}

pub fn email(address: &EmailAddress) -> ItemKey {
    ItemKey {
        pk: format!("EMAIL{DELIMITER}{address}"),
        sk: "EMAIL".to_owned(),
    }
}

/// A tenant's account with the payment provider (customer, subscription, invoices).
pub fn billing(tenant: &TenantId) -> ItemKey {
    ItemKey {
        pk: tenant_partition(tenant),
        sk: "BILLING".to_owned(),
    }
}

/// Which tenant a customer of the payment provider is (events without the service's metadata).
pub fn customer(customer: &str) -> ItemKey {
    ItemKey {
        pk: format!("CUSTOMER{DELIMITER}{customer}"),
        sk: "CUSTOMER".to_owned(),
    }
}

/// The record that a webhook event was handled (its idempotency key).
pub fn webhook_event(event: &str) -> ItemKey {
    ItemKey {
        pk: format!("WEBHOOK{DELIMITER}{event}"),
        sk: "EVENT".to_owned(),
    }
}

/// An e-mail waiting for another attempt (see `crate::mail::Outbox`).
pub fn outbox(id: &str) -> ItemKey {
    ItemKey {
        pk: format!("OUTBOX{DELIMITER}{id}"),
        sk: "MAIL".to_owned(),
    }
}

/// The control index's list of held e-mails (sparse: an e-mail leaves it when sent), oldest
/// first by their ULID.
pub const HELD_MAIL: &str = "OUTBOX";

/// A tenant's webhook endpoint, in the tenant's partition.
pub fn webhook(tenant: &TenantId, webhook: &WebhookId) -> ItemKey {
    ItemKey {
        pk: tenant_partition(tenant),
        sk: format!("{WEBHOOK_PREFIX}{webhook}"),
    }
}

/// The sort-key prefix of a tenant's webhook endpoints.
pub const WEBHOOK_PREFIX: &str = "WEBHOOK#";

/// The partition of an endpoint's pending deliveries and recent attempts.
pub fn endpoint_partition(webhook: &WebhookId) -> String {
    format!("ENDPOINT{DELIMITER}{webhook}")
}

/// An event waiting for delivery to `webhook`. Pending deliveries are sent in the order of
/// their `order` key: the change stream's sequence number, zero-padded so that text order is
/// numeric order (a stream orders the changes of one item).
pub fn pending_delivery(webhook: &WebhookId, order: &str) -> ItemKey {
    ItemKey {
        pk: endpoint_partition(webhook),
        sk: format!("{PENDING_PREFIX}{order:0>40}"),
    }
}

pub const PENDING_PREFIX: &str = "PENDING#";

/// One delivery attempt, kept a few days for `GET /webhooks/{id}/deliveries`.
pub fn delivery_attempt(webhook: &WebhookId, attempt: &str) -> ItemKey {
    ItemKey {
        pk: endpoint_partition(webhook),
        sk: format!("{ATTEMPT_PREFIX}{attempt}"),
    }
}

pub const ATTEMPT_PREFIX: &str = "ATTEMPT#";

/// The control index's list of failing endpoints (sparse: an endpoint leaves it when a delivery
/// succeeds or it is disabled), by when their next attempt is due.
pub const FAILING_WEBHOOKS: &str = "WEBHOOKS_FAILING";

/// The index sort key of an endpoint whose next attempt is due at `due_ms`.
pub fn failing_webhook_sort_key(due_ms: u64, tenant: &TenantId, webhook: &WebhookId) -> String {
    format!("{due_ms:013}{DELIMITER}{tenant}{DELIMITER}{webhook}")
}

/// Sorts after the keys of every endpoint due at or before `now_ms`.
pub fn failing_webhook_bound(now_ms: u64) -> String {
    format!("{:013}", now_ms.saturating_add(1))
}

/// An API client, by its id (what a client-credentials token names).
pub fn api_client(client: &crate::api_clients::ClientId) -> ItemKey {
    ItemKey {
        pk: format!("{API_CLIENT_PREFIX}{client}"),
        sk: "APICLIENT".to_owned(),
    }
}

/// An API client in its tenant's partition (the tenant's list).
pub fn tenant_api_client(tenant: &TenantId, client: &crate::api_clients::ClientId) -> ItemKey {
    ItemKey {
        pk: tenant_partition(tenant),
        sk: format!("{API_CLIENT_PREFIX}{client}"),
    }
}

pub const API_CLIENT_PREFIX: &str = "APICLIENT#";

/// The attribute DynamoDB's time to live reads on the control table (unix seconds).
pub const TTL: &str = "ttl";

/// The state of a tenant's storage migration, while one runs.
pub fn migration(tenant: &TenantId) -> ItemKey {
    ItemKey {
        pk: format!("MIGRATION{DELIMITER}{tenant}"),
        sk: "MIGRATION".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_starts_with_the_tenant_prefix() {
        let tenant = TenantId::generate();
        let prefix = tenant_prefix(&tenant);
        let keys = [
            product(&tenant, &ProductId::generate()),
            order(&tenant, &OrderId::generate()),
            sku(&tenant, &Sku::parse("ABC").unwrap()),
            product_count(&tenant),
            monthly_order_count(&tenant, "2026-11"),
        ];
        for key in &keys {
            assert!(key.pk.starts_with(&prefix), "{key:?}");
            assert!(
                tenant_partitions(&tenant).contains(&key.pk),
                "{key:?} not enumerable"
            );
        }
    }

    #[test]
    fn ids_spread_over_every_shard() {
        let tenant = TenantId::generate();
        let used: std::collections::HashSet<String> = (0..200)
            .map(|_| product(&tenant, &ProductId::generate()).pk)
            .collect();
        assert_eq!(used.len(), usize::from(SHARDS));
    }

    #[test]
    fn the_same_id_always_maps_to_the_same_key() {
        let tenant = TenantId::generate();
        let id = OrderId::generate();
        assert_eq!(order(&tenant, &id), order(&tenant, &id));
        let sku_a = Sku::parse("tea").unwrap();
        assert_eq!(
            sku(&tenant, &sku_a),
            sku(&tenant, &Sku::parse("TEA").unwrap())
        );
    }
}
