//! Who is calling, and for which tenant: built only from the claims that API Gateway's authorizer
//! verified, never from the path, the body, a header or the query string.

use std::collections::HashMap;

use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};

use crate::claims;
use crate::domain::{Role, Tier};
use crate::ids::{TenantId, UserId};

/// Why a request carries no usable identity.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    /// No authorizer claims at all, or claims that do not parse: the request is refused (401).
    #[error("missing or invalid identity claims")]
    Unauthenticated,
    /// A valid user who belongs to no tenant (for example a platform operator): 403 `no-tenant`.
    #[error("the caller belongs to no tenant")]
    NoTenant,
}

/// The verified claims of a request, every value a string as API Gateway delivers them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Claims(HashMap<String, String>);

impl Claims {
    /// Reads the claims the authorizer put in the request context: `authorizer.claims` for a
    /// REST API with a Cognito authorizer, `authorizer.jwt.claims` for an HTTP API JWT authorizer.
    /// Anything else (no context, a Lambda function URL, a non-string claim) yields no claims.
    pub fn from_request(request: &Request) -> Self {
        let mut claims = HashMap::new();
        match request.request_context_ref() {
            Some(RequestContext::ApiGatewayV1(context)) => {
                if let Some(serde_json::Value::Object(map)) =
                    context.authorizer.fields.get("claims")
                {
                    for (name, value) in map {
                        if let serde_json::Value::String(value) = value {
                            claims.insert(name.clone(), value.clone());
                        }
                    }
                }
            }
            Some(RequestContext::ApiGatewayV2(context)) => {
                if let Some(jwt) = context.authorizer.as_ref().and_then(|a| a.jwt.as_ref()) {
                    claims.extend(jwt.claims.iter().map(|(k, v)| (k.clone(), v.clone())));
                }
            }
            _ => {}
        }
        Self(claims)
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// The caller's Cognito groups. A REST authorizer sends them comma-separated, an HTTP API JWT
    /// authorizer as `[a b]`; both are accepted.
    pub fn groups(&self) -> Vec<String> {
        self.get(claims::GROUPS)
            .map(|raw| {
                raw.trim_start_matches('[')
                    .trim_end_matches(']')
                    .split([',', ' '])
                    .map(str::trim)
                    .filter(|group| !group.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The caller's e-mail address, if the token carries a valid one.
    pub fn email(&self) -> Option<crate::domain::email::EmailAddress> {
        self.get(claims::EMAIL)
            .and_then(|raw| crate::domain::email::EmailAddress::parse(raw).ok())
    }

    /// A machine client's access token (client credentials): its `sub` is the app client, not
    /// a user.
    pub fn is_machine(&self) -> bool {
        self.get(claims::TOKEN_USE) == Some("access")
            && self.get(claims::CLIENT_ID).is_some()
            && self.get(claims::CLIENT_ID) == self.get(claims::SUB)
    }

    /// The scopes of a machine client's token; `None` for a person's.
    pub fn machine_scopes(&self) -> Option<Vec<crate::api_clients::Scope>> {
        self.is_machine()
            .then(|| crate::api_clients::Scope::from_claim(self.get(claims::SCOPE).unwrap_or("")))
    }

    /// The authenticated user, whatever their tenancy; for a machine client, the principal its
    /// tokens act as.
    pub fn user_id(&self) -> Result<UserId, IdentityError> {
        let claim = if self.is_machine() {
            claims::TENANT_PRINCIPAL
        } else {
            claims::SUB
        };
        self.get(claim)
            .and_then(|sub| UserId::parse(sub).ok())
            .ok_or(IdentityError::Unauthenticated)
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for Claims {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        Self(
            iter.into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        )
    }
}

/// The tenant a request acts for, and who is acting. The only way to obtain one is from verified
/// claims, so every store call that takes it is scoped to the caller's own tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantContext {
    pub tenant_id: TenantId,
    pub user_id: UserId,
    pub role: Role,
    /// The tier when the token was issued. Informative only: plan limits come from the stored
    /// tier (see [`crate::authority::Standing`]).
    pub tier: Tier,
    /// When the membership behind the token was granted as it is (ms since the epoch; 0 for a
    /// token without the claim, which any revocation of this user then covers).
    pub grant: u64,
    /// The user had TOTP turned on when the token was issued (the claim `tenant_mfa`).
    pub mfa: bool,
    /// A machine client's scopes; `None` for a person.
    pub machine: Option<Vec<crate::api_clients::Scope>>,
}

impl TenantContext {
    pub fn from_request(request: &Request) -> Result<Self, IdentityError> {
        Self::from_claims(&Claims::from_request(request))
    }

    /// Fails closed: a missing `sub`, or any tenant claim present but malformed, or only some of
    /// the three present, is `Unauthenticated`. Only a valid user with none of the three tenant
    /// claims is `NoTenant`.
    pub fn from_claims(claims: &Claims) -> Result<Self, IdentityError> {
        let user_id = claims.user_id()?;
        let tenant = claims.get(claims::TENANT_ID);
        let role = claims.get(claims::TENANT_ROLE);
        let tier = claims.get(claims::TENANT_TIER);
        match (tenant, role, tier) {
            (None, None, None) => Err(IdentityError::NoTenant),
            (Some(tenant), Some(role), Some(tier)) => Ok(Self {
                tenant_id: TenantId::parse(tenant).map_err(|_| IdentityError::Unauthenticated)?,
                user_id,
                role: Role::parse(role).ok_or(IdentityError::Unauthenticated)?,
                tier: Tier::parse(tier).ok_or(IdentityError::Unauthenticated)?,
                grant: match claims.get(claims::TENANT_GRANT) {
                    None => 0,
                    Some(raw) => raw.parse().map_err(|_| IdentityError::Unauthenticated)?,
                },
                mfa: claims.get(claims::TENANT_MFA) == Some("true"),
                machine: claims.machine_scopes(),
            }),
            _ => Err(IdentityError::Unauthenticated),
        }
    }

    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    /// Nothing for a person (their role decides); for a machine client, whether its token
    /// carries `scope`.
    pub fn has_scope(&self, scope: crate::api_clients::Scope) -> bool {
        self.machine
            .as_ref()
            .is_none_or(|scopes| scopes.contains(&scope))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TENANT: &str = "01JB8Z4K2M6Q9R3T5V7W9XAAAA";
    const SUB: &str = "3f1c1e4a-9c3b-4e0b-9f49-0b4c8c1e2d3a";

    fn full() -> Vec<(&'static str, &'static str)> {
        vec![
            (claims::SUB, SUB),
            (claims::TENANT_ID, TENANT),
            (claims::TENANT_ROLE, "member"),
            (claims::TENANT_TIER, "basic"),
        ]
    }

    #[test]
    fn complete_claims_make_a_context() {
        let context = TenantContext::from_claims(&full().into_iter().collect()).unwrap();
        assert_eq!(context.tenant_id.to_string(), TENANT);
        assert_eq!(context.role, Role::Member);
        assert_eq!(context.tier, Tier::Basic);
        assert!(!context.is_admin());
    }

    #[test]
    fn each_missing_or_malformed_claim_fails_closed() {
        for (index, bad) in [(1, "TENANT#x"), (2, "owner"), (3, "gold"), (0, "root")] {
            let mut claims = full();
            claims[index].1 = bad;
            assert_eq!(
                TenantContext::from_claims(&claims.into_iter().collect()),
                Err(IdentityError::Unauthenticated),
                "{bad}"
            );
        }
        for index in 0..4 {
            let mut claims = full();
            claims.remove(index);
            assert_eq!(
                TenantContext::from_claims(&claims.into_iter().collect()),
                Err(IdentityError::Unauthenticated),
                "claim {index} removed"
            );
        }
    }

    #[test]
    fn the_grant_claim_is_read_and_a_malformed_one_fails_closed() {
        let mut claims = full();
        claims.push((claims::TENANT_GRANT, "1790000000123"));
        let context = TenantContext::from_claims(&claims.clone().into_iter().collect()).unwrap();
        assert_eq!(context.grant, 1_790_000_000_123);
        assert_eq!(
            TenantContext::from_claims(&full().into_iter().collect())
                .unwrap()
                .grant,
            0
        );
        claims.pop();
        claims.push((claims::TENANT_GRANT, "soon"));
        assert_eq!(
            TenantContext::from_claims(&claims.into_iter().collect()),
            Err(IdentityError::Unauthenticated)
        );
    }

    #[test]
    fn a_user_without_tenant_claims_has_no_tenant() {
        let claims: Claims = [(claims::SUB, SUB)].into_iter().collect();
        assert_eq!(
            TenantContext::from_claims(&claims),
            Err(IdentityError::NoTenant)
        );
    }

    #[test]
    fn groups_parse_in_both_authorizer_formats() {
        let rest: Claims = [(claims::GROUPS, "platform-admin,ops")]
            .into_iter()
            .collect();
        let http: Claims = [(claims::GROUPS, "[platform-admin ops]")]
            .into_iter()
            .collect();
        assert_eq!(rest.groups(), vec!["platform-admin", "ops"]);
        assert_eq!(http.groups(), rest.groups());
    }
}
