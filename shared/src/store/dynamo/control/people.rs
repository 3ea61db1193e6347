//! People: a person's profile (every membership and invitation), sign-up, and the organizations a person creates, joins and leaves.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{
    AttributeValue, Delete, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update,
};

use super::DynamoControl;
use super::items::{
    ClaimState, ORGS, SINGLE_MEMBERSHIP_FIELDS, email_claim, is_single_membership, member_item,
    member_status_str, membership_entry, membership_state_str, parse_member, parse_profile,
    parse_tenant, profile_item, tenant_item,
};
use crate::domain::Role;
use crate::domain::email::EmailAddress;
use crate::domain::member::{
    MAX_MEMBERSHIPS, Member, MemberStatus, Membership, MembershipState, Profile,
};
use crate::domain::revocation::next_grant;
use crate::domain::tenant::{Tenant, TenantStatus};
use crate::domain::time::now_millis;
use crate::ids::{TenantId, UserId};
use crate::keys::{self};
use crate::store::StoreError;
use crate::store::control::{MembershipLookup, Onboarded, Onboarding, PersonStore, room_for};
use crate::store::dynamo::item::key_map;
use crate::store::dynamo::{
    Failed, Item, Transaction, TransactionFailure, backend, built, condition_failed,
};

/// What the conditions of a person's transactions guard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Guard {
    /// The tenant record: new, or open and with a seat.
    Tenant,
    /// The member entry: new, or as it was read.
    Member,
    /// The person's profile: new, as it was read, with room for one more organization.
    Profile,
    /// The address's claim: nobody else's.
    Email,
}

impl DynamoControl {
    /// The profile of `user`, strongly consistent, in the current layout (rewriting one of the
    /// older layout first).
    pub(crate) async fn profile_for_change(
        &self,
        user: &UserId,
    ) -> Result<Option<Profile>, StoreError> {
        match self.get(&keys::profile(user)).await? {
            Some(item) => Ok(Some(self.upgraded(item).await?)),
            None => Ok(None),
        }
    }

    /// Rewrites a profile of the single-membership layout as a map of one membership (the same
    /// content), conditioned on it still being that: idempotent, and safe against a concurrent
    /// rewrite. Returns the profile as read.
    pub(crate) async fn upgraded(&self, item: Item) -> Result<Profile, StoreError> {
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
            Err(err) if condition_failed(&err) => {
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
    pub(crate) fn add_membership(
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
    pub(crate) fn remove_membership(
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
        let mut transaction = Transaction::new();
        transaction.push(Guard::Tenant, self.put_new(tenant_item(tenant))?);
        transaction.push(Guard::Profile, self.add_membership(None, &membership)?);
        transaction.push(
            Guard::Member,
            self.put_new(member_item(
                &tenant.id,
                &Member::of(&membership, tenant.created_at),
            ))?,
        );
        transaction.push(
            Guard::Email,
            self.put_new(email_claim(
                email,
                &tenant.id,
                ClaimState::Member,
                Some(admin),
            ))?,
        );
        match transaction.run(&self.scope).await {
            Ok(()) => Ok(Onboarded::Created),
            Err(TransactionFailure::Conditions(failed)) => {
                if failed.includes(Guard::Profile) {
                    Ok(Onboarded::AlreadyMember)
                } else if failed.includes(Guard::Email) {
                    Err(StoreError::EmailTaken { same_tenant: false })
                } else {
                    Err(StoreError::backend(format!(
                        "onboarding transaction: conditions {failed:?} failed"
                    )))
                }
            }
            Err(TransactionFailure::Other(err)) => Err(err),
        }
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
            Err(err) if condition_failed(&err) => Err(StoreError::NotFound),
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
        let member_profile_seats = if accept {
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
            [
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
            [
                TransactWriteItem::builder()
                    .delete(built(delete_member.build())?)
                    .build(),
                TransactWriteItem::builder()
                    .update(built(profile_update.build())?)
                    .build(),
                self.count_seats(tenant, -1, 0, None)?,
            ]
        };
        let mut transaction = Transaction::new();
        for (guard, action) in [Guard::Member, Guard::Profile, Guard::Tenant]
            .into_iter()
            .zip(member_profile_seats)
        {
            transaction.push(guard, action);
        }
        match transaction.run(&self.scope).await {
            Ok(()) => Ok(()),
            // Answered, withdrawn or the tenant closed meanwhile: what is there now says which.
            Err(TransactionFailure::Conditions(failed)) => {
                if failed.includes(Guard::Tenant) {
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
        let mut transaction = Transaction::new();
        transaction.push(Guard::Tenant, self.put_new(tenant_item(tenant))?);
        transaction.push(
            Guard::Member,
            self.put_new(member_item(
                &tenant.id,
                &Member::of(&membership, tenant.created_at),
            ))?,
        );
        transaction.push(
            Guard::Profile,
            self.add_membership(profile.as_ref(), &membership)?,
        );
        match transaction.run(&self.scope).await {
            Ok(()) => Ok(()),
            Err(TransactionFailure::Conditions(failed)) if failed.includes(Guard::Profile) => {
                Err(StoreError::TooManyOrganizations)
            }
            Err(TransactionFailure::Conditions(failed)) => Err(StoreError::backend(format!(
                "creating an organization: conditions {failed:?} failed"
            ))),
            Err(TransactionFailure::Other(err)) => Err(err),
        }
    }
}
