//! An in-memory control store for handler tests; passes [`super::control_contract`].

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::authority::{Admit, Authority, ControlAuthority};
use crate::billing::Account;
use crate::context::TenantContext;
use crate::domain::Role;
use crate::domain::email::EmailAddress;
use crate::domain::member::{
    Invitation, MAX_MEMBERSHIPS, Member, MemberStatus, Membership, MembershipState, Profile,
};
use crate::domain::revocation::{expired_revocations, next_grant};
use crate::domain::tenant::{Tenant, TenantName, TenantSettings, TenantStatus};
use crate::domain::time::Timestamp;
use crate::domain::time::now_millis;
use crate::ids::{TenantId, UserId};
use crate::pagination::{Cursor, Position};
use crate::plans::Limit;
use crate::store::billing::{BillingStore, Saved};
use crate::store::control::{
    MemberStore, MembershipLookup, MigrationState, Onboarded, Onboarding, PersonStore, Removed,
    Reservation, Reserved, TenantStateChange, TenantStore, room_for, status_change_allowed,
};
use crate::store::{ListPage, MEMBERS, StoreError};

/// Which person an address belongs to, or which tenant's unfinished invitation holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Claim {
    Pending(TenantId),
    Person(UserId),
}

#[derive(Debug, Default)]
struct State {
    tenants: BTreeMap<TenantId, Tenant>,
    members: HashMap<TenantId, BTreeMap<String, Member>>,
    profiles: HashMap<UserId, Profile>,
    emails: HashMap<EmailAddress, Claim>,
    migrations: HashMap<TenantId, MigrationState>,
    accounts: HashMap<TenantId, Account>,
    customers: HashMap<String, TenantId>,
    events: std::collections::HashSet<String>,
    outbox: Vec<crate::mail::Held>,
    outbox_released: usize,
    api_clients: HashMap<crate::api_clients::ClientId, crate::api_clients::ApiClient>,
}

#[derive(Debug, Clone, Default)]
pub struct MemoryControl {
    state: Arc<Mutex<State>>,
}

impl MemoryControl {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Records a migration in progress, as the migration job would (test set-up).
    pub fn set_migration(&self, tenant: TenantId, migration: Option<MigrationState>) {
        let mut state = self.lock();
        match migration {
            Some(migration) => state.migrations.insert(tenant, migration),
            None => state.migrations.remove(&tenant),
        };
    }

    /// Makes a pending invitation expired, as time would (test set-up).
    pub fn expire_invitation(&self, tenant: &TenantId, user: &UserId) {
        let past = now_millis().saturating_sub(1);
        let mut state = self.lock();
        if let Some(membership) = state.membership_mut(tenant, user)
            && let MembershipState::Invited { expires_at } = &mut membership.state
        {
            *expires_at = past;
        }
        if let Some(member) = state
            .members
            .get_mut(tenant)
            .and_then(|members| members.get_mut(user.as_str()))
        {
            member.expires_at = Some(Timestamp::from_millis(past));
        }
    }

    /// Puts a tenant record as is (test set-up).
    pub fn insert_tenant(&self, tenant: Tenant) {
        self.lock().tenants.insert(tenant.id, tenant);
    }
}

impl MembershipLookup for MemoryControl {
    async fn profile(&self, user: &UserId) -> Result<Option<Profile>, StoreError> {
        Ok(self.lock().profiles.get(user).cloned())
    }
}

impl MemoryControl {
    /// Records an API client, as the api-clients function would (test set-up).
    pub fn add_api_client(&self, client: crate::api_clients::ApiClient) {
        self.lock()
            .api_clients
            .insert(client.client_id.clone(), client);
    }
}

impl crate::store::control::MachineLookup for MemoryControl {
    async fn machine_client(
        &self,
        client: &crate::api_clients::ClientId,
    ) -> Result<Option<(crate::api_clients::ApiClient, Tenant)>, StoreError> {
        let state = self.lock();
        Ok(state.api_clients.get(client).and_then(|client| {
            let tenant = state.tenants.get(&client.tenant_id)?;
            Some((client.clone(), tenant.clone()))
        }))
    }
}

impl State {
    /// Adds a membership to its person's profile (creating the profile), as the DynamoDB
    /// adapter does: within [`MAX_MEMBERSHIPS`], and chosen if the person has no usable choice.
    fn add_membership(&mut self, membership: Membership) -> Result<(), StoreError> {
        let profile = self
            .profiles
            .entry(membership.user_id.clone())
            .or_insert_with(|| Profile {
                user_id: membership.user_id.clone(),
                email: membership.email.clone(),
                active: None,
                memberships: BTreeMap::new(),
            });
        if profile.memberships.len() >= MAX_MEMBERSHIPS {
            return Err(StoreError::TooManyOrganizations);
        }
        if profile.chosen().is_none() && membership.state == MembershipState::Active {
            profile.active = Some(membership.tenant_id);
        }
        profile.memberships.insert(membership.tenant_id, membership);
        Ok(())
    }

    fn member(&self, tenant: &TenantId, user: &UserId) -> Option<&Member> {
        self.members
            .get(tenant)
            .and_then(|members| members.get(user.as_str()))
    }

    fn insert_member(&mut self, tenant: &TenantId, member: Member) {
        self.members
            .entry(*tenant)
            .or_default()
            .insert(member.user_id.to_string(), member);
    }

    fn membership_mut(&mut self, tenant: &TenantId, user: &UserId) -> Option<&mut Membership> {
        self.profiles
            .get_mut(user)
            .and_then(|profile| profile.memberships.get_mut(tenant))
    }
}

impl Onboarding for MemoryControl {
    async fn onboard(
        &self,
        tenant: &Tenant,
        admin: &UserId,
        email: &EmailAddress,
    ) -> Result<Onboarded, StoreError> {
        let mut state = self.lock();
        if state.profiles.contains_key(admin) {
            return Ok(Onboarded::AlreadyMember);
        }
        if state.emails.contains_key(email) {
            return Err(StoreError::EmailTaken { same_tenant: false });
        }
        state.tenants.insert(tenant.id, tenant.clone());
        state
            .emails
            .insert(email.clone(), Claim::Person(admin.clone()));
        let membership = Membership::first_admin(tenant, admin, email);
        state.insert_member(&tenant.id, Member::of(&membership, tenant.created_at));
        state.add_membership(membership)?;
        Ok(Onboarded::Created)
    }
}

impl MemberStore for MemoryControl {
    async fn list_members(
        &self,
        tenant: &TenantId,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<ListPage<Member>, StoreError> {
        let state = self.lock();
        let after = match cursor {
            None => None,
            Some(raw) => {
                let cursor =
                    Cursor::decode(raw, tenant, MEMBERS, 1, |sk| UserId::parse(sk).is_ok())
                        .map_err(|_| StoreError::InvalidCursor)?;
                match cursor.positions.into_iter().next() {
                    Some(Position::Before(after)) => Some(after),
                    _ => return Err(StoreError::InvalidCursor),
                }
            }
        };
        let empty = BTreeMap::new();
        let members = state.members.get(tenant).unwrap_or(&empty);
        let candidates: Vec<&Member> = match &after {
            None => members.values().collect(),
            Some(after) => members
                .range::<String, _>((std::ops::Bound::Excluded(after), std::ops::Bound::Unbounded))
                .map(|(_, m)| m)
                .collect(),
        };
        let items: Vec<Member> = candidates
            .iter()
            .take(limit)
            .map(|m| (*m).clone())
            .collect();
        let next_cursor = (candidates.len() > limit).then(|| {
            Cursor {
                tenant: *tenant,
                collection: MEMBERS.to_owned(),
                positions: vec![Position::Before(candidates[limit - 1].user_id.to_string())],
            }
            .encode()
        });
        Ok(ListPage { items, next_cursor })
    }

    async fn get_member(&self, tenant: &TenantId, user: &UserId) -> Result<Member, StoreError> {
        self.lock()
            .members
            .get(tenant)
            .and_then(|members| members.get(user.as_str()))
            .cloned()
            .ok_or(StoreError::NotFound)
    }

    async fn reserve_invite(
        &self,
        tenant: &TenantId,
        invitation: &Invitation,
        max_users: u64,
    ) -> Result<Reserved, StoreError> {
        let mut state = self.lock();
        match state.emails.get(&invitation.email).cloned() {
            Some(Claim::Pending(holder)) if holder == *tenant => {
                let record = state.tenants.get(tenant).ok_or(StoreError::NotFound)?;
                if !record.status.allows_access() {
                    return Err(StoreError::TenantInactive);
                }
                return Ok(Reserved::New(Reservation::new(invitation, record, true)));
            }
            Some(Claim::Pending(_)) => return Err(StoreError::EmailTaken { same_tenant: false }),
            Some(Claim::Person(user)) => return Ok(Reserved::Existing(Some(user))),
            None => {}
        }
        let record = take_seat(&mut state, tenant, max_users)?;
        // An admin is counted once the membership exists (complete_invite).
        let reservation = Reservation::new(invitation, record, false);
        state
            .emails
            .insert(invitation.email.clone(), Claim::Pending(*tenant));
        Ok(Reserved::New(reservation))
    }

    async fn invite_existing(
        &self,
        tenant: &TenantId,
        invitation: &Invitation,
        user: &UserId,
        max_users: u64,
    ) -> Result<Member, StoreError> {
        let mut state = self.lock();
        room_for(state.profiles.get(user), tenant)?;
        if state.member(tenant, user).is_some() {
            return Err(StoreError::EmailTaken { same_tenant: true });
        }
        let record = take_seat(&mut state, tenant, max_users)?;
        let membership = Reservation::new(invitation, record, false).membership(
            tenant,
            user,
            Reservation::invited_at(now_millis()),
        );
        let member = Member::of(&membership, Timestamp::now());
        state.insert_member(tenant, member.clone());
        state.add_membership(membership)?;
        Ok(member)
    }

    async fn complete_invite(
        &self,
        tenant: &TenantId,
        reservation: &Reservation,
        user: &UserId,
    ) -> Result<Member, StoreError> {
        let mut state = self.lock();
        if state.profiles.contains_key(user)
            || state.emails.get(&reservation.invitation.email) != Some(&Claim::Pending(*tenant))
        {
            return Err(StoreError::EmailTaken { same_tenant: false });
        }
        state.emails.insert(
            reservation.invitation.email.clone(),
            Claim::Person(user.clone()),
        );
        let membership = reservation.membership(tenant, user, MembershipState::Active);
        let member = Member::of(&membership, Timestamp::now());
        if reservation.invitation.role == Role::Admin
            && let Some(record) = state.tenants.get_mut(tenant)
        {
            record.admin_count += 1;
        }
        state.insert_member(tenant, member.clone());
        state.add_membership(membership)?;
        Ok(member)
    }

    async fn cancel_invite(
        &self,
        tenant: &TenantId,
        reservation: &Reservation,
    ) -> Result<(), StoreError> {
        let mut state = self.lock();
        if state.emails.get(&reservation.invitation.email) == Some(&Claim::Pending(*tenant)) {
            state.emails.remove(&reservation.invitation.email);
            if let Some(record) = state.tenants.get_mut(tenant) {
                record.user_count = record.user_count.saturating_sub(1);
            }
        }
        Ok(())
    }

    async fn change_role(
        &self,
        tenant: &TenantId,
        user: &UserId,
        role: Role,
    ) -> Result<Member, StoreError> {
        let mut state = self.lock();
        let current = state
            .member(tenant, user)
            .cloned()
            .ok_or(StoreError::NotFound)?;
        if current.status == MemberStatus::Invited {
            return Err(StoreError::InvitationPending);
        }
        if current.role == role {
            return Ok(current);
        }
        let previous = previous_grant(&state, tenant, user);
        let record = state.tenants.get_mut(tenant).ok_or(StoreError::NotFound)?;
        let mut demoted_at = None;
        if current.role == Role::Admin {
            if record.admin_count <= 1 {
                return Err(StoreError::LastAdmin);
            }
            record.admin_count -= 1;
            demoted_at = Some(revoke(record, user, previous));
        } else {
            record.admin_count += 1;
        }
        let updated = Member { role, ..current };
        state.insert_member(tenant, updated.clone());
        if let Some(membership) = state.membership_mut(tenant, user) {
            membership.role = role;
            if let Some(at) = demoted_at {
                membership.granted_at = at;
            }
        }
        Ok(updated)
    }

    async fn remove_member(&self, tenant: &TenantId, user: &UserId) -> Result<Removed, StoreError> {
        let mut state = self.lock();
        let current = state
            .member(tenant, user)
            .cloned()
            .ok_or(StoreError::NotFound)?;
        let previous = previous_grant(&state, tenant, user);
        let record = state.tenants.get_mut(tenant).ok_or(StoreError::NotFound)?;
        if current.status != MemberStatus::Invited {
            if current.role == Role::Admin {
                if record.admin_count <= 1 {
                    return Err(StoreError::LastAdmin);
                }
                record.admin_count -= 1;
            }
            revoke(record, user, previous);
        }
        record.user_count = record.user_count.saturating_sub(1);
        if let Some(members) = state.members.get_mut(tenant) {
            members.remove(user.as_str());
        }
        let remaining = match state.profiles.get_mut(user) {
            Some(profile) => {
                profile.memberships.remove(tenant);
                profile.memberships.len()
            }
            None => 0,
        };
        Ok(Removed {
            member: current,
            remaining,
        })
    }

    async fn forget_person(&self, user: &UserId, email: &EmailAddress) -> Result<bool, StoreError> {
        let mut state = self.lock();
        forget(&mut state, user, email)
    }
}

/// Deletes the profile and claim of a person with nothing left (see
/// [`MemberStore::forget_person`]).
fn forget(state: &mut State, user: &UserId, email: &EmailAddress) -> Result<bool, StoreError> {
    if state
        .profiles
        .get(user)
        .is_some_and(|profile| !profile.memberships.is_empty())
    {
        return Ok(false);
    }
    match state.emails.get(email) {
        Some(Claim::Person(owner)) if owner != user => return Ok(false),
        Some(Claim::Pending(_)) => return Ok(false),
        _ => {}
    }
    state.profiles.remove(user);
    state.emails.remove(email);
    Ok(true)
}

/// A seat taken under the plan's limit, only while the tenant is open for work.
fn take_seat<'a>(
    state: &'a mut State,
    tenant: &TenantId,
    max_users: u64,
) -> Result<&'a Tenant, StoreError> {
    let record = state.tenants.get_mut(tenant).ok_or(StoreError::NotFound)?;
    if !record.status.allows_access() {
        return Err(StoreError::TenantInactive);
    }
    if record.user_count >= max_users {
        return Err(StoreError::QuotaExceeded {
            limit: Limit::Users,
            max: max_users,
        });
    }
    record.user_count += 1;
    Ok(record)
}

/// Copies status, tier and MFA requirement into the tenant's memberships.
fn copy_into_memberships(state: &mut State, tenant: &Tenant) {
    for membership in state
        .profiles
        .values_mut()
        .filter_map(|profile| profile.memberships.get_mut(&tenant.id))
    {
        membership.tier = tenant.tier;
        membership.tenant_status = tenant.status;
        membership.require_mfa = tenant.require_mfa;
    }
}

/// The grant a revocation of `user` in `tenant` must supersede.
fn previous_grant(state: &State, tenant: &TenantId, user: &UserId) -> u64 {
    let membership = state
        .profiles
        .get(user)
        .and_then(|profile| profile.of(tenant))
        .map_or(0, |m| m.granted_at);
    let revoked = state
        .tenants
        .get(tenant)
        .and_then(|t| t.revoked.get(user).copied())
        .unwrap_or(0);
    membership.max(revoked)
}

/// Records a revocation of `user` (pruning expired ones) and returns its instant.
fn revoke(record: &mut Tenant, user: &UserId, previous: u64) -> u64 {
    let at = next_grant(previous);
    for (expired, _) in expired_revocations(&record.revoked, now_millis()) {
        record.revoked.remove(&expired);
    }
    record.revoked.insert(user.clone(), at);
    at
}

impl ControlAuthority for MemoryControl {
    async fn authority_in(
        &self,
        caller: &TenantContext,
        admit: Admit,
    ) -> Result<Authority, StoreError> {
        let state = self.lock();
        let tenant = state
            .tenants
            .get(&caller.tenant_id)
            .cloned()
            .ok_or(StoreError::TenantInactive)?;
        crate::authority::check_in(caller, &tenant, admit)?;
        let member = state
            .members
            .get(&caller.tenant_id)
            .and_then(|members| members.get(caller.user_id.as_str()))
            .filter(|member| member.status == MemberStatus::Active)
            .ok_or(StoreError::Revoked)?;
        Ok(Authority {
            role: member.role,
            tenant,
        })
    }
}

impl TenantStore for MemoryControl {
    async fn get_tenant(&self, tenant: &TenantId) -> Result<Tenant, StoreError> {
        self.lock()
            .tenants
            .get(tenant)
            .cloned()
            .ok_or(StoreError::NotFound)
    }

    async fn update_tenant(
        &self,
        tenant: &TenantId,
        expected_version: Option<u64>,
        name: Option<TenantName>,
        settings: Option<TenantSettings>,
        require_mfa: Option<bool>,
    ) -> Result<Tenant, StoreError> {
        let mut state = self.lock();
        let record = state.tenants.get_mut(tenant).ok_or(StoreError::NotFound)?;
        if expected_version.is_some_and(|v| v != record.version) {
            return Err(StoreError::VersionConflict);
        }
        if let Some(name) = name {
            record.name = name;
        }
        if let Some(required) = require_mfa {
            record.require_mfa = required;
        }
        if let Some(settings) = settings {
            record.settings = settings;
        }
        record.version += 1;
        record.updated_at = Timestamp::now();
        Ok(record.clone())
    }

    async fn set_tenant_state(
        &self,
        tenant: &TenantId,
        change: TenantStateChange,
    ) -> Result<Tenant, StoreError> {
        let mut state = self.lock();
        let record = state.tenants.get_mut(tenant).ok_or(StoreError::NotFound)?;
        if change.expected_version.is_some_and(|v| v != record.version)
            || change.expected_status.is_some_and(|s| s != record.status)
        {
            return Err(StoreError::VersionConflict);
        }
        if let Some(to) = change.status {
            if !status_change_allowed(record.status, to) {
                return Err(StoreError::InvalidTenantTransition {
                    from: record.status,
                    to,
                });
            }
            record.status = to;
        }
        if let Some(tier) = change.tier {
            record.tier = tier;
        }
        if let Some(table) = change.data_table {
            record.data_table = table;
        }
        if let Some(lowered) = change.plan_lowered {
            record.plan_lowered = lowered;
        }
        if record.status != TenantStatus::Suspended {
            record.suspended_for = None;
        } else if let Some(cause) = change.suspended_for {
            record.suspended_for = Some(cause);
        }
        record.version += 1;
        record.updated_at = Timestamp::now();
        let updated = record.clone();
        copy_into_memberships(&mut state, &updated);
        Ok(updated)
    }

    async fn sync_memberships(&self, tenant: &TenantId) -> Result<(), StoreError> {
        let mut state = self.lock();
        let record = state
            .tenants
            .get(tenant)
            .cloned()
            .ok_or(StoreError::NotFound)?;
        copy_into_memberships(&mut state, &record);
        Ok(())
    }

    async fn begin_offboarding(&self, tenant: &TenantId) -> Result<Tenant, StoreError> {
        let mut state = self.lock();
        let record = state.tenants.get_mut(tenant).ok_or(StoreError::NotFound)?;
        if record.status == TenantStatus::Deleted {
            return Err(StoreError::InvalidTenantTransition {
                from: TenantStatus::Deleted,
                to: TenantStatus::Deleting,
            });
        }
        record.status = TenantStatus::Deleting;
        record.version += 1;
        record.updated_at = Timestamp::now();
        Ok(record.clone())
    }

    async fn list_tenants(
        &self,
        limit: usize,
        cursor: Option<&str>,
    ) -> Result<ListPage<Tenant>, StoreError> {
        let state = self.lock();
        let after = cursor
            .map(crate::store::control_cursor::decode)
            .transpose()?;
        let candidates: Vec<&Tenant> = match after {
            None => state.tenants.values().collect(),
            Some(after) => state
                .tenants
                .range((std::ops::Bound::Excluded(after), std::ops::Bound::Unbounded))
                .map(|(_, t)| t)
                .collect(),
        };
        let items: Vec<Tenant> = candidates
            .iter()
            .take(limit)
            .map(|t| (*t).clone())
            .collect();
        let next_cursor = (candidates.len() > limit)
            .then(|| crate::store::control_cursor::encode(&candidates[limit - 1].id));
        Ok(ListPage { items, next_cursor })
    }

    async fn migration(&self, tenant: &TenantId) -> Result<Option<MigrationState>, StoreError> {
        Ok(self.lock().migrations.get(tenant).cloned())
    }

    async fn member_ids(&self, tenant: &TenantId) -> Result<Vec<UserId>, StoreError> {
        Ok(self
            .lock()
            .members
            .get(tenant)
            .map(|members| members.values().map(|m| m.user_id.clone()).collect())
            .unwrap_or_default())
    }

    async fn detach_member(&self, tenant: &TenantId, user: &UserId) -> Result<bool, StoreError> {
        let mut state = self.lock();
        let Some(profile) = state.profiles.get_mut(user) else {
            return Ok(true);
        };
        profile.memberships.remove(tenant);
        let email = profile.email.clone();
        forget(&mut state, user, &email)
    }

    async fn purge_members(&self, tenant: &TenantId) -> Result<(), StoreError> {
        self.lock().members.remove(tenant);
        Ok(())
    }
}

impl PersonStore for MemoryControl {
    async fn tenants(&self, ids: &[TenantId]) -> Result<Vec<Tenant>, StoreError> {
        let state = self.lock();
        let mut tenants: Vec<Tenant> = ids
            .iter()
            .filter_map(|id| state.tenants.get(id).cloned())
            .collect();
        tenants.sort_by_key(|tenant| tenant.id);
        Ok(tenants)
    }

    async fn set_active(&self, user: &UserId, tenant: &TenantId) -> Result<(), StoreError> {
        let mut state = self.lock();
        let profile = state.profiles.get_mut(user).ok_or(StoreError::NotFound)?;
        if profile
            .of(tenant)
            .is_none_or(|m| m.state != MembershipState::Active)
        {
            return Err(StoreError::NotFound);
        }
        profile.active = Some(*tenant);
        Ok(())
    }

    async fn answer_invitation(
        &self,
        user: &UserId,
        tenant: &TenantId,
        accept: bool,
    ) -> Result<(), StoreError> {
        let mut state = self.lock();
        let invitation = state
            .profiles
            .get(user)
            .and_then(|profile| profile.of(tenant))
            .ok_or(StoreError::NotFound)?;
        let MembershipState::Invited { expires_at } = invitation.state else {
            return Err(StoreError::AlreadyAnswered);
        };
        let member = state
            .member(tenant, user)
            .cloned()
            .ok_or(StoreError::NotFound)?;
        let record = state.tenants.get_mut(tenant).ok_or(StoreError::NotFound)?;
        if !accept {
            record.user_count = record.user_count.saturating_sub(1);
            if let Some(members) = state.members.get_mut(tenant) {
                members.remove(user.as_str());
            }
            if let Some(profile) = state.profiles.get_mut(user) {
                profile.memberships.remove(tenant);
            }
            return Ok(());
        }
        if expires_at <= now_millis() {
            return Err(StoreError::InvitationExpired);
        }
        if !record.status.allows_access() {
            return Err(StoreError::TenantInactive);
        }
        if member.role == Role::Admin {
            record.admin_count += 1;
        }
        let granted = next_grant(record.revoked.get(user).copied().unwrap_or(0));
        let record = record.clone();
        state.insert_member(
            tenant,
            Member {
                status: MemberStatus::Active,
                expires_at: None,
                ..member
            },
        );
        if let Some(membership) = state.membership_mut(tenant, user) {
            membership.state = MembershipState::Active;
            membership.granted_at = granted;
            membership.tier = record.tier;
            membership.tenant_status = record.status;
            membership.require_mfa = record.require_mfa;
        }
        Ok(())
    }

    async fn create_organization(
        &self,
        tenant: &Tenant,
        admin: &UserId,
        email: &EmailAddress,
    ) -> Result<(), StoreError> {
        let mut state = self.lock();
        room_for(state.profiles.get(admin), &tenant.id)?;
        let email = state
            .profiles
            .get(admin)
            .map_or_else(|| email.clone(), |profile| profile.email.clone());
        let membership = Membership::first_admin(tenant, admin, &email);
        state.tenants.insert(tenant.id, tenant.clone());
        state.insert_member(&tenant.id, Member::of(&membership, tenant.created_at));
        state.add_membership(membership)
    }
}

impl crate::mail::Outbox for MemoryControl {
    async fn hold(&self, email: &crate::mail::Email) -> Result<(), StoreError> {
        let mut state = self.lock();
        let id = format!("{:08}", state.outbox.len() + state.outbox_released);
        state.outbox.push(crate::mail::Held {
            id,
            email: email.clone(),
        });
        Ok(())
    }

    async fn held(&self, limit: usize) -> Result<Vec<crate::mail::Held>, StoreError> {
        Ok(self.lock().outbox.iter().take(limit).cloned().collect())
    }

    async fn release(&self, id: &str) -> Result<(), StoreError> {
        let mut state = self.lock();
        let before = state.outbox.len();
        state.outbox.retain(|held| held.id != id);
        state.outbox_released += before - state.outbox.len();
        Ok(())
    }
}

impl BillingStore for MemoryControl {
    async fn account(&self, tenant: &TenantId) -> Result<Account, StoreError> {
        Ok(self
            .lock()
            .accounts
            .get(tenant)
            .cloned()
            .unwrap_or_default())
    }

    async fn attach_customer(
        &self,
        tenant: &TenantId,
        customer: &str,
    ) -> Result<String, StoreError> {
        let mut state = self.lock();
        let account = state.accounts.entry(*tenant).or_default();
        if let Some(existing) = &account.customer {
            return Ok(existing.clone());
        }
        account.customer = Some(customer.to_owned());
        state.customers.insert(customer.to_owned(), *tenant);
        Ok(customer.to_owned())
    }

    async fn tenant_of_customer(&self, customer: &str) -> Result<Option<TenantId>, StoreError> {
        Ok(self.lock().customers.get(customer).copied())
    }

    async fn event_seen(&self, event: &str) -> Result<bool, StoreError> {
        Ok(self.lock().events.contains(event))
    }

    async fn save_account(
        &self,
        tenant: &TenantId,
        account: &Account,
        event: Option<&str>,
    ) -> Result<Saved, StoreError> {
        let mut state = self.lock();
        if event.is_some_and(|event| state.events.contains(event)) {
            return Ok(Saved::Duplicate);
        }
        let stored = state.accounts.entry(*tenant).or_default();
        if stored.version != account.version {
            return Err(StoreError::VersionConflict);
        }
        *stored = Account {
            customer: stored.customer.clone(),
            version: account.version + 1,
            ..account.clone()
        };
        if let Some(event) = event {
            state.events.insert(event.to_owned());
        }
        Ok(Saved::Saved)
    }

    async fn grace_expired(
        &self,
        failed_by: i64,
        limit: usize,
    ) -> Result<Vec<TenantId>, StoreError> {
        let state = self.lock();
        let mut due: Vec<(i64, TenantId)> = state
            .accounts
            .iter()
            .filter_map(|(tenant, account)| Some((account.awaiting_suspension()?, *tenant)))
            .filter(|(since, _)| *since <= failed_by)
            .collect();
        due.sort();
        Ok(due
            .into_iter()
            .take(limit)
            .map(|(_, tenant)| tenant)
            .collect())
    }

    async fn billed_tenants(
        &self,
        after: Option<&str>,
        limit: usize,
    ) -> Result<ListPage<TenantId>, StoreError> {
        let state = self.lock();
        let mut listed: Vec<TenantId> = state
            .accounts
            .iter()
            .filter(|(_, account)| account.awaiting_suspension().is_some() || account.paying())
            .map(|(tenant, _)| *tenant)
            .filter(|tenant| after.is_none_or(|after| tenant.to_string().as_str() > after))
            .collect();
        listed.sort();
        let more = listed.len() > limit;
        listed.truncate(limit);
        let next_cursor = more
            .then(|| listed.last().map(ToString::to_string))
            .flatten();
        Ok(ListPage {
            items: listed,
            next_cursor,
        })
    }
}

#[cfg(test)]
mod tests {
    crate::control_contract_tests!(super::MemoryControl::new());
}
