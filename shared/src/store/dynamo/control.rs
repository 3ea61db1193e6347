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
use crate::authority::{
    Authority, ControlAuthority, Revocations, expired_revocations, next_grant, now_millis,
};
use crate::context::{Role, TenantContext, Tier};
use crate::domain::email::EmailAddress;
use crate::domain::member::{Invitation, Member, MemberStatus, Membership};
use crate::domain::tenant::{Tenant, TenantName, TenantSettings, TenantStatus};
use crate::domain::time::Timestamp;
use crate::ids::{TenantId, UserId};
use crate::keys::{self, ItemKey};
use crate::pagination::{Cursor, Position};
use crate::plans::Limit;
use crate::store::control::{
    MemberStore, MembershipLookup, MigrationState, Onboarded, Onboarding, Reservation,
    TenantStateChange, TenantStore, status_change_allowed,
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
}

/// The control table, reached with the function's own credentials.
#[derive(Debug, Clone)]
pub struct DynamoControl {
    scope: TableScope,
}

impl DynamoControl {
    pub fn new(client: Client, table: String) -> Self {
        Self {
            scope: TableScope { client, table },
        }
    }

    fn table(&self) -> &str {
        &self.scope.table
    }

    async fn get(&self, key: &ItemKey) -> Result<Option<Item>, StoreError> {
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
            .projection_expression("#status, data_table, tier, #revoked, require_mfa")
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

    /// [`DynamoControl::count_seats`], also recording `revocation` (and pruning the revocations
    /// it names as expired) in the same update of the tenant record.
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
            let mut pruned = Vec::new();
            for (i, user) in revocation
                .expired
                .iter()
                .filter(|user| **user != revocation.user)
                .enumerate()
            {
                update = update.expression_attribute_names(format!("#expired{i}"), user.as_str());
                pruned.push(format!("#revoked.#expired{i}"));
            }
            if !pruned.is_empty() {
                expression.push_str(&format!(" REMOVE {}", pruned.join(", ")));
            }
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

    /// The member entry, the membership and the tenant record of `user` in `tenant`, in one
    /// strongly consistent read; gives the tenant record a map of revocations if it predates them
    /// (once per tenant), so that a revocation can be added to it by path.
    async fn read_member_state(
        &self,
        tenant: &TenantId,
        user: &UserId,
    ) -> Result<MemberState, StoreError> {
        let [member, membership, record] = self
            .transact_get([
                keys::member(tenant, user),
                keys::membership(user),
                keys::tenant(tenant),
            ])
            .await?;
        let record = record.ok_or(StoreError::NotFound)?;
        if !record.0.contains_key(REVOKED) {
            self.add_revocations_map(tenant).await?;
        }
        Ok(MemberState {
            member: parse_member(&member.ok_or(StoreError::NotFound)?)?,
            membership: membership
                .map(|item| parse_membership(&item))
                .transpose()?
                .filter(|membership| membership.tenant_id == *tenant),
            tenant: parse_tenant(&record)?,
        })
    }

    async fn add_revocations_map(&self, tenant: &TenantId) -> Result<(), StoreError> {
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

    /// Copies status, tier and MFA requirement into every member's membership, one update each
    /// (idempotent, so re-running repairs a copy that a crash left half done).
    async fn copy_into_memberships(&self, tenant: &Tenant) -> Result<(), StoreError> {
        for member in self.member_items(&tenant.id).await? {
            let user = member.parse_s("user_id", UserId::parse)?;
            let result = self
                .scope
                .client
                .update_item()
                .table_name(self.table())
                .set_key(Some(key_map(&keys::membership(&user))))
                .update_expression("SET tier = :tier, tenant_status = :status, require_mfa = :mfa")
                .condition_expression("tenant_id = :tenant")
                .expression_attribute_values(
                    ":tier",
                    AttributeValue::S(tenant.tier.as_str().to_owned()),
                )
                .expression_attribute_values(
                    ":status",
                    AttributeValue::S(tenant.status.as_str().to_owned()),
                )
                .expression_attribute_values(":mfa", AttributeValue::Bool(tenant.require_mfa))
                .expression_attribute_values(":tenant", AttributeValue::S(tenant.id.to_string()))
                .send()
                .await;
            match result {
                Ok(_) => {}
                // The membership went away (the member was removed meanwhile): nothing to copy.
                Err(err)
                    if matches!(
                        err.as_service_error(),
                        Some(UpdateItemError::ConditionalCheckFailedException(_))
                    ) => {}
                Err(err) => return Err(backend(err)),
            }
        }
        Ok(())
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

/// A removal or demotion to record in the tenant record.
#[derive(Debug)]
struct Revocation {
    user: UserId,
    at: u64,
    /// Revocations old enough to drop in the same update.
    expired: Vec<UserId>,
}

impl Revocation {
    /// Supersedes every grant the user's current membership (if any) and earlier revocations
    /// hold, so every token issued before it is refused.
    fn of(state: &MemberState) -> Self {
        let user = state.member.user_id.clone();
        let previous = state
            .membership
            .as_ref()
            .map_or(0, |membership| membership.granted_at)
            .max(state.tenant.revoked.get(&user).copied().unwrap_or(0));
        Self {
            at: next_grant(previous),
            expired: expired_revocations(&state.tenant.revoked, now_millis()),
            user,
        }
    }
}

/// What a change to a member starts from.
#[derive(Debug)]
struct MemberState {
    member: Member,
    /// The user's membership of this tenant (absent if a crash left only the member entry).
    membership: Option<Membership>,
    tenant: Tenant,
}

fn tenant_item(tenant: &Tenant) -> Item {
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
        created_at: item.parse_s("created_at", |raw| Timestamp::parse(raw).ok_or(()))?,
        updated_at: item.parse_s("updated_at", |raw| Timestamp::parse(raw).ok_or(()))?,
    })
}

fn membership_item(membership: &Membership) -> Item {
    Item::new(&keys::membership(&membership.user_id))
        .s("entity", "membership")
        .s("user_id", membership.user_id.as_str())
        .s("tenant_id", membership.tenant_id.to_string())
        .s("role", membership.role.as_str())
        .s("tier", membership.tier.as_str())
        .s("tenant_status", membership.tenant_status.as_str())
        .s("email", membership.email.as_str())
        .n("granted_at", membership.granted_at)
        .bool(REQUIRE_MFA, membership.require_mfa)
}

fn parse_membership(item: &Item) -> Result<Membership, StoreError> {
    Ok(Membership {
        user_id: item.parse_s("user_id", UserId::parse)?,
        tenant_id: item.parse_s("tenant_id", TenantId::parse)?,
        role: item.parse_s("role", |raw| Role::parse(raw).ok_or(()))?,
        tier: item.parse_s("tier", |raw| Tier::parse(raw).ok_or(()))?,
        tenant_status: item.parse_s("tenant_status", |raw| TenantStatus::parse(raw).ok_or(()))?,
        email: item.parse_s("email", EmailAddress::parse)?,
        // Memberships written before grants existed: any revocation of the user covers them.
        granted_at: item.get_n("granted_at").unwrap_or(0),
        require_mfa: require_mfa_of(item),
    })
}

fn member_item(tenant: &TenantId, member: &Member) -> Item {
    Item::new(&keys::member(tenant, &member.user_id))
        .s("entity", "member")
        .s("tenant_id", tenant.to_string())
        .s("user_id", member.user_id.as_str())
        .s("email", member.email.as_str())
        .s("role", member.role.as_str())
        .s(
            "status",
            match member.status {
                MemberStatus::Active => "active",
                MemberStatus::Disabled => "disabled",
            },
        )
        .s("created_at", member.created_at.to_string())
}

fn parse_member(item: &Item) -> Result<Member, StoreError> {
    Ok(Member {
        user_id: item.parse_s("user_id", UserId::parse)?,
        email: item.parse_s("email", EmailAddress::parse)?,
        role: item.parse_s("role", |raw| Role::parse(raw).ok_or(()))?,
        status: item.parse_s("status", |raw| match raw {
            "active" => Ok(MemberStatus::Active),
            "disabled" => Ok(MemberStatus::Disabled),
            _ => Err(()),
        })?,
        created_at: item.parse_s("created_at", |raw| Timestamp::parse(raw).ok_or(()))?,
    })
}

/// The claim that makes an e-mail address belong to one tenant: `pending` while an invitation
/// is under way (so a re-invitation can find and resume one that a crash interrupted), `member`
/// once the membership exists (claims written before this attribute count as `member`).
fn email_claim(address: &EmailAddress, tenant: &TenantId, state: ClaimState) -> Item {
    Item::new(&keys::email(address))
        .s("entity", "email")
        .s("tenant_id", tenant.to_string())
        .s("state", state.as_str())
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
    async fn membership(&self, user: &UserId) -> Result<Option<Membership>, StoreError> {
        self.get(&keys::membership(user))
            .await?
            .map(|item| parse_membership(&item))
            .transpose()
    }
}

impl Onboarding for DynamoControl {
    /// A read of the membership (the common retry case ends there), then one transaction of
    /// four conditional puts: tenant, membership, member entry, e-mail claim. If a concurrent
    /// attempt won, the membership's condition fails and this attempt writes nothing.
    async fn onboard(
        &self,
        tenant: &Tenant,
        admin: &UserId,
        email: &EmailAddress,
    ) -> Result<Onboarded, StoreError> {
        if self.membership(admin).await?.is_some() {
            return Ok(Onboarded::AlreadyMember);
        }
        let membership = Membership {
            user_id: admin.clone(),
            tenant_id: tenant.id,
            role: Role::Admin,
            tier: tenant.tier,
            tenant_status: tenant.status,
            email: email.clone(),
            granted_at: now_millis(),
            require_mfa: tenant.require_mfa,
        };
        let member = Member {
            user_id: admin.clone(),
            email: email.clone(),
            role: Role::Admin,
            status: MemberStatus::Active,
            created_at: tenant.created_at,
        };
        let actions = vec![
            self.put_new(tenant_item(tenant))?,
            self.put_new(membership_item(&membership))?,
            self.put_new(member_item(&tenant.id, &member))?,
            self.put_new(email_claim(email, &tenant.id, ClaimState::Member))?,
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
    ) -> Result<Reservation, StoreError> {
        // The seat is held now; an admin is counted only once the membership exists
        // (complete_invite), so a pending admin invitation never stands in for a real admin.
        let condition = (
            "user_count < :max AND #status IN (:active, :provisioning)",
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
        let seat = self.count_seats(tenant, 1, 0, Some(condition))?;
        let claim = email_claim(&invitation.email, tenant, ClaimState::Pending);
        let actions = vec![self.put_new(claim)?, seat];
        match transact(&self.scope, actions).await {
            Ok(()) => {}
            Err(TransactionFailure::Conditions(failed)) => {
                let (index, old) = failed.into_iter().next().unwrap_or((usize::MAX, None));
                let ours = |claim: &Item| {
                    claim.get_s("tenant_id").ok() == Some(tenant.to_string().as_str())
                };
                return Err(match (index, old) {
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
                        return Ok(Reservation::new(invitation, &record, true));
                    }
                    (0, Some(claim)) => StoreError::EmailTaken {
                        same_tenant: ours(&claim),
                    },
                    (1, None) => StoreError::NotFound,
                    (1, Some(record)) => {
                        let status = parse_tenant(&record)?.status;
                        if status.allows_access() {
                            StoreError::QuotaExceeded {
                                limit: Limit::Users,
                                max: max_users,
                            }
                        } else {
                            StoreError::TenantInactive
                        }
                    }
                    _ => {
                        StoreError::Backend("invitation transaction failed without a reason".into())
                    }
                });
            }
            Err(TransactionFailure::Other(err)) => return Err(err),
        }
        let record = self.get_tenant(tenant).await?;
        Ok(Reservation::new(invitation, &record, false))
    }

    async fn complete_invite(
        &self,
        tenant: &TenantId,
        reservation: &Reservation,
        user: &UserId,
    ) -> Result<Member, StoreError> {
        let invitation = &reservation.invitation;
        let member = Member {
            user_id: user.clone(),
            email: invitation.email.clone(),
            role: invitation.role,
            status: MemberStatus::Active,
            created_at: Timestamp::now(),
        };
        let membership = Membership {
            user_id: user.clone(),
            tenant_id: *tenant,
            role: invitation.role,
            tier: reservation.tier,
            tenant_status: reservation.tenant_status,
            email: invitation.email.clone(),
            granted_at: next_grant(reservation.grant_floor),
            require_mfa: reservation.require_mfa,
        };
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
            self.put_new(membership_item(&membership))?,
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

    /// One strongly consistent read of the member, membership and tenant, then one transaction:
    /// the member entry and membership get the new role; a demotion also records a revocation
    /// in the tenant record (with the same instant as the membership's new grant), so tokens
    /// that still say `admin` are refused within the data APIs' cache of that record.
    async fn change_role(
        &self,
        tenant: &TenantId,
        user: &UserId,
        role: Role,
    ) -> Result<Member, StoreError> {
        let state = self.read_member_state(tenant, user).await?;
        let current = state.member.clone();
        if current.role == role {
            return Ok(current);
        }
        let demotion = (current.role == Role::Admin).then(|| Revocation::of(&state));
        let member_update = built(
            Update::builder()
                .table_name(self.table())
                .set_key(Some(key_map(&keys::member(tenant, user))))
                .update_expression("SET #role = :new")
                .condition_expression("#role = :old")
                .expression_attribute_names("#role", "role")
                .expression_attribute_values(":new", AttributeValue::S(role.as_str().to_owned()))
                .expression_attribute_values(
                    ":old",
                    AttributeValue::S(current.role.as_str().to_owned()),
                )
                .build(),
        )?;
        let mut membership_update = Update::builder()
            .table_name(self.table())
            .set_key(Some(key_map(&keys::membership(user))))
            .update_expression("SET #role = :new")
            .condition_expression("tenant_id = :tenant")
            .expression_attribute_names("#role", "role")
            .expression_attribute_values(":new", AttributeValue::S(role.as_str().to_owned()))
            .expression_attribute_values(":tenant", AttributeValue::S(tenant.to_string()));
        if let Some(revocation) = &demotion {
            membership_update = membership_update
                .update_expression("SET #role = :new, granted_at = :granted")
                .expression_attribute_values(
                    ":granted",
                    AttributeValue::N(revocation.at.to_string()),
                );
        }
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
        let actions = vec![
            TransactWriteItem::builder().update(member_update).build(),
            TransactWriteItem::builder()
                .update(built(membership_update.build())?)
                .build(),
            seats,
        ];
        match transact(&self.scope, actions).await {
            Ok(()) => Ok(Member { role, ..current }),
            Err(TransactionFailure::Conditions(failed)) => {
                Err(if failed.iter().any(|(i, _)| *i == 2) {
                    StoreError::LastAdmin
                } else {
                    StoreError::VersionConflict
                })
            }
            Err(TransactionFailure::Other(err)) => Err(err),
        }
    }

    /// One strongly consistent read, then one transaction: the member entry, membership and
    /// e-mail claim go, the seat is released, and a revocation of the user is recorded in the
    /// tenant record so that the tokens they hold are refused.
    async fn remove_member(&self, tenant: &TenantId, user: &UserId) -> Result<Member, StoreError> {
        let state = self.read_member_state(tenant, user).await?;
        let current = state.member.clone();
        let revocation = Revocation::of(&state);
        let delete_member = built(
            Delete::builder()
                .table_name(self.table())
                .set_key(Some(key_map(&keys::member(tenant, user))))
                .condition_expression("#role = :role")
                .expression_attribute_names("#role", "role")
                .expression_attribute_values(
                    ":role",
                    AttributeValue::S(current.role.as_str().to_owned()),
                )
                .build(),
        )?;
        let seats = if current.role == Role::Admin {
            self.tenant_update(
                tenant,
                -1,
                -1,
                Some((
                    "admin_count > :one",
                    vec![(":one", AttributeValue::N("1".into()))],
                )),
                Some(&revocation),
            )?
        } else {
            self.tenant_update(tenant, -1, 0, None, Some(&revocation))?
        };
        let actions = vec![
            TransactWriteItem::builder().delete(delete_member).build(),
            self.delete_owned(&keys::membership(user), tenant)?,
            self.delete_owned(&keys::email(&current.email), tenant)?,
            seats,
        ];
        match transact(&self.scope, actions).await {
            Ok(()) => Ok(current),
            Err(TransactionFailure::Conditions(failed)) => {
                Err(if failed.iter().any(|(i, _)| *i == 3) {
                    StoreError::LastAdmin
                } else {
                    StoreError::VersionConflict
                })
            }
            Err(TransactionFailure::Other(err)) => Err(err),
        }
    }
}

impl ControlAuthority for DynamoControl {
    /// One `TransactGetItems` of the tenant record and the caller's member entry.
    async fn authority(&self, caller: &TenantContext) -> Result<Authority, StoreError> {
        let [record, member] = self
            .transact_get([
                keys::tenant(&caller.tenant_id),
                keys::member(&caller.tenant_id, &caller.user_id),
            ])
            .await?;
        // A token naming a tenant that does not exist: nothing to say about it.
        let tenant = parse_tenant(&record.ok_or(StoreError::TenantInactive)?)?;
        crate::authority::check(caller, tenant.status, &tenant.revoked, tenant.require_mfa)?;
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

    async fn update_tenant(
        &self,
        tenant: &TenantId,
        expected_version: Option<u64>,
        name: Option<TenantName>,
        settings: Option<TenantSettings>,
        require_mfa: Option<bool>,
    ) -> Result<Tenant, StoreError> {
        let mut set = vec!["updated_at = :now"];
        let mut update = self
            .scope
            .client
            .update_item()
            .table_name(self.table())
            .set_key(Some(key_map(&keys::tenant(tenant))))
            .expression_attribute_values(":now", AttributeValue::S(Timestamp::now().to_string()))
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        if let Some(name) = &name {
            set.push("#name = :name");
            update = update
                .expression_attribute_names("#name", "name")
                .expression_attribute_values(":name", AttributeValue::S(name.as_str().to_owned()));
        }
        if let Some(required) = require_mfa {
            set.push("require_mfa = :require_mfa");
            update =
                update.expression_attribute_values(":require_mfa", AttributeValue::Bool(required));
        }
        if let Some(settings) = &settings {
            set.push("settings = :settings");
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
        let result = update
            .update_expression(format!("SET {} ADD version :one", set.join(", ")))
            .condition_expression(condition)
            .send()
            .await;
        match result {
            Ok(output) => parse_tenant(&Item(output.attributes.unwrap_or_default())),
            Err(err) => match err.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(failed)) => {
                    Err(if failed.item().is_some() {
                        StoreError::VersionConflict
                    } else {
                        StoreError::NotFound
                    })
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
            .update_expression("SET #status = :deleting, updated_at = :now ADD version :one")
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
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(output) => parse_tenant(&Item(output.attributes.unwrap_or_default())),
            Err(err) => match err.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(failed)) => {
                    Err(match failed.item() {
                        None => StoreError::NotFound,
                        Some(_) => StoreError::InvalidTenantTransition {
                            from: TenantStatus::Deleted,
                            to: TenantStatus::Deleting,
                        },
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
        let mut query = self
            .scope
            .client
            .query()
            .table_name(self.table())
            .index_name(keys::GSI1)
            .expression_attribute_names("#pk", keys::GSI1_PK)
            .expression_attribute_values(":all", AttributeValue::S(keys::ALL_TENANTS.to_owned()))
            .limit(limit as i32);
        query = match after {
            None => query.key_condition_expression("#pk = :all"),
            Some(after) => query
                .key_condition_expression("#pk = :all AND #sk > :after")
                .expression_attribute_names("#sk", keys::GSI1_SK)
                .expression_attribute_values(":after", AttributeValue::S(after.to_string())),
        };
        let output = query.send().await.map_err(backend)?;
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

    async fn purge_members(&self, tenant: &TenantId) -> Result<(), StoreError> {
        for item in self.member_items(tenant).await? {
            let member = parse_member(&item)?;
            let actions = vec![
                self.delete_owned(&keys::membership(&member.user_id), tenant)?,
                self.delete_owned(&keys::email(&member.email), tenant)?,
                self.delete_owned(&keys::member(tenant, &member.user_id), tenant)?,
            ];
            match transact(&self.scope, actions).await {
                Ok(()) | Err(TransactionFailure::Conditions(_)) => {}
                Err(TransactionFailure::Other(err)) => return Err(err),
            }
        }
        Ok(())
    }
}
