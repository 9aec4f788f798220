//! HTTP route matching as API Gateway does it (the most specific template wins:
//! `/api/users/me` over `/api/users/{id}`), with `matchit`. The local gateway dispatches with
//! it; the `$default` function answers what no route matches with it (405 + `Allow` when the
//! path exists for other methods, else 404), on AWS and locally alike.
//!
//! API Gateway matches by method and path together, so `PUT /api/users/me` reaches
//! `PUT /api/users/{id}` with the id `me`. The contract (OpenAPI) matches a concrete path
//! before a template, whatever the method: `/api/users/me` is served with `GET` only, and a
//! `PUT` there is a 405. `shadowed` tells the handlers so (`http::respond`).

use std::collections::BTreeMap;
use std::sync::LazyLock;

use chat::{App, AppError};
use lambda_http::Request;
use serde_json::{Map, Value};

use super::{HttpHandler, Reply};
use crate::routes::{http_parts, routes, Function, Handler, Route};

/// An HTTP route as a dispatcher needs it.
#[derive(Clone, Copy)]
pub struct HttpRoute {
    pub key: &'static str,
    pub handler: HttpHandler,
    pub function: Function,
}

/// The HTTP routes by method, and the methods of each concrete (template-free) path.
#[derive(Default)]
pub struct HttpRouter {
    by_method: BTreeMap<String, matchit::Router<HttpRoute>>,
    concrete: BTreeMap<&'static str, Vec<&'static str>>,
}

impl HttpRouter {
    pub fn new(routes: &[Route]) -> Result<Self, matchit::InsertError> {
        let mut by_method = Self::default();
        for r in routes {
            if let (Handler::Http(handler), Some((method, template))) = (r.handler, http_parts(r.key)) {
                let route = HttpRoute { key: r.key, handler, function: r.function };
                by_method.by_method.entry(method.to_owned()).or_default().insert(template, route)?;
                if !template.contains('{') {
                    let methods = by_method.concrete.entry(template).or_default();
                    methods.push(method);
                    methods.sort_unstable();
                }
            }
        }
        Ok(by_method)
    }

    /// The route of `method path`, with its path parameters percent-decoded.
    pub fn find(&self, method: &str, path: &str) -> Option<(HttpRoute, Map<String, Value>)> {
        let matched = self.by_method.get(method)?.at(path).ok()?;
        let mut params = Map::new();
        for (name, raw) in matched.params.iter() {
            params.insert(name.to_owned(), percent_decode(raw)?.into());
        }
        Some((*matched.value, params))
    }

    /// The methods `path` is served with, in order: a concrete path's own, else those of every
    /// template that matches it.
    pub fn allowed(&self, path: &str) -> Vec<&str> {
        match self.concrete.get(path) {
            Some(methods) => methods.clone(),
            None => self.by_method.iter().filter(|(_, r)| r.at(path).is_ok()).map(|(m, _)| m.as_str()).collect(),
        }
    }

    /// `Some(allowed methods)` when `path` is a concrete route's path that `method` does not
    /// serve: a template route reached it only because API Gateway matches by method first.
    pub fn shadowed(&self, method: &str, path: &str) -> Option<String> {
        let methods = self.concrete.get(path)?;
        (!methods.contains(&method)).then(|| methods.join(", "))
    }
}

/// `HttpRouter::shadowed` of the route table.
pub fn shadowed(method: &str, path: &str) -> Option<String> {
    ROUTER.as_ref()?.shadowed(method, path)
}

fn percent_decode(s: &str) -> Option<String> {
    form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes()).next().map(|(_, v)| v.into_owned())
}

/// The route table's router, built once per cold start.
static ROUTER: LazyLock<Option<HttpRouter>> = LazyLock::new(|| HttpRouter::new(&routes()).ok());

/// The HTTP API's `$default` route: a request no route matches. 405 with `Allow` when the path
/// is served with other methods (an `OPTIONS` preflight never gets here: the API's CORS
/// configuration answers it), else 404.
pub async fn unmatched(_app: &App, req: Request) -> Result<Reply, AppError> {
    let allowed = ROUTER.as_ref().map(|r| r.allowed(req.uri().path())).unwrap_or_default();
    if allowed.is_empty() {
        Err(AppError::NotFound("no route for this method and path".into()))
    } else {
        Err(AppError::MethodNotAllowed { allow: allowed.join(", ") })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_match_by_method_and_shape_the_most_specific_first() {
        let routes = HttpRouter::new(&crate::routes::routes()).expect("the route table inserts");
        let (r, p) = routes.find("GET", "/api/users/usr_1").expect("a user");
        assert_eq!((r.key, p["id"].as_str()), ("GET /api/users/{id}", Some("usr_1")));
        assert_eq!(routes.find("GET", "/api/users/me").map(|(r, _)| r.key), Some("GET /api/users/me"));
        assert_eq!(routes.find("GET", "/api/users/a%20b").map(|(_, p)| p["id"].clone()), Some("a b".into()));
        assert!(routes.find("GET", "/api/users/").is_none());
        assert!(routes.find("PATCH", "/api/users/usr_1").is_none());
        assert!(routes.find("POST", "/api/notifications/x/write").is_none());
    }

    #[test]
    fn the_methods_of_a_path_are_those_of_every_route_that_matches_it() {
        let routes = HttpRouter::new(&crate::routes::routes()).expect("the route table inserts");
        assert_eq!(routes.allowed("/api/users/usr_1"), ["DELETE", "GET", "PUT"]);
        // A concrete path is served with its own methods only, as the contract matches it.
        assert_eq!(routes.allowed("/api/users/me"), ["GET"]);
        assert_eq!(routes.shadowed("PUT", "/api/users/me").as_deref(), Some("GET"));
        assert_eq!(routes.shadowed("GET", "/api/users/me"), None);
        assert_eq!(routes.shadowed("PUT", "/api/users/usr_1"), None);
        assert!(routes.allowed("/nowhere").is_empty());
    }
}
