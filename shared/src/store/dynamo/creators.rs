//! Whether the people who made an organization's credentials (webhook endpoints' secrets, API
//! clients) are still its members: a credential whose maker was removed is flagged for the
//! other admins (see [`crate::webhooks::Webhook::secret_holder`] and
//! [`crate::api_clients::ApiClient::created_by`]).

use std::collections::BTreeSet;

use aws_sdk_dynamodb::types::{Get, TransactGetItem};

use super::item::key_map;
use super::{DynamoControl, backend, built};
use crate::ids::{TenantId, UserId};
use crate::keys;
use crate::store::StoreError;

/// How many items one `TransactGetItems` reads.
const MOST_READ: usize = 100;

impl DynamoControl {
    /// Which of `users` are members of `tenant` (or invited to it) now: their member entries,
    /// read in one strongly consistent `TransactGetItems` per hundred (an organization's
    /// credentials are made by a few admins).
    pub async fn members_present(
        &self,
        tenant: &TenantId,
        users: impl IntoIterator<Item = &UserId>,
    ) -> Result<BTreeSet<UserId>, StoreError> {
        let asked: Vec<UserId> = users
            .into_iter()
            .cloned()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let mut present = BTreeSet::new();
        for chunk in asked.chunks(MOST_READ) {
            let gets = chunk
                .iter()
                .map(|user| {
                    built(
                        Get::builder()
                            .table_name(self.table())
                            .set_key(Some(key_map(&keys::member(tenant, user))))
                            .projection_expression("pk")
                            .build(),
                    )
                    .map(|get| TransactGetItem::builder().get(get).build())
                })
                .collect::<Result<Vec<_>, _>>()?;
            let output = self
                .scope
                .client
                .transact_get_items()
                .set_transact_items(Some(gets))
                .send()
                .await
                .map_err(backend)?;
            for (user, response) in chunk.iter().zip(output.responses.unwrap_or_default()) {
                if response.item.is_some_and(|item| !item.is_empty()) {
                    present.insert(user.clone());
                }
            }
        }
        Ok(present)
    }
}
