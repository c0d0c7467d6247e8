//! Who may do what. A request's scopes (`scope.rs`) are checked by the
//! registry's access controller before its handler runs: open (no auth
//! configured), htpasswd basic auth (`htpasswd.rs`) or distribution's token
//! auth (`token.rs`). A request that
//! proves no identity gets a 401 with the challenge; one whose identity may
//! not do what it asks, a 403 — with tokens, carrying the challenge with
//! `error="insufficient_scope"` as RFC 6750 has it, so a client holding a
//! narrower token than it could get (oras asks for pull first, then
//! pushes) fetches one for the named scope and retries.

pub mod htpasswd;
pub mod scope;
pub mod token;

use scope::Scope;

/// How the registry decides access.
#[derive(Default)]
pub enum AccessController {
    /// Anyone may do anything (no `auth` configured).
    #[default]
    Open,
    Htpasswd(htpasswd::Htpasswd),
    Token(token::TokenAuth),
}

/// The outcome for one request.
#[derive(Debug, PartialEq, Eq)]
pub enum Decision {
    /// Go ahead; the actor is who the request proved to be, if anyone.
    Allowed { actor: Option<String> },
    /// No (valid) identity: 401 with this `WWW-Authenticate` value.
    Challenge { www_authenticate: String },
    /// An identity that may not do this: 403, with this `WWW-Authenticate`
    /// value where asking again could help.
    Denied { actor: String, www_authenticate: Option<String> },
}

impl AccessController {
    /// Whether a request carrying `authorization` may have `needed`, as of
    /// `now` (token lifetimes). `wanted` is access the request can do
    /// without but would use (a mount's source): a challenge names it, so a
    /// client asks for it too, and a token silent about it is challenged
    /// again; one that refuses it is not (the request goes on without it).
    pub fn decide(
        &self,
        authorization: Option<&str>,
        needed: &[Scope],
        wanted: &[Scope],
        now: std::time::SystemTime,
    ) -> Decision {
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
            AccessController::Token(t) => {
                let asked: Vec<Scope> = needed.iter().chain(wanted).cloned().collect();
                let challenge = |error| Decision::Challenge { www_authenticate: t.challenge(&asked, error) };
                match t.judge(authorization, needed, now) {
                    token::Verdict::Granted { subject } => match t.judge(authorization, wanted, now) {
                        token::Verdict::Insufficient => challenge(Some("insufficient_scope")),
                        _ => Decision::Allowed { actor: Some(subject) },
                    },
                    token::Verdict::Refused { subject } => Decision::Denied {
                        actor: subject,
                        www_authenticate: Some(t.challenge(&asked, Some("insufficient_scope"))),
                    },
                    token::Verdict::Insufficient => challenge(Some("insufficient_scope")),
                    token::Verdict::Invalid(_) if authorization.is_none() => challenge(None),
                    token::Verdict::Invalid(_) => challenge(Some("invalid_token")),
                }
            }
        }
    }

    pub fn is_open(&self) -> bool {
        matches!(self, AccessController::Open)
    }

    /// Whether whoever is allowed in may do anything anywhere (open, or
    /// htpasswd): then an automatic mount may link a blob from wherever it
    /// is stored. With tokens, access is per repository, so it may not.
    pub fn grants_everything_to_anyone_allowed(&self) -> bool {
        matches!(self, AccessController::Open | AccessController::Htpasswd(_))
    }
}
