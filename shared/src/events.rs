//! What happened to a tenant's objects, told to others: the platform's own services (through
//! the event bus) and the tenant's integrations (through webhooks).
//!
//! Events are produced from the tables' change streams (see
//! [`crate::store::dynamo::changes`]), never by the handlers: a write that failed has no event,
//! and no handler can forget one. Each carries the tenant, the object's id and version, and the
//! time of the change; the object itself as the API shows it is in `data`, unless the payload
//! would exceed [`MAX_PAYLOAD`].

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::domain::time::Timestamp;
use crate::ids::TenantId;

/// The largest payload a webhook delivers: a larger event is sent without its `data`.
pub const MAX_PAYLOAD: usize = 64 * 1024;

/// The `source` of the platform's events on the bus.
pub const BUS_SOURCE: &str = "tenantry";

macro_rules! event_types {
    ($($variant:ident => $name:literal,)*) => {
        /// Every kind of event, named as on the wire.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum EventType {
            $(#[serde(rename = $name)] $variant,)*
        }

        impl EventType {
            pub const ALL: &[Self] = &[$(Self::$variant,)*];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $name,)*
                }
            }

            pub fn parse(raw: &str) -> Option<Self> {
                match raw {
                    $($name => Some(Self::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

event_types! {
    ProductCreated => "product.created",
    ProductUpdated => "product.updated",
    ProductDeleted => "product.deleted",
    OrderCreated => "order.created",
    OrderStatusChanged => "order.status_changed",
    UserInvited => "user.invited",
    UserJoined => "user.joined",
    UserRoleChanged => "user.role_changed",
    UserRemoved => "user.removed",
    TenantUpdated => "tenant.updated",
    TenantSuspended => "tenant.suspended",
    TenantReactivated => "tenant.reactivated",
    TenantTierChanged => "tenant.tier_changed",
    BillingPlanChanged => "billing.plan_changed",
    BillingPaymentFailed => "billing.payment_failed",
    WebhookTest => "webhook.test",
}

impl std::fmt::Display for EventType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The kind of object an event is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ObjectKind {
    Product,
    Order,
    User,
    Tenant,
    Billing,
    Webhook,
}

/// The object an event is about: events of one object are delivered in the order of its
/// versions.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ObjectRef {
    #[serde(rename = "type")]
    pub kind: ObjectKind,
    pub id: String,
    /// The object's version after the change (before it, for a deletion); `0` for objects
    /// without versions (memberships).
    pub version: u64,
}

/// One event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Stable across redeliveries: a receiver deduplicates on it (`webhook-id`).
    pub id: String,
    #[serde(rename = "type")]
    pub kind: EventType,
    /// When the change was made, RFC 3339.
    pub timestamp: String,
    pub tenant_id: TenantId,
    pub object: ObjectRef,
    /// The object as the API shows it after the change (before it, for a deletion).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
}

impl Event {
    pub fn new(
        id: String,
        kind: EventType,
        at: Timestamp,
        tenant_id: TenantId,
        object: ObjectRef,
        data: Option<Value>,
    ) -> Self {
        Self {
            id,
            kind,
            timestamp: at.to_string(),
            tenant_id,
            object,
            data,
        }
    }

    /// The JSON a webhook delivers: the event, without its `data` (and with
    /// `"data_omitted": true`) if it would exceed [`MAX_PAYLOAD`].
    pub fn payload(&self) -> Vec<u8> {
        let full = serde_json::to_vec(self).unwrap_or_default();
        if full.len() <= MAX_PAYLOAD {
            return full;
        }
        let mut trimmed = serde_json::to_value(Self {
            data: None,
            ..self.clone()
        })
        .unwrap_or(Value::Null);
        if let Some(object) = trimmed.as_object_mut() {
            object.insert("data_omitted".to_owned(), Value::Bool(true));
        }
        serde_json::to_vec(&trimmed).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(data: Option<Value>) -> Event {
        Event::new(
            "evt_1".to_owned(),
            EventType::ProductUpdated,
            Timestamp::from_unix_seconds(1_700_000_000),
            TenantId::nil(),
            ObjectRef {
                kind: ObjectKind::Product,
                id: "p".to_owned(),
                version: 3,
            },
            data,
        )
    }

    #[test]
    fn every_type_parses_back_from_its_name() {
        for kind in EventType::ALL {
            assert_eq!(EventType::parse(kind.as_str()), Some(*kind));
            assert_eq!(
                serde_json::to_value(kind).ok(),
                Some(Value::String(kind.as_str().to_owned()))
            );
        }
        assert_eq!(EventType::parse("product.exploded"), None);
    }

    #[test]
    fn the_payload_names_type_object_and_version() {
        let payload: Value =
            serde_json::from_slice(&event(Some(serde_json::json!({"name": "x"}))).payload())
                .unwrap_or_default();
        assert_eq!(payload["type"], "product.updated");
        assert_eq!(payload["object"]["type"], "product");
        assert_eq!(payload["object"]["version"], 3);
        assert_eq!(payload["data"]["name"], "x");
        assert_eq!(payload["timestamp"], "2023-11-14T22:13:20Z");
    }

    #[test]
    fn a_payload_over_the_limit_loses_its_data_only() {
        let big = "x".repeat(MAX_PAYLOAD);
        let payload = event(Some(serde_json::json!({ "description": big }))).payload();
        assert!(payload.len() < 1024);
        let payload: Value = serde_json::from_slice(&payload).unwrap_or_default();
        assert_eq!(payload["data_omitted"], true);
        assert!(payload.get("data").is_none());
        assert_eq!(payload["id"], "evt_1");
    }
}
