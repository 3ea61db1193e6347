//! Errors as `application/problem+json` (RFC 9457), each with a stable `code`.

use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Response};
use serde_json::json;

use crate::context::IdentityError;
use crate::domain::ValidationError;
use crate::domain::order::{PricingError, transition_message};
use crate::store::StoreError;

/// Every way a request can fail. The `detail` is written for the client; causes that are not
/// the client's business go to the log only (see [`ApiError::log_cause`]).
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("missing or invalid credentials")]
    Unauthenticated,
    /// The token's authority was withdrawn after it was issued (removal, demotion): the client
    /// must get a new token (a refresh is enough) and will then hold what it is still granted.
    #[error("the token's authority was revoked")]
    Revoked,
    #[error("the caller belongs to no tenant")]
    NoTenant,
    #[error("forbidden: {0}")]
    Forbidden(String),
    #[error("the tenant is not active")]
    TenantInactive,
    #[error("the tenant requires multi-factor authentication")]
    MfaRequired,
    #[error("not found")]
    NotFound,
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("malformed JSON: {0}")]
    MalformedJson(String),
    #[error("invalid request: {0}")]
    Invalid(String),
    #[error("validation failed: {0}")]
    Validation(#[from] ValidationError),
    #[error("invalid cursor")]
    InvalidCursor,
    #[error("unsupported media type")]
    UnsupportedMediaType,
    #[error("payload too large")]
    PayloadTooLarge { max_bytes: usize },
    #[error("conflict {code}: {detail}")]
    Conflict { code: &'static str, detail: String },
    #[error("precondition failed")]
    PreconditionFailed,
    #[error("quota exceeded: {limit} ({max})")]
    QuotaExceeded { limit: &'static str, max: u64 },
    #[error("tenant provisioning")]
    TenantNotReady,
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::Forbidden(detail.into())
    }

    pub fn invalid(detail: impl Into<String>) -> Self {
        Self::Invalid(detail.into())
    }

    pub fn conflict(code: &'static str, detail: impl Into<String>) -> Self {
        Self::Conflict {
            code,
            detail: detail.into(),
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Self::Unauthenticated | Self::Revoked => StatusCode::UNAUTHORIZED,
            Self::NoTenant | Self::Forbidden(_) | Self::TenantInactive | Self::MfaRequired => {
                StatusCode::FORBIDDEN
            }
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::MalformedJson(_)
            | Self::Invalid(_)
            | Self::Validation(_)
            | Self::InvalidCursor => StatusCode::BAD_REQUEST,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Conflict { .. } => StatusCode::CONFLICT,
            Self::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            Self::QuotaExceeded { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::TenantNotReady => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unauthenticated => "unauthenticated",
            Self::Revoked => "token-revoked",
            Self::NoTenant => "no-tenant",
            Self::Forbidden(_) => "forbidden",
            Self::TenantInactive => "tenant-inactive",
            Self::MfaRequired => "mfa-required",
            Self::NotFound => "not-found",
            Self::MethodNotAllowed => "method-not-allowed",
            Self::MalformedJson(_) => "malformed-json",
            Self::Invalid(_) => "invalid-request",
            Self::Validation(_) => "validation-failed",
            Self::InvalidCursor => "invalid-cursor",
            Self::UnsupportedMediaType => "unsupported-media-type",
            Self::PayloadTooLarge { .. } => "payload-too-large",
            Self::Conflict { code, .. } => code,
            Self::PreconditionFailed => "precondition-failed",
            Self::QuotaExceeded { .. } => "quota-exceeded",
            Self::TenantNotReady => "tenant-provisioning",
            Self::Internal(_) => "internal",
        }
    }

    fn title(&self) -> &'static str {
        match self.status() {
            StatusCode::UNAUTHORIZED => "Unauthorized",
            StatusCode::FORBIDDEN => "Forbidden",
            StatusCode::NOT_FOUND => "Not Found",
            StatusCode::METHOD_NOT_ALLOWED => "Method Not Allowed",
            StatusCode::BAD_REQUEST => "Bad Request",
            StatusCode::UNSUPPORTED_MEDIA_TYPE => "Unsupported Media Type",
            StatusCode::PAYLOAD_TOO_LARGE => "Payload Too Large",
            StatusCode::CONFLICT => "Conflict",
            StatusCode::PRECONDITION_FAILED => "Precondition Failed",
            StatusCode::TOO_MANY_REQUESTS => "Too Many Requests",
            StatusCode::SERVICE_UNAVAILABLE => "Service Unavailable",
            _ => "Internal Server Error",
        }
    }

    /// What the client is told.
    pub fn detail(&self) -> String {
        match self {
            Self::Unauthenticated => "The request carries no valid identity.".into(),
            Self::Revoked => {
                "Your access has changed since this token was issued; sign in again or refresh \
                 the token."
                    .into()
            }
            Self::NoTenant => "Your account does not belong to any organization.".into(),
            Self::Forbidden(detail) => detail.clone(),
            Self::TenantInactive => "Your organization is suspended or being deleted.".into(),
            Self::MfaRequired => {
                "Your organization requires multi-factor authentication: turn on an \
                 authenticator app for your account, then sign in again."
                    .into()
            }
            Self::NotFound => "No such resource.".into(),
            Self::MethodNotAllowed => "This method is not allowed on this resource.".into(),
            Self::MalformedJson(detail) => format!("The body is not valid JSON: {detail}"),
            Self::Invalid(detail) => detail.clone(),
            Self::Validation(err) => err.to_string(),
            Self::InvalidCursor => {
                "The cursor is malformed or was not issued for this listing.".into()
            }
            Self::UnsupportedMediaType => "Send the body as application/json.".into(),
            Self::PayloadTooLarge { max_bytes } => {
                format!("The body is larger than {max_bytes} bytes.")
            }
            Self::Conflict { detail, .. } => detail.clone(),
            Self::PreconditionFailed => "The resource's version does not match If-Match.".into(),
            Self::QuotaExceeded { limit, max } => {
                format!("Your plan allows {max} ({limit}); upgrade the plan or free some.")
            }
            Self::TenantNotReady => {
                "Your organization's storage is being prepared; retry shortly.".into()
            }
            Self::Internal(_) => "Something went wrong on our side.".into(),
        }
    }

    /// The part of the error only the logs may see.
    pub fn log_cause(&self) -> Option<&str> {
        match self {
            Self::Internal(cause) => Some(cause),
            _ => None,
        }
    }

    pub fn into_response(self, request_id: &str) -> Response<Body> {
        let mut body = json!({
            "type": format!("urn:tenantry:problem:{}", self.code()),
            "title": self.title(),
            "status": self.status().as_u16(),
            "detail": self.detail(),
            "code": self.code(),
            "request_id": request_id,
        });
        match &self {
            Self::Validation(err) => body["field"] = json!(err.field),
            Self::QuotaExceeded { limit, max } => {
                body["limit"] = json!(limit);
                body["max"] = json!(max);
            }
            _ => {}
        }
        let mut response = Response::new(Body::Text(body.to_string()));
        *response.status_mut() = self.status();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if matches!(self, Self::TenantNotReady) {
            headers.insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        }
        response
    }
}

impl From<IdentityError> for ApiError {
    fn from(err: IdentityError) -> Self {
        match err {
            IdentityError::Unauthenticated => Self::Unauthenticated,
            IdentityError::NoTenant => Self::NoTenant,
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NotFound => Self::NotFound,
            StoreError::VersionConflict => Self::conflict(
                "version-conflict",
                "The resource was changed by someone else; fetch it again and retry.",
            ),
            StoreError::SkuTaken => {
                Self::conflict("sku-taken", "Another product already uses this SKU.")
            }
            StoreError::QuotaExceeded { limit, max } => Self::QuotaExceeded {
                limit: limit.as_str(),
                max,
            },
            StoreError::InvalidTransition { from, to } => {
                Self::conflict("invalid-transition", transition_message(from, to))
            }
            StoreError::ProductsChanged => Self::conflict(
                "products-changed",
                "A product changed while the order was being placed; retry.",
            ),
            StoreError::InvalidCursor => Self::InvalidCursor,
            StoreError::EmailTaken { same_tenant: true } => Self::conflict(
                "already-member",
                "This e-mail address already belongs to a member of your organization.",
            ),
            // Never says where the address is in use.
            StoreError::EmailTaken { same_tenant: false } => Self::conflict(
                "email-unavailable",
                "This e-mail address cannot be invited.",
            ),
            StoreError::TooManyOrganizations => Self::conflict(
                "too-many-organizations",
                format!(
                    "A person can belong to (or be invited to) at most {} organizations.",
                    crate::domain::member::MAX_MEMBERSHIPS
                ),
            ),
            StoreError::AlreadyAnswered => Self::conflict(
                "already-member",
                "This invitation was accepted already: the organization is in your list.",
            ),
            StoreError::InvitationExpired => Self::conflict(
                "invitation-expired",
                "This invitation has expired; ask an admin of the organization for a new one.",
            ),
            StoreError::InvitationPending => Self::conflict(
                "invitation-pending",
                "This person has not accepted the invitation yet; withdraw it and invite again with the role you want.",
            ),
            StoreError::LastAdmin => Self::conflict(
                "last-admin",
                "An organization must keep at least one admin; promote someone else first.",
            ),
            StoreError::InvalidTenantTransition { from, to } => Self::conflict(
                "invalid-transition",
                format!("a tenant that is {from} cannot become {to}"),
            ),
            StoreError::TenantNotReady => Self::TenantNotReady,
            StoreError::TenantInactive => Self::TenantInactive,
            StoreError::Revoked => Self::Revoked,
            StoreError::MfaRequired => Self::MfaRequired,
            err @ StoreError::Backend { .. } => Self::Internal(err.chain()),
            StoreError::Corrupt(cause) => Self::Internal(cause),
        }
    }
}

impl From<PricingError> for ApiError {
    fn from(err: PricingError) -> Self {
        let list = |ids: &[crate::ids::ProductId]| {
            ids.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        };
        match err {
            PricingError::UnknownProducts(ids) => Self::Validation(ValidationError::new(
                "lines",
                format!("no such products: {}", list(&ids)),
            )),
            PricingError::InactiveProducts(ids) => Self::conflict(
                "product-inactive",
                format!("these products are not active: {}", list(&ids)),
            ),
            PricingError::MixedCurrencies => Self::Validation(ValidationError::new(
                "lines",
                "all products of an order must be priced in the same currency",
            )),
            PricingError::TotalTooLarge => Self::Validation(ValidationError::new(
                "lines",
                "the order total is too large",
            )),
        }
    }
}
