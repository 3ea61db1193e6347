//! The DynamoDB adapter of the control-table ports (see [`crate::keys`] for the layout).

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use std::collections::HashMap;

use aws_sdk_dynamodb::types::{
    AttributeValue, Delete, Get, Put, ReturnValue, ReturnValuesOnConditionCheckFailure,
    TransactGetItem, TransactWriteItem, Update,
};

use super::item::key_map;
use super::{Item, TableScope, TransactionFailure, backend, built, transact};
use crate::authority::{Admit, Authority, ControlAuthority};
use crate::billing::Account;
use crate::context::TenantContext;
use crate::domain::email::EmailAddress;
use crate::domain::member::{
    Invitation, MAX_MEMBERSHIPS, Member, MemberStatus, Membership, MembershipState, Profile,
};
use crate::domain::revocation::{Revocations, expired_revocations, next_grant};
use crate::domain::tenant::{SuspensionCause, Tenant, TenantName, TenantSettings, TenantStatus};
use crate::domain::time::Timestamp;
use crate::domain::time::now_millis;
use crate::domain::{Role, Tier};
use crate::ids::{TenantId, UserId};
use crate::keys::{self, ItemKey};
use crate::pagination::{Cursor, Position};
use crate::plans::Limit;
use crate::store::billing::{BillingStore, EVENT_RETENTION, Saved};
use crate::store::control::{
    MemberStore, MembershipLookup, MigrationState, Onboarded, Onboarding, PersonStore, Removed,
    Reservation, Reserved, TenantStateChange, TenantStore, room_for, status_change_allowed,
};
use crate::store::{ListPage, MEMBERS, StoreError, control_cursor};

/// The part of a tenant record that the data APIs read (and cache).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantLocation {
    pub status: TenantStatus,
    /// The dedicated table of a silo tenant.
    pub data_table: Option<String>,
    pub tier: Tier,
    pub revoked: Revocations,
    pub require_mfa: bool,
    pub plan_lowered: bool,
    pub user_count: u64,
}

/// The control table, reached with the function's own credentials.
#[derive(Debug, Clone)]
pub struct DynamoControl {
    pub(super) scope: TableScope,
}

impl DynamoControl {
    pub fn new(client: Client, table: String) -> Self {
        Self {
            scope: TableScope { client, table },
        }
    }

    pub(super) fn table(&self) -> &str {
        &self.scope.table
    }

    pub(super) async fn get(&self, key: &ItemKey) -> Result<Option<Item>, StoreError> {
        let output = self
            .scope
            .client
            .get_item()
            .table_name(self.table())
            .set_key(Some(key_map(key)))
            .consistent_read(true)
            .send()
            .await
            .map_err(backend)?;
        Ok(output.item.map(Item))
    }

    /// What the data APIs need of a tenant record: its status, dedicated table (if any), tier
    /// and revocations. A read projected to exactly those attributes, because that is all the
    /// data APIs' own role may read of the control table (the IAM condition
    /// `dynamodb:Attributes` in template.yaml).
    /// A query of one partition of the control index, with the sort keys `sort` names if given.
    pub(super) fn index_query(
        &self,
        partition: &str,
        sort: Option<SortKey>,
    ) -> aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder {
        let query = self
            .scope
            .client
            .query()
            .table_name(self.table())
            .index_name(keys::GSI1)
            .expression_attribute_names("#pk", keys::GSI1_PK)
            .expression_attribute_values(":partition", AttributeValue::S(partition.to_owned()));
        let (condition, bound) = match sort {
            None => return query.key_condition_expression("#pk = :partition"),
            Some(SortKey::Below(bound)) => ("#pk = :partition AND #sk < :bound", bound),
            Some(SortKey::After(bound)) => ("#pk = :partition AND #sk > :bound", bound),
        };
        query
            .key_condition_expression(condition)
            .expression_attribute_names("#sk", keys::GSI1_SK)
            .expression_attribute_values(":bound", AttributeValue::S(bound))
    }

    /// What [`DynamoControl::tenant_location`] reads of a tenant record: the data APIs' IAM
    /// policies allow exactly these attributes (`dynamodb:Attributes` in `template.yaml`).
    pub async fn tenant_location(
        &self,
        tenant: &TenantId,
    ) -> Result<Option<TenantLocation>, StoreError> {
        let output = self
            .scope
            .client
            .get_item()
            .table_name(self.table())
            .set_key(Some(key_map(&keys::tenant(tenant))))
            .projection_expression(LOCATION_PROJECTION)
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#revoked", REVOKED)
            .consistent_read(true)
            .send()
            .await
            .map_err(backend)?;
        output
            .item
            .map(|map| {
                let item = Item(map);
                Ok(TenantLocation {
                    status: item.parse_s("status", |raw| TenantStatus::parse(raw).ok_or(()))?,
                    data_table: item.get_s("data_table").ok().map(str::to_owned),
                    tier: item.parse_s("tier", |raw| Tier::parse(raw).ok_or(()))?,
                    revoked: parse_revocations(&item)?,
                    require_mfa: require_mfa_of(&item),
                    plan_lowered: item.get_bool(PLAN_LOWERED).unwrap_or(false),
                    user_count: item.get_n("user_count").unwrap_or(0),
                })
            })
            .transpose()
    }

    fn put_new(&self, item: Item) -> Result<TransactWriteItem, StoreError> {
        let put = built(
            Put::builder()
                .table_name(self.table())
                .set_item(Some(item.into_map()))
                .condition_expression("attribute_not_exists(pk)")
                .return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                )
                .build(),
        )?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    /// Deletes an item that is absent or belongs to `tenant` (so a removal never fails on a
    /// record that an earlier, interrupted removal already deleted).
    fn delete_owned(
        &self,
        key: &ItemKey,
        tenant: &TenantId,
    ) -> Result<TransactWriteItem, StoreError> {
        let delete = built(
            Delete::builder()
                .table_name(self.table())
                .set_key(Some(key_map(key)))
                .condition_expression("attribute_not_exists(pk) OR tenant_id = :tenant")
                .expression_attribute_values(":tenant", AttributeValue::S(tenant.to_string()))
                .build(),
        )?;
        Ok(TransactWriteItem::builder().delete(delete).build())
    }

    /// `ADD user_count :users, admin_count :admins` on the tenant record, under `condition`
    /// (an expression and its values; `#status` may be used for the status attribute).
    fn count_seats(
        &self,
        tenant: &TenantId,
        users: i64,
        admins: i64,
        condition: Option<(&str, Vec<(&str, AttributeValue)>)>,
    ) -> Result<TransactWriteItem, StoreError> {
        self.tenant_update(tenant, users, admins, condition, None)
    }

    /// A seat taken under the plan's limit, only while the tenant is open for work (and, with
    /// `version`, only at that version of its record).
    fn take_seat(
        &self,
        tenant: &TenantId,
        max_users: u64,
        version: Option<u64>,
    ) -> Result<TransactWriteItem, StoreError> {
        let expression = match version {
            None => "user_count < :max AND #status IN (:active, :provisioning)",
            Some(_) => {
                "user_count < :max AND #status IN (:active, :provisioning) AND version = :version"
            }
        };
        let mut condition = (
            expression,
            vec![
                (":max", AttributeValue::N(max_users.to_string())),
                (
                    ":active",
                    AttributeValue::S(TenantStatus::Active.as_str().to_owned()),
                ),
                (
                    ":provisioning",
                    AttributeValue::S(TenantStatus::Provisioning.as_str().to_owned()),
                ),
            ],
        );
        if let Some(version) = version {
            condition
                .1
                .push((":version", AttributeValue::N(version.to_string())));
        }
        self.count_seats(tenant, 1, 0, Some(condition))
    }

    /// Why [`DynamoControl::take_seat`] failed, from the tenant record as it was.
    fn seat_refusal(&self, record: Option<Item>, max_users: u64) -> Result<StoreError, StoreError> {
        Ok(match record {
            None => StoreError::NotFound,
            Some(record) if parse_tenant(&record)?.status.allows_access() => {
                StoreError::QuotaExceeded {
                    limit: Limit::Users,
                    max: max_users,
                }
            }
            Some(_) => StoreError::TenantInactive,
        })
    }

    /// [`DynamoControl::count_seats`], also recording `revocation` in the same update of the
    /// tenant record.
    fn tenant_update(
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

    /// The member entry, the profile and the tenant record of `user` in `tenant`, in one
    /// strongly consistent read; gives the tenant record a map of revocations if it predates them
    /// (once per tenant), so that a revocation can be added to it by path, and rewrites a profile
    /// of the older layout, so that its memberships can be changed by path.
    async fn read_member_state(
        &self,
        tenant: &TenantId,
        user: &UserId,
    ) -> Result<MemberState, StoreError> {
        let [member, profile, record] = self
            .transact_get([
                keys::member(tenant, user),
                keys::profile(user),
                keys::tenant(tenant),
            ])
            .await?;
        let record = record.ok_or(StoreError::NotFound)?;
        let member = parse_member(&member.ok_or(StoreError::NotFound)?)?;
        if !record.0.contains_key(REVOKED) {
            self.add_revocations_map(tenant).await?;
        }
        let profile = match profile {
            Some(item) => Some(self.upgraded(item).await?),
            None => None,
        };
        Ok(MemberState {
            member,
            profile,
            tenant: parse_tenant(&record)?,
        })
    }

    /// The profile of `user`, strongly consistent, in the current layout (rewriting one of the
    /// older layout first).
    async fn profile_for_change(&self, user: &UserId) -> Result<Option<Profile>, StoreError> {
        match self.get(&keys::profile(user)).await? {
            Some(item) => Ok(Some(self.upgraded(item).await?)),
            None => Ok(None),
        }
    }

    /// Rewrites a profile of the single-membership layout as a map of one membership (the same
    /// content), conditioned on it still being that: idempotent, and safe against a concurrent
    /// rewrite. Returns the profile as read.
    async fn upgraded(&self, item: Item) -> Result<Profile, StoreError> {
        let profile = parse_profile(&item)?;
        if !is_single_membership(&item) {
            return Ok(profile);
        }
        // Only over the item exactly as read: a function of the previous release may still
        // change these fields meanwhile (a role, a copied status), and must not be undone.
        let mut put = self
            .scope
            .client
            .put_item()
            .table_name(self.table())
            .set_item(Some(profile_item(&profile).into_map()))
            .expression_attribute_names("#orgs", ORGS);
        let mut unchanged = vec!["attribute_not_exists(#orgs)".to_owned()];
        for (i, field) in SINGLE_MEMBERSHIP_FIELDS.iter().enumerate() {
            put = put.expression_attribute_names(format!("#f{i}"), *field);
            match item.0.get(*field) {
                Some(value) => {
                    put = put.expression_attribute_values(format!(":f{i}"), value.clone());
                    unchanged.push(format!("#f{i} = :f{i}"));
                }
                None => unchanged.push(format!("attribute_not_exists(#f{i})")),
            }
        }
        let result = put
            .condition_expression(unchanged.join(" AND "))
            .send()
            .await;
        match result {
            Ok(_) => {
                tracing::info!(user_id = %profile.user_id, "profile rewritten in the layout of several organizations");
                Ok(profile)
            }
            Err(err)
                if matches!(
                    err.as_service_error(),
                    Some(aws_sdk_dynamodb::operation::put_item::PutItemError::ConditionalCheckFailedException(_))
                ) =>
            {
                // Rewritten (or removed) meanwhile: read what is there now.
                match self.get(&keys::profile(&profile.user_id)).await? {
                    Some(item) if !is_single_membership(&item) => parse_profile(&item),
                    _ => Err(StoreError::VersionConflict),
                }
            }
            Err(err) => Err(backend(err)),
        }
    }

    /// Adds `membership` to its person's profile: a new profile if `existing` is `None`, else an
    /// entry in its map, while the map is below [`MAX_MEMBERSHIPS`] and has none for the tenant.
    fn add_membership(
        &self,
        existing: Option<&Profile>,
        membership: &Membership,
    ) -> Result<TransactWriteItem, StoreError> {
        let Some(profile) = existing else {
            let profile = Profile {
                user_id: membership.user_id.clone(),
                email: membership.email.clone(),
                active: (membership.state == MembershipState::Active)
                    .then_some(membership.tenant_id),
                memberships: [(membership.tenant_id, membership.clone())].into(),
            };
            return self.put_new(profile_item(&profile));
        };
        let mut update = Update::builder()
            .table_name(self.table())
            .set_key(Some(key_map(&keys::profile(&profile.user_id))))
            .condition_expression(
                "attribute_exists(#orgs) AND attribute_not_exists(#orgs.#tenant) AND size(#orgs) < :max",
            )
            .expression_attribute_names("#orgs", ORGS)
            .expression_attribute_names("#tenant", membership.tenant_id.to_string())
            .expression_attribute_values(":entry", membership_entry(membership))
            .expression_attribute_values(":max", AttributeValue::N(MAX_MEMBERSHIPS.to_string()))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        // A person without a usable choice gets this one, so their next token carries it.
        let chosen = profile.chosen().is_some();
        update = if chosen || membership.state != MembershipState::Active {
            update.update_expression("SET #orgs.#tenant = :entry")
        } else {
            update
                .update_expression("SET #orgs.#tenant = :entry, active = :tenant")
                .expression_attribute_values(
                    ":tenant",
                    AttributeValue::S(membership.tenant_id.to_string()),
                )
        };
        Ok(TransactWriteItem::builder()
            .update(built(update.build())?)
            .build())
    }

    /// Takes `tenant`'s entry out of `user`'s profile (the profile stays, possibly empty).
    fn remove_membership(
        &self,
        user: &UserId,
        tenant: &TenantId,
    ) -> Result<TransactWriteItem, StoreError> {
        let update = built(
            Update::builder()
                .table_name(self.table())
                .set_key(Some(key_map(&keys::profile(user))))
                .update_expression("REMOVE #orgs.#tenant")
                .condition_expression("attribute_exists(#orgs)")
                .expression_attribute_names("#orgs", ORGS)
                .expression_attribute_names("#tenant", tenant.to_string())
                .build(),
        )?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    pub(super) async fn add_revocations_map(&self, tenant: &TenantId) -> Result<(), StoreError> {
        let result = self
            .scope
            .client
            .update_item()
            .table_name(self.table())
            .set_key(Some(key_map(&keys::tenant(tenant))))
            .update_expression("SET #revoked = :empty")
            .condition_expression("attribute_exists(pk) AND attribute_not_exists(#revoked)")
            .expression_attribute_names("#revoked", REVOKED)
            .expression_attribute_values(":empty", AttributeValue::M(HashMap::new()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            // Added meanwhile by another request (or the tenant is gone: the caller finds out).
            Err(err)
                if matches!(
                    err.as_service_error(),
                    Some(UpdateItemError::ConditionalCheckFailedException(_))
                ) =>
            {
                Ok(())
            }
            Err(err) => Err(backend(err)),
        }
    }

    /// Drops the revocations that `revocation` found expired, each only if it still holds the
    /// instant that was read (a user revoked again meanwhile keeps the new one). Best effort, after
    /// the change that recorded `revocation`: a failure leaves them for the next revocation.
    pub(super) async fn prune_revocations(&self, tenant: &TenantId, revocation: &Revocation) {
        let expired: Vec<&(UserId, u64)> = revocation
            .expired
            .iter()
            .filter(|(user, _)| *user != revocation.user)
            .collect();
        if expired.is_empty() {
            return;
        }
        let mut update = self
            .scope
            .client
            .update_item()
            .table_name(self.table())
            .set_key(Some(key_map(&keys::tenant(tenant))))
            .expression_attribute_names("#revoked", REVOKED);
        let (mut removed, mut unchanged) = (Vec::new(), Vec::new());
        for (i, (user, at)) in expired.iter().enumerate() {
            update = update
                .expression_attribute_names(format!("#expired{i}"), user.as_str())
                .expression_attribute_values(format!(":at{i}"), AttributeValue::N(at.to_string()));
            removed.push(format!("#revoked.#expired{i}"));
            unchanged.push(format!("#revoked.#expired{i} = :at{i}"));
        }
        let result = update
            .update_expression(format!("REMOVE {}", removed.join(", ")))
            .condition_expression(unchanged.join(" AND "))
            .send()
            .await;
        if let Err(err) = result
            && !matches!(
                err.as_service_error(),
                Some(UpdateItemError::ConditionalCheckFailedException(_))
            )
        {
            tracing::warn!(tenant_id = %tenant, error = %backend(err), "expired revocations not pruned");
        }
    }

    /// Copies status, tier and MFA requirement into every member's profile, one update each
    /// (idempotent, so re-running repairs a copy that a crash left half done).
    async fn copy_into_memberships(&self, tenant: &Tenant) -> Result<(), StoreError> {
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
    async fn copy_into_profile(&self, tenant: &Tenant, user: &UserId) -> Result<bool, StoreError> {
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
            Err(err)
                if matches!(
                    err.as_service_error(),
                    Some(UpdateItemError::ConditionalCheckFailedException(_))
                ) =>
            {
                Ok(false)
            }
            Err(err) => Err(backend(err)),
        }
    }

    /// Reads several items in one strongly consistent (serializable) request.
    async fn transact_get<const N: usize>(
        &self,
        keys: [ItemKey; N],
    ) -> Result<[Option<Item>; N], StoreError> {
        let gets = keys
            .iter()
            .map(|key| {
                built(
                    Get::builder()
                        .table_name(self.table())
                        .set_key(Some(key_map(key)))
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
        let mut responses = output.responses.unwrap_or_default().into_iter();
        Ok(std::array::from_fn(|_| {
            responses
                .next()
                .and_then(|response| response.item)
                .filter(|item| !item.is_empty())
                .map(Item)
        }))
    }

    async fn member_items(&self, tenant: &TenantId) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let output = self
                .scope
                .client
                .query()
                .table_name(self.table())
                .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
                .expression_attribute_values(
                    ":pk",
                    AttributeValue::S(keys::members_partition(tenant)),
                )
                .expression_attribute_values(
                    ":prefix",
                    AttributeValue::S(keys::MEMBER_PREFIX.to_owned()),
                )
                .set_exclusive_start_key(start)
                .consistent_read(true)
                .send()
                .await
                .map_err(backend)?;
            items.extend(output.items.unwrap_or_default().into_iter().map(Item));
            start = output.last_evaluated_key;
            if start.is_none() {
                return Ok(items);
            }
        }
    }
}

/// A removal or demotion (or an API client's deletion) to record in the tenant record.
#[derive(Debug)]
pub(super) struct Revocation {
    pub(super) user: UserId,
    pub(super) at: u64,
    /// Revocations old enough to drop (user, instant read), after the change.
    expired: Vec<(UserId, u64)>,
}

impl Revocation {
    /// Supersedes the grant `granted` (what the user's tokens carry) and any earlier revocation
    /// of the user in `revoked` (the tenant's, as read), by the clock rule of
    /// [`crate::domain::revocation::next_grant`]: so every token issued before it is refused, whatever
    /// this machine's clock says. The tenant's expired revocations go with it.
    pub(super) fn after(user: UserId, granted: u64, revoked: &Revocations) -> Self {
        let previous = granted.max(revoked.get(&user).copied().unwrap_or(0));
        Self {
            at: next_grant(previous),
            expired: expired_revocations(revoked, now_millis()),
            user,
        }
    }

    /// Supersedes every grant the user's current membership (if any) and earlier revocations
    /// hold, so every token issued before it is refused.
    fn of(state: &MemberState) -> Self {
        let granted = state
            .membership()
            .map_or(0, |membership| membership.granted_at);
        Self::after(state.member.user_id.clone(), granted, &state.tenant.revoked)
    }
}

/// What a change to a member starts from.
#[derive(Debug)]
struct MemberState {
    member: Member,
    /// The person's profile (its entry for this tenant may be absent if a crash left only the
    /// member entry).
    profile: Option<Profile>,
    tenant: Tenant,
}

impl MemberState {
    fn membership(&self) -> Option<&Membership> {
        self.profile
            .as_ref()
            .and_then(|profile| profile.of(&self.tenant.id))
    }
}

pub(super) fn tenant_item(tenant: &Tenant) -> Item {
    let settings = serde_json::to_string(&tenant.settings).unwrap_or_else(|_| "{}".to_owned());
    let mut item = Item::new(&keys::tenant(&tenant.id))
        .s("entity", "tenant")
        .s("id", tenant.id.to_string())
        .s("tenant_id", tenant.id.to_string())
        .s("name", tenant.name.as_str())
        .s("tier", tenant.tier.as_str())
        .s("status", tenant.status.as_str())
        .s("settings", settings)
        .n("version", tenant.version)
        .n("user_count", tenant.user_count)
        .n("admin_count", tenant.admin_count)
        .s("created_at", tenant.created_at.to_string())
        .s("updated_at", tenant.updated_at.to_string())
        .s(keys::GSI1_PK, keys::ALL_TENANTS)
        .s(keys::GSI1_SK, tenant.id.to_string());
    if let Some(table) = &tenant.data_table {
        item = item.s("data_table", table.as_str());
    }
    item.value(REVOKED, revocations_value(&tenant.revoked))
        .bool(REQUIRE_MFA, tenant.require_mfa)
}

/// The tenant record's MFA requirement (absent: not required).
pub(crate) const REQUIRE_MFA: &str = "require_mfa";

fn require_mfa_of(item: &Item) -> bool {
    item.get_bool(REQUIRE_MFA).unwrap_or(false)
}

/// Which sort keys of an index partition a query reads.
pub(super) enum SortKey {
    Below(String),
    After(String),
}

/// The attributes of a tenant record the data APIs read (`#status` and `#revoked` are `status`
/// and `revoked`, reserved words).
const LOCATION_PROJECTION: &str =
    "#status, data_table, tier, #revoked, require_mfa, plan_lowered, user_count";

/// The update of offboarding's first step (`#status` is `status`).
const OFFBOARDING_UPDATE: &str = "SET #status = :deleting, updated_at = :now ADD version :one";

/// The update expression of a settings change naming the fields that change, and its
/// attribute-name placeholders.
fn settings_update(
    name: bool,
    require_mfa: bool,
    settings: bool,
) -> (String, Vec<(&'static str, &'static str)>) {
    let mut set = vec!["updated_at = :now"];
    let mut names = Vec::new();
    if name {
        set.push("#name = :name");
        names.push(("#name", "name"));
    }
    if require_mfa {
        set.push("require_mfa = :require_mfa");
    }
    if settings {
        set.push("settings = :settings");
    }
    (format!("SET {} ADD version :one", set.join(", ")), names)
}

/// The tenant record's flag of a lowered plan (see [`Tenant::plan_lowered`]).
const PLAN_LOWERED: &str = "plan_lowered";

/// Why a suspended tenant is suspended (see [`Tenant::suspended_for`]).
const SUSPENDED_FOR: &str = "suspended_for";

/// The tenant record's map of revocations (see [`crate::authority`]).
pub(crate) const REVOKED: &str = "revoked";

fn revocations_value(revoked: &Revocations) -> AttributeValue {
    AttributeValue::M(
        revoked
            .iter()
            .map(|(user, at)| (user.to_string(), AttributeValue::N(at.to_string())))
            .collect(),
    )
}

/// Reads the map of revocations; a record written before revocations existed has none.
pub(crate) fn parse_revocations(item: &Item) -> Result<Revocations, StoreError> {
    let Some(value) = item.0.get(REVOKED) else {
        return Ok(Revocations::new());
    };
    let map = value
        .as_m()
        .map_err(|_| StoreError::Corrupt("tenant record: revoked is not a map".into()))?;
    map.iter()
        .map(|(user, at)| {
            let user = UserId::parse(user)
                .map_err(|_| StoreError::Corrupt("tenant record: a revoked user id".into()))?;
            let at =
                at.as_n().ok().and_then(|n| n.parse().ok()).ok_or_else(|| {
                    StoreError::Corrupt("tenant record: a revocation time".into())
                })?;
            Ok((user, at))
        })
        .collect()
}

pub(crate) fn parse_tenant(item: &Item) -> Result<Tenant, StoreError> {
    Ok(Tenant {
        id: item.parse_s("id", TenantId::parse)?,
        name: item.parse_s("name", TenantName::parse)?,
        tier: item.parse_s("tier", |raw| Tier::parse(raw).ok_or(()))?,
        status: item.parse_s("status", |raw| TenantStatus::parse(raw).ok_or(()))?,
        settings: item.parse_s("settings", |raw| {
            serde_json::from_str::<TenantSettings>(raw)
        })?,
        version: item.get_n("version")?,
        user_count: item.get_n("user_count")?,
        admin_count: item.get_n("admin_count")?,
        data_table: item.get_s("data_table").ok().map(str::to_owned),
        revoked: parse_revocations(item)?,
        require_mfa: require_mfa_of(item),
        plan_lowered: item.get_bool(PLAN_LOWERED).unwrap_or(false),
        suspended_for: match item.get_s(SUSPENDED_FOR) {
            Ok(raw) => Some(SuspensionCause::parse(raw).ok_or_else(|| {
                StoreError::Corrupt(format!("tenant record: suspended_for {raw:?}"))
            })?),
            Err(_) => None,
        },
        created_at: item.parse_s("created_at", |raw| Timestamp::parse(raw).ok_or(()))?,
        updated_at: item.parse_s("updated_at", |raw| Timestamp::parse(raw).ok_or(()))?,
    })
}

/// The profile's map of memberships, by tenant id.
const ORGS: &str = "orgs";

fn membership_state_str(state: MembershipState) -> &'static str {
    match state {
        MembershipState::Active => "active",
        MembershipState::Invited { .. } => "invited",
    }
}

/// One membership as the profile's map holds it (user and address are the profile's).
fn membership_entry(membership: &Membership) -> AttributeValue {
    let mut entry = Item(HashMap::new())
        .s("role", membership.role.as_str())
        .s("tier", membership.tier.as_str())
        .s("tenant_status", membership.tenant_status.as_str())
        .n("granted_at", membership.granted_at)
        .bool(REQUIRE_MFA, membership.require_mfa)
        .s("state", membership_state_str(membership.state));
    if let MembershipState::Invited { expires_at } = membership.state {
        entry = entry.n("expires_at", expires_at);
    }
    AttributeValue::M(entry.into_map())
}

fn profile_item(profile: &Profile) -> Item {
    let orgs = profile
        .memberships
        .iter()
        .map(|(tenant, membership)| (tenant.to_string(), membership_entry(membership)))
        .collect();
    let item = Item::new(&keys::profile(&profile.user_id))
        .s("entity", "profile")
        .s("user_id", profile.user_id.as_str())
        .s("email", profile.email.as_str())
        .value(ORGS, AttributeValue::M(orgs));
    match profile.active {
        Some(tenant) => item.s("active", tenant.to_string()),
        None => item,
    }
}

/// The fields of a profile of the single-membership layout that a change could touch.
const SINGLE_MEMBERSHIP_FIELDS: [&str; 6] = [
    "tenant_id",
    "role",
    "tier",
    "tenant_status",
    "granted_at",
    REQUIRE_MFA,
];

/// A profile written before a person could have several organizations: the one membership's
/// fields at the top level, no map.
fn is_single_membership(item: &Item) -> bool {
    !item.0.contains_key(ORGS) && item.0.contains_key("tenant_id")
}

/// One membership's fields, from a map entry or (the older layout) from the item itself.
fn parse_entry(
    user: &UserId,
    email: &EmailAddress,
    tenant: TenantId,
    entry: &Item,
) -> Result<Membership, StoreError> {
    let state = match entry.0.get("state") {
        // The single-membership layout had no state: it was in force.
        None => MembershipState::Active,
        Some(_) => match entry.get_s("state")? {
            "active" => MembershipState::Active,
            "invited" => MembershipState::Invited {
                expires_at: entry.get_n("expires_at")?,
            },
            _ => return Err(StoreError::Corrupt("profile: a membership's state".into())),
        },
    };
    Ok(Membership {
        user_id: user.clone(),
        tenant_id: tenant,
        role: entry.parse_s("role", |raw| Role::parse(raw).ok_or(()))?,
        tier: entry.parse_s("tier", |raw| Tier::parse(raw).ok_or(()))?,
        tenant_status: entry.parse_s("tenant_status", |raw| TenantStatus::parse(raw).ok_or(()))?,
        email: email.clone(),
        // Memberships written before grants existed: any revocation of the user covers them.
        granted_at: entry.get_n("granted_at").unwrap_or(0),
        require_mfa: require_mfa_of(entry),
        state,
    })
}

/// Reads a profile in either layout.
fn parse_profile(item: &Item) -> Result<Profile, StoreError> {
    let user = item.parse_s("user_id", UserId::parse)?;
    let email = item.parse_s("email", EmailAddress::parse)?;
    let mut memberships = std::collections::BTreeMap::new();
    let mut active = item.get_s("active").ok().and_then(|raw| raw.parse().ok());
    if is_single_membership(item) {
        let tenant = item.parse_s("tenant_id", TenantId::parse)?;
        memberships.insert(tenant, parse_entry(&user, &email, tenant, item)?);
        active = Some(tenant);
    } else if let Some(orgs) = item.0.get(ORGS) {
        let orgs = orgs
            .as_m()
            .map_err(|_| StoreError::Corrupt("profile: orgs is not a map".into()))?;
        for (tenant, entry) in orgs {
            let tenant = TenantId::parse(tenant)
                .map_err(|_| StoreError::Corrupt("profile: a tenant id".into()))?;
            let entry = Item(
                entry
                    .as_m()
                    .map_err(|_| StoreError::Corrupt("profile: an entry is not a map".into()))?
                    .clone(),
            );
            memberships.insert(tenant, parse_entry(&user, &email, tenant, &entry)?);
        }
    }
    Ok(Profile {
        user_id: user,
        email,
        active,
        memberships,
    })
}

pub(super) fn member_item(tenant: &TenantId, member: &Member) -> Item {
    let item = Item::new(&keys::member(tenant, &member.user_id))
        .s("entity", "member")
        .s("tenant_id", tenant.to_string())
        .s("user_id", member.user_id.as_str())
        .s("email", member.email.as_str())
        .s("role", member.role.as_str())
        .s("status", member_status_str(member.status))
        .s("created_at", member.created_at.to_string());
    match member.expires_at {
        Some(expires_at) => item.s("expires_at", expires_at.to_string()),
        None => item,
    }
}

fn member_status_str(status: MemberStatus) -> &'static str {
    match status {
        MemberStatus::Active => "active",
        MemberStatus::Disabled => "disabled",
        MemberStatus::Invited => "invited",
    }
}

pub(super) fn parse_member(item: &Item) -> Result<Member, StoreError> {
    Ok(Member {
        user_id: item.parse_s("user_id", UserId::parse)?,
        email: item.parse_s("email", EmailAddress::parse)?,
        role: item.parse_s("role", |raw| Role::parse(raw).ok_or(()))?,
        status: item.parse_s("status", |raw| match raw {
            "active" => Ok(MemberStatus::Active),
            "disabled" => Ok(MemberStatus::Disabled),
            "invited" => Ok(MemberStatus::Invited),
            _ => Err(()),
        })?,
        created_at: item.parse_s("created_at", |raw| Timestamp::parse(raw).ok_or(()))?,
        expires_at: item.get_s("expires_at").ok().and_then(Timestamp::parse),
    })
}

/// The claim that makes an e-mail address belong to one person: `pending` while an invitation
/// of a new address creates its account (`tenant_id` is the inviting tenant, so that a
/// re-invitation can find and resume one that a crash interrupted), `member` once the account
/// and profile exist (`user_id`; claims written before this attribute count as `member`, and
/// claims written at sign-up before it have no `user_id`).
fn email_claim(
    address: &EmailAddress,
    tenant: &TenantId,
    state: ClaimState,
    user: Option<&UserId>,
) -> Item {
    let claim = Item::new(&keys::email(address))
        .s("entity", "email")
        .s("tenant_id", tenant.to_string())
        .s("state", state.as_str());
    match user {
        Some(user) => claim.s("user_id", user.as_str()),
        None => claim,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ClaimState {
    Pending,
    Member,
}

impl ClaimState {
    fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Member => "member",
        }
    }

    fn of(claim: &Item) -> Self {
        match claim.get_s("state") {
            Ok("pending") => Self::Pending,
            _ => Self::Member,
        }
    }
}

impl MembershipLookup for DynamoControl {
    /// One strongly consistent `GetItem`.
    async fn profile(&self, user: &UserId) -> Result<Option<Profile>, StoreError> {
        self.get(&keys::profile(user))
            .await?
            .map(|item| parse_profile(&item))
            .transpose()
    }
}

impl Onboarding for DynamoControl {
    /// A read of the profile (the common retry case ends there), then one transaction of four
    /// conditional puts: tenant, profile, member entry, e-mail claim. If a concurrent attempt
    /// won, the profile's condition fails and this attempt writes nothing.
    async fn onboard(
        &self,
        tenant: &Tenant,
        admin: &UserId,
        email: &EmailAddress,
    ) -> Result<Onboarded, StoreError> {
        if self.profile(admin).await?.is_some() {
            return Ok(Onboarded::AlreadyMember);
        }
        let membership = Membership::first_admin(tenant, admin, email);
        let actions = vec![
            self.put_new(tenant_item(tenant))?,
            self.add_membership(None, &membership)?,
            self.put_new(member_item(
                &tenant.id,
                &Member::of(&membership, tenant.created_at),
            ))?,
            self.put_new(email_claim(
                email,
                &tenant.id,
                ClaimState::Member,
                Some(admin),
            ))?,
        ];
        match transact(&self.scope, actions).await {
            Ok(()) => Ok(Onboarded::Created),
            Err(TransactionFailure::Conditions(failed)) => {
                if failed.iter().any(|(i, _)| *i == 1) {
                    Ok(Onboarded::AlreadyMember)
                } else if failed.iter().any(|(i, _)| *i == 3) {
                    Err(StoreError::EmailTaken { same_tenant: false })
                } else {
                    Err(StoreError::Backend(format!(
                        "onboarding transaction: conditions {failed:?} failed"
                    )))
                }
            }
            Err(TransactionFailure::Other(err)) => Err(err),
        }
    }
}

impl MemberStore for DynamoControl {
    async fn list_members(
        &self,
        tenant: &TenantId,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<ListPage<Member>, StoreError> {
        let after = match cursor {
            None => None,
            Some(raw) => {
                match Cursor::decode(raw, tenant, MEMBERS, 1, |sk| UserId::parse(sk).is_ok())
                    .map_err(|_| StoreError::InvalidCursor)?
                    .positions
                    .into_iter()
                    .next()
                {
                    Some(Position::Before(user)) => Some(user),
                    _ => return Err(StoreError::InvalidCursor),
                }
            }
        };
        let mut query = self
            .scope
            .client
            .query()
            .table_name(self.table())
            .expression_attribute_values(":pk", AttributeValue::S(keys::members_partition(tenant)))
            .limit(limit as i32);
        query = match after {
            None => query
                .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
                .expression_attribute_values(
                    ":prefix",
                    AttributeValue::S(keys::MEMBER_PREFIX.to_owned()),
                ),
            Some(user) => query
                .key_condition_expression("pk = :pk AND sk BETWEEN :after AND :end")
                .expression_attribute_values(
                    ":after",
                    AttributeValue::S(format!("{}{user}\u{0}", keys::MEMBER_PREFIX)),
                )
                .expression_attribute_values(
                    ":end",
                    AttributeValue::S(format!("{}\u{10FFFF}", keys::MEMBER_PREFIX)),
                ),
        };
        let output = query.send().await.map_err(backend)?;
        let items = output
            .items
            .unwrap_or_default()
            .into_iter()
            .map(|map| parse_member(&Item(map)))
            .collect::<Result<Vec<_>, _>>()?;
        let next_cursor = match (output.last_evaluated_key.is_some(), items.last()) {
            (true, Some(last)) => Some(
                Cursor {
                    tenant: *tenant,
                    collection: MEMBERS.to_owned(),
                    positions: vec![Position::Before(last.user_id.to_string())],
                }
                .encode(),
            ),
            _ => None,
        };
        Ok(ListPage { items, next_cursor })
    }

    async fn get_member(&self, tenant: &TenantId, user: &UserId) -> Result<Member, StoreError> {
        match self.get(&keys::member(tenant, user)).await? {
            Some(item) => parse_member(&item),
            None => Err(StoreError::NotFound),
        }
    }

    /// One transaction (the e-mail claim, and the seat under the plan's limit and only while the
    /// tenant is active), then a read of the tenant for its tier and status.
    async fn reserve_invite(
        &self,
        tenant: &TenantId,
        invitation: &Invitation,
        max_users: u64,
    ) -> Result<Reserved, StoreError> {
        // The seat is held now; an admin is counted only once the membership exists
        // (complete_invite), so a pending admin invitation never stands in for a real admin.
        let seat = self.take_seat(tenant, max_users, None)?;
        let claim = email_claim(&invitation.email, tenant, ClaimState::Pending, None);
        let actions = vec![self.put_new(claim)?, seat];
        match transact(&self.scope, actions).await {
            Ok(()) => {}
            Err(TransactionFailure::Conditions(failed)) => {
                let (index, old) = failed.into_iter().next().unwrap_or((usize::MAX, None));
                let ours = |claim: &Item| {
                    claim.get_s("tenant_id").ok() == Some(tenant.to_string().as_str())
                };
                return match (index, old) {
                    // An invitation of this address to this tenant that never finished (a
                    // crash between its steps): it still holds the address and a seat, which
                    // this one takes over.
                    (0, Some(claim))
                        if ours(&claim) && ClaimState::of(&claim) == ClaimState::Pending =>
                    {
                        let record = self.get_tenant(tenant).await?;
                        if !record.status.allows_access() {
                            return Err(StoreError::TenantInactive);
                        }
                        Ok(Reserved::New(Reservation::new(invitation, &record, true)))
                    }
                    // Someone with an account: they are invited to accept.
                    (0, Some(claim)) if ClaimState::of(&claim) == ClaimState::Member => {
                        Ok(Reserved::Existing(
                            claim
                                .get_s("user_id")
                                .ok()
                                .and_then(|raw| UserId::parse(raw).ok()),
                        ))
                    }
                    // Another organization's invitation is creating this address's account.
                    (0, Some(_)) => Err(StoreError::EmailTaken { same_tenant: false }),
                    (1, old) => Err(self.seat_refusal(old, max_users)?),
                    _ => Err(StoreError::Backend(
                        "invitation transaction failed without a reason".into(),
                    )),
                };
            }
            Err(TransactionFailure::Other(err)) => return Err(err),
        }
        let record = self.get_tenant(tenant).await?;
        Ok(Reserved::New(Reservation::new(invitation, &record, false)))
    }

    /// A read of the person's profile and of the tenant (for its tier, status, MFA requirement
    /// and the grant floor), then one transaction: the pending member entry, the invitation in the
    /// profile, and a seat.
    async fn invite_existing(
        &self,
        tenant: &TenantId,
        invitation: &Invitation,
        user: &UserId,
        max_users: u64,
    ) -> Result<Member, StoreError> {
        let profile = self.profile_for_change(user).await?;
        room_for(profile.as_ref(), tenant)?;
        let record = self.get_tenant(tenant).await?;
        let reservation = Reservation::new(invitation, &record, false);
        let membership =
            reservation.membership(tenant, user, Reservation::invited_at(now_millis()));
        let member = Member::of(&membership, Timestamp::now());
        // At the version read, so the copies of tier, status and MFA requirement are current.
        let actions = vec![
            self.put_new(member_item(tenant, &member))?,
            self.take_seat(tenant, max_users, Some(record.version))?,
            self.add_membership(profile.as_ref(), &membership)?,
        ];
        match transact(&self.scope, actions).await {
            Ok(()) => Ok(member),
            Err(TransactionFailure::Conditions(failed)) => {
                let (index, old) = failed.into_iter().next().unwrap_or((usize::MAX, None));
                Err(match index {
                    0 => StoreError::EmailTaken { same_tenant: true },
                    1 if old
                        .as_ref()
                        .and_then(|item| item.get_n::<u64>("version").ok())
                        .is_some_and(|version| version != record.version) =>
                    {
                        StoreError::VersionConflict
                    }
                    1 => self.seat_refusal(old, max_users)?,
                    _ => {
                        let now = old.map(|item| parse_profile(&item)).transpose()?;
                        room_for(now.as_ref(), tenant)
                            .err()
                            .unwrap_or(StoreError::VersionConflict)
                    }
                })
            }
            Err(TransactionFailure::Other(err)) => Err(err),
        }
    }

    async fn complete_invite(
        &self,
        tenant: &TenantId,
        reservation: &Reservation,
        user: &UserId,
    ) -> Result<Member, StoreError> {
        let invitation = &reservation.invitation;
        let membership = reservation.membership(tenant, user, MembershipState::Active);
        let member = Member::of(&membership, Timestamp::now());
        let admins = i64::from(invitation.role == Role::Admin);
        let claim = built(
            Update::builder()
                .table_name(self.table())
                .set_key(Some(key_map(&keys::email(&invitation.email))))
                .update_expression("SET #state = :member, user_id = :user")
                .condition_expression("tenant_id = :tenant AND #state = :pending")
                .expression_attribute_names("#state", "state")
                .expression_attribute_values(
                    ":member",
                    AttributeValue::S(ClaimState::Member.as_str().to_owned()),
                )
                .expression_attribute_values(
                    ":pending",
                    AttributeValue::S(ClaimState::Pending.as_str().to_owned()),
                )
                .expression_attribute_values(":user", AttributeValue::S(user.to_string()))
                .expression_attribute_values(":tenant", AttributeValue::S(tenant.to_string()))
                .build(),
        )?;
        let actions = vec![
            self.add_membership(None, &membership)?,
            self.put_new(member_item(tenant, &member))?,
            self.count_seats(tenant, 0, admins, None)?,
            TransactWriteItem::builder().update(claim).build(),
        ];
        match transact(&self.scope, actions).await {
            Ok(()) => Ok(member),
            Err(TransactionFailure::Conditions(_)) => {
                Err(StoreError::EmailTaken { same_tenant: false })
            }
            Err(TransactionFailure::Other(err)) => Err(err),
        }
    }

    async fn cancel_invite(
        &self,
        tenant: &TenantId,
        reservation: &Reservation,
    ) -> Result<(), StoreError> {
        let delete = built(
            Delete::builder()
                .table_name(self.table())
                .set_key(Some(key_map(&keys::email(&reservation.invitation.email))))
                // Only a hold that is still pending: never a member's claim (a concurrent
                // invitation of the same address may have completed meanwhile).
                .condition_expression("tenant_id = :tenant AND #state = :pending")
                .expression_attribute_names("#state", "state")
                .expression_attribute_values(":tenant", AttributeValue::S(tenant.to_string()))
                .expression_attribute_values(
                    ":pending",
                    AttributeValue::S(ClaimState::Pending.as_str().to_owned()),
                )
                .build(),
        )?;
        let actions = vec![
            TransactWriteItem::builder().delete(delete).build(),
            self.count_seats(tenant, -1, 0, None)?,
        ];
        match transact(&self.scope, actions).await {
            // Already released (a retried cancel): nothing to undo.
            Ok(()) | Err(TransactionFailure::Conditions(_)) => Ok(()),
            Err(TransactionFailure::Other(err)) => Err(err),
        }
    }

    /// One strongly consistent read of the member, profile and tenant, then one transaction:
    /// the member entry and the profile's membership get the new role; a demotion also records a
    /// revocation in the tenant record (with the same instant as the membership's new grant), so
    /// tokens that still say `admin` are refused within the data APIs' cache of that record.
    async fn change_role(
        &self,
        tenant: &TenantId,
        user: &UserId,
        role: Role,
    ) -> Result<Member, StoreError> {
        let state = self.read_member_state(tenant, user).await?;
        let current = state.member.clone();
        if current.status == MemberStatus::Invited {
            return Err(StoreError::InvitationPending);
        }
        if current.role == role {
            return Ok(current);
        }
        let demotion = (current.role == Role::Admin).then(|| Revocation::of(&state));
        let member_update = built(
            Update::builder()
                .table_name(self.table())
                .set_key(Some(key_map(&keys::member(tenant, user))))
                .update_expression("SET #role = :new")
                .condition_expression("#role = :old AND #status = :active")
                .expression_attribute_names("#role", "role")
                .expression_attribute_names("#status", "status")
                .expression_attribute_values(":new", AttributeValue::S(role.as_str().to_owned()))
                .expression_attribute_values(
                    ":old",
                    AttributeValue::S(current.role.as_str().to_owned()),
                )
                .expression_attribute_values(
                    ":active",
                    AttributeValue::S(member_status_str(MemberStatus::Active).to_owned()),
                )
                .build(),
        )?;
        let seats = if current.role == Role::Admin {
            self.tenant_update(
                tenant,
                0,
                -1,
                Some((
                    "admin_count > :one",
                    vec![(":one", AttributeValue::N("1".into()))],
                )),
                demotion.as_ref(),
            )?
        } else {
            self.count_seats(tenant, 0, 1, None)?
        };
        let mut actions = vec![
            TransactWriteItem::builder().update(member_update).build(),
            seats,
        ];
        // The profile's copy (absent only if a crash left the member entry alone).
        if state.membership().is_some() {
            let mut update = Update::builder()
                .table_name(self.table())
                .set_key(Some(key_map(&keys::profile(user))))
                .update_expression("SET #orgs.#tenant.#role = :new")
                .condition_expression("attribute_exists(#orgs.#tenant)")
                .expression_attribute_names("#orgs", ORGS)
                .expression_attribute_names("#tenant", tenant.to_string())
                .expression_attribute_names("#role", "role")
                .expression_attribute_values(":new", AttributeValue::S(role.as_str().to_owned()));
            if let Some(revocation) = &demotion {
                update = update
                    .update_expression(
                        "SET #orgs.#tenant.#role = :new, #orgs.#tenant.granted_at = :granted",
                    )
                    .expression_attribute_values(
                        ":granted",
                        AttributeValue::N(revocation.at.to_string()),
                    );
            }
            actions.push(
                TransactWriteItem::builder()
                    .update(built(update.build())?)
                    .build(),
            );
        }
        match transact(&self.scope, actions).await {
            Ok(()) => {
                if let Some(revocation) = &demotion {
                    self.prune_revocations(tenant, revocation).await;
                }
                Ok(Member { role, ..current })
            }
            Err(TransactionFailure::Conditions(failed)) => {
                Err(if failed.iter().any(|(i, _)| *i == 1) {
                    StoreError::LastAdmin
                } else {
                    StoreError::VersionConflict
                })
            }
            Err(TransactionFailure::Other(err)) => Err(err),
        }
    }

    /// One strongly consistent read, then one transaction: the member entry and the profile's
    /// membership go, the seat is released, and (for a member who had accepted) a revocation of
    /// the user is recorded in the tenant record so that the tokens they hold are refused.
    async fn remove_member(&self, tenant: &TenantId, user: &UserId) -> Result<Removed, StoreError> {
        let state = self.read_member_state(tenant, user).await?;
        let current = state.member.clone();
        let delete_member = built(
            Delete::builder()
                .table_name(self.table())
                .set_key(Some(key_map(&keys::member(tenant, user))))
                .condition_expression("#role = :role AND #status = :status")
                .expression_attribute_names("#role", "role")
                .expression_attribute_names("#status", "status")
                .expression_attribute_values(
                    ":role",
                    AttributeValue::S(current.role.as_str().to_owned()),
                )
                .expression_attribute_values(
                    ":status",
                    AttributeValue::S(member_status_str(current.status).to_owned()),
                )
                .build(),
        )?;
        // A pending invitation holds a seat, not an admin's place, and no token to revoke.
        let revocation = (current.status != MemberStatus::Invited).then(|| Revocation::of(&state));
        let seats = match (&revocation, current.role) {
            (None, _) => self.count_seats(tenant, -1, 0, None)?,
            (Some(revocation), Role::Admin) => self.tenant_update(
                tenant,
                -1,
                -1,
                Some((
                    "admin_count > :one",
                    vec![(":one", AttributeValue::N("1".into()))],
                )),
                Some(revocation),
            )?,
            (Some(revocation), Role::Member) => {
                self.tenant_update(tenant, -1, 0, None, Some(revocation))?
            }
        };
        let mut actions = vec![
            TransactWriteItem::builder().delete(delete_member).build(),
            seats,
        ];
        if state.profile.is_some() {
            actions.push(self.remove_membership(user, tenant)?);
        }
        let remaining = state.profile.as_ref().map_or(0, |profile| {
            profile
                .memberships
                .keys()
                .filter(|other| *other != tenant)
                .count()
        });
        match transact(&self.scope, actions).await {
            Ok(()) => {
                if let Some(revocation) = &revocation {
                    self.prune_revocations(tenant, revocation).await;
                }
                Ok(Removed {
                    member: current,
                    remaining,
                })
            }
            Err(TransactionFailure::Conditions(failed)) => {
                Err(if failed.iter().any(|(i, _)| *i == 1) {
                    StoreError::LastAdmin
                } else {
                    StoreError::VersionConflict
                })
            }
            Err(TransactionFailure::Other(err)) => Err(err),
        }
    }

    /// One transaction, both deletes conditioned on the person having nothing: an empty profile
    /// (or none), and a claim that names them (or that a sign-up wrote before claims named
    /// anyone).
    async fn forget_person(&self, user: &UserId, email: &EmailAddress) -> Result<bool, StoreError> {
        let profile = built(
            Delete::builder()
                .table_name(self.table())
                .set_key(Some(key_map(&keys::profile(user))))
                .condition_expression("attribute_not_exists(pk) OR size(#orgs) = :zero")
                .expression_attribute_names("#orgs", ORGS)
                .expression_attribute_values(":zero", AttributeValue::N("0".into()))
                .build(),
        )?;
        let claim = built(
            Delete::builder()
                .table_name(self.table())
                .set_key(Some(key_map(&keys::email(email))))
                .condition_expression(
                    "attribute_not_exists(pk) OR user_id = :user OR (attribute_not_exists(user_id) AND (attribute_not_exists(#state) OR #state = :member))",
                )
                .expression_attribute_names("#state", "state")
                .expression_attribute_values(":user", AttributeValue::S(user.to_string()))
                .expression_attribute_values(
                    ":member",
                    AttributeValue::S(ClaimState::Member.as_str().to_owned()),
                )
                .build(),
        )?;
        let actions = vec![
            TransactWriteItem::builder().delete(profile).build(),
            TransactWriteItem::builder().delete(claim).build(),
        ];
        match transact(&self.scope, actions).await {
            Ok(()) => Ok(true),
            Err(TransactionFailure::Conditions(_)) => Ok(false),
            Err(TransactionFailure::Other(err)) => Err(err),
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
                .map_err(|err| StoreError::Backend(err.to_string()))?;
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
        let items = output
            .items
            .unwrap_or_default()
            .into_iter()
            .map(|map| parse_tenant(&Item(map)))
            .collect::<Result<Vec<_>, _>>()?;
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

impl PersonStore for DynamoControl {
    /// `BatchGetItem`, strongly consistent, of at most [`MAX_MEMBERSHIPS`] tenant records.
    async fn tenants(&self, ids: &[TenantId]) -> Result<Vec<Tenant>, StoreError> {
        let mut tenants = Vec::new();
        for chunk in ids.chunks(MAX_MEMBERSHIPS) {
            let mut keys =
                aws_sdk_dynamodb::types::KeysAndAttributes::builder().consistent_read(true);
            for id in chunk {
                keys = keys.keys(key_map(&keys::tenant(id)));
            }
            let mut request = Some(HashMap::from([(
                self.table().to_owned(),
                built(keys.build())?,
            )]));
            while let Some(items) = request.take().filter(|items| !items.is_empty()) {
                let output = self
                    .scope
                    .client
                    .batch_get_item()
                    .set_request_items(Some(items))
                    .send()
                    .await
                    .map_err(backend)?;
                for map in output.responses.unwrap_or_default().into_values().flatten() {
                    tenants.push(parse_tenant(&Item(map))?);
                }
                request = output.unprocessed_keys;
            }
        }
        tenants.sort_by_key(|tenant| tenant.id);
        Ok(tenants)
    }

    /// One conditional `UpdateItem` (after rewriting a profile of the older layout).
    async fn set_active(&self, user: &UserId, tenant: &TenantId) -> Result<(), StoreError> {
        let profile = self
            .profile_for_change(user)
            .await?
            .ok_or(StoreError::NotFound)?;
        if profile
            .of(tenant)
            .is_none_or(|m| m.state != MembershipState::Active)
        {
            return Err(StoreError::NotFound);
        }
        let result = self
            .scope
            .client
            .update_item()
            .table_name(self.table())
            .set_key(Some(key_map(&keys::profile(user))))
            .update_expression("SET active = :tenant")
            .condition_expression("#orgs.#tenant.#state = :active")
            .expression_attribute_names("#orgs", ORGS)
            .expression_attribute_names("#tenant", tenant.to_string())
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":tenant", AttributeValue::S(tenant.to_string()))
            .expression_attribute_values(
                ":active",
                AttributeValue::S(membership_state_str(MembershipState::Active).to_owned()),
            )
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err)
                if matches!(
                    err.as_service_error(),
                    Some(UpdateItemError::ConditionalCheckFailedException(_))
                ) =>
            {
                Err(StoreError::NotFound)
            }
            Err(err) => Err(backend(err)),
        }
    }

    /// One strongly consistent read of profile, member entry and tenant, then one transaction:
    /// both entries move from invited to active (the tenant's current tier, status and MFA
    /// requirement copied, the admin counted), or both go with the seat.
    async fn answer_invitation(
        &self,
        user: &UserId,
        tenant: &TenantId,
        accept: bool,
    ) -> Result<(), StoreError> {
        let [profile, member, record] = self
            .transact_get([
                keys::profile(user),
                keys::member(tenant, user),
                keys::tenant(tenant),
            ])
            .await?;
        let profile = match profile {
            Some(item) => self.upgraded(item).await?,
            None => return Err(StoreError::NotFound),
        };
        let invitation = profile.of(tenant).ok_or(StoreError::NotFound)?;
        let MembershipState::Invited { expires_at } = invitation.state else {
            return Err(StoreError::AlreadyAnswered);
        };
        let (Some(member), Some(record)) = (member, record) else {
            return Err(StoreError::NotFound);
        };
        let member = parse_member(&member)?;
        let record = parse_tenant(&record)?;
        if accept && expires_at <= now_millis() {
            return Err(StoreError::InvitationExpired);
        }
        if accept && !record.status.allows_access() {
            return Err(StoreError::TenantInactive);
        }
        let invited = AttributeValue::S(member_status_str(MemberStatus::Invited).to_owned());
        let active = AttributeValue::S(member_status_str(MemberStatus::Active).to_owned());
        let member_key = key_map(&keys::member(tenant, user));
        let profile_key = key_map(&keys::profile(user));
        let actions = if accept {
            let admins = i64::from(member.role == Role::Admin);
            let granted = next_grant(record.revoked.get(user).copied().unwrap_or(0));
            let member_update = Update::builder()
                .table_name(self.table())
                .set_key(Some(member_key))
                .update_expression("SET #status = :active REMOVE expires_at")
                .condition_expression("#status = :invited")
                .expression_attribute_names("#status", "status")
                .expression_attribute_values(":active", active.clone())
                .expression_attribute_values(":invited", invited.clone());
            let profile_update = Update::builder()
                .table_name(self.table())
                .set_key(Some(profile_key))
                // The copies of tier, status and MFA requirement are kept in step by every change
                // of the tenant (its member entries include pending ones), so they stay.
                .update_expression(
                    "SET #orgs.#tenant.#state = :active, #orgs.#tenant.granted_at = :granted REMOVE #orgs.#tenant.expires_at",
                )
                .condition_expression("#orgs.#tenant.#state = :invited")
                .expression_attribute_names("#orgs", ORGS)
                .expression_attribute_names("#tenant", tenant.to_string())
                .expression_attribute_names("#state", "state")
                .expression_attribute_values(":active", active)
                .expression_attribute_values(":invited", invited)
                .expression_attribute_values(":granted", AttributeValue::N(granted.to_string()));
            let open = (
                "#status IN (:active, :provisioning)",
                vec![
                    (
                        ":active",
                        AttributeValue::S(TenantStatus::Active.as_str().to_owned()),
                    ),
                    (
                        ":provisioning",
                        AttributeValue::S(TenantStatus::Provisioning.as_str().to_owned()),
                    ),
                ],
            );
            vec![
                TransactWriteItem::builder()
                    .update(built(member_update.build())?)
                    .build(),
                TransactWriteItem::builder()
                    .update(built(profile_update.build())?)
                    .build(),
                self.count_seats(tenant, 0, admins, Some(open))?,
            ]
        } else {
            let delete_member = Delete::builder()
                .table_name(self.table())
                .set_key(Some(member_key))
                .condition_expression("#status = :invited")
                .expression_attribute_names("#status", "status")
                .expression_attribute_values(":invited", invited.clone());
            let profile_update = Update::builder()
                .table_name(self.table())
                .set_key(Some(profile_key))
                .update_expression("REMOVE #orgs.#tenant")
                .condition_expression("#orgs.#tenant.#state = :invited")
                .expression_attribute_names("#orgs", ORGS)
                .expression_attribute_names("#tenant", tenant.to_string())
                .expression_attribute_names("#state", "state")
                .expression_attribute_values(":invited", invited);
            vec![
                TransactWriteItem::builder()
                    .delete(built(delete_member.build())?)
                    .build(),
                TransactWriteItem::builder()
                    .update(built(profile_update.build())?)
                    .build(),
                self.count_seats(tenant, -1, 0, None)?,
            ]
        };
        match transact(&self.scope, actions).await {
            Ok(()) => Ok(()),
            // Answered, withdrawn or the tenant closed meanwhile: what is there now says which.
            Err(TransactionFailure::Conditions(failed)) => {
                if failed.iter().any(|(i, _)| *i == 2) {
                    return Err(StoreError::TenantInactive);
                }
                Err(
                    match self
                        .profile(user)
                        .await?
                        .as_ref()
                        .and_then(|p| p.of(tenant))
                    {
                        None => StoreError::NotFound,
                        Some(m) if m.state == MembershipState::Active => {
                            StoreError::AlreadyAnswered
                        }
                        Some(_) => StoreError::VersionConflict,
                    },
                )
            }
            Err(TransactionFailure::Other(err)) => Err(err),
        }
    }

    /// A read of the profile, then one transaction of three conditional writes: the tenant, its
    /// member entry, and the membership added to the profile (or a new profile).
    async fn create_organization(
        &self,
        tenant: &Tenant,
        admin: &UserId,
        email: &EmailAddress,
    ) -> Result<(), StoreError> {
        let profile = self.profile_for_change(admin).await?;
        room_for(profile.as_ref(), &tenant.id)?;
        let email = profile.as_ref().map_or(email, |profile| &profile.email);
        let membership = Membership::first_admin(tenant, admin, email);
        let actions = vec![
            self.put_new(tenant_item(tenant))?,
            self.put_new(member_item(
                &tenant.id,
                &Member::of(&membership, tenant.created_at),
            ))?,
            self.add_membership(profile.as_ref(), &membership)?,
        ];
        match transact(&self.scope, actions).await {
            Ok(()) => Ok(()),
            Err(TransactionFailure::Conditions(failed)) if failed.iter().any(|(i, _)| *i == 2) => {
                Err(StoreError::TooManyOrganizations)
            }
            Err(TransactionFailure::Conditions(failed)) => Err(StoreError::Backend(format!(
                "creating an organization: conditions {failed:?} failed"
            ))),
            Err(TransactionFailure::Other(err)) => Err(err),
        }
    }
}

/// The stored form of a held e-mail.
fn held_email(item: &Item) -> Result<crate::mail::Held, StoreError> {
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

impl BillingStore for DynamoControl {
    /// One strongly consistent `GetItem`.
    async fn account(&self, tenant: &TenantId) -> Result<Account, StoreError> {
        let Some(item) = self.get(&keys::billing(tenant)).await? else {
            return Ok(Account::default());
        };
        let mut account = match item.get_s("account") {
            Ok(json) => serde_json::from_str::<Account>(json)
                .map_err(|err| StoreError::Corrupt(format!("billing account: {err}")))?,
            Err(_) => Account::default(),
        };
        account.customer = item.get_s("customer").ok().map(str::to_owned);
        account.version = item.get_n("version").unwrap_or(0);
        Ok(account)
    }

    /// One transaction: the customer on the account (only if it has none) and the customer's
    /// mapping to the tenant; if another request attached one first, a read of it.
    async fn attach_customer(
        &self,
        tenant: &TenantId,
        customer: &str,
    ) -> Result<String, StoreError> {
        let account = built(
            Update::builder()
                .table_name(self.table())
                .set_key(Some(key_map(&keys::billing(tenant))))
                .update_expression("SET customer = :customer, tenant_id = :tenant")
                .condition_expression("attribute_not_exists(customer)")
                .expression_attribute_values(":customer", AttributeValue::S(customer.to_owned()))
                .expression_attribute_values(":tenant", AttributeValue::S(tenant.to_string()))
                .build(),
        )?;
        let mapping = Item::new(&keys::customer(customer))
            .s("entity", "customer")
            .s("tenant_id", tenant.to_string());
        let actions = vec![
            TransactWriteItem::builder().update(account).build(),
            self.put_new(mapping)?,
        ];
        match transact(&self.scope, actions).await {
            Ok(()) => Ok(customer.to_owned()),
            Err(TransactionFailure::Conditions(_)) => self
                .account(tenant)
                .await?
                .customer
                .ok_or(StoreError::VersionConflict),
            Err(TransactionFailure::Other(err)) => Err(err),
        }
    }

    async fn tenant_of_customer(&self, customer: &str) -> Result<Option<TenantId>, StoreError> {
        self.get(&keys::customer(customer))
            .await?
            .map(|item| item.parse_s("tenant_id", TenantId::parse))
            .transpose()
    }

    async fn event_seen(&self, event: &str) -> Result<bool, StoreError> {
        Ok(self.get(&keys::webhook_event(event)).await?.is_some())
    }

    /// One transaction: the event's record (new, expiring after [`EVENT_RETENTION`]), if any,
    /// and the account at its version, listed in the index while it awaits suspension.
    async fn save_account(
        &self,
        tenant: &TenantId,
        account: &Account,
        event: Option<&str>,
    ) -> Result<Saved, StoreError> {
        let json = serde_json::to_string(account)
            .map_err(|err| StoreError::Backend(format!("billing account: {err}")))?;
        let condition = if account.version == 0 {
            "attribute_not_exists(version)"
        } else {
            "version = :expected"
        };
        let listed = match account.awaiting_suspension() {
            Some(since) => Some(keys::past_due_sort_key(since, tenant)),
            None => account.paying().then(|| keys::paying_sort_key(tenant)),
        };
        let expression = if listed.is_some() {
            "SET account = :account, tenant_id = :tenant, version = :next, #ipk = :ipk, #isk = :isk"
        } else {
            "SET account = :account, tenant_id = :tenant, version = :next REMOVE #ipk, #isk"
        };
        let mut update = Update::builder()
            .table_name(self.table())
            .set_key(Some(key_map(&keys::billing(tenant))))
            .update_expression(expression)
            .condition_expression(condition)
            .expression_attribute_names("#ipk", keys::GSI1_PK)
            .expression_attribute_names("#isk", keys::GSI1_SK)
            .expression_attribute_values(":account", AttributeValue::S(json))
            .expression_attribute_values(":tenant", AttributeValue::S(tenant.to_string()))
            .expression_attribute_values(
                ":next",
                AttributeValue::N((account.version + 1).to_string()),
            );
        if let Some(sort_key) = listed {
            update = update
                .expression_attribute_values(
                    ":ipk",
                    AttributeValue::S(keys::BILLING_ACCOUNTS.to_owned()),
                )
                .expression_attribute_values(":isk", AttributeValue::S(sort_key));
        }
        if account.version != 0 {
            update = update.expression_attribute_values(
                ":expected",
                AttributeValue::N(account.version.to_string()),
            );
        }
        let mut actions = Vec::with_capacity(2);
        if let Some(event) = event {
            let expires = Timestamp::now().unix_seconds() + EVENT_RETENTION.as_secs() as i64;
            let record = Item::new(&keys::webhook_event(event))
                .s("entity", "webhook-event")
                .s("tenant_id", tenant.to_string())
                .n(keys::TTL, expires);
            actions.push(self.put_new(record)?);
        }
        let event_index = if event.is_some() { Some(0) } else { None };
        actions.push(
            TransactWriteItem::builder()
                .update(built(update.build())?)
                .build(),
        );
        match transact(&self.scope, actions).await {
            Ok(()) => Ok(Saved::Saved),
            Err(TransactionFailure::Conditions(failed))
                if failed.iter().any(|(i, _)| Some(*i) == event_index) =>
            {
                Ok(Saved::Duplicate)
            }
            Err(TransactionFailure::Conditions(_)) => Err(StoreError::VersionConflict),
            Err(TransactionFailure::Other(err)) => Err(err),
        }
    }

    /// Queries of the index's sparse `BILLING` partition (its `DUE#` keys), page after page up
    /// to `limit`.
    async fn grace_expired(
        &self,
        failed_by: i64,
        limit: usize,
    ) -> Result<Vec<TenantId>, StoreError> {
        let mut due = Vec::new();
        let mut start = None;
        loop {
            let output = self
                .index_query(
                    keys::BILLING_ACCOUNTS,
                    Some(SortKey::Below(keys::past_due_bound(failed_by))),
                )
                .projection_expression("tenant_id")
                .limit(limit.saturating_sub(due.len()).clamp(1, 1000) as i32)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(backend)?;
            for map in output.items.unwrap_or_default() {
                due.push(Item(map).parse_s("tenant_id", TenantId::parse)?);
            }
            start = output.last_evaluated_key;
            if start.is_none() || due.len() >= limit {
                return Ok(due);
            }
        }
    }

    /// One query of the index's `BILLING` partition, after the sort key `after`.
    async fn billed_tenants(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<ListPage<TenantId>, StoreError> {
        let output = self
            .index_query(
                keys::BILLING_ACCOUNTS,
                after.map(|after| SortKey::After(after.to_owned())),
            )
            .projection_expression("tenant_id, #isk")
            .expression_attribute_names("#isk", keys::GSI1_SK)
            .limit(limit.clamp(1, 1000) as i32)
            .send()
            .await
            .map_err(backend)?;
        let mut items = Vec::new();
        let mut last = None;
        for map in output.items.unwrap_or_default() {
            let item = Item(map);
            items.push(item.parse_s("tenant_id", TenantId::parse)?);
            last = item.get_s(keys::GSI1_SK).ok().map(str::to_owned);
        }
        let next_cursor = output.last_evaluated_key.and(last);
        Ok(ListPage { items, next_cursor })
    }
}

#[cfg(test)]
mod tests {
    /// The data APIs' policies in the template allow exactly the attributes the code reads: a
    /// new attribute in the projection fails here, not in AWS with an AccessDenied.
    #[test]
    fn the_location_projection_is_what_iam_allows() {
        let template = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../template.yaml"),
        )
        .expect("template.yaml");
        let mut read: Vec<&str> = super::LOCATION_PROJECTION
            .split(',')
            .map(|attribute| attribute.trim().trim_start_matches('#'))
            .chain(["pk", "sk"])
            .collect();
        read.sort_unstable();
        let allowed: Vec<Vec<&str>> = template
            .lines()
            .filter_map(|line| line.trim().strip_prefix("dynamodb:Attributes: ["))
            .map(|list| {
                let mut list: Vec<&str> = list
                    .trim_end_matches(']')
                    .split(',')
                    .map(str::trim)
                    .collect();
                list.sort_unstable();
                list
            })
            .collect();
        assert_eq!(allowed.len(), 2, "products-api and orders-api");
        for list in allowed {
            assert_eq!(list, read);
        }
    }

    /// The attribute names an update expression writes (`#x` resolved through `names`).
    fn written<'a>(expression: &'a str, names: &[(&str, &'a str)]) -> Vec<&'a str> {
        expression
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|word| {
                !word.is_empty()
                    && !word.starts_with(':')
                    && !["SET", "ADD", "REMOVE", "="].contains(word)
            })
            .map(|word| {
                names
                    .iter()
                    .find(|(placeholder, _)| *placeholder == word)
                    .map_or(word, |(_, attribute)| *attribute)
            })
            .collect()
    }

    /// The attributes tenants-api writes in a tenant record, keys included.
    const TENANT_API_WRITES: &[&str] = &[
        "pk",
        "sk",
        "name",
        "settings",
        "require_mfa",
        "status",
        "updated_at",
        "version",
    ];

    /// tenants-api's IAM policy lists the attributes it may write: every update it makes
    /// writes only those, and the list is the template's.
    #[test]
    fn tenants_api_writes_only_what_iam_allows() {
        let template = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../template.yaml"),
        )
        .expect("template.yaml");
        let block = template
            .split("- Sid: ChangeTenantSettings")
            .nth(1)
            .and_then(|rest| rest.split("dynamodb:Attributes:").nth(1))
            .expect("the ChangeTenantSettings statement lists its attributes");
        let items: Vec<&str> = block.lines().skip(1).collect();
        let indent = items[0].len() - items[0].trim_start().len();
        let mut allowed: Vec<&str> = items
            .iter()
            .take_while(|line| line.len() - line.trim_start().len() == indent)
            .filter_map(|line| line.trim().strip_prefix("- "))
            .collect();
        allowed.sort_unstable();
        let mut ours = TENANT_API_WRITES.to_vec();
        ours.sort_unstable();
        assert_eq!(allowed, ours);
        let mut updates = vec![(
            super::OFFBOARDING_UPDATE.to_owned(),
            vec![("#status", "status")],
        )];
        for bits in 0..8_u8 {
            updates.push(super::settings_update(
                bits & 1 != 0,
                bits & 2 != 0,
                bits & 4 != 0,
            ));
        }
        for (expression, names) in &updates {
            for attribute in written(expression, names) {
                assert!(
                    TENANT_API_WRITES.contains(&attribute),
                    "{expression} writes {attribute}"
                );
            }
        }
    }
}
