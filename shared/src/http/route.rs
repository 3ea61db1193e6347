//! Matching a request to one of a function's routes.
//!
//! API Gateway names the matched resource (`/products/{productId}`) in the request context; with
//! no context (a direct invoke), the raw path is matched against the same templates. Path
//! parameters are always taken from the matched path.
//!
//! A function lists its routes as `(Route, Op)` pairs, `Op` being its own enum of operations,
//! and dispatches with a `match` on `Op` that has no `_` arm: an operation added without its
//! handler does not compile, and no route can fall through to another route's handler.

use std::collections::HashMap;

use lambda_http::{Request, RequestExt};

use super::ApiError;

/// A route: method and resource template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    pub method: &'static str,
    pub template: &'static str,
}

impl Route {
    pub const fn new(method: &'static str, template: &'static str) -> Self {
        Self { method, template }
    }
}

/// Values of a template's `{name}` segments.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct PathParams(HashMap<&'static str, String>);

impl PathParams {
    pub fn get(&self, name: &str) -> &str {
        self.0.get(name).map(String::as_str).unwrap_or("")
    }
}

fn match_template(template: &'static str, path: &str) -> Option<PathParams> {
    let mut params = HashMap::new();
    let mut actual = path.trim_end_matches('/').split('/');
    for expected in template.split('/') {
        let segment = actual.next()?;
        if let Some(name) = expected.strip_prefix('{').and_then(|e| e.strip_suffix('}')) {
            if segment.is_empty() {
                return None;
            }
            params.insert(name, segment.to_owned());
        } else if expected != segment {
            return None;
        }
    }
    actual.next().is_none().then_some(PathParams(params))
}

/// The operation `request` is for, among `routes`: 405 when the path matches but not the method,
/// 404 when nothing matches.
pub fn match_route<Op: Copy>(
    request: &Request,
    routes: &[(Route, Op)],
) -> Result<(Op, PathParams), ApiError> {
    let path = request.raw_http_path();
    let path = if path.is_empty() {
        request.uri().path()
    } else {
        path
    };
    let mut path_matched = false;
    for (route, op) in routes {
        if let Some(params) = match_template(route.template, path) {
            path_matched = true;
            if request.method().as_str() == route.method {
                return Ok((*op, params));
            }
        }
    }
    Err(if path_matched {
        ApiError::MethodNotAllowed
    } else {
        ApiError::NotFound
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_match_whole_paths_only() {
        let params = match_template("/products/{productId}", "/products/abc").unwrap();
        assert_eq!(params.get("productId"), "abc");
        assert!(match_template("/products/{productId}", "/products").is_none());
        assert!(match_template("/products/{productId}", "/products/abc/x").is_none());
        assert!(match_template("/products", "/products/").is_some());
        assert!(match_template("/products/{productId}", "/products//").is_none());
    }
}
