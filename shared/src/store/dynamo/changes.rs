//! From a table's change stream to events: which stored changes a tenant would care about, and
//! what they mean (see [`crate::events`]).
//!
//! A stream record carries the item's keys and its images before and after the change, in
//! DynamoDB's JSON. The images are read with the same parsers as the stores use, so an event
//! shows an object exactly as the API does. Changes that mean nothing to a tenant (SKU claims,
//! counters, revocations, a seat count) produce no event.

use std::collections::HashMap;

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine;
use serde_json::{Value, json};

use super::Item;
use super::control::{parse_member, parse_tenant};
use super::orders::parse_order;
use super::products::parse_product;
use crate::billing::Account;
use crate::billing::subscription::Standing;
use crate::domain::Tier;
use crate::domain::member::Member;
use crate::domain::tenant::TenantStatus;
use crate::domain::time::Timestamp;
use crate::events::{Event, EventType, ObjectKind, ObjectRef};
use crate::ids::TenantId;
use crate::keys::{self, DELIMITER, PK, SK};
use crate::store::StoreError;
use crate::tenancy::storage::MIGRATION_COPY;

/// What a stream record says happened to an item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    Insert,
    Modify,
    Remove,
}

/// One record of a DynamoDB stream, as Lambda delivers it.
#[derive(Debug, Clone)]
pub struct StreamRecord {
    /// Unique per record: the events' ids derive from it, so a redelivered record makes the same
    /// events.
    pub event_id: String,
    pub kind: ChangeKind,
    /// The table the change was made in (from the stream's ARN).
    pub table: String,
    /// The change's position in its shard: the changes of one item are in this order.
    pub sequence: String,
    pub at: Timestamp,
    pub keys: Item,
    pub old: Option<Item>,
    pub new: Option<Item>,
}

/// A record that cannot be read (a malformed event, not a failure to retry).
#[derive(Debug, thiserror::Error)]
#[error("unreadable stream record: {0}")]
pub struct Unreadable(pub String);

impl StreamRecord {
    /// Reads one element of a DynamoDB stream event's `Records`.
    pub fn from_lambda(record: &Value) -> Result<Self, Unreadable> {
        let text = |value: &Value, what: &str| {
            value
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| Unreadable(format!("no {what}")))
        };
        let kind = match record["eventName"].as_str() {
            Some("INSERT") => ChangeKind::Insert,
            Some("MODIFY") => ChangeKind::Modify,
            Some("REMOVE") => ChangeKind::Remove,
            other => return Err(Unreadable(format!("event name {other:?}"))),
        };
        let change = &record["dynamodb"];
        let arn = text(&record["eventSourceARN"], "eventSourceARN")?;
        let table = arn
            .split_once(":table/")
            .and_then(|(_, rest)| rest.split('/').next())
            .ok_or_else(|| Unreadable(format!("no table in {arn}")))?
            .to_owned();
        let at = change["ApproximateCreationDateTime"]
            .as_f64()
            .map_or_else(Timestamp::now, |seconds| {
                Timestamp::from_millis((seconds.max(0.0) * 1000.0) as u64)
            });
        let image = |name: &str| -> Result<Option<Item>, Unreadable> {
            match change.get(name) {
                None | Some(Value::Null) => Ok(None),
                Some(value) => image_of(value).map(Some),
            }
        };
        Ok(Self {
            event_id: text(&record["eventID"], "eventID")?,
            kind,
            table,
            sequence: text(&change["SequenceNumber"], "SequenceNumber")?,
            at,
            keys: image_of(&change["Keys"])?,
            old: image("OldImage")?,
            new: image("NewImage")?,
        })
    }

    fn key(&self, name: &str) -> &str {
        self.keys.get_s(name).unwrap_or_default()
    }

    /// The image after the change, or before it for a removal.
    fn latest(&self) -> Option<&Item> {
        self.new.as_ref().or(self.old.as_ref())
    }
}

fn image_of(value: &Value) -> Result<Item, Unreadable> {
    let map = value
        .as_object()
        .ok_or_else(|| Unreadable("an image is not an object".to_owned()))?;
    map.iter()
        .map(|(name, value)| Ok((name.clone(), attribute(value)?)))
        .collect::<Result<HashMap<_, _>, _>>()
        .map(Item)
}

/// One attribute value in DynamoDB's JSON (`{"S": "..."}`, `{"N": "1"}`, ...).
fn attribute(value: &Value) -> Result<AttributeValue, Unreadable> {
    let unreadable = || Unreadable(format!("attribute value {value}"));
    let (tag, inner) = value
        .as_object()
        .filter(|map| map.len() == 1)
        .and_then(|map| map.iter().next())
        .ok_or_else(unreadable)?;
    let strings = |inner: &Value| -> Result<Vec<String>, Unreadable> {
        inner
            .as_array()
            .ok_or_else(unreadable)?
            .iter()
            .map(|s| s.as_str().map(str::to_owned).ok_or_else(unreadable))
            .collect()
    };
    let blob = |inner: &Value| -> Result<Blob, Unreadable> {
        let text = inner.as_str().ok_or_else(unreadable)?;
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .map(Blob::new)
            .map_err(|_| unreadable())
    };
    Ok(match tag.as_str() {
        "S" => AttributeValue::S(inner.as_str().ok_or_else(unreadable)?.to_owned()),
        "N" => AttributeValue::N(inner.as_str().ok_or_else(unreadable)?.to_owned()),
        "BOOL" => AttributeValue::Bool(inner.as_bool().ok_or_else(unreadable)?),
        "NULL" => AttributeValue::Null(true),
        "B" => AttributeValue::B(blob(inner)?),
        "SS" => AttributeValue::Ss(strings(inner)?),
        "NS" => AttributeValue::Ns(strings(inner)?),
        "BS" => AttributeValue::Bs(
            inner
                .as_array()
                .ok_or_else(unreadable)?
                .iter()
                .map(blob)
                .collect::<Result<_, _>>()?,
        ),
        "L" => AttributeValue::L(
            inner
                .as_array()
                .ok_or_else(unreadable)?
                .iter()
                .map(attribute)
                .collect::<Result<_, _>>()?,
        ),
        "M" => AttributeValue::M(image_of(inner)?.0),
        _ => return Err(unreadable()),
    })
}

/// Where a change was made: a data table's changes count only if it is the tenant's live
/// storage (a tier migration's copies and purges are not changes of the tenant's data).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    Data { table: String },
    Control,
}

/// The events of one change, each with where it was made.
#[derive(Debug, Clone, PartialEq)]
pub struct Changed {
    pub tenant: TenantId,
    pub origin: Origin,
    pub events: Vec<Event>,
    /// The stream position: deliveries of one object are sent in this order.
    pub sequence: String,
    /// When the change was made (to the second, in AWS).
    pub at: Timestamp,
}

/// The events a record means; `None` when it means nothing to a tenant. `control_table` names
/// the control table; every other table holds tenant data.
pub fn interpret(
    record: &StreamRecord,
    control_table: &str,
) -> Result<Option<Changed>, StoreError> {
    let (tenant, origin, events) = if record.table == control_table {
        let Some(tenant) = record
            .key(PK)
            .strip_prefix("TENANT#")
            .and_then(|raw| TenantId::parse(raw).ok())
        else {
            return Ok(None);
        };
        let sk = record.key(SK);
        let events = if sk == "TENANT" {
            tenant_events(record)?
        } else if sk.starts_with(keys::MEMBER_PREFIX) {
            member_events(record)?
        } else if sk == "BILLING" {
            billing_events(record, &tenant)?
        } else {
            Vec::new()
        };
        (tenant, Origin::Control, events)
    } else {
        if is_migration_copy(record) {
            return Ok(None);
        }
        let pk = record.key(PK);
        let mut parts = pk.split(DELIMITER);
        let (Some(tenant), Some(collection)) = (parts.next(), parts.next()) else {
            return Ok(None);
        };
        let Ok(tenant) = TenantId::parse(tenant) else {
            return Ok(None);
        };
        let events = match collection {
            "PRODUCT" => product_events(record)?,
            "ORDER" => order_events(record)?,
            _ => Vec::new(),
        };
        let origin = Origin::Data {
            table: record.table.clone(),
        };
        (tenant, origin, events)
    };
    if events.is_empty() {
        return Ok(None);
    }
    let events = events
        .into_iter()
        .enumerate()
        .map(|(n, (kind, object, data))| {
            // One change can mean several events (a tier change and a suspension at once).
            let id = match n {
                0 => format!("evt_{}", record.event_id),
                n => format!("evt_{}_{n}", record.event_id),
            };
            Event::new(id, kind, record.at, tenant, object, data)
        })
        .collect();
    Ok(Some(Changed {
        tenant,
        origin,
        events,
        sequence: record.sequence.clone(),
        at: record.at,
    }))
}

/// Whether a data table's record is a tier migration's copy of an item into the tenant's new
/// storage (marked by the copy: [`MIGRATION_COPY`]), which is no change of the tenant's data.
/// Its new image carries the mark, and it either created the item or rewrote it at the same
/// version (a copy resumed after a crash). The table being the tenant's live storage does not
/// settle it: the new table's stream may be read only after the switch to it. A later write by
/// the API drops the mark (a whole item replaced) or moves the version on (an order's status).
fn is_migration_copy(record: &StreamRecord) -> bool {
    let Some(new) = &record.new else {
        return false;
    };
    if !new.0.contains_key(MIGRATION_COPY) {
        return false;
    }
    let version = |item: &Item| item.get_n::<u64>("version").ok();
    record
        .old
        .as_ref()
        .is_none_or(|old| version(old) == version(new))
}

type Meaning = (EventType, ObjectRef, Option<Value>);

fn object(kind: ObjectKind, id: impl ToString, version: u64) -> ObjectRef {
    ObjectRef {
        kind,
        id: id.to_string(),
        version,
    }
}

fn view<T: serde::Serialize>(value: &T) -> Option<Value> {
    serde_json::to_value(value).ok()
}

fn product_events(record: &StreamRecord) -> Result<Vec<Meaning>, StoreError> {
    let Some(item) = record.latest() else {
        return Ok(Vec::new());
    };
    let product = parse_product(item)?;
    let kind = match record.kind {
        ChangeKind::Insert => EventType::ProductCreated,
        ChangeKind::Modify => EventType::ProductUpdated,
        ChangeKind::Remove => EventType::ProductDeleted,
    };
    Ok(vec![(
        kind,
        object(ObjectKind::Product, product.id, product.version),
        view(&product),
    )])
}

fn order_events(record: &StreamRecord) -> Result<Vec<Meaning>, StoreError> {
    let Some(item) = record.latest() else {
        return Ok(Vec::new());
    };
    let order = parse_order(item)?;
    let kind = match record.kind {
        ChangeKind::Insert => EventType::OrderCreated,
        ChangeKind::Modify => {
            let before = record.old.as_ref().map(parse_order).transpose()?;
            if before.is_some_and(|before| before.status == order.status) {
                return Ok(Vec::new());
            }
            EventType::OrderStatusChanged
        }
        // Orders are never deleted but with their tenant.
        ChangeKind::Remove => return Ok(Vec::new()),
    };
    Ok(vec![(
        kind,
        object(ObjectKind::Order, order.id, order.version),
        view(&order),
    )])
}

fn tenant_events(record: &StreamRecord) -> Result<Vec<Meaning>, StoreError> {
    let (Some(old), Some(new)) = (&record.old, &record.new) else {
        // A tenant is created by its sign-up and removed by no one.
        return Ok(Vec::new());
    };
    let (old, new) = (parse_tenant(old)?, parse_tenant(new)?);
    let reference = || object(ObjectKind::Tenant, new.id, new.version);
    let data = new.public_view();
    let mut events = Vec::new();
    if old.tier != new.tier {
        events.push(EventType::TenantTierChanged);
    }
    match (old.status, new.status) {
        (before, TenantStatus::Suspended) if before != TenantStatus::Suspended => {
            events.push(EventType::TenantSuspended);
        }
        (TenantStatus::Suspended, TenantStatus::Active) => {
            events.push(EventType::TenantReactivated);
        }
        _ => {}
    }
    if old.name != new.name || old.settings != new.settings || old.require_mfa != new.require_mfa {
        events.push(EventType::TenantUpdated);
    }
    Ok(events
        .into_iter()
        .map(|kind| (kind, reference(), Some(data.clone())))
        .collect())
}

fn member_events(record: &StreamRecord) -> Result<Vec<Meaning>, StoreError> {
    use crate::domain::member::MemberStatus::{Active, Invited};
    let old = record.old.as_ref().map(parse_member).transpose()?;
    let new = record.new.as_ref().map(parse_member).transpose()?;
    let kind = match (&old, &new) {
        (
            None,
            Some(Member {
                status: Invited, ..
            }),
        ) => EventType::UserInvited,
        (None, Some(_)) => EventType::UserJoined,
        (
            Some(Member {
                status: Invited, ..
            }),
            Some(Member { status: Active, .. }),
        ) => EventType::UserJoined,
        (Some(before), Some(after)) if before.role != after.role => EventType::UserRoleChanged,
        (Some(_), None) => EventType::UserRemoved,
        _ => return Ok(Vec::new()),
    };
    let Some(member) = new.as_ref().or(old.as_ref()) else {
        return Ok(Vec::new());
    };
    Ok(vec![(
        kind,
        object(ObjectKind::User, &member.user_id, 0),
        view(member),
    )])
}

/// The plan an account pays for, and whether a payment failed.
fn billing_state(item: &Item) -> Result<(Tier, bool, u64), StoreError> {
    let account = match item.get_s("account") {
        Ok(json) => serde_json::from_str::<Account>(json)
            .map_err(|err| StoreError::Corrupt(format!("billing account: {err}")))?,
        Err(_) => Account::default(),
    };
    let version = item.get_n("version").unwrap_or(0);
    Ok(match account.billing.subscription {
        Some(subscription) => match subscription.standing {
            Standing::Ended => (Tier::Basic, false, version),
            Standing::Active => (subscription.plan, false, version),
            Standing::PastDue { .. } => (subscription.plan, true, version),
        },
        None => (Tier::Basic, false, version),
    })
}

fn billing_events(record: &StreamRecord, tenant: &TenantId) -> Result<Vec<Meaning>, StoreError> {
    let Some(new) = &record.new else {
        return Ok(Vec::new());
    };
    let (plan, past_due, version) = billing_state(new)?;
    let (old_plan, was_past_due, _) = match &record.old {
        Some(old) => billing_state(old)?,
        None => (Tier::Basic, false, 0),
    };
    let data = json!({ "plan": plan, "past_due": past_due });
    let reference = object(ObjectKind::Billing, tenant, version);
    let mut events = Vec::new();
    if plan != old_plan {
        events.push((
            EventType::BillingPlanChanged,
            reference.clone(),
            Some(data.clone()),
        ));
    }
    if past_due && !was_past_due {
        events.push((EventType::BillingPaymentFailed, reference, Some(data)));
    }
    Ok(events)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Role;
    use crate::domain::email::EmailAddress;
    use crate::domain::member::MemberStatus;
    use crate::domain::product::Product;
    use crate::domain::tenant::{Tenant, TenantName};
    use crate::ids::UserId;
    use crate::store::dynamo::control::{member_item, tenant_item};
    use crate::store::dynamo::products::product_item;
    use crate::testing::store_contract::draft;

    const CONTROL: &str = "tenantry-control";
    const POOLED: &str = "tenantry-data";

    /// An attribute value in DynamoDB's JSON, as a stream record carries it.
    fn wire(value: &AttributeValue) -> Value {
        match value {
            AttributeValue::S(s) => json!({ "S": s }),
            AttributeValue::N(n) => json!({ "N": n }),
            AttributeValue::Bool(b) => json!({ "BOOL": b }),
            AttributeValue::Null(_) => json!({ "NULL": true }),
            AttributeValue::L(list) => json!({ "L": list.iter().map(wire).collect::<Vec<_>>() }),
            AttributeValue::M(map) => json!({ "M": image(map) }),
            AttributeValue::Ss(set) => json!({ "SS": set }),
            AttributeValue::Ns(set) => json!({ "NS": set }),
            other => panic!("no wire form for {other:?} in these tests"),
        }
    }

    fn image(map: &HashMap<String, AttributeValue>) -> Value {
        Value::Object(map.iter().map(|(k, v)| (k.clone(), wire(v))).collect())
    }

    fn record(table: &str, name: &str, old: Option<&Item>, new: Option<&Item>) -> StreamRecord {
        let any = new.or(old).unwrap_or_else(|| panic!("an image"));
        let keys: HashMap<String, AttributeValue> = ["pk", "sk"]
            .iter()
            .filter_map(|k| any.0.get(*k).map(|v| ((*k).to_owned(), v.clone())))
            .collect();
        let mut change = json!({
            "ApproximateCreationDateTime": 1_700_000_000.5,
            "Keys": image(&keys),
            "SequenceNumber": "4200",
            "StreamViewType": "NEW_AND_OLD_IMAGES",
        });
        if let Some(old) = old {
            change["OldImage"] = image(&old.0);
        }
        if let Some(new) = new {
            change["NewImage"] = image(&new.0);
        }
        StreamRecord::from_lambda(&json!({
            "eventID": "abc",
            "eventName": name,
            "eventSource": "aws:dynamodb",
            "eventSourceARN": format!("arn:aws:dynamodb:us-east-1:123456789012:table/{table}/stream/2026-12-05T00:00:00.000"),
            "dynamodb": change,
        }))
        .unwrap_or_else(|err| panic!("{err}"))
    }

    fn kinds(changed: &Option<Changed>) -> Vec<EventType> {
        changed
            .as_ref()
            .map(|c| c.events.iter().map(|e| e.kind).collect())
            .unwrap_or_default()
    }

    fn interpreted(record: &StreamRecord) -> Option<Changed> {
        interpret(record, CONTROL).unwrap_or_else(|err| panic!("{err}"))
    }

    #[test]
    fn product_changes_are_product_events_with_the_api_view() {
        let tenant = TenantId::generate();
        let product = Product::create(draft("TEA-1", 1250));
        let item = product_item(&tenant, &product);
        let created = interpreted(&record(POOLED, "INSERT", None, Some(&item)));
        assert_eq!(kinds(&created), vec![EventType::ProductCreated]);
        let created = created.unwrap_or_else(|| panic!("an event"));
        assert_eq!(created.tenant, tenant);
        assert_eq!(
            created.origin,
            Origin::Data {
                table: POOLED.to_owned()
            }
        );
        assert_eq!(created.sequence, "4200");
        let event = &created.events[0];
        assert_eq!(event.id, "evt_abc");
        assert_eq!(event.object.id, product.id.to_string());
        assert_eq!(event.object.version, 1);
        assert_eq!(event.timestamp, "2023-11-14T22:13:20.5Z");
        assert_eq!(event.data, serde_json::to_value(&product).ok());

        let replaced = product.replaced_by(draft("TEA-1", 1300));
        let after = product_item(&tenant, &replaced);
        let updated = interpreted(&record(POOLED, "MODIFY", Some(&item), Some(&after)));
        assert_eq!(kinds(&updated), vec![EventType::ProductUpdated]);
        let removed = interpreted(&record(POOLED, "REMOVE", Some(&after), None));
        assert_eq!(kinds(&removed), vec![EventType::ProductDeleted]);
        assert_eq!(removed.map(|c| c.events[0].object.version), Some(2));
    }

    /// A migration's copy into a tenant's new table is read from that table's stream, possibly
    /// after the switch to it: its inserts (and a resumed copy's rewrites) are no events; the
    /// API's later changes of the copied items are.
    #[test]
    fn a_migrations_copy_is_no_change_but_later_writes_of_the_copied_items_are() {
        let tenant = TenantId::generate();
        let product = Product::create(draft("TEA-1", 1250));
        let copied = product_item(&tenant, &product).n(MIGRATION_COPY, 1_700_000_000_000_u64);
        const SILO: &str = "tenantry-tenant-x";
        assert_eq!(
            kinds(&interpreted(&record(SILO, "INSERT", None, Some(&copied)))),
            vec![]
        );
        assert_eq!(
            kinds(&interpreted(&record(
                SILO,
                "MODIFY",
                Some(&copied),
                Some(&copied)
            ))),
            vec![]
        );
        let original = product_item(&tenant, &product);
        assert_eq!(
            kinds(&interpreted(&record(
                POOLED,
                "MODIFY",
                Some(&original),
                Some(&copied)
            ))),
            vec![],
            "a copy over an item left at the same version"
        );
        let replaced = product_item(&tenant, &product.replaced_by(draft("TEA-1", 1300)));
        assert_eq!(
            kinds(&interpreted(&record(
                SILO,
                "MODIFY",
                Some(&copied),
                Some(&replaced)
            ))),
            vec![EventType::ProductUpdated]
        );
        let moved_on = product_item(&tenant, &product.replaced_by(draft("TEA-1", 1300)))
            .n(MIGRATION_COPY, 1_700_000_000_000_u64);
        assert_eq!(
            kinds(&interpreted(&record(
                SILO,
                "MODIFY",
                Some(&copied),
                Some(&moved_on)
            ))),
            vec![EventType::ProductUpdated],
            "an update in place keeps the mark but moves the version on"
        );
        assert_eq!(
            kinds(&interpreted(&record(SILO, "REMOVE", Some(&copied), None))),
            vec![EventType::ProductDeleted]
        );
    }

    #[test]
    fn claims_counters_and_unknown_items_mean_nothing() {
        let tenant = TenantId::generate();
        let sku = Item::new(&keys::sku(
            &tenant,
            &crate::domain::text::Sku::parse("A").unwrap_or_else(|e| panic!("{e}")),
        ));
        assert!(interpreted(&record(POOLED, "INSERT", None, Some(&sku))).is_none());
        let counter = Item::new(&keys::product_count(&tenant)).n("count", 3);
        assert!(interpreted(&record(POOLED, "MODIFY", Some(&counter), Some(&counter))).is_none());
        let claim = Item::new(&keys::ItemKey {
            pk: "EMAIL#a@example.com".into(),
            sk: "EMAIL".into(),
        });
        assert!(interpreted(&record(CONTROL, "INSERT", None, Some(&claim))).is_none());
        let junk = Item::new(&keys::ItemKey {
            pk: "nonsense".into(),
            sk: "x".into(),
        });
        assert!(interpreted(&record(POOLED, "INSERT", None, Some(&junk))).is_none());
    }

    fn tenant() -> Tenant {
        Tenant::new(
            TenantName::parse("Acme").unwrap_or_else(|e| panic!("{e}")),
            Tier::Basic,
        )
    }

    #[test]
    fn a_tenant_change_can_mean_several_events_and_a_seat_count_none() {
        let before = tenant();
        let mut after = before.clone();
        after.tier = Tier::Standard;
        after.status = TenantStatus::Suspended;
        after.version += 1;
        let changed = interpreted(&record(
            CONTROL,
            "MODIFY",
            Some(&tenant_item(&before)),
            Some(&tenant_item(&after)),
        ));
        assert_eq!(
            kinds(&changed),
            vec![EventType::TenantTierChanged, EventType::TenantSuspended]
        );
        let changed = changed.unwrap_or_else(|| panic!("events"));
        assert_eq!(changed.origin, Origin::Control);
        assert_eq!(changed.events[1].id, "evt_abc_1");
        assert_eq!(
            changed.events[0].data.as_ref().map(|d| d["tier"].clone()),
            Some(json!("standard"))
        );
        assert!(
            changed.events[0]
                .data
                .as_ref()
                .is_some_and(|d| d.get("data_table").is_none()),
            "nothing internal"
        );

        let mut reactivated = after.clone();
        reactivated.status = TenantStatus::Active;
        let back = interpreted(&record(
            CONTROL,
            "MODIFY",
            Some(&tenant_item(&after)),
            Some(&tenant_item(&reactivated)),
        ));
        assert_eq!(kinds(&back), vec![EventType::TenantReactivated]);

        let mut seats = before.clone();
        seats.user_count += 1;
        let quiet = interpreted(&record(
            CONTROL,
            "MODIFY",
            Some(&tenant_item(&before)),
            Some(&tenant_item(&seats)),
        ));
        assert!(quiet.is_none());
        let mut renamed = before.clone();
        renamed.name = TenantName::parse("Acme 2").unwrap_or_else(|e| panic!("{e}"));
        let updated = interpreted(&record(
            CONTROL,
            "MODIFY",
            Some(&tenant_item(&before)),
            Some(&tenant_item(&renamed)),
        ));
        assert_eq!(kinds(&updated), vec![EventType::TenantUpdated]);
        // A sign-up is no event of its own.
        assert!(
            interpreted(&record(
                CONTROL,
                "INSERT",
                None,
                Some(&tenant_item(&before))
            ))
            .is_none()
        );
    }

    #[test]
    fn member_entries_tell_who_was_invited_joined_changed_or_left() {
        let tenant = TenantId::generate();
        let invited = Member {
            user_id: UserId::parse("3f1c1e4a-9c3b-4e0b-9f49-0b4c8c1e2d3a")
                .unwrap_or_else(|e| panic!("{e}")),
            email: EmailAddress::parse("ann@example.com").unwrap_or_else(|e| panic!("{e}")),
            role: Role::Member,
            status: MemberStatus::Invited,
            created_at: Timestamp::now(),
            expires_at: None,
        };
        let joined = Member {
            status: MemberStatus::Active,
            ..invited.clone()
        };
        let promoted = Member {
            role: Role::Admin,
            ..joined.clone()
        };
        let item = |m: &Member| member_item(&tenant, m);
        let cases = [
            (None, Some(&invited), "INSERT", Some(EventType::UserInvited)),
            (None, Some(&joined), "INSERT", Some(EventType::UserJoined)),
            (
                Some(&invited),
                Some(&joined),
                "MODIFY",
                Some(EventType::UserJoined),
            ),
            (
                Some(&joined),
                Some(&promoted),
                "MODIFY",
                Some(EventType::UserRoleChanged),
            ),
            (
                Some(&promoted),
                None,
                "REMOVE",
                Some(EventType::UserRemoved),
            ),
            (Some(&joined), Some(&joined), "MODIFY", None),
        ];
        for (old, new, name, expected) in cases {
            let old = old.map(item);
            let new = new.map(item);
            let changed = interpreted(&record(CONTROL, name, old.as_ref(), new.as_ref()));
            assert_eq!(
                kinds(&changed),
                expected.into_iter().collect::<Vec<_>>(),
                "{name}"
            );
            if let Some(changed) = changed {
                assert_eq!(changed.tenant, tenant);
                assert_eq!(changed.events[0].object.kind, ObjectKind::User);
                assert_eq!(
                    changed.events[0].data.as_ref().map(|d| d["email"].clone()),
                    Some(json!("ann@example.com"))
                );
            }
        }
    }

    #[test]
    fn billing_changes_are_plan_changes_and_failed_payments() {
        let tenant = TenantId::generate();
        let account = |standing: &str, plan: &str, version: u64| {
            let json = format!(
                r#"{{"billing":{{"subscription":{{"id":"sub_1","plan":"{plan}","standing":{standing},"period_end":null,"as_of":1}},"ended":[]}},"suspended_for_payment":false,"invoices":[]}}"#
            );
            Item::new(&keys::billing(&tenant))
                .s("account", json)
                .n("version", version)
        };
        let active = account(r#"{"state":"active"}"#, "standard", 1);
        let paid = interpreted(&record(CONTROL, "INSERT", None, Some(&active)));
        assert_eq!(kinds(&paid), vec![EventType::BillingPlanChanged]);
        let past_due = account(r#"{"state":"past_due","since":5}"#, "standard", 2);
        let failed = interpreted(&record(CONTROL, "MODIFY", Some(&active), Some(&past_due)));
        assert_eq!(kinds(&failed), vec![EventType::BillingPaymentFailed]);
        assert_eq!(failed.map(|c| c.events[0].object.version), Some(2));
        let ended = account(r#"{"state":"ended"}"#, "standard", 3);
        let cancelled = interpreted(&record(CONTROL, "MODIFY", Some(&past_due), Some(&ended)));
        assert_eq!(kinds(&cancelled), vec![EventType::BillingPlanChanged]);
        assert!(interpreted(&record(CONTROL, "MODIFY", Some(&active), Some(&active))).is_none());
    }

    #[test]
    fn unreadable_records_are_reported_not_guessed() {
        for bad in [
            json!({}),
            json!({"eventID": "x", "eventName": "INSERT", "eventSourceARN": "arn:x", "dynamodb": {}}),
            json!({"eventID": "x", "eventName": "UPSERT", "eventSourceARN": "arn:aws:dynamodb:r:1:table/t/stream/s", "dynamodb": {"Keys": {}, "SequenceNumber": "1"}}),
            json!({"eventID": "x", "eventName": "INSERT", "eventSourceARN": "arn:aws:dynamodb:r:1:table/t/stream/s", "dynamodb": {"Keys": {"pk": {"Q": "?"}}, "SequenceNumber": "1"}}),
        ] {
            assert!(StreamRecord::from_lambda(&bad).is_err(), "{bad}");
        }
    }
}
