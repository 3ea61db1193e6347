//! Tenants (organizations): their name, plan, lifecycle and personalization.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::ValidationError;
use super::text::bounded;
use super::time::Timestamp;
use crate::domain::Tier;
use crate::domain::revocation::Revocations;
use crate::ids::TenantId;

/// An organization's name: 2 to 100 characters of letters, digits, spaces and `& ' . , - ( )`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct TenantName(String);

impl TenantName {
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let value = bounded("name", raw, 2, 100)?;
        if !value
            .chars()
            .all(|c| c.is_alphanumeric() || " &'.,-()".contains(c))
        {
            return Err(ValidationError::new(
                "name",
                "may contain only letters, digits, spaces and & ' . , - ( )",
            ));
        }
        if value.contains("  ") {
            return Err(ValidationError::new(
                "name",
                "must not contain consecutive spaces",
            ));
        }
        Ok(Self(value))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Where a tenant is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TenantStatus {
    /// Its dedicated storage is being created; data APIs answer 503.
    Provisioning,
    Active,
    /// Switched off by a platform operator: no sign-in, no API.
    Suspended,
    /// Offboarding: users disabled, data being purged.
    Deleting,
    /// Purged. The record stays as a tombstone for audit.
    Deleted,
}

impl TenantStatus {
    pub const ALL: [Self; 5] = [
        Self::Provisioning,
        Self::Active,
        Self::Suspended,
        Self::Deleting,
        Self::Deleted,
    ];

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Provisioning => "provisioning",
            Self::Active => "active",
            Self::Suspended => "suspended",
            Self::Deleting => "deleting",
            Self::Deleted => "deleted",
        }
    }

    /// Whether the tenant's users may sign in and use the API.
    pub fn allows_access(self) -> bool {
        matches!(self, Self::Active | Self::Provisioning)
    }
}

impl fmt::Display for TenantStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a tenant is suspended: it decides who may lift the suspension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SuspensionCause {
    /// Its payment's grace period ran out: a payment (the account in good standing again)
    /// lifts it.
    Payment,
    /// A platform operator suspended it: only an operator lifts it, never a payment.
    Operator,
}

impl SuspensionCause {
    pub fn parse(raw: &str) -> Option<Self> {
        [Self::Payment, Self::Operator]
            .into_iter()
            .find(|cause| cause.as_str() == raw)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Payment => "payment",
            Self::Operator => "operator",
        }
    }
}

/// The largest settings document, serialized.
pub const MAX_SETTINGS_BYTES: usize = 4096;
const MAX_FEATURE_FLAGS: usize = 32;

/// A tenant's personalization. Every field is optional; a `PATCH` replaces the whole document.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantSettings {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logo_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary_color: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub feature_flags: BTreeMap<String, bool>,
}

impl TenantSettings {
    /// Checks every field; the document as sent is otherwise kept as is.
    pub fn validate(self) -> Result<Self, ValidationError> {
        if let Some(name) = &self.display_name {
            bounded("settings.display_name", name, 1, 100)?;
        }
        if let Some(url) = &self.logo_url {
            let plausible = url.len() <= 2048
                && url.strip_prefix("https://").is_some_and(|rest| {
                    let host = rest.split('/').next().unwrap_or("");
                    host.contains('.') && !host.contains('@')
                })
                && !url.chars().any(|c| {
                    c.is_whitespace() || c.is_control() || c == '"' || c == '<' || c == '>'
                });
            if !plausible {
                return Err(ValidationError::new(
                    "settings.logo_url",
                    "must be an https:// URL of at most 2048 characters",
                ));
            }
        }
        if let Some(color) = &self.primary_color {
            let hex = color.strip_prefix('#').unwrap_or("");
            if hex.len() != 6 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
                return Err(ValidationError::new(
                    "settings.primary_color",
                    "must be a colour such as #1A2B3C",
                ));
            }
        }
        if let Some(locale) = &self.locale {
            let mut parts = locale.split('-');
            let language = parts.next().unwrap_or("");
            let region = parts.next();
            let ok = (2..=3).contains(&language.len())
                && language.chars().all(|c| c.is_ascii_lowercase())
                && region.is_none_or(|r| r.len() == 2 && r.chars().all(|c| c.is_ascii_uppercase()))
                && parts.next().is_none();
            if !ok {
                return Err(ValidationError::new(
                    "settings.locale",
                    "must be a locale such as en or fr-CA",
                ));
            }
        }
        if let Some(zone) = &self.time_zone {
            let ok = zone == "UTC"
                || (zone.len() <= 64
                    && zone.contains('/')
                    && zone.split('/').all(|part| {
                        !part.is_empty()
                            && part
                                .chars()
                                .all(|c| c.is_ascii_alphanumeric() || "_-+".contains(c))
                    }));
            if !ok {
                return Err(ValidationError::new(
                    "settings.time_zone",
                    "must be an IANA time zone such as Europe/Paris, or UTC",
                ));
            }
        }
        if self.feature_flags.len() > MAX_FEATURE_FLAGS {
            return Err(ValidationError::new(
                "settings.feature_flags",
                format!("at most {MAX_FEATURE_FLAGS} flags"),
            ));
        }
        for flag in self.feature_flags.keys() {
            if flag.is_empty()
                || flag.len() > 40
                || !flag
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
            {
                return Err(ValidationError::new(
                    "settings.feature_flags",
                    "flag names are 1 to 40 of a-z, 0-9, '_' and '-'",
                ));
            }
        }
        let size = serde_json::to_vec(&self)
            .map(|bytes| bytes.len())
            .unwrap_or(usize::MAX);
        if size > MAX_SETTINGS_BYTES {
            return Err(ValidationError::new(
                "settings",
                format!("must be at most {MAX_SETTINGS_BYTES} bytes"),
            ));
        }
        Ok(self)
    }
}

/// A tenant as the control table stores it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Tenant {
    pub id: TenantId,
    pub name: TenantName,
    pub tier: Tier,
    pub status: TenantStatus,
    pub settings: TenantSettings,
    pub version: u64,
    pub user_count: u64,
    pub admin_count: u64,
    /// The dedicated table of a silo tenant; `None` for pooled tenants.
    pub data_table: Option<String>,
    /// Recent removals and demotions, which tokens granted earlier must not outlive (see
    /// [`crate::authority`]). Internal: never shown.
    #[serde(skip)]
    pub revoked: Revocations,
    /// Every user of the organization must sign in with a second factor (TOTP).
    pub require_mfa: bool,
    /// The plan was lowered (a downgrade, a cancellation): while the organization uses more than
    /// its plan allows, its data is read-only (see [`crate::authority::ensure_writable`]).
    /// Cleared when the plan is raised again.
    pub plan_lowered: bool,
    /// Why it is suspended, while it is. A suspended record written without a cause reads as
    /// an operator's suspension: a payment never lifts what it cannot tell was its own.
    pub suspended_for: Option<SuspensionCause>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl Tenant {
    /// What a tenant's admins see of it (its storage location and revocations stay internal):
    /// `GET /tenant` adds its limits and usage, and its events carry this.
    pub fn public_view(&self) -> serde_json::Value {
        serde_json::json!({
            "id": self.id,
            "name": self.name,
            "tier": self.tier,
            "status": self.status,
            "settings": self.settings,
            "require_mfa": self.require_mfa,
            "version": self.version,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        })
    }

    /// A tenant created by self-service sign-up: one user, its admin. A premium tenant waits in
    /// `provisioning` while its dedicated table is created.
    pub fn new(name: TenantName, tier: Tier) -> Self {
        let now = Timestamp::now();
        Self {
            id: TenantId::generate(),
            name,
            tier,
            status: if tier == Tier::Premium {
                TenantStatus::Provisioning
            } else {
                TenantStatus::Active
            },
            settings: TenantSettings::default(),
            version: 1,
            user_count: 1,
            admin_count: 1,
            data_table: None,
            revoked: Revocations::new(),
            require_mfa: false,
            plan_lowered: false,
            suspended_for: None,
            created_at: now,
            updated_at: now,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_names_follow_the_rules() {
        assert_eq!(
            TenantName::parse("  Acme Tea & Co.  ").unwrap().as_str(),
            "Acme Tea & Co."
        );
        assert!(TenantName::parse("Café Ünïcode").is_ok());
        for bad in [
            "",
            "A",
            "<script>",
            "a\u{0}b",
            "Acme#1",
            "two  spaces",
            &"x".repeat(101),
        ] {
            assert!(TenantName::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn settings_are_validated_field_by_field() {
        let good: TenantSettings = serde_json::from_str(
            r##"{"display_name":"Acme","logo_url":"https://cdn.example.com/logo.png","primary_color":"#1a2B3c",
                "locale":"fr-CA","time_zone":"Europe/Paris","feature_flags":{"beta_reports":true}}"##,
        )
        .unwrap();
        assert!(good.clone().validate().is_ok());
        let bad = |patch: fn(&mut TenantSettings)| {
            let mut settings = good.clone();
            patch(&mut settings);
            settings.validate().unwrap_err().field
        };
        assert_eq!(
            bad(|s| s.logo_url = Some("http://example.com/x.png".into())),
            "settings.logo_url"
        );
        assert_eq!(
            bad(|s| s.logo_url = Some("javascript:alert(1)".into())),
            "settings.logo_url"
        );
        assert_eq!(
            bad(|s| s.primary_color = Some("red".into())),
            "settings.primary_color"
        );
        assert_eq!(bad(|s| s.locale = Some("french".into())), "settings.locale");
        assert_eq!(
            bad(|s| s.time_zone = Some("Mars".into())),
            "settings.time_zone"
        );
        assert_eq!(
            bad(|s| {
                s.feature_flags.insert("Bad Flag".into(), true);
            }),
            "settings.feature_flags"
        );
        assert_eq!(
            bad(|s| s.display_name = Some("x".repeat(101))),
            "settings.display_name"
        );
        assert!(serde_json::from_str::<TenantSettings>(r#"{"theme":"dark"}"#).is_err());
    }

    #[test]
    fn premium_tenants_start_provisioning() {
        let name = TenantName::parse("Acme").unwrap();
        assert_eq!(
            Tenant::new(name.clone(), Tier::Premium).status,
            TenantStatus::Provisioning
        );
        assert_eq!(Tenant::new(name, Tier::Basic).status, TenantStatus::Active);
    }
}

/// The tier a self-service sign-up gets from `custom:plan`: `basic`, whether asked for or not.
/// Paid tiers come from a payment or a platform operator, never from a sign-up form (each
/// premium tenant is a DynamoDB table of its own): any other value is `None`, a refusal.
pub fn requested_tier(raw: Option<&str>) -> Option<Tier> {
    match raw.map(str::trim) {
        None | Some("") | Some("basic") => Some(Tier::Basic),
        Some(_) => None,
    }
}

#[cfg(test)]
mod requested_tier_tests {
    use super::*;

    #[test]
    fn self_service_sign_up_is_basic_only() {
        assert_eq!(requested_tier(None), Some(Tier::Basic));
        assert_eq!(requested_tier(Some(" basic ")), Some(Tier::Basic));
        for paid_or_bad in ["premium", "standard", "gold"] {
            assert_eq!(requested_tier(Some(paid_or_bad)), None, "{paid_or_bad}");
        }
    }
}

/// The body of `PATCH /tenant`: the name and/or the whole settings document, and the version
/// they replace (or `If-Match`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateTenantBody {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub settings: Option<TenantSettings>,
    /// Whether every user must sign in with TOTP.
    #[serde(default)]
    pub require_mfa: Option<bool>,
    #[serde(default)]
    pub version: Option<u64>,
}

/// The body of `PATCH /admin/tenants/{tenantId}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminUpdateTenantBody {
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub tier: Option<String>,
    #[serde(default)]
    pub version: Option<u64>,
}
