//! The REST API's resources and methods, and how a request path finds one, as API Gateway does
//! it: a `{name}` segment matches one non-empty path segment, a literal segment beats a variable
//! one, and the stage prefix (`/prod`) is optional here because clients of a local API often omit
//! it.

use std::collections::BTreeMap;
use std::path::Path;

use percent_encoding::percent_decode_str;
use serde::Deserialize;

/// One line of the routes file, as generated from `template.yaml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RouteSpec {
    method: String,
    path: String,
    function: String,
    auth: bool,
    /// The OAuth scopes the method's authorizer requires (access tokens); none for ID tokens.
    #[serde(default)]
    scopes: Vec<String>,
}

/// One method of one resource: what API Gateway calls an integration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// An upper-case HTTP method, or `ANY`.
    pub method: String,
    /// The resource template, e.g. `/products/{productId}`.
    pub resource: String,
    /// The binary that `cargo lambda watch` serves.
    pub function: String,
    /// Whether the Cognito authorizer guards this method.
    pub auth: bool,
    /// The scopes an access token needs (one of them), when the authorizer has any.
    pub scopes: Vec<String>,
    /// A stable stand-in for API Gateway's resource id.
    pub resource_id: String,
    segments: Vec<Segment>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Variable(String),
}

/// A request path resolved to a method.
#[derive(Debug, PartialEq, Eq)]
pub struct Matched<'a> {
    pub route: &'a Route,
    /// The path without the stage prefix, still percent-encoded, as API Gateway's `path`.
    pub path: String,
    /// The values of the template's variables, percent-decoded.
    pub path_parameters: BTreeMap<String, String>,
}

#[derive(Debug, thiserror::Error)]
pub enum RoutesError {
    #[error("cannot read the routes file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("the routes file {path} is not a JSON list of routes: {source}")]
    Parse {
        path: String,
        source: serde_json::Error,
    },
    #[error("route {method} {resource}: {reason}")]
    Invalid {
        method: String,
        resource: String,
        reason: &'static str,
    },
}

const METHODS: [&str; 8] = [
    "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY",
];

/// Every method of the API, and the stage it is deployed to.
#[derive(Debug)]
pub struct RouteTable {
    routes: Vec<Route>,
    stage: String,
}

impl RouteTable {
    pub fn load(path: &Path, stage: &str) -> Result<Self, RoutesError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| RoutesError::Read {
            path: shown.clone(),
            source,
        })?;
        let specs: Vec<RouteSpec> =
            serde_json::from_str(&text).map_err(|source| RoutesError::Parse {
                path: shown,
                source,
            })?;
        Self::new(specs, stage)
    }

    fn new(specs: Vec<RouteSpec>, stage: &str) -> Result<Self, RoutesError> {
        let mut routes: Vec<Route> = Vec::with_capacity(specs.len());
        let mut resource_ids: BTreeMap<String, String> = BTreeMap::new();
        for spec in specs {
            let invalid = |reason| RoutesError::Invalid {
                method: spec.method.clone(),
                resource: spec.path.clone(),
                reason,
            };
            let method = spec.method.to_ascii_uppercase();
            if !METHODS.contains(&method.as_str()) {
                return Err(invalid("unsupported HTTP method"));
            }
            let segments = parse_template(&spec.path).map_err(invalid)?;
            if spec.function.is_empty()
                || !spec
                    .function
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                return Err(invalid("function names are letters, digits, '-' and '_'"));
            }
            if routes
                .iter()
                .any(|route| route.resource == spec.path && route.method == method)
            {
                return Err(invalid("declared twice"));
            }
            let next_id = format!("res{:03}", resource_ids.len());
            let resource_id = resource_ids
                .entry(spec.path.clone())
                .or_insert(next_id)
                .clone();
            routes.push(Route {
                method,
                resource: spec.path,
                function: spec.function,
                auth: spec.auth,
                scopes: spec.scopes,
                resource_id,
                segments,
            });
        }
        Ok(Self {
            routes,
            stage: stage.to_owned(),
        })
    }

    /// A table for tests, deployed to the `prod` stage.
    #[cfg(test)]
    pub(crate) fn from_test_json(routes: serde_json::Value) -> Self {
        Self::new(serde_json::from_value(routes).unwrap(), "prod").unwrap()
    }

    pub fn stage(&self) -> &str {
        &self.stage
    }

    /// The method that serves `method path`, or `None` when no resource matches the path or the
    /// resource has no such method (API Gateway answers both with 403 Missing Authentication
    /// Token). A leading `/<stage>` is stripped when what follows it is a resource.
    pub fn resolve(&self, method: &str, path: &str) -> Option<Matched<'_>> {
        let staged = format!("/{}", self.stage);
        let unstaged = match path.strip_prefix(&staged) {
            Some("") => Some("/"),
            Some(rest) if rest.starts_with('/') => Some(rest),
            _ => None,
        };
        let (path, parameters, resource) = unstaged
            .and_then(|rest| self.find_resource(rest).map(|(r, p)| (rest, p, r)))
            .or_else(|| self.find_resource(path).map(|(r, p)| (path, p, r)))?;
        let route = self
            .routes
            .iter()
            .filter(|route| route.resource == resource)
            .find(|route| route.method == method)
            .or_else(|| {
                self.routes
                    .iter()
                    .find(|route| route.resource == resource && route.method == "ANY")
            })?;
        Some(Matched {
            route,
            path: path.to_owned(),
            path_parameters: parameters,
        })
    }

    /// The most specific resource template that matches `path`, with its variables.
    fn find_resource(&self, path: &str) -> Option<(&str, BTreeMap<String, String>)> {
        let parts: Vec<&str> = match path.strip_prefix('/')? {
            "" => Vec::new(),
            rest => rest.split('/').collect(),
        };
        self.routes
            .iter()
            .filter_map(|route| {
                route
                    .match_segments(&parts)
                    .map(|parameters| (route, parameters))
            })
            .max_by_key(|(route, _)| route.specificity())
            .map(|(route, parameters)| (route.resource.as_str(), parameters))
    }
}

impl Route {
    fn match_segments(&self, parts: &[&str]) -> Option<BTreeMap<String, String>> {
        if parts.len() != self.segments.len() {
            return None;
        }
        let mut parameters = BTreeMap::new();
        for (segment, part) in self.segments.iter().zip(parts) {
            match segment {
                Segment::Literal(literal) if literal == part => {}
                Segment::Variable(name) if !part.is_empty() => {
                    let value = percent_decode_str(part).decode_utf8_lossy().into_owned();
                    parameters.insert(name.clone(), value);
                }
                _ => return None,
            }
        }
        Some(parameters)
    }

    /// Literal segments win over variables, position by position from the left, as in
    /// API Gateway (`/products/search` beats `/products/{productId}`).
    fn specificity(&self) -> Vec<bool> {
        self.segments
            .iter()
            .map(|segment| matches!(segment, Segment::Literal(_)))
            .collect()
    }
}

fn parse_template(template: &str) -> Result<Vec<Segment>, &'static str> {
    let rest = template
        .strip_prefix('/')
        .ok_or("a resource path starts with '/'")?;
    if rest.is_empty() {
        return Ok(Vec::new());
    }
    rest.split('/')
        .map(|part| {
            if part.is_empty() {
                return Err("a resource path has no empty segments");
            }
            match part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                Some(name) if name.ends_with('+') => {
                    Err("greedy path variables ({proxy+}) are not supported")
                }
                Some(name)
                    if !name.is_empty()
                        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') =>
                {
                    Ok(Segment::Variable(name.to_owned()))
                }
                Some(_) => Err("a path variable is named with letters, digits and '_'"),
                None if part.contains(['{', '}']) => Err("a path variable takes a whole segment"),
                None => Ok(Segment::Literal(part.to_owned())),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(routes: serde_json::Value) -> Result<RouteTable, RoutesError> {
        RouteTable::new(serde_json::from_value(routes).unwrap(), "prod")
    }

    fn products() -> RouteTable {
        table(serde_json::json!([
            {"method": "GET", "path": "/products", "function": "products-api", "auth": true},
            {"method": "POST", "path": "/products", "function": "products-api", "auth": true},
            {"method": "GET", "path": "/products/{productId}", "function": "products-api", "auth": true},
            {"method": "GET", "path": "/products/search", "function": "search-api", "auth": true},
            {"method": "GET", "path": "/tenants/{tenantId}/users/{userId}", "function": "users-api", "auth": true},
            {"method": "GET", "path": "/", "function": "root", "auth": false},
            {"method": "ANY", "path": "/health", "function": "health", "auth": false},
            {"method": "GET", "path": "/prod-notes", "function": "notes", "auth": false},
        ]))
        .unwrap()
    }

    #[test]
    fn a_template_variable_matches_one_segment() {
        let routes = products();
        let matched = routes
            .resolve("GET", "/products/01JB9A00000000000000000PA1")
            .unwrap();
        assert_eq!(matched.route.resource, "/products/{productId}");
        assert_eq!(matched.path, "/products/01JB9A00000000000000000PA1");
        assert_eq!(
            matched.path_parameters,
            BTreeMap::from([(
                "productId".to_owned(),
                "01JB9A00000000000000000PA1".to_owned()
            )])
        );
        let nested = routes.resolve("GET", "/tenants/t1/users/u1").unwrap();
        assert_eq!(nested.route.function, "users-api");
        assert_eq!(nested.path_parameters.len(), 2);
        assert!(routes.resolve("GET", "/products/a/b").is_none());
    }

    #[test]
    fn the_stage_prefix_is_optional() {
        let routes = products();
        let staged = routes.resolve("GET", "/prod/products/p1").unwrap();
        let bare = routes.resolve("GET", "/products/p1").unwrap();
        assert_eq!(staged, bare);
        assert_eq!(staged.path, "/products/p1");
        assert_eq!(
            routes.resolve("GET", "/prod").unwrap().route.function,
            "root"
        );
        assert_eq!(routes.resolve("GET", "/").unwrap().route.function, "root");
        // `/prod-notes` is a resource, not the stage followed by something.
        assert_eq!(
            routes.resolve("GET", "/prod-notes").unwrap().route.function,
            "notes"
        );
        assert_eq!(routes.stage(), "prod");
    }

    #[test]
    fn an_unknown_path_matches_nothing() {
        let routes = products();
        for path in [
            "/orders",
            "/prod/orders",
            "/products/p1/extra",
            "/other/prod",
        ] {
            assert!(routes.resolve("GET", path).is_none(), "{path}");
        }
    }

    #[test]
    fn a_known_path_with_another_method_matches_nothing() {
        let routes = products();
        assert!(routes.resolve("DELETE", "/products").is_none());
        assert!(routes.resolve("PUT", "/prod/products/p1").is_none());
        assert!(routes.resolve("get", "/products").is_none());
    }

    #[test]
    fn a_variable_never_matches_an_empty_segment() {
        assert!(products().resolve("GET", "/products//").is_none());
        let routes = table(serde_json::json!([
            {"method": "GET", "path": "/orders/{orderId}", "function": "orders-api", "auth": true},
        ]))
        .unwrap();
        assert!(routes.resolve("GET", "/orders/").is_none());
    }

    #[test]
    fn a_literal_segment_beats_a_variable() {
        let routes = products();
        let search = routes.resolve("GET", "/products/search").unwrap();
        assert_eq!(search.route.function, "search-api");
        assert!(search.path_parameters.is_empty());
    }

    #[test]
    fn any_serves_every_method() {
        let routes = products();
        for method in ["GET", "POST", "DELETE"] {
            assert_eq!(
                routes.resolve(method, "/health").unwrap().route.function,
                "health"
            );
        }
    }

    #[test]
    fn path_parameters_are_percent_decoded_and_the_path_is_not() {
        let routes = products();
        let matched = routes.resolve("GET", "/products/a%20b%2Fc").unwrap();
        assert_eq!(matched.path, "/products/a%20b%2Fc");
        assert_eq!(matched.path_parameters["productId"], "a b/c");
    }

    #[test]
    fn methods_of_one_resource_share_its_resource_id() {
        let routes = products();
        let get = routes.resolve("GET", "/products").unwrap().route;
        let post = routes.resolve("POST", "/products").unwrap().route;
        let item = routes.resolve("GET", "/products/p1").unwrap().route;
        assert_eq!(get.resource_id, post.resource_id);
        assert_ne!(get.resource_id, item.resource_id);
    }

    #[test]
    fn malformed_routes_are_refused() {
        for (method, path, function) in [
            ("GET", "/{proxy+}", "f"),
            ("GET", "products", "f"),
            ("GET", "/a//b", "f"),
            ("GET", "/a/{}", "f"),
            ("GET", "/a/x{id}", "f"),
            ("FETCH", "/a", "f"),
            ("GET", "/a", "../etc"),
            ("GET", "/a", ""),
        ] {
            let result = table(serde_json::json!([
                {"method": method, "path": path, "function": function, "auth": true},
            ]));
            assert!(
                matches!(result, Err(RoutesError::Invalid { .. })),
                "{method} {path} {function}"
            );
        }
        let twice = table(serde_json::json!([
            {"method": "GET", "path": "/a", "function": "f", "auth": true},
            {"method": "get", "path": "/a", "function": "g", "auth": false},
        ]));
        assert!(matches!(twice, Err(RoutesError::Invalid { .. })));
    }

    #[test]
    fn the_routes_file_is_read_from_disk() {
        let dir = std::env::temp_dir().join(format!("local-gateway-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("routes.json");
        std::fs::write(
            &file,
            r#"[{"method": "GET", "path": "/products", "function": "products-api", "auth": true}]"#,
        )
        .unwrap();
        let routes = RouteTable::load(&file, "prod").unwrap();
        assert!(routes.resolve("GET", "/products").unwrap().route.auth);
        std::fs::write(&file, r#"{"routes": []}"#).unwrap();
        assert!(matches!(
            RouteTable::load(&file, "prod"),
            Err(RoutesError::Parse { .. })
        ));
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(matches!(
            RouteTable::load(&file, "prod"),
            Err(RoutesError::Read { .. })
        ));
    }
}
