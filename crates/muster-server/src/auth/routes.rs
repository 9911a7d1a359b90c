//! Routes that declare what they need. Every area builds its routes through [`Routes`], so each
//! route's access level sits next to it, and the table of them is what the access check enforces:
//! a route missing from the table is refused (fail closed), and a test lists them all.

use std::collections::HashMap;
use std::sync::Arc;

use axum::handler::Handler;
use axum::http::Method;
use axum::routing::{on, MethodFilter};
use axum::Router;

use super::access::Access;
use crate::AppState;

/// One declared route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteSpec {
    pub method: Method,
    pub path: &'static str,
    pub access: Access,
}

/// A router and the access table of its routes.
#[derive(Debug, Default)]
pub struct Routes {
    router: Router<AppState>,
    table: Vec<RouteSpec>,
}

macro_rules! method {
    ($name:ident, $method:ident) => {
        pub fn $name<H, T>(self, path: &'static str, access: Access, handler: H) -> Self
        where
            H: Handler<T, AppState>,
            T: 'static,
        {
            self.add(Method::$method, MethodFilter::$method, path, access, handler)
        }
    };
}

impl Routes {
    pub fn new() -> Self {
        Self::default()
    }

    method!(get, GET);
    method!(post, POST);
    method!(patch, PATCH);
    method!(put, PUT);
    method!(delete, DELETE);

    fn add<H, T>(mut self, method: Method, filter: MethodFilter, path: &'static str, access: Access, handler: H) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        self.router = self.router.route(path, on(filter, handler));
        self.table.push(RouteSpec { method, path, access });
        self
    }

    pub fn merge(mut self, other: Routes) -> Self {
        self.router = self.router.merge(other.router);
        self.table.extend(other.table);
        self
    }

    pub fn into_parts(self) -> (Router<AppState>, AccessTable) {
        (self.router, AccessTable::new(self.table))
    }
}

/// The declared access of every route, by method and matched path.
#[derive(Debug, Clone, Default)]
pub struct AccessTable {
    specs: Arc<Vec<RouteSpec>>,
    by_route: Arc<HashMap<(Method, &'static str), Access>>,
    paths: Arc<HashMap<&'static str, ()>>,
}

/// What the table says about a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Declared {
    Route(Access),
    /// The path is declared for other methods: the router answers 405.
    OtherMethod,
    /// A route nobody declared: refused.
    Undeclared,
}

impl AccessTable {
    fn new(specs: Vec<RouteSpec>) -> Self {
        let by_route = specs.iter().map(|s| ((s.method.clone(), s.path), s.access)).collect();
        let paths = specs.iter().map(|s| (s.path, ())).collect();
        Self { specs: Arc::new(specs), by_route: Arc::new(by_route), paths: Arc::new(paths) }
    }

    pub fn specs(&self) -> &[RouteSpec] {
        &self.specs
    }

    pub fn lookup(&self, method: &Method, path: &str) -> Declared {
        // HEAD is answered by GET handlers.
        let method = if method == Method::HEAD { &Method::GET } else { method };
        let Some((&path, _)) = self.paths.get_key_value(path) else { return Declared::Undeclared };
        match self.by_route.get(&(method.clone(), path)) {
            Some(access) => Declared::Route(*access),
            None => Declared::OtherMethod,
        }
    }
}
