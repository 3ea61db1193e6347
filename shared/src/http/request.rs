//! Reading what a client sent: JSON bodies, query parameters, `If-Match`.

use lambda_http::http::header;
use lambda_http::{Body, Request, RequestExt};
use serde::de::DeserializeOwned;

use super::ApiError;
use crate::pagination::{DEFAULT_LIMIT, MAX_LIMIT};

/// Parses the body as JSON into `T`, refusing bodies over `max_bytes`, bodies declared as
/// something other than JSON, and (through `T`'s serde attributes) unknown fields.
pub fn json_body<T: DeserializeOwned>(request: &Request, max_bytes: usize) -> Result<T, ApiError> {
    if let Some(content_type) = request.headers().get(header::CONTENT_TYPE) {
        let content_type = content_type.to_str().unwrap_or("").to_ascii_lowercase();
        let essence = content_type.split(';').next().unwrap_or("").trim();
        if essence != "application/json" && !essence.ends_with("+json") {
            return Err(ApiError::UnsupportedMediaType);
        }
    }
    let bytes = body_bytes(request);
    if bytes.len() > max_bytes {
        return Err(ApiError::PayloadTooLarge { max_bytes });
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::MalformedJson("the body is empty".into()));
    }
    serde_json::from_slice(bytes).map_err(|err| match err.classify() {
        serde_json::error::Category::Data => ApiError::invalid(err.to_string()),
        _ => ApiError::MalformedJson(err.to_string()),
    })
}

/// The raw body, as sent (empty when there is none).
pub fn body_bytes(request: &Request) -> &[u8] {
    match request.body() {
        Body::Empty => b"",
        Body::Text(text) => text.as_bytes(),
        Body::Binary(bytes) => bytes,
        _ => b"",
    }
}

/// Single-valued query parameters.
#[derive(Debug)]
pub struct QueryParams<'a>(&'a Request);

impl<'a> QueryParams<'a> {
    pub fn of(request: &'a Request) -> Self {
        Self(request)
    }

    /// The parameter's value; a parameter given more than once is refused.
    pub fn get(&self, name: &str) -> Result<Option<String>, ApiError> {
        let Some(params) = self.0.query_string_parameters_ref() else {
            return Ok(None);
        };
        match params.all(name) {
            None => Ok(None),
            Some(values) if values.len() == 1 => Ok(Some(values[0].to_owned())),
            Some(_) => Err(ApiError::invalid(format!(
                "query parameter {name} is given more than once"
            ))),
        }
    }
}

/// `limit` (1 to 100, default 20) and `cursor` of a listing.
pub fn list_params(request: &Request) -> Result<(usize, Option<String>), ApiError> {
    let query = QueryParams::of(request);
    let limit = match query.get("limit")? {
        None => DEFAULT_LIMIT,
        Some(raw) => raw
            .parse::<usize>()
            .ok()
            .filter(|limit| (1..=MAX_LIMIT).contains(limit))
            .ok_or_else(|| {
                ApiError::invalid(format!("limit must be an integer from 1 to {MAX_LIMIT}"))
            })?,
    };
    let cursor = query.get("cursor")?.filter(|cursor| !cursor.is_empty());
    Ok((limit, cursor))
}

/// The version named by an `If-Match` header (`"3"`, `W/"3"` or `3`), if there is one.
pub fn if_match(request: &Request) -> Result<Option<u64>, ApiError> {
    let Some(value) = request.headers().get(header::IF_MATCH) else {
        return Ok(None);
    };
    let raw = value.to_str().unwrap_or("").trim();
    let raw = raw.strip_prefix("W/").unwrap_or(raw).trim_matches('"');
    raw.parse()
        .map(Some)
        .map_err(|_| ApiError::invalid("If-Match must name a version, such as \"3\""))
}

/// The version a write is based on, and where the client put it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExpectedVersion {
    pub version: u64,
    /// Named by `If-Match`: a mismatch is then `412 Precondition Failed` rather than `409`.
    pub from_if_match: bool,
}

impl ExpectedVersion {
    /// The error for a stored version that is not this one.
    pub fn stale(&self) -> ApiError {
        if self.from_if_match {
            ApiError::PreconditionFailed
        } else {
            crate::store::StoreError::VersionConflict.into()
        }
    }
}

/// The version named by `If-Match` or by the body's `version` (which must agree when both are
/// sent).
pub fn expected_version(
    request: &Request,
    from_body: Option<u64>,
) -> Result<Option<ExpectedVersion>, ApiError> {
    match (if_match(request)?, from_body) {
        (Some(header), Some(body)) if header != body => Err(ApiError::invalid(
            "If-Match and the body's version disagree",
        )),
        (Some(version), _) => Ok(Some(ExpectedVersion {
            version,
            from_if_match: true,
        })),
        (None, Some(version)) => Ok(Some(ExpectedVersion {
            version,
            from_if_match: false,
        })),
        (None, None) => Ok(None),
    }
}
