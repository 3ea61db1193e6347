//! How the control table's items are written and read: tenant records, member entries, profiles,
//! e-mail claims, revocations. Each aggregate's file uses these; none of them uses another's.

use crate::domain::email::EmailAddress;
use crate::domain::member::{Member, MemberStatus, Membership, MembershipState, Profile};
use crate::domain::revocation::{Revocations, expired_revocations, next_grant};
use crate::domain::tenant::{SuspensionCause, Tenant, TenantName, TenantSettings, TenantStatus};
use crate::domain::time::{Timestamp, now_millis};
use crate::domain::{Role, Tier};
use crate::ids::{TenantId, UserId};
use crate::keys;
use crate::store::StoreError;
use crate::store::dynamo::Item;
use aws_sdk_dynamodb::types::AttributeValue;
use std::collections::HashMap;

/// A removal or demotion (or an API client's deletion) to record in the tenant record.
#[derive(Debug)]
pub(crate) struct Revocation {
    pub(crate) user: UserId,
    pub(crate) at: u64,
    /// Revocations old enough to drop (user, instant read), after the change.
    pub(crate) expired: Vec<(UserId, u64)>,
}

impl Revocation {
    /// Supersedes the grant `granted` (what the user's tokens carry) and any earlier revocation
    /// of the user in `revoked` (the tenant's, as read), by the clock rule of
    /// [`crate::domain::revocation::next_grant`]: so every token issued before it is refused, whatever
    /// this machine's clock says. The tenant's expired revocations go with it.
    pub(crate) fn after(user: UserId, granted: u64, revoked: &Revocations) -> Self {
        let previous = granted.max(revoked.get(&user).copied().unwrap_or(0));
        Self {
            at: next_grant(previous),
            expired: expired_revocations(revoked, now_millis()),
            user,
        }
    }
}

pub(crate) fn member_item(tenant: &TenantId, member: &Member) -> Item {
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

pub(crate) fn member_status_str(status: MemberStatus) -> &'static str {
    match status {
        MemberStatus::Active => "active",
        MemberStatus::Disabled => "disabled",
        MemberStatus::Invited => "invited",
    }
}

pub(crate) fn parse_member(item: &Item) -> Result<Member, StoreError> {
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
pub(crate) fn email_claim(
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
pub(crate) enum ClaimState {
    Pending,
    Member,
}

impl ClaimState {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Member => "member",
        }
    }

    pub(crate) fn of(claim: &Item) -> Self {
        match claim.get_s("state") {
            Ok("pending") => Self::Pending,
            _ => Self::Member,
        }
    }
}

/// The profile's map of memberships, by tenant id.
pub(crate) const ORGS: &str = "orgs";

pub(crate) fn membership_state_str(state: MembershipState) -> &'static str {
    match state {
        MembershipState::Active => "active",
        MembershipState::Invited { .. } => "invited",
    }
}

/// One membership as the profile's map holds it (user and address are the profile's).
pub(crate) fn membership_entry(membership: &Membership) -> AttributeValue {
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

pub(crate) fn profile_item(profile: &Profile) -> Item {
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
pub(crate) const SINGLE_MEMBERSHIP_FIELDS: [&str; 6] = [
    "tenant_id",
    "role",
    "tier",
    "tenant_status",
    "granted_at",
    REQUIRE_MFA,
];

/// A profile written before a person could have several organizations: the one membership's
/// fields at the top level, no map.
pub(crate) fn is_single_membership(item: &Item) -> bool {
    !item.0.contains_key(ORGS) && item.0.contains_key("tenant_id")
}

/// One membership's fields, from a map entry or (the older layout) from the item itself.
pub(crate) fn parse_entry(
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
pub(crate) fn parse_profile(item: &Item) -> Result<Profile, StoreError> {
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

pub(crate) fn tenant_item(tenant: &Tenant) -> Item {
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

pub(crate) fn require_mfa_of(item: &Item) -> bool {
    item.get_bool(REQUIRE_MFA).unwrap_or(false)
}

/// The attributes of a tenant record the data APIs read (`#status` and `#revoked` are `status`
/// and `revoked`, reserved words).
pub(crate) const LOCATION_PROJECTION: &str =
    "#status, data_table, tier, #revoked, require_mfa, plan_lowered, user_count";

/// The update of offboarding's first step (`#status` is `status`).
pub(crate) const OFFBOARDING_UPDATE: &str =
    "SET #status = :deleting, updated_at = :now ADD version :one";

/// The update expression of a settings change naming the fields that change, and its
/// attribute-name placeholders.
pub(crate) fn settings_update(
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
pub(crate) const PLAN_LOWERED: &str = "plan_lowered";

/// Why a suspended tenant is suspended (see [`Tenant::suspended_for`]).
pub(crate) const SUSPENDED_FOR: &str = "suspended_for";

/// The tenant record's map of revocations (see [`crate::authority`]).
pub(crate) const REVOKED: &str = "revoked";

pub(crate) fn revocations_value(revoked: &Revocations) -> AttributeValue {
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
