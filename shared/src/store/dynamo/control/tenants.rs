//! Tenants: the organization's record, its state and settings, and what the data APIs read of it.

use aws_sdk_dynamodb::operation::update_item::UpdateItemError;

use aws_sdk_dynamodb::types::{
    AttributeValue, ReturnValue, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update,
};

use super::items::{
    OFFBOARDING_UPDATE, ORGS, REVOKED, Revocation, SUSPENDED_FOR, parse_member, parse_tenant,
    settings_update,
};
use super::{DynamoControl, SortKey};
use crate::authority::{Admit, Authority, ControlAuthority};
use crate::context::TenantContext;
use crate::domain::Tier;
use crate::domain::member::MemberStatus;
use crate::domain::tenant::{Tenant, TenantName, TenantSettings, TenantStatus};
use crate::domain::time::Timestamp;
use crate::ids::{TenantId, UserId};
use crate::keys::{self};
use crate::store::control::{
    MemberStore, MigrationState, TenantStateChange, TenantStore, status_change_allowed,
};
use crate::store::dynamo::item::key_map;
use crate::store::dynamo::{
    Item, TransactionFailure, backend, built, condition_failed, parse_all, transact,
};
use crate::store::{ListPage, StoreError, control_cursor};

impl DynamoControl {
    /// [`DynamoControl::count_seats`], also recording `revocation` in the same update of the
    /// tenant record.
    pub(crate) fn tenant_update(
        &self,
        tenant: &TenantId,
        users: i64,
        admins: i64,
        condition: Option<(&str, Vec<(&str, AttributeValue)>)>,
        revocation: Option<&Revocation>,
    ) -> Result<TransactWriteItem, StoreError> {
        let mut expression = "ADD user_count :users, admin_count :admins".to_owned();
        let mut update = Update::builder()
            .table_name(self.table())
            .set_key(Some(key_map(&keys::tenant(tenant))))
            .expression_attribute_values(":users", AttributeValue::N(users.to_string()))
            .expression_attribute_values(":admins", AttributeValue::N(admins.to_string()))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        if let Some(revocation) = revocation {
            expression.push_str(" SET #revoked.#user = :revoked_at");
            update = update
                .expression_attribute_names("#revoked", REVOKED)
                .expression_attribute_names("#user", revocation.user.as_str())
                .expression_attribute_values(
                    ":revoked_at",
                    AttributeValue::N(revocation.at.to_string()),
                );
        }
        let (condition, values) = condition.unwrap_or(("attribute_exists(pk)", Vec::new()));
        if condition.contains("#status") {
            update = update.expression_attribute_names("#status", "status");
        }
        update = update
            .update_expression(expression)
            .condition_expression(condition);
        for (name, value) in values {
            update = update.expression_attribute_values(name, value);
        }
        Ok(TransactWriteItem::builder()
            .update(built(update.build())?)
            .build())
    }

    /// Copies status, tier and MFA requirement into every member's profile, one update each
    /// (idempotent, so re-running repairs a copy that a crash left half done).
    pub(crate) async fn copy_into_memberships(&self, tenant: &Tenant) -> Result<(), StoreError> {
        for member in self.member_items(&tenant.id).await? {
            let user = member.parse_s("user_id", UserId::parse)?;
            if !self.copy_into_profile(tenant, &user).await? {
                // The profile may be of the older layout: rewrite it, then copy once more.
                if self.profile_for_change(&user).await?.is_some() {
                    self.copy_into_profile(tenant, &user).await?;
                }
            }
        }
        Ok(())
    }

    /// Copies the tenant's state into `user`'s entry for it; `false` if there is no such entry
    /// (the member was removed meanwhile, or the profile has the older layout).
    pub(crate) async fn copy_into_profile(
        &self,
        tenant: &Tenant,
        user: &UserId,
    ) -> Result<bool, StoreError> {
        let result = self
            .scope
            .client
            .update_item()
            .table_name(self.table())
            .set_key(Some(key_map(&keys::profile(user))))
            .update_expression(
                "SET #orgs.#tenant.tier = :tier, #orgs.#tenant.tenant_status = :status, #orgs.#tenant.require_mfa = :mfa",
            )
            .condition_expression("attribute_exists(#orgs.#tenant)")
            .expression_attribute_names("#orgs", ORGS)
            .expression_attribute_names("#tenant", tenant.id.to_string())
            .expression_attribute_values(":tier", AttributeValue::S(tenant.tier.as_str().to_owned()))
            .expression_attribute_values(
                ":status",
                AttributeValue::S(tenant.status.as_str().to_owned()),
            )
            .expression_attribute_values(":mfa", AttributeValue::Bool(tenant.require_mfa))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(err) if condition_failed(&err) => Ok(false),
            Err(err) => Err(backend(err)),
        }
    }
}

impl ControlAuthority for DynamoControl {
    /// One `TransactGetItems` of the tenant record and the caller's member entry.
    async fn authority_in(
        &self,
        caller: &TenantContext,
        admit: Admit,
    ) -> Result<Authority, StoreError> {
        let [record, member] = self
            .transact_get([
                keys::tenant(&caller.tenant_id),
                keys::member(&caller.tenant_id, &caller.user_id),
            ])
            .await?;
        // A token naming a tenant that does not exist: nothing to say about it.
        let tenant = parse_tenant(&record.ok_or(StoreError::TenantInactive)?)?;
        crate::authority::check_in(caller, &tenant, admit)?;
        let member = parse_member(&member.ok_or(StoreError::Revoked)?)?;
        if member.status != MemberStatus::Active {
            return Err(StoreError::Revoked);
        }
        Ok(Authority {
            tenant,
            role: member.role,
        })
    }
}

impl TenantStore for DynamoControl {
    async fn get_tenant(&self, tenant: &TenantId) -> Result<Tenant, StoreError> {
        match self.get(&keys::tenant(tenant)).await? {
            Some(item) => parse_tenant(&item),
            None => Err(StoreError::NotFound),
        }
    }

    /// One conditional `UpdateItem` of the tenant's own fields only (see [`settings_update`]),
    /// then one strongly consistent `GetItem` of the result: tenants-api's role may write no
    /// other attribute and read nothing back from the update (`ReturnValues` NONE), so that a
    /// compromised function still cannot touch the tier, the seats or the revocations.
    async fn update_tenant(
        &self,
        tenant: &TenantId,
        expected_version: Option<u64>,
        name: Option<TenantName>,
        settings: Option<TenantSettings>,
        require_mfa: Option<bool>,
    ) -> Result<Tenant, StoreError> {
        let (expression, names) =
            settings_update(name.is_some(), require_mfa.is_some(), settings.is_some());
        let mut update = self
            .scope
            .client
            .update_item()
            .table_name(self.table())
            .set_key(Some(key_map(&keys::tenant(tenant))))
            .update_expression(expression)
            .expression_attribute_values(":now", AttributeValue::S(Timestamp::now().to_string()))
            .expression_attribute_values(":one", AttributeValue::N("1".into()));
        for (placeholder, attribute) in names {
            update = update.expression_attribute_names(placeholder, attribute);
        }
        if let Some(name) = &name {
            update = update
                .expression_attribute_values(":name", AttributeValue::S(name.as_str().to_owned()));
        }
        if let Some(required) = require_mfa {
            update =
                update.expression_attribute_values(":require_mfa", AttributeValue::Bool(required));
        }
        if let Some(settings) = &settings {
            let json = serde_json::to_string(settings)
                .map_err(|err| StoreError::backend(err.to_string()))?;
            update = update.expression_attribute_values(":settings", AttributeValue::S(json));
        }
        let mut condition = "attribute_exists(pk)".to_owned();
        if let Some(version) = expected_version {
            condition.push_str(" AND version = :expected");
            update = update
                .expression_attribute_values(":expected", AttributeValue::N(version.to_string()));
        }
        let result = update.condition_expression(condition).send().await;
        match result {
            Ok(_) => self.get_tenant(tenant).await,
            Err(err) => match err.as_service_error() {
                // Gone, or at another version.
                Some(UpdateItemError::ConditionalCheckFailedException(_)) => {
                    self.get_tenant(tenant).await?;
                    Err(StoreError::VersionConflict)
                }
                _ => Err(backend(err)),
            },
        }
    }

    /// A read (to check the status move), one conditional update of the tenant at the version
    /// read, then one update per member's membership (idempotent, so re-running repairs).
    async fn set_tenant_state(
        &self,
        tenant: &TenantId,
        change: TenantStateChange,
    ) -> Result<Tenant, StoreError> {
        let current = self.get_tenant(tenant).await?;
        if change
            .expected_version
            .is_some_and(|v| v != current.version)
        {
            return Err(StoreError::VersionConflict);
        }
        if change
            .expected_status
            .is_some_and(|expected| expected != current.status)
        {
            return Err(StoreError::VersionConflict);
        }
        let status = change.status.unwrap_or(current.status);
        if !status_change_allowed(current.status, status) {
            return Err(StoreError::InvalidTenantTransition {
                from: current.status,
                to: status,
            });
        }
        let tier = change.tier.unwrap_or(current.tier);
        let mut set = vec!["#status = :status", "tier = :tier", "updated_at = :now"];
        let mut remove = Vec::new();
        let mut update = self
            .scope
            .client
            .update_item()
            .table_name(self.table())
            .set_key(Some(key_map(&keys::tenant(tenant))))
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":status", AttributeValue::S(status.as_str().to_owned()))
            .expression_attribute_values(":tier", AttributeValue::S(tier.as_str().to_owned()))
            .expression_attribute_values(":now", AttributeValue::S(Timestamp::now().to_string()))
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .expression_attribute_values(
                ":from",
                AttributeValue::S(current.status.as_str().to_owned()),
            )
            .return_values(ReturnValue::AllNew);
        match &change.data_table {
            Some(Some(table)) => {
                set.push("data_table = :table");
                update =
                    update.expression_attribute_values(":table", AttributeValue::S(table.clone()));
            }
            Some(None) => remove.push("data_table"),
            None => {}
        }
        if let Some(lowered) = change.plan_lowered {
            set.push("plan_lowered = :lowered");
            update = update.expression_attribute_values(":lowered", AttributeValue::Bool(lowered));
        }
        match change.suspended_for {
            _ if status != TenantStatus::Suspended => remove.push(SUSPENDED_FOR),
            Some(cause) => {
                set.push("suspended_for = :cause");
                update = update.expression_attribute_values(
                    ":cause",
                    AttributeValue::S(cause.as_str().into()),
                );
            }
            None => {}
        }
        // Only the fields that change are written (the seat counters and revocations, which
        // other requests change concurrently, are left alone), and only from the status that
        // was checked: a concurrent move (a suspension, offboarding) makes this a conflict.
        let mut condition = "#status = :from".to_owned();
        if let Some(version) = change.expected_version {
            condition.push_str(" AND version = :expected");
            update = update
                .expression_attribute_values(":expected", AttributeValue::N(version.to_string()));
        }
        let mut expression = format!("SET {} ADD version :one", set.join(", "));
        if !remove.is_empty() {
            expression.push_str(&format!(" REMOVE {}", remove.join(", ")));
        }
        let result = update
            .update_expression(expression)
            .condition_expression(condition)
            .send()
            .await;
        let updated = match result {
            Ok(output) => parse_tenant(&Item(output.attributes.unwrap_or_default()))?,
            Err(err) => {
                return Err(match err.as_service_error() {
                    Some(UpdateItemError::ConditionalCheckFailedException(_)) => {
                        StoreError::VersionConflict
                    }
                    _ => backend(err),
                });
            }
        };
        self.copy_into_memberships(&updated).await?;
        Ok(updated)
    }

    /// One conditional `UpdateItem` of the tenant record (nothing else is touched).
    async fn begin_offboarding(&self, tenant: &TenantId) -> Result<Tenant, StoreError> {
        let result = self
            .scope
            .client
            .update_item()
            .table_name(self.table())
            .set_key(Some(key_map(&keys::tenant(tenant))))
            .update_expression(OFFBOARDING_UPDATE)
            .condition_expression("attribute_exists(pk) AND #status <> :deleted")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(
                ":deleting",
                AttributeValue::S(TenantStatus::Deleting.as_str().to_owned()),
            )
            .expression_attribute_values(
                ":deleted",
                AttributeValue::S(TenantStatus::Deleted.as_str().to_owned()),
            )
            .expression_attribute_values(":now", AttributeValue::S(Timestamp::now().to_string()))
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .send()
            .await;
        match result {
            Ok(_) => self.get_tenant(tenant).await,
            Err(err) => match err.as_service_error() {
                // Gone (`NotFound` from the read), or deleted already.
                Some(UpdateItemError::ConditionalCheckFailedException(_)) => {
                    self.get_tenant(tenant).await?;
                    Err(StoreError::InvalidTenantTransition {
                        from: TenantStatus::Deleted,
                        to: TenantStatus::Deleting,
                    })
                }
                _ => Err(backend(err)),
            },
        }
    }

    async fn list_tenants(
        &self,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<ListPage<Tenant>, StoreError> {
        let after = cursor.map(control_cursor::decode).transpose()?;
        let output = self
            .index_query(
                keys::ALL_TENANTS,
                after.map(|after| SortKey::After(after.to_string())),
            )
            .limit(limit as i32)
            .send()
            .await
            .map_err(backend)?;
        let items = parse_all(output.items, parse_tenant)?;
        let next_cursor = match (output.last_evaluated_key.is_some(), items.last()) {
            (true, Some(last)) => Some(control_cursor::encode(&last.id)),
            _ => None,
        };
        Ok(ListPage { items, next_cursor })
    }

    async fn migration(&self, tenant: &TenantId) -> Result<Option<MigrationState>, StoreError> {
        self.get(&keys::migration(tenant))
            .await?
            .map(|item| {
                Ok(MigrationState {
                    to_tier: item.parse_s("to_tier", |raw| Tier::parse(raw).ok_or(()))?,
                    phase: item.get_s("phase")?.to_owned(),
                })
            })
            .transpose()
    }

    async fn sync_memberships(&self, tenant: &TenantId) -> Result<(), StoreError> {
        let record = self.get_tenant(tenant).await?;
        self.copy_into_memberships(&record).await
    }

    async fn member_ids(&self, tenant: &TenantId) -> Result<Vec<UserId>, StoreError> {
        self.member_items(tenant)
            .await?
            .iter()
            .map(|item| item.parse_s("user_id", UserId::parse))
            .collect()
    }

    /// A read of the profile, its entry for the tenant removed, then (if that was the last) the
    /// profile and claim deleted.
    async fn detach_member(&self, tenant: &TenantId, user: &UserId) -> Result<bool, StoreError> {
        let Some(profile) = self.profile_for_change(user).await? else {
            return Ok(true);
        };
        if profile.of(tenant).is_some() {
            match transact(&self.scope, vec![self.remove_membership(user, tenant)?]).await {
                Ok(()) | Err(TransactionFailure::Conditions(_)) => {}
                Err(TransactionFailure::Other(err)) => return Err(err),
            }
        }
        if profile.memberships.keys().any(|other| other != tenant) {
            return Ok(false);
        }
        self.forget_person(user, &profile.email).await
    }

    async fn purge_members(&self, tenant: &TenantId) -> Result<(), StoreError> {
        for item in self.member_items(tenant).await? {
            let member = parse_member(&item)?;
            let actions = vec![self.delete_owned(&keys::member(tenant, &member.user_id), tenant)?];
            match transact(&self.scope, actions).await {
                Ok(()) | Err(TransactionFailure::Conditions(_)) => {}
                Err(TransactionFailure::Other(err)) => return Err(err),
            }
        }
        Ok(())
    }
}
