//! What a request needs to be allowed: scopes in distribution's grammar,
//! `repository:<name>:<action>[,<action>…]` and `registry:catalog:*`.

use crate::http::route::Route;
use http::Method;
use std::fmt;

/// An action on a resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Action {
    Pull,
    Push,
    Delete,
    /// Everything (`*`), as `registry:catalog:*` grants.
    All,
}

impl Action {
    pub fn name(self) -> &'static str {
        match self {
            Action::Pull => "pull",
            Action::Push => "push",
            Action::Delete => "delete",
            Action::All => "*",
        }
    }

    pub fn parse(s: &str) -> Option<Action> {
        [Action::Pull, Action::Push, Action::Delete, Action::All].into_iter().find(|a| a.name() == s)
    }
}

/// Access to one resource: a repository, or the registry's catalog.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scope {
    /// `repository` or `registry`.
    pub kind: &'static str,
    pub name: String,
    pub actions: Vec<Action>,
}

impl Scope {
    pub fn repository(name: &str, actions: &[Action]) -> Scope {
        Scope { kind: "repository", name: name.to_owned(), actions: actions.to_vec() }
    }

    pub fn catalog() -> Scope {
        Scope { kind: "registry", name: "catalog".to_owned(), actions: vec![Action::All] }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let actions: Vec<&str> = self.actions.iter().map(|a| a.name()).collect();
        write!(f, "{}:{}:{}", self.kind, self.name, actions.join(","))
    }
}

/// The scopes `method` on `route` needs. The base endpoint needs none (only
/// that the caller is who they say, when the registry asks). A mount also
/// needs to pull its source; that is checked when the mount happens, since
/// a mount the caller may not make falls back to an ordinary upload.
pub fn needed(route: &Route, method: &Method) -> Vec<Scope> {
    use Action::{Delete, Pull, Push};
    let name = match route {
        Route::Base => return Vec::new(),
        Route::Catalog => return vec![Scope::catalog()],
        other => other.name().expect("every other route names a repository"),
    };
    let actions: &[Action] = match (route, method) {
        // Everything on an upload, cancelling included, is pushing.
        (Route::Upload { .. }, _) => &[Pull, Push],
        (_, &Method::DELETE) => &[Delete],
        (Route::UploadStart { .. }, _) => &[Pull, Push],
        (_, &Method::GET | &Method::HEAD) => &[Pull],
        _ => &[Pull, Push],
    };
    vec![Scope::repository(name, actions)]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn needs(method: Method, path: &str) -> Vec<String> {
        needed(&Route::parse(path).unwrap(), &method).iter().map(ToString::to_string).collect()
    }

    #[test]
    fn each_endpoint_needs_what_distribution_asks() {
        assert!(needs(Method::GET, "/v2/").is_empty());
        assert_eq!(needs(Method::GET, "/v2/_catalog"), ["registry:catalog:*"]);
        assert_eq!(needs(Method::GET, "/v2/a/b/tags/list"), ["repository:a/b:pull"]);
        assert_eq!(needs(Method::HEAD, "/v2/a/manifests/v1"), ["repository:a:pull"]);
        assert_eq!(needs(Method::GET, "/v2/a/blobs/sha256:00"), ["repository:a:pull"]);
        assert_eq!(needs(Method::GET, "/v2/a/referrers/sha256:00"), ["repository:a:pull"]);
        assert_eq!(needs(Method::PUT, "/v2/a/manifests/v1"), ["repository:a:pull,push"]);
        assert_eq!(needs(Method::POST, "/v2/a/blobs/uploads/"), ["repository:a:pull,push"]);
        assert_eq!(needs(Method::PATCH, "/v2/a/blobs/uploads/id"), ["repository:a:pull,push"]);
        assert_eq!(needs(Method::GET, "/v2/a/blobs/uploads/id"), ["repository:a:pull,push"]);
        // Cancelling an upload is part of pushing, not a delete.
        assert_eq!(needs(Method::DELETE, "/v2/a/blobs/uploads/id"), ["repository:a:pull,push"]);
        assert_eq!(needs(Method::DELETE, "/v2/a/manifests/sha256:00"), ["repository:a:delete"]);
        assert_eq!(needs(Method::DELETE, "/v2/a/blobs/sha256:00"), ["repository:a:delete"]);
    }
}
