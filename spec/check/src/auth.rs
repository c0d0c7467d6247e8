//! Registry authentication as clients do it: basic credentials, or the
//! bearer-token flow (`WWW-Authenticate: Bearer realm=…,service=…,scope=…`),
//! with tokens cached per scope.

use crate::client::Client;
use base64::Engine;
use bytes::Bytes;
use std::collections::HashMap;
use tokio::sync::Mutex;

#[derive(Default)]
pub struct Auth {
    credentials: Option<(String, String)>,
    /// Bearer tokens by scope; basic auth uses the key `""`.
    tokens: Mutex<HashMap<String, String>>,
}

impl Auth {
    pub fn new(credentials: Option<(String, String)>) -> Auth {
        Auth { credentials, tokens: Mutex::default() }
    }

    fn basic(&self) -> Option<String> {
        let (u, p) = self.credentials.as_ref()?;
        Some(format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))))
    }

    /// The header to send for a path, if one is known already.
    pub async fn header_for(&self, path: &str) -> Option<String> {
        let tokens = self.tokens.lock().await;
        tokens.get(&scope_key(path)).or(tokens.get("")).cloned()
    }

    /// Answers a challenge; `None` if it cannot be answered.
    pub async fn answer(&self, challenge: &str, path: &str) -> Option<String> {
        let (scheme, params) = parse_challenge(challenge);
        if scheme.eq_ignore_ascii_case("basic") {
            let header = self.basic()?;
            self.tokens.lock().await.insert(String::new(), header.clone());
            return Some(header);
        }
        if !scheme.eq_ignore_ascii_case("bearer") {
            return None;
        }
        let realm = params.get("realm")?;
        let mut query = form_urlencoded::Serializer::new(String::new());
        if let Some(service) = params.get("service") {
            query.append_pair("service", service);
        }
        if let Some(scope) = params.get("scope") {
            query.append_pair("scope", scope);
        }
        let realm_target = crate::client::Target::parse(realm).ok()?;
        let realm_uri: http::Uri = realm.parse().ok()?;
        let token_client = Client::new(realm_target, Auth::default());
        let path_and_query = format!("{}?{}", realm_uri.path(), query.finish());
        let basic = self.basic();
        let reply = token_client
            .send_raw(http::Method::GET, &path_and_query, &[], Bytes::new(), basic.as_deref())
            .await
            .ok()?;
        let json = reply.json()?;
        let token = json.get("token").or(json.get("access_token"))?.as_str()?;
        let header = format!("Bearer {token}");
        self.tokens.lock().await.insert(scope_key(path), header.clone());
        Some(header)
    }
}

/// Tokens are per repository; the repository part of a `/v2/<name>/…` path.
fn scope_key(path: &str) -> String {
    let rest = path.strip_prefix("/v2/").unwrap_or("");
    for marker in ["/blobs/", "/manifests/", "/tags/", "/referrers/"] {
        if let Some(i) = rest.rfind(marker) {
            return rest[..i].to_owned();
        }
    }
    rest.split('?').next().unwrap_or("").to_owned()
}

/// `Bearer realm="x",service="y"` → (`Bearer`, {realm: x, service: y}).
pub fn parse_challenge(header: &str) -> (String, HashMap<String, String>) {
    let (scheme, rest) = header.trim().split_once(' ').unwrap_or((header.trim(), ""));
    let mut params = HashMap::new();
    let mut rest = rest.trim();
    while !rest.is_empty() {
        let Some((key, after)) = rest.split_once('=') else { break };
        let key = key.trim().trim_start_matches(',').trim().to_ascii_lowercase();
        let after = after.trim_start();
        let (value, remaining) = if let Some(quoted) = after.strip_prefix('"') {
            match quoted.find('"') {
                Some(end) => (&quoted[..end], &quoted[end + 1..]),
                None => (quoted, ""),
            }
        } else {
            match after.find(',') {
                Some(end) => (&after[..end], &after[end..]),
                None => (after, ""),
            }
        };
        params.insert(key, value.to_owned());
        rest = remaining.trim_start().trim_start_matches(',').trim_start();
    }
    (scheme.to_owned(), params)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges() {
        let (s, p) = parse_challenge(
            r#"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push""#,
        );
        assert_eq!(s, "Bearer");
        assert_eq!(p["realm"], "https://auth.example/token");
        assert_eq!(p["scope"], "repository:a/b:pull,push");
        let (s, p) = parse_challenge("Basic realm=registry");
        assert_eq!((s.as_str(), p["realm"].as_str()), ("Basic", "registry"));
        assert_eq!(scope_key("/v2/a/b/blobs/uploads/x"), "a/b");
    }
}
