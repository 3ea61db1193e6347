//! Members: an organization's view of its people (entries, seats, invitations, roles, removals).

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, Delete, TransactWriteItem, Update};

use super::DynamoControl;
use super::items::{
    ClaimState, ORGS, REVOKED, Revocation, email_claim, member_item, member_status_str,
    parse_member, parse_profile, parse_tenant,
};
use crate::domain::Role;
use crate::domain::email::EmailAddress;
use crate::domain::member::{
    Invitation, Member, MemberStatus, Membership, MembershipState, Profile,
};
use crate::domain::tenant::{Tenant, TenantStatus};
use crate::domain::time::Timestamp;
use crate::domain::time::now_millis;
use crate::ids::{TenantId, UserId};
use crate::keys::{self};
use crate::pagination::{Cursor, Position};
use crate::plans::Limit;
use crate::store::control::{MemberStore, Removed, Reservation, Reserved, TenantStore, room_for};
use crate::store::dynamo::item::key_map;
use crate::store::dynamo::{
    Failed, Item, Transaction, TransactionFailure, backend, built, condition_failed, parse_all,
    transact,
};
use crate::store::{ListPage, MEMBERS, StoreError};

/// What the conditions of a membership's transactions guard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Guard {
    /// The address's claim: nobody else's.
    Email,
    /// The member entry: new, or as it was read.
    Member,
    /// The tenant record: a seat under the plan's limit, the tenant active, another admin left,
    /// at the version read.
    Tenant,
    /// The person's profile, as it was read.
    Profile,
}

impl DynamoControl {
    /// `ADD user_count :users, admin_count :admins` on the tenant record, under `condition`
    /// (an expression and its values; `#status` may be used for the status attribute).
    pub(crate) fn count_seats(
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
    pub(crate) fn take_seat(
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
    pub(crate) fn seat_refusal(
        &self,
        record: Option<Item>,
        max_users: u64,
    ) -> Result<StoreError, StoreError> {
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

    /// The member entry, the profile and the tenant record of `user` in `tenant`, in one
    /// strongly consistent read; gives the tenant record a map of revocations if it predates them
    /// (once per tenant), so that a revocation can be added to it by path, and rewrites a profile
    /// of the older layout, so that its memberships can be changed by path.
    pub(crate) async fn read_member_state(
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

    pub(crate) async fn add_revocations_map(&self, tenant: &TenantId) -> Result<(), StoreError> {
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
            Err(err) if condition_failed(&err) => Ok(()),
            Err(err) => Err(backend(err)),
        }
    }

    /// Drops the revocations that `revocation` found expired, each only if it still holds the
    /// instant that was read (a user revoked again meanwhile keeps the new one). Best effort, after
    /// the change that recorded `revocation`: a failure leaves them for the next revocation.
    pub(crate) async fn prune_revocations(&self, tenant: &TenantId, revocation: &Revocation) {
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
            && !condition_failed(&err)
        {
            tracing::warn!(tenant_id = %tenant, error = %backend(err), "expired revocations not pruned");
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
        let items = parse_all(output.items, parse_member)?;
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
        let mut transaction = Transaction::new();
        transaction.push(Guard::Email, self.put_new(claim)?);
        transaction.push(Guard::Tenant, seat);
        match transaction.run(&self.scope).await {
            Ok(()) => {}
            Err(TransactionFailure::Conditions(failed)) => {
                let (guard, old) = failed
                    .into_iter()
                    .next()
                    .map_or((None, None), |(guard, old)| (Some(guard), old));
                let ours = |claim: &Item| {
                    claim.get_s("tenant_id").ok() == Some(tenant.to_string().as_str())
                };
                return match (guard, old) {
                    // An invitation of this address to this tenant that never finished (a
                    // crash between its steps): it still holds the address and a seat, which
                    // this one takes over.
                    (Some(Guard::Email), Some(claim))
                        if ours(&claim) && ClaimState::of(&claim) == ClaimState::Pending =>
                    {
                        let record = self.get_tenant(tenant).await?;
                        if !record.status.allows_access() {
                            return Err(StoreError::TenantInactive);
                        }
                        Ok(Reserved::New(Reservation::new(invitation, &record, true)))
                    }
                    // Someone with an account: they are invited to accept.
                    (Some(Guard::Email), Some(claim))
                        if ClaimState::of(&claim) == ClaimState::Member =>
                    {
                        Ok(Reserved::Existing(
                            claim
                                .get_s("user_id")
                                .ok()
                                .and_then(|raw| UserId::parse(raw).ok()),
                        ))
                    }
                    // Another organization's invitation is creating this address's account.
                    (Some(Guard::Email), Some(_)) => {
                        Err(StoreError::EmailTaken { same_tenant: false })
                    }
                    (Some(Guard::Tenant), old) => Err(self.seat_refusal(old, max_users)?),
                    _ => Err(StoreError::backend(
                        "invitation transaction failed without a reason",
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
        let mut transaction = Transaction::new();
        transaction.push(Guard::Member, self.put_new(member_item(tenant, &member))?);
        transaction.push(
            Guard::Tenant,
            self.take_seat(tenant, max_users, Some(record.version))?,
        );
        transaction.push(
            Guard::Profile,
            self.add_membership(profile.as_ref(), &membership)?,
        );
        match transaction.run(&self.scope).await {
            Ok(()) => Ok(member),
            Err(TransactionFailure::Conditions(failed)) => {
                let (guard, old) = failed.into_iter().next().unwrap_or((Guard::Profile, None));
                Err(match guard {
                    Guard::Member => StoreError::EmailTaken { same_tenant: true },
                    Guard::Tenant
                        if old
                            .as_ref()
                            .and_then(|item| item.get_n::<u64>("version").ok())
                            .is_some_and(|version| version != record.version) =>
                    {
                        StoreError::VersionConflict
                    }
                    Guard::Tenant => self.seat_refusal(old, max_users)?,
                    Guard::Profile | Guard::Email => {
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
        let demotion = (current.role == Role::Admin).then(|| state.revocation());
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
        let mut transaction = Transaction::new();
        transaction.push(
            Guard::Member,
            TransactWriteItem::builder().update(member_update).build(),
        );
        transaction.push(Guard::Tenant, seats);
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
            transaction.push(
                Guard::Profile,
                TransactWriteItem::builder()
                    .update(built(update.build())?)
                    .build(),
            );
        }
        match transaction.run(&self.scope).await {
            Ok(()) => {
                if let Some(revocation) = &demotion {
                    self.prune_revocations(tenant, revocation).await;
                }
                Ok(Member { role, ..current })
            }
            Err(TransactionFailure::Conditions(failed)) => Err(if failed.includes(Guard::Tenant) {
                StoreError::LastAdmin
            } else {
                StoreError::VersionConflict
            }),
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
        let revocation = (current.status != MemberStatus::Invited).then(|| state.revocation());
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
        let mut transaction = Transaction::new();
        transaction.push(
            Guard::Member,
            TransactWriteItem::builder().delete(delete_member).build(),
        );
        transaction.push(Guard::Tenant, seats);
        if state.profile.is_some() {
            transaction.push(Guard::Profile, self.remove_membership(user, tenant)?);
        }
        let remaining = state.profile.as_ref().map_or(0, |profile| {
            profile
                .memberships
                .keys()
                .filter(|other| *other != tenant)
                .count()
        });
        match transaction.run(&self.scope).await {
            Ok(()) => {
                if let Some(revocation) = &revocation {
                    self.prune_revocations(tenant, revocation).await;
                }
                Ok(Removed {
                    member: current,
                    remaining,
                })
            }
            Err(TransactionFailure::Conditions(failed)) => Err(if failed.includes(Guard::Tenant) {
                StoreError::LastAdmin
            } else {
                StoreError::VersionConflict
            }),
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

/// What a change to a member starts from.
#[derive(Debug)]
pub(crate) struct MemberState {
    member: Member,
    /// The person's profile (its entry for this tenant may be absent if a crash left only the
    /// member entry).
    profile: Option<Profile>,
    tenant: Tenant,
}

impl MemberState {
    /// A revocation that supersedes every grant the user's current membership (if any) and
    /// earlier revocations hold, so every token issued before it is refused.
    fn revocation(&self) -> Revocation {
        let granted = self
            .membership()
            .map_or(0, |membership| membership.granted_at);
        Revocation::after(self.member.user_id.clone(), granted, &self.tenant.revoked)
    }

    fn membership(&self) -> Option<&Membership> {
        self.profile
            .as_ref()
            .and_then(|profile| profile.of(&self.tenant.id))
    }
}
