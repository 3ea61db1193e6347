//! An in-memory control store for handler tests; passes [`super::control_contract`].

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use super::control::{
    MemberStore, MembershipLookup, MigrationState, Onboarded, Onboarding, Reservation,
    TenantStateChange, TenantStore, status_change_allowed,
};
use super::{ListPage, MEMBERS, StoreError};
use crate::authority::{Authority, ControlAuthority, expired_revocations, next_grant, now_millis};
use crate::context::{Role, TenantContext};
use crate::domain::email::EmailAddress;
use crate::domain::member::{Invitation, Member, MemberStatus, Membership};
use crate::domain::tenant::{Tenant, TenantName, TenantSettings, TenantStatus};
use crate::domain::time::Timestamp;
use crate::ids::{TenantId, UserId};
use crate::pagination::{Cursor, Position};
use crate::plans::Limit;

/// Which tenant an address belongs to, and whether only by an unfinished invitation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Claim {
    tenant: TenantId,
    pending: bool,
}

#[derive(Debug, Default)]
struct State {
    tenants: BTreeMap<TenantId, Tenant>,
    members: HashMap<TenantId, BTreeMap<String, Member>>,
    memberships: HashMap<UserId, Membership>,
    emails: HashMap<EmailAddress, Claim>,
    migrations: HashMap<TenantId, MigrationState>,
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

    /// Puts a tenant record as is (test set-up).
    pub fn insert_tenant(&self, tenant: Tenant) {
        self.lock().tenants.insert(tenant.id, tenant);
    }
}

impl MembershipLookup for MemoryControl {
    async fn membership(&self, user: &UserId) -> Result<Option<Membership>, StoreError> {
        Ok(self.lock().memberships.get(user).cloned())
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
        if state.memberships.contains_key(admin) {
            return Ok(Onboarded::AlreadyMember);
        }
        if state.emails.contains_key(email) {
            return Err(StoreError::EmailTaken { same_tenant: false });
        }
        state.tenants.insert(tenant.id, tenant.clone());
        state.emails.insert(
            email.clone(),
            Claim {
                tenant: tenant.id,
                pending: false,
            },
        );
        state.memberships.insert(
            admin.clone(),
            Membership {
                user_id: admin.clone(),
                tenant_id: tenant.id,
                role: Role::Admin,
                tier: tenant.tier,
                tenant_status: tenant.status,
                email: email.clone(),
                granted_at: now_millis(),
                require_mfa: tenant.require_mfa,
            },
        );
        state.members.entry(tenant.id).or_default().insert(
            admin.to_string(),
            Member {
                user_id: admin.clone(),
                email: email.clone(),
                role: Role::Admin,
                status: MemberStatus::Active,
                created_at: tenant.created_at,
            },
        );
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
    ) -> Result<Reservation, StoreError> {
        let mut state = self.lock();
        if let Some(claim) = state.emails.get(&invitation.email).copied() {
            let record = state.tenants.get(tenant).ok_or(StoreError::NotFound)?;
            if claim.tenant == *tenant && claim.pending {
                if !record.status.allows_access() {
                    return Err(StoreError::TenantInactive);
                }
                return Ok(Reservation::new(invitation, record, true));
            }
            return Err(StoreError::EmailTaken {
                same_tenant: claim.tenant == *tenant,
            });
        }
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
        // An admin is counted once the membership exists (complete_invite).
        record.user_count += 1;
        let reservation = Reservation::new(invitation, record, false);
        state.emails.insert(
            invitation.email.clone(),
            Claim {
                tenant: *tenant,
                pending: true,
            },
        );
        Ok(reservation)
    }

    async fn complete_invite(
        &self,
        tenant: &TenantId,
        reservation: &Reservation,
        user: &UserId,
    ) -> Result<Member, StoreError> {
        let mut state = self.lock();
        let held = Claim {
            tenant: *tenant,
            pending: true,
        };
        if state.memberships.contains_key(user)
            || state.emails.get(&reservation.invitation.email) != Some(&held)
        {
            return Err(StoreError::EmailTaken { same_tenant: false });
        }
        state.emails.insert(
            reservation.invitation.email.clone(),
            Claim {
                tenant: *tenant,
                pending: false,
            },
        );
        let member = Member {
            user_id: user.clone(),
            email: reservation.invitation.email.clone(),
            role: reservation.invitation.role,
            status: MemberStatus::Active,
            created_at: Timestamp::now(),
        };
        state.memberships.insert(
            user.clone(),
            Membership {
                user_id: user.clone(),
                tenant_id: *tenant,
                role: reservation.invitation.role,
                tier: reservation.tier,
                tenant_status: reservation.tenant_status,
                email: reservation.invitation.email.clone(),
                granted_at: next_grant(reservation.grant_floor),
                require_mfa: reservation.require_mfa,
            },
        );
        if reservation.invitation.role == Role::Admin
            && let Some(record) = state.tenants.get_mut(tenant)
        {
            record.admin_count += 1;
        }
        state
            .members
            .entry(*tenant)
            .or_default()
            .insert(user.to_string(), member.clone());
        Ok(member)
    }

    async fn cancel_invite(
        &self,
        tenant: &TenantId,
        reservation: &Reservation,
    ) -> Result<(), StoreError> {
        let mut state = self.lock();
        let held = Claim {
            tenant: *tenant,
            pending: true,
        };
        if state.emails.get(&reservation.invitation.email) == Some(&held) {
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
            .members
            .get(tenant)
            .and_then(|members| members.get(user.as_str()))
            .cloned()
            .ok_or(StoreError::NotFound)?;
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
        let mut updated = current;
        updated.role = role;
        state
            .members
            .entry(*tenant)
            .or_default()
            .insert(user.to_string(), updated.clone());
        if let Some(membership) = state
            .memberships
            .get_mut(user)
            .filter(|m| m.tenant_id == *tenant)
        {
            membership.role = role;
            if let Some(at) = demoted_at {
                membership.granted_at = at;
            }
        }
        Ok(updated)
    }

    async fn remove_member(&self, tenant: &TenantId, user: &UserId) -> Result<Member, StoreError> {
        let mut state = self.lock();
        let current = state
            .members
            .get(tenant)
            .and_then(|members| members.get(user.as_str()))
            .cloned()
            .ok_or(StoreError::NotFound)?;
        let previous = previous_grant(&state, tenant, user);
        let record = state.tenants.get_mut(tenant).ok_or(StoreError::NotFound)?;
        if current.role == Role::Admin {
            if record.admin_count <= 1 {
                return Err(StoreError::LastAdmin);
            }
            record.admin_count -= 1;
        }
        revoke(record, user, previous);
        record.user_count = record.user_count.saturating_sub(1);
        if let Some(members) = state.members.get_mut(tenant) {
            members.remove(user.as_str());
        }
        state.memberships.remove(user);
        state.emails.remove(&current.email);
        Ok(current)
    }
}

/// Copies status, tier and MFA requirement into the tenant's memberships.
fn copy_into_memberships(state: &mut State, tenant: &Tenant) {
    for membership in state
        .memberships
        .values_mut()
        .filter(|m| m.tenant_id == tenant.id)
    {
        membership.tier = tenant.tier;
        membership.tenant_status = tenant.status;
        membership.require_mfa = tenant.require_mfa;
    }
}

/// The grant a revocation of `user` in `tenant` must supersede.
fn previous_grant(state: &State, tenant: &TenantId, user: &UserId) -> u64 {
    let membership = state
        .memberships
        .get(user)
        .filter(|m| m.tenant_id == *tenant)
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
    for expired in expired_revocations(&record.revoked, now_millis()) {
        record.revoked.remove(&expired);
    }
    record.revoked.insert(user.clone(), at);
    at
}

impl ControlAuthority for MemoryControl {
    async fn authority(&self, caller: &TenantContext) -> Result<Authority, StoreError> {
        let state = self.lock();
        let tenant = state
            .tenants
            .get(&caller.tenant_id)
            .cloned()
            .ok_or(StoreError::TenantInactive)?;
        crate::authority::check(caller, tenant.status, &tenant.revoked, tenant.require_mfa)?;
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
        let after = cursor.map(super::control_cursor::decode).transpose()?;
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
            .then(|| super::control_cursor::encode(&candidates[limit - 1].id));
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

    async fn purge_members(&self, tenant: &TenantId) -> Result<(), StoreError> {
        let mut state = self.lock();
        let members = state.members.remove(tenant).unwrap_or_default();
        for member in members.values() {
            state.memberships.remove(&member.user_id);
            if state
                .emails
                .get(&member.email)
                .is_some_and(|claim| claim.tenant == *tenant)
            {
                state.emails.remove(&member.email);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    crate::control_contract_tests!(super::MemoryControl::new());
}
