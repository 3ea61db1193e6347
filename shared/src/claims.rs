//! Names of the token claims that carry identity and tenancy.
//!
//! The pre-token-generation trigger writes the tenant claims and [`crate::context`] reads them;
//! both use these constants so the two can never drift apart.

/// The Cognito user's immutable id (a UUID).
pub const SUB: &str = "sub";
/// The user's e-mail address.
pub const EMAIL: &str = "email";
/// Cognito groups, used only for platform operators (`platform-admin`), never for tenant roles.
pub const GROUPS: &str = "cognito:groups";
/// The tenant the user belongs to, injected by the pre-token-generation trigger.
pub const TENANT_ID: &str = "tenant_id";
/// `admin` or `member`, injected by the pre-token-generation trigger.
pub const TENANT_ROLE: &str = "tenant_role";
/// `basic`, `standard` or `premium`, injected by the pre-token-generation trigger.
pub const TENANT_TIER: &str = "tenant_tier";

/// When the membership behind the token was granted in its current form (milliseconds since
/// the Unix epoch), injected by the pre-token-generation trigger and compared with the tenant's
/// revocations (see [`crate::authority`]).
pub const TENANT_GRANT: &str = "tenant_grant";

/// `true` when the user had a second factor (TOTP) turned on when the token was issued; only
/// injected for tenants that require one (see [`crate::authority`]).
pub const TENANT_MFA: &str = "tenant_mfa";

/// Who a machine client's token acts as (a UUID of the client's own), injected by the
/// pre-token-generation trigger into client-credentials access tokens.
pub const TENANT_PRINCIPAL: &str = "tenant_principal";
/// `id` or `access`: which kind of Cognito token.
pub const TOKEN_USE: &str = "token_use";
/// The app client a token was issued to (access tokens).
pub const CLIENT_ID: &str = "client_id";
/// The scopes of an access token, space-separated.
pub const SCOPE: &str = "scope";

/// The Cognito group whose members may call the platform administration routes.
pub const PLATFORM_ADMIN_GROUP: &str = "platform-admin";

/// Sign-up attributes: the organization's name and the requested plan. Read once, by
/// onboarding; they carry no authority afterwards (the tenant record does).
pub const SIGN_UP_TENANT_NAME: &str = "custom:tenant_name";
pub const SIGN_UP_PLAN: &str = "custom:plan";
