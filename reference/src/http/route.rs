//! URL → endpoint. Repository names may contain `/`, so the endpoint is found
//! by its marker nearest the end of the path (references and ids cannot
//! contain `/`).

use drydock_spec::RepositoryName;

#[derive(Debug, PartialEq, Eq)]
pub enum Route {
    Base,
    Catalog,
    Tags { name: String },
    Manifest { name: String, reference: String },
    Blob { name: String, digest: String },
    UploadStart { name: String },
    Upload { name: String, id: String },
    Referrers { name: String, digest: String },
}

impl Route {
    /// `None` for paths outside the API.
    pub fn parse(path: &str) -> Option<Route> {
        let rest = path.strip_prefix("/v2/").or_else(|| (path == "/v2").then_some(""))?;
        if rest.is_empty() {
            return Some(Route::Base);
        }
        if rest == "_catalog" {
            return Some(Route::Catalog);
        }
        if let Some(name) = rest.strip_suffix("/tags/list") {
            return Some(Route::Tags { name: name.to_owned() });
        }
        if let Some(name) = rest.strip_suffix("/blobs/uploads/").or_else(|| rest.strip_suffix("/blobs/uploads")) {
            return Some(Route::UploadStart { name: name.to_owned() });
        }
        let split =
            |marker: &str| rest.rfind(marker).map(|i| (rest[..i].to_owned(), rest[i + marker.len()..].to_owned()));
        if let Some((name, id)) = split("/blobs/uploads/").filter(|(_, id)| !id.contains('/')) {
            return Some(Route::Upload { name, id });
        }
        if let Some((name, reference)) = split("/manifests/").filter(|(_, r)| !r.is_empty() && !r.contains('/')) {
            return Some(Route::Manifest { name, reference });
        }
        if let Some((name, digest)) = split("/blobs/").filter(|(_, d)| !d.is_empty() && !d.contains('/')) {
            return Some(Route::Blob { name, digest });
        }
        if let Some((name, digest)) = split("/referrers/").filter(|(_, d)| !d.is_empty() && !d.contains('/')) {
            return Some(Route::Referrers { name, digest });
        }
        None
    }

    /// The endpoint's name, for metrics (one series per endpoint, never one
    /// per repository).
    pub fn kind(&self) -> &'static str {
        match self {
            Route::Base => "base",
            Route::Catalog => "catalog",
            Route::Tags { .. } => "tags",
            Route::Manifest { .. } => "manifest",
            Route::Blob { .. } => "blob",
            Route::UploadStart { .. } => "upload_start",
            Route::Upload { .. } => "upload",
            Route::Referrers { .. } => "referrers",
        }
    }

    pub fn name(&self) -> Option<&str> {
        match self {
            Route::Base | Route::Catalog => None,
            Route::Tags { name }
            | Route::Manifest { name, .. }
            | Route::Blob { name, .. }
            | Route::UploadStart { name }
            | Route::Upload { name, .. }
            | Route::Referrers { name, .. } => Some(name),
        }
    }
}

/// Validates the name a route carries.
pub fn repository(name: &str) -> Result<RepositoryName, drydock_spec::NameError> {
    RepositoryName::parse(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        assert_eq!(Route::parse("/v2/"), Some(Route::Base));
        assert_eq!(Route::parse("/v2"), Some(Route::Base));
        assert_eq!(Route::parse("/v2/_catalog"), Some(Route::Catalog));
        assert_eq!(Route::parse("/v2/a/b/tags/list"), Some(Route::Tags { name: "a/b".into() }));
        assert_eq!(
            Route::parse("/v2/a/manifests/x/manifests/latest"),
            Some(Route::Manifest { name: "a/manifests/x".into(), reference: "latest".into() })
        );
        assert_eq!(Route::parse("/v2/a/blobs/uploads/"), Some(Route::UploadStart { name: "a".into() }));
        assert_eq!(Route::parse("/v2/a/blobs/uploads/123"), Some(Route::Upload { name: "a".into(), id: "123".into() }));
        assert_eq!(
            Route::parse("/v2/a/blobs/sha256:ab"),
            Some(Route::Blob { name: "a".into(), digest: "sha256:ab".into() })
        );
        assert_eq!(Route::parse("/v3/"), None);
        assert_eq!(Route::parse("/v2/a/other"), None);
    }
}
