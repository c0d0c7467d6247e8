//! Who may do what. A request's scopes (`scope.rs`) are checked by the
//! registry's access controller before its handler runs: open (no auth
//! configured) or htpasswd basic auth (`htpasswd.rs`). A request that
//! proves no identity gets a 401 with the challenge; one whose identity may
//! not do what it asks, a 403.

pub mod htpasswd;
pub mod scope;

use scope::Scope;

/// How the registry decides access.
#[derive(Default)]
pub enum AccessController {
    /// Anyone may do anything (no `auth` configured).
    #[default]
    Open,
    Htpasswd(htpasswd::Htpasswd),
}

/// The outcome for one request.
#[derive(Debug, PartialEq, Eq)]
pub enum Decision {
    /// Go ahead; the actor is who the request proved to be, if anyone.
    Allowed { actor: Option<String> },
    /// No (valid) identity: 401 with this `WWW-Authenticate` value.
    Challenge { www_authenticate: String },
    /// An identity that may not do this: 403.
    Denied { actor: String },
}

impl AccessController {
    /// Whether a request carrying `authorization` may have `needed`.
    pub fn decide(&self, authorization: Option<&str>, needed: &[Scope]) -> Decision {
        match self {
            AccessController::Open => Decision::Allowed { actor: None },
            // An htpasswd user may do anything: the file says who, not what.
            AccessController::Htpasswd(h) => {
                let _ = needed;
                match h.authenticate(authorization) {
                    Some(user) => Decision::Allowed { actor: Some(user) },
                    None => Decision::Challenge { www_authenticate: h.challenge() },
                }
            }
        }
    }

    pub fn is_open(&self) -> bool {
        matches!(self, AccessController::Open)
    }
}
