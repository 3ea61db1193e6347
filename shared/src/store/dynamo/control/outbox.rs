//! The outbox: e-mails the mail service refused, held for the next sweep.

use super::DynamoControl;
use crate::domain::email::EmailAddress;
use crate::domain::time::Timestamp;
use crate::keys::{self};
use crate::store::StoreError;
use crate::store::dynamo::item::key_map;
use crate::store::dynamo::{Item, backend};

/// The stored form of a held e-mail.
pub(crate) fn held_email(item: &Item) -> Result<crate::mail::Held, StoreError> {
    let corrupt = |what: &str| StoreError::Corrupt(format!("held e-mail: {what}"));
    let json: serde_json::Value =
        serde_json::from_str(item.get_s("email")?).map_err(|err| corrupt(&err.to_string()))?;
    let field = |name: &str| {
        json[name]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| corrupt(name))
    };
    Ok(crate::mail::Held {
        id: item.get_s("outbox_id")?.to_owned(),
        email: crate::mail::Email {
            to: EmailAddress::parse(&field("to")?).map_err(|_| corrupt("to"))?,
            subject: field("subject")?,
            text: field("text")?,
            html: field("html")?,
        },
    })
}

impl crate::mail::Outbox for DynamoControl {
    /// One `PutItem`, listed in the index's `OUTBOX` partition, expiring after
    /// [`crate::mail::OUTBOX_RETENTION`].
    async fn hold(&self, email: &crate::mail::Email) -> Result<(), StoreError> {
        let id = ulid::Ulid::generate().to_string();
        let json = serde_json::json!({
            "to": email.to.as_str(),
            "subject": email.subject,
            "text": email.text,
            "html": email.html,
        });
        let expires =
            Timestamp::now().unix_seconds() + crate::mail::OUTBOX_RETENTION.as_secs() as i64;
        let item = Item::new(&keys::outbox(&id))
            .s("entity", "held-email")
            .s("outbox_id", id.clone())
            .s("email", json.to_string())
            .s(keys::GSI1_PK, keys::HELD_MAIL)
            .s(keys::GSI1_SK, id)
            .n(keys::TTL, expires);
        self.scope
            .client
            .put_item()
            .table_name(self.table())
            .set_item(Some(item.0))
            .send()
            .await
            .map_err(backend)?;
        Ok(())
    }

    /// One `Query` of the index's `OUTBOX` partition, oldest first. An e-mail past its time
    /// (which DynamoDB's TTL deletes within days) is left out.
    async fn held(&self, limit: usize) -> Result<Vec<crate::mail::Held>, StoreError> {
        let output = self
            .index_query(keys::HELD_MAIL, None)
            .limit(limit.clamp(1, 1000) as i32)
            .send()
            .await
            .map_err(backend)?;
        let now = Timestamp::now().unix_seconds();
        output
            .items
            .unwrap_or_default()
            .into_iter()
            .map(Item)
            .filter(|item| item.get_n::<i64>(keys::TTL).is_ok_and(|ttl| ttl > now))
            .map(|item| held_email(&item))
            .collect()
    }

    async fn release(&self, id: &str) -> Result<(), StoreError> {
        self.scope
            .client
            .delete_item()
            .table_name(self.table())
            .set_key(Some(key_map(&keys::outbox(id))))
            .send()
            .await
            .map_err(backend)?;
        Ok(())
    }
}
