//! Ports of the control table: tenants, memberships, members and e-mail claims. These are
//! platform data, reached by the triggers and the control-plane functions.

use std::future::Future;

use super::{ListPage, StoreError};
use crate::domain::email::EmailAddress;
use crate::domain::member::{
    INVITATION_LIFETIME_MS, Invitation, Member, Membership, MembershipState, Profile,
};
use crate::domain::revocation::next_grant;
use crate::domain::tenant::{Tenant, TenantName, TenantSettings, TenantStatus};
use crate::domain::{Role, Tier};
use crate::ids::{TenantId, UserId};

/// What [`Onboarding::onboard`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Onboarded {
    /// The tenant, the admin's membership, member entry and e-mail claim were created.
    Created,
    /// The user already had a membership (a retry, or an invited user): nothing was written.
    AlreadyMember,
}

/// Reading a person's profile (every membership and invitation): the pre-token trigger's one
/// request.
pub trait MembershipLookup: Send + Sync {
    fn profile(
        &self,
        user: &UserId,
    ) -> impl Future<Output = Result<Option<Profile>, StoreError>> + Send;
}

/// Reading a machine client for its token: the pre-token trigger's requests for a
/// client-credentials token.
pub trait MachineLookup: Send + Sync {
    /// The API client and its tenant's record (tier and status), if both exist.
    fn machine_client(
        &self,
        client: &crate::api_clients::ClientId,
    ) -> impl Future<Output = Result<Option<(crate::api_clients::ApiClient, Tenant)>, StoreError>> + Send;
}

/// Self-service sign-up.
pub trait Onboarding: MembershipLookup {
    /// Creates `tenant` with `admin` as its first admin, atomically, unless `admin` already has
    /// a profile. Safe to call again with a new tenant id for the same user: the profile keyed
    /// by the user decides.
    fn onboard(
        &self,
        tenant: &Tenant,
        admin: &UserId,
        email: &EmailAddress,
    ) -> impl Future<Output = Result<Onboarded, StoreError>> + Send;
}

/// An invitation whose e-mail address and seat are held while the user is created in Cognito.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reservation {
    pub invitation: Invitation,
    /// The tenant's tier and status when the seat was taken, copied into the membership.
    pub tier: Tier,
    pub tenant_status: TenantStatus,
    /// The latest revocation in the tenant: the membership's grant is made later than it, so a
    /// re-invited user's new tokens are never mistaken for revoked ones.
    pub grant_floor: u64,
    pub require_mfa: bool,
    /// This reservation takes over the hold of an earlier invitation of the same address to the
    /// same tenant that never finished (a crash between its steps): its Cognito user may exist.
    pub resumed: bool,
}

impl Reservation {
    /// A reservation of a seat in `tenant` (as its record stands once the seat is held).
    pub fn new(invitation: &Invitation, tenant: &Tenant, resumed: bool) -> Self {
        Self {
            invitation: invitation.clone(),
            tier: tenant.tier,
            tenant_status: tenant.status,
            grant_floor: tenant.revoked.values().copied().max().unwrap_or(0),
            require_mfa: tenant.require_mfa,
            resumed,
        }
    }

    /// The membership this reservation gives `user` in `tenant`, granted after every revocation
    /// the tenant holds.
    pub fn membership(
        &self,
        tenant: &TenantId,
        user: &UserId,
        state: MembershipState,
    ) -> Membership {
        Membership {
            user_id: user.clone(),
            tenant_id: *tenant,
            role: self.invitation.role,
            tier: self.tier,
            tenant_status: self.tenant_status,
            email: self.invitation.email.clone(),
            granted_at: next_grant(self.grant_floor),
            require_mfa: self.require_mfa,
            state,
        }
    }

    /// The state of an invitation made at `now` (ms).
    pub fn invited_at(now: u64) -> MembershipState {
        MembershipState::Invited {
            expires_at: now.saturating_add(INVITATION_LIFETIME_MS),
        }
    }
}

/// What reserving an invitation found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reserved {
    /// The address is new: it and a seat are held while its Cognito user is created.
    New(Reservation),
    /// The address belongs to someone who has an account (their id, when the claim records it):
    /// nothing was held; they get an invitation to accept ([`MemberStore::invite_existing`]).
    Existing(Option<UserId>),
}

/// Whether `profile` (if the person has one) may take a membership of `tenant`: not while it
/// has one (or an invitation) there, nor at [`crate::domain::member::MAX_MEMBERSHIPS`].
pub fn room_for(profile: Option<&Profile>, tenant: &TenantId) -> Result<(), StoreError> {
    let Some(profile) = profile else {
        return Ok(());
    };
    if profile.of(tenant).is_some() {
        return Err(StoreError::EmailTaken { same_tenant: true });
    }
    if profile.memberships.len() >= crate::domain::member::MAX_MEMBERSHIPS {
        return Err(StoreError::TooManyOrganizations);
    }
    Ok(())
}

/// What removing a member did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Removed {
    pub member: Member,
    /// How many memberships and invitations the person still has elsewhere: with none, their
    /// account can go.
    pub remaining: usize,
}

/// A tenant's members: everything `users-api` does in DynamoDB for an organization.
pub trait MemberStore: Send + Sync {
    /// Members in user-id order.
    fn list_members(
        &self,
        tenant: &TenantId,
        limit: usize,
        cursor: Option<&str>,
    ) -> impl Future<Output = Result<ListPage<Member>, StoreError>> + Send;

    fn get_member(
        &self,
        tenant: &TenantId,
        user: &UserId,
    ) -> impl Future<Output = Result<Member, StoreError>> + Send;

    /// Claims a new e-mail address for `tenant` and takes a seat (while fewer than
    /// `max_users`), atomically. The first step of an invitation of a new address; undone by
    /// [`MemberStore::cancel_invite`]. An unfinished invitation of the same address to the same
    /// tenant is taken over ([`Reservation::resumed`]) instead of refused. An address that
    /// belongs to an account is [`Reserved::Existing`], with nothing written.
    fn reserve_invite(
        &self,
        tenant: &TenantId,
        invitation: &Invitation,
        max_users: u64,
    ) -> impl Future<Output = Result<Reserved, StoreError>> + Send;

    /// Invites a person who has an account: a pending member entry and invitation in their
    /// profile, and a seat (while fewer than `max_users`), atomically. Already a member or
    /// invited: [`StoreError::EmailTaken`] (`same_tenant`).
    fn invite_existing(
        &self,
        tenant: &TenantId,
        invitation: &Invitation,
        user: &UserId,
        max_users: u64,
    ) -> impl Future<Output = Result<Member, StoreError>> + Send;

    /// Writes the membership and member entry of the user Cognito created for a reservation.
    fn complete_invite(
        &self,
        tenant: &TenantId,
        reservation: &Reservation,
        user: &UserId,
    ) -> impl Future<Output = Result<Member, StoreError>> + Send;

    /// Releases a reservation's e-mail claim and seat.
    fn cancel_invite(
        &self,
        tenant: &TenantId,
        reservation: &Reservation,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Changes a member's role; demoting the last admin is [`StoreError::LastAdmin`], a pending
    /// invitation is [`StoreError::InvitationPending`].
    fn change_role(
        &self,
        tenant: &TenantId,
        user: &UserId,
        role: Role,
    ) -> impl Future<Output = Result<Member, StoreError>> + Send;

    /// Removes a member, or withdraws a pending invitation (member entry, the profile's
    /// membership, seat); removing the last admin is [`StoreError::LastAdmin`]. Also how a
    /// person leaves.
    fn remove_member(
        &self,
        tenant: &TenantId,
        user: &UserId,
    ) -> impl Future<Output = Result<Removed, StoreError>> + Send;

    /// Deletes the profile and e-mail claim of a person left with no membership and no
    /// invitation, so their account can go; `false` (nothing deleted) if they have one again.
    fn forget_person(
        &self,
        user: &UserId,
        email: &EmailAddress,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
}

/// What a person does with their own organizations (`/me/...`): always their own profile, named
/// by the verified `sub`, never by a request's body.
pub trait PersonStore: MembershipLookup {
    /// The tenant records of `ids` that exist (at most [`crate::domain::member::MAX_MEMBERSHIPS`]).
    fn tenants(
        &self,
        ids: &[TenantId],
    ) -> impl Future<Output = Result<Vec<Tenant>, StoreError>> + Send;

    /// Records the organization the person's next token carries: [`StoreError::NotFound`]
    /// unless they hold an accepted membership of it.
    fn set_active(
        &self,
        user: &UserId,
        tenant: &TenantId,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Accepts (the membership is in force at once) or declines (the seat is freed) a pending
    /// invitation. None: [`StoreError::NotFound`]; accepted already:
    /// [`StoreError::AlreadyAnswered`]; too late: [`StoreError::InvitationExpired`].
    fn answer_invitation(
        &self,
        user: &UserId,
        tenant: &TenantId,
        accept: bool,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Creates `tenant` with `admin` (who is signed in) as its first admin, atomically, within
    /// [`crate::domain::member::MAX_MEMBERSHIPS`] ([`StoreError::TooManyOrganizations`]).
    fn create_organization(
        &self,
        tenant: &Tenant,
        admin: &UserId,
        email: &EmailAddress,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// Tenant records.
pub trait TenantStore: Send + Sync {
    fn get_tenant(
        &self,
        tenant: &TenantId,
    ) -> impl Future<Output = Result<Tenant, StoreError>> + Send;

    /// Changes the name, settings and/or MFA requirement, if the stored version is
    /// `expected_version` (when given).
    fn update_tenant(
        &self,
        tenant: &TenantId,
        expected_version: Option<u64>,
        name: Option<TenantName>,
        settings: Option<TenantSettings>,
        require_mfa: Option<bool>,
    ) -> impl Future<Output = Result<Tenant, StoreError>> + Send;

    /// Copies the tenant's status, tier and MFA requirement into every member's profile (what
    /// sign-in reads). Idempotent.
    fn sync_memberships(
        &self,
        tenant: &TenantId,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Changes the status and/or tier (and, for a silo tenant, its data table), then copies status
    /// and tier into every member's membership so the next token carries them. Re-running it
    /// repairs a copy that an earlier crash left half done.
    fn set_tenant_state(
        &self,
        tenant: &TenantId,
        change: TenantStateChange,
    ) -> impl Future<Output = Result<Tenant, StoreError>> + Send;

    /// Marks the tenant `deleting` (offboarding requested), touching nothing but its record.
    /// Idempotent; a deleted tenant is [`StoreError::InvalidTenantTransition`]. The offboarding
    /// job then copies the status into the memberships.
    fn begin_offboarding(
        &self,
        tenant: &TenantId,
    ) -> impl Future<Output = Result<Tenant, StoreError>> + Send;

    /// Every tenant, oldest first (platform administration).
    fn list_tenants(
        &self,
        limit: usize,
        cursor: Option<&str>,
    ) -> impl Future<Output = Result<ListPage<Tenant>, StoreError>> + Send;

    /// The ids of every member of a tenant (offboarding).
    fn member_ids(
        &self,
        tenant: &TenantId,
    ) -> impl Future<Output = Result<Vec<UserId>, StoreError>> + Send;

    /// The tier migration in progress for a tenant, if any (as its job records it).
    fn migration(
        &self,
        tenant: &TenantId,
    ) -> impl Future<Output = Result<Option<MigrationState>, StoreError>> + Send;

    /// Takes the tenant's membership out of `user`'s profile (offboarding); a profile left with
    /// nothing goes, with its e-mail claim. Returns whether the person is left with no profile,
    /// so their account can go. Idempotent.
    fn detach_member(
        &self,
        tenant: &TenantId,
        user: &UserId,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Deletes every member entry of a tenant (the end of offboarding, after every member was
    /// detached). The tenant record stays, as a tombstone.
    fn purge_members(
        &self,
        tenant: &TenantId,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// A tier migration in progress: where it goes and how far it got.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MigrationState {
    pub to_tier: Tier,
    /// `draining`, `copying` or `switched`.
    pub phase: String,
}

/// A change of a tenant's lifecycle state; `None` fields are left as they are.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TenantStateChange {
    pub expected_version: Option<u64>,
    /// The status the change is made from: any other is [`StoreError::VersionConflict`] (the
    /// last step of a migration expects the `provisioning` it set, so a suspension or an
    /// offboarding that came meanwhile is not undone).
    pub expected_status: Option<TenantStatus>,
    pub status: Option<TenantStatus>,
    pub tier: Option<Tier>,
    /// `Some(None)` clears the dedicated table (back to pooled).
    pub data_table: Option<Option<String>>,
    /// Sets or clears [`crate::domain::tenant::Tenant::plan_lowered`].
    pub plan_lowered: Option<bool>,
    /// Why the tenant is suspended, when the change leaves it suspended (`None` keeps the
    /// recorded cause). A change that leaves it in any other status clears the cause.
    pub suspended_for: Option<crate::domain::tenant::SuspensionCause>,
}

/// Which status changes are allowed. Deleting is one way: a tenant in `deleting` can only become
/// `deleted`, and a deleted tenant never changes again.
pub fn status_change_allowed(from: TenantStatus, to: TenantStatus) -> bool {
    use TenantStatus::*;
    match (from, to) {
        (a, b) if a == b => true,
        (Deleted, _) => false,
        (Deleting, Deleted) => true,
        (Deleting, _) => false,
        (_, Deleted) => false,
        _ => true,
    }
}
