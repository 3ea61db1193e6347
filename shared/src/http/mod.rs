//! HTTP plumbing for the API functions: errors as problem+json, JSON bodies with a size limit,
//! query and path parameters, routing, and [`serve`], which wraps every request with the tenant
//! context, a logging span and the mapping of errors to responses.

mod problem;
mod request;
mod response;
mod route;
mod serve;

pub use problem::ApiError;
pub use request::{
    ExpectedVersion, QueryParams, body_bytes, expected_version, if_match, json_body, list_params,
};
pub use response::{created, items, json, no_content, page, with_etag};
pub use route::{PathParams, Route, match_route};
pub use serve::{
    admin_of, request_id, serve, serve_caller, serve_machines, serve_public, tenant_of,
};

/// The largest request body accepted by default.
pub const MAX_BODY_BYTES: usize = 16 * 1024;
