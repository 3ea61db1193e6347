//! Organizations' API clients in the control table: one item by client id (what the pre-token
//! trigger reads for a client-credentials token) and one in the tenant's partition (its list),
//! written and deleted together (see [`crate::machine`]).

use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem, Update};

use super::control::{REVOKED, Revocation, parse_tenant};
use super::item::key_map;
use super::{DynamoControl, Item, TransactionFailure, backend, built, parse_all, transact};
use crate::api_clients::{ApiClient, ClientId, Scope};
use crate::domain::tenant::Tenant;
use crate::ids::{TenantId, UserId};
use crate::keys::{self, ItemKey};
use crate::store::StoreError;
use crate::store::control::MachineLookup;

fn client_item(key: &ItemKey, client: &ApiClient) -> Item {
    let scopes = client
        .scopes
        .iter()
        .map(|scope| AttributeValue::S(scope.as_str().to_owned()))
        .collect();
    let item = Item::new(key)
        .s("entity", "api-client")
        .s("client_id", client.client_id.as_str())
        .s("tenant_id", client.tenant_id.to_string())
        .s("name", client.name.clone())
        .value("scopes", AttributeValue::L(scopes))
        .s("principal", client.principal.as_str())
        .n("created_ms", client.created_ms);
    match &client.created_by {
        Some(creator) => item.s("created_by", creator.as_str()),
        None => item,
    }
}

fn parse_client(item: &Item) -> Result<ApiClient, StoreError> {
    let corrupt = |what: &str| StoreError::Corrupt(format!("api client: {what}"));
    Ok(ApiClient {
        client_id: ClientId::parse(item.get_s("client_id")?).map_err(|_| corrupt("client_id"))?,
        tenant_id: item.parse_s("tenant_id", TenantId::parse)?,
        name: item.get_s("name")?.to_owned(),
        scopes: item
            .get_list("scopes")?
            .iter()
            .map(|value| {
                value
                    .as_s()
                    .ok()
                    .and_then(|raw| Scope::parse(raw))
                    .ok_or_else(|| corrupt("scopes"))
            })
            .collect::<Result<_, _>>()?,
        principal: item.parse_s("principal", UserId::parse)?,
        created_ms: item.get_n("created_ms")?,
        created_by: super::webhooks::optional_user(item, "created_by")?,
    })
}

impl DynamoControl {
    fn put_client(
        &self,
        key: &ItemKey,
        client: &ApiClient,
    ) -> Result<TransactWriteItem, StoreError> {
        let put = built(
            Put::builder()
                .table_name(self.table())
                .set_item(Some(client_item(key, client).0))
                .condition_expression("attribute_not_exists(pk)")
                .build(),
        )?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    fn delete_item(&self, key: &ItemKey) -> Result<TransactWriteItem, StoreError> {
        let delete = built(
            Delete::builder()
                .table_name(self.table())
                .set_key(Some(key_map(key)))
                .condition_expression("attribute_exists(pk)")
                .build(),
        )?;
        Ok(TransactWriteItem::builder().delete(delete).build())
    }

    /// Records `client` if its tenant has fewer than `max` (`false` otherwise): one `Query` that
    /// counts, then one transaction of the two items.
    pub async fn create_api_client(
        &self,
        client: &ApiClient,
        max: u64,
    ) -> Result<bool, StoreError> {
        let pk = keys::tenant_api_client(&client.tenant_id, &client.client_id).pk;
        if self.count_prefix(pk, keys::API_CLIENT_PREFIX).await? >= max {
            return Ok(false);
        }
        let actions = vec![
            self.put_client(&keys::api_client(&client.client_id), client)?,
            self.put_client(
                &keys::tenant_api_client(&client.tenant_id, &client.client_id),
                client,
            )?,
        ];
        match transact(&self.scope, actions).await {
            Ok(()) => Ok(true),
            Err(TransactionFailure::Conditions(failed)) => Err(StoreError::backend(format!(
                "an API client with this id exists: {failed:?}"
            ))),
            Err(TransactionFailure::Other(err)) => Err(err),
        }
    }

    /// The tenant's API clients, oldest first by id.
    pub async fn api_clients(&self, tenant: &TenantId) -> Result<Vec<ApiClient>, StoreError> {
        let output = self
            .prefix_query(keys::tenant(tenant).pk, keys::API_CLIENT_PREFIX)
            .send()
            .await
            .map_err(backend)?;
        let mut clients = parse_all(output.items, parse_client)?;
        clients.sort_by_key(|client| client.created_ms);
        Ok(clients)
    }

    /// One of the tenant's API clients (another tenant's is `None`).
    pub async fn api_client(
        &self,
        tenant: &TenantId,
        client: &ClientId,
    ) -> Result<Option<ApiClient>, StoreError> {
        self.get(&keys::tenant_api_client(tenant, client))
            .await?
            .map(|item| parse_client(&item))
            .transpose()
    }

    /// Deletes one of the tenant's API clients and revokes its tokens in one transaction, as a
    /// member's removal does: the revocation supersedes the client's grant (its tokens'
    /// `tenant_grant`, when it was made) by the clock rule of [`crate::domain::revocation::next_grant`],
    /// and the tenant's expired revocations are pruned after, so deleting clients never grows the
    /// tenant record. The deleted client, or `None`.
    pub async fn delete_api_client(
        &self,
        tenant: &TenantId,
        client: &ClientId,
    ) -> Result<Option<ApiClient>, StoreError> {
        let Some(found) = self.api_client(tenant, client).await? else {
            return Ok(None);
        };
        let record = self
            .get(&keys::tenant(tenant))
            .await?
            .ok_or(StoreError::NotFound)?;
        if !record.0.contains_key(REVOKED) {
            self.add_revocations_map(tenant).await?;
        }
        let revocation = Revocation::after(
            found.principal.clone(),
            found.created_ms,
            &parse_tenant(&record)?.revoked,
        );
        let revoke = built(
            Update::builder()
                .table_name(self.table())
                .set_key(Some(key_map(&keys::tenant(tenant))))
                .update_expression("SET #revoked.#user = :at")
                .condition_expression("attribute_exists(pk)")
                .expression_attribute_names("#revoked", REVOKED)
                .expression_attribute_names("#user", revocation.user.as_str())
                .expression_attribute_values(":at", AttributeValue::N(revocation.at.to_string()))
                .build(),
        )?;
        let actions = vec![
            self.delete_item(&keys::api_client(client))?,
            self.delete_item(&keys::tenant_api_client(tenant, client))?,
            TransactWriteItem::builder().update(revoke).build(),
        ];
        match transact(&self.scope, actions).await {
            Ok(()) => {
                self.prune_revocations(tenant, &revocation).await;
                Ok(Some(found))
            }
            // Deleted meanwhile by another request.
            Err(TransactionFailure::Conditions(_)) => Ok(None),
            Err(TransactionFailure::Other(err)) => Err(err),
        }
    }
}

impl MachineLookup for DynamoControl {
    /// Two strongly consistent `GetItem`s: the client, then its tenant's record.
    async fn machine_client(
        &self,
        client: &ClientId,
    ) -> Result<Option<(ApiClient, Tenant)>, StoreError> {
        let Some(item) = self.get(&keys::api_client(client)).await? else {
            return Ok(None);
        };
        let client = parse_client(&item)?;
        let Some(record) = self.get(&keys::tenant(&client.tenant_id)).await? else {
            return Ok(None);
        };
        Ok(Some((client, parse_tenant(&record)?)))
    }
}
