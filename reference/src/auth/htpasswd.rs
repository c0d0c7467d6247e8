//! Basic authentication against an htpasswd file, as distribution's
//! `auth.htpasswd`: bcrypt hashes only, and any user the file names may do
//! anything (the file says who, not what).

use base64::Engine;
use sha2::{Digest as _, Sha256};
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Credentials remembered as verified, so a client's every request does
/// not pay a bcrypt (tens of milliseconds each). When full, it is emptied.
pub const VERIFIED_CACHE_MAX: usize = 1024;

#[derive(Debug, thiserror::Error)]
pub enum HtpasswdError {
    #[error("reading htpasswd file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("htpasswd file {path}, line {line}: {reason}")]
    Line { path: PathBuf, line: usize, reason: String },
    #[error("htpasswd file {0} names no user")]
    Empty(PathBuf),
}

pub struct Htpasswd {
    pub realm: String,
    users: BTreeMap<String, String>,
    /// sha256 of `user:password` pairs that verified.
    verified: Mutex<HashSet<[u8; 32]>>,
}

impl Htpasswd {
    /// Reads `path`: one `user:hash` per line, every hash bcrypt (`$2a$`,
    /// `$2b$`, `$2y$`). Anything else is an error, never a user skipped.
    pub fn load(path: &Path, realm: &str) -> Result<Htpasswd, HtpasswdError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| HtpasswdError::Read { path: path.to_path_buf(), source })?;
        Htpasswd::parse(&text, realm).map_err(|e| match e {
            HtpasswdError::Line { line, reason, .. } => HtpasswdError::Line { path: path.to_path_buf(), line, reason },
            HtpasswdError::Empty(_) => HtpasswdError::Empty(path.to_path_buf()),
            other => other,
        })
    }

    pub fn parse(text: &str, realm: &str) -> Result<Htpasswd, HtpasswdError> {
        let mut users = BTreeMap::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let bad = |reason: &str| HtpasswdError::Line { path: PathBuf::new(), line: i + 1, reason: reason.into() };
            let (user, hash) = line.split_once(':').ok_or_else(|| bad("expected user:hash"))?;
            if user.is_empty() {
                return Err(bad("empty user name"));
            }
            if !["$2a$", "$2b$", "$2y$"].iter().any(|p| hash.starts_with(p)) {
                return Err(bad("only bcrypt hashes are supported (htpasswd -B)"));
            }
            if users.insert(user.to_owned(), hash.to_owned()).is_some() {
                return Err(bad("user named twice"));
            }
        }
        if users.is_empty() {
            return Err(HtpasswdError::Empty(PathBuf::new()));
        }
        Ok(Htpasswd { realm: realm.to_owned(), users, verified: Mutex::new(HashSet::new()) })
    }

    /// The user an `Authorization: Basic …` value proves to be; `None` for
    /// anything else (absent, malformed, unknown user, wrong password).
    pub fn authenticate(&self, authorization: Option<&str>) -> Option<String> {
        let encoded = authorization?.trim().strip_prefix("Basic ")?.trim();
        let decoded = base64::engine::general_purpose::STANDARD.decode(encoded).ok()?;
        let decoded = String::from_utf8(decoded).ok()?;
        let (user, password) = decoded.split_once(':')?;
        let hash = self.users.get(user)?;
        let key: [u8; 32] = Sha256::digest(decoded.as_bytes()).into();
        let mut verified = self.verified.lock().unwrap_or_else(|p| p.into_inner());
        if verified.contains(&key) {
            return Some(user.to_owned());
        }
        drop(verified);
        if !bcrypt::verify(password, hash).unwrap_or(false) {
            return None;
        }
        verified = self.verified.lock().unwrap_or_else(|p| p.into_inner());
        if verified.len() >= VERIFIED_CACHE_MAX {
            verified.clear();
        }
        verified.insert(key);
        Some(user.to_owned())
    }

    /// The challenge a 401 carries.
    pub fn challenge(&self) -> String {
        format!("Basic realm=\"{}\"", self.realm.replace('"', "'"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(user: &str, password: &str) -> String {
        format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}")))
    }

    #[test]
    fn bcrypt_users_and_nothing_else() {
        let hash = bcrypt::hash("s3cret", 4).unwrap();
        let h = Htpasswd::parse(&format!("# users\nalice:{hash}\n\n"), "drydock").unwrap();
        assert_eq!(h.authenticate(Some(&basic("alice", "s3cret"))).as_deref(), Some("alice"));
        // Again, from the cache.
        assert_eq!(h.authenticate(Some(&basic("alice", "s3cret"))).as_deref(), Some("alice"));
        assert_eq!(h.authenticate(Some(&basic("alice", "wrong"))), None);
        assert_eq!(h.authenticate(Some(&basic("bob", "s3cret"))), None);
        assert_eq!(h.authenticate(Some("Bearer abc")), None);
        assert_eq!(h.authenticate(Some("Basic !!!")), None);
        assert_eq!(h.authenticate(None), None);
        assert_eq!(h.challenge(), "Basic realm=\"drydock\"");
        // Passwords may hold ':'.
        let hash = bcrypt::hash("a:b", 4).unwrap();
        let h = Htpasswd::parse(&format!("carol:{hash}"), "r").unwrap();
        assert_eq!(h.authenticate(Some(&basic("carol", "a:b"))).as_deref(), Some("carol"));
    }

    #[test]
    fn a_file_it_cannot_fully_use_is_refused() {
        assert!(matches!(Htpasswd::parse("", "r"), Err(HtpasswdError::Empty(_))));
        for bad in ["alice", "alice:{SHA}abc=", "alice:$apr1$x$y", ":$2y$05$abc"] {
            assert!(matches!(Htpasswd::parse(bad, "r"), Err(HtpasswdError::Line { line: 1, .. })), "{bad}");
        }
        let hash = bcrypt::hash("p", 4).unwrap();
        assert!(Htpasswd::parse(&format!("a:{hash}\na:{hash}"), "r").is_err(), "a user named twice");
    }
}
