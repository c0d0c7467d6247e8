//! What a manifest push must satisfy beyond being well-formed: which of the
//! content it references must already be in the repository, and which URLs
//! its descriptors may name. Distribution's `validation.manifests` settings,
//! with its names.
//!
//! By default everything a manifest references must be here, except a
//! non-distributable (foreign) layer that says where to fetch it: Windows
//! base images are pushed without those layers. A sparse manifest (an image
//! missing layers, an index missing platforms) is refused unless the
//! operator allows it.

use drydock_spec::manifest::{Descriptor, Platform, Role};
use drydock_spec::media_type;
use regex::Regex;

/// Which children of an index must be in the repository
/// (`validation.manifests.indexes.platforms`).
#[derive(Clone, Debug, Default)]
pub enum IndexChildren {
    /// Every one (`all`).
    #[default]
    All,
    /// None: an index may name platforms pushed elsewhere or never (`none`).
    None,
    /// Those for the listed platforms (`list`, with `platformlist`).
    Platforms(Vec<PlatformMatch>),
}

/// A platform in `platformlist`: an entry matches when its os and
/// architecture are these.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlatformMatch {
    pub os: String,
    pub architecture: String,
}

impl PlatformMatch {
    fn matches(&self, p: &Platform) -> bool {
        p.os == self.os && p.architecture == self.architecture
    }
}

/// The rules a manifest push is held to.
#[derive(Clone, Debug, Default)]
pub struct ManifestRules {
    /// URLs a descriptor names must match one of these, when any are given.
    pub urls_allow: Vec<Regex>,
    /// ...and none of these.
    pub urls_deny: Vec<Regex>,
    pub index_children: IndexChildren,
    /// Whether an image's layers may be missing (drydock's
    /// `validation.manifests.layers: none`). Its config never may.
    pub sparse_layers: bool,
}

/// Why a descriptor's URLs are refused.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    #[error("urls of {digest}: {url:?} is not an http(s) URL without a fragment")]
    Malformed { digest: String, url: String },
    #[error("urls of {digest}: {url:?} matches no validation.manifests.urls.allow pattern")]
    NotAllowed { digest: String, url: String },
    #[error("urls of {digest}: {url:?} matches validation.manifests.urls.deny pattern {pattern:?}")]
    Denied { digest: String, url: String, pattern: String },
}

impl ManifestRules {
    /// Checks every URL `d` names.
    pub fn check_urls(&self, d: &Descriptor) -> Result<(), UrlError> {
        let digest = || d.digest.to_string();
        for url in &d.urls {
            let well_formed = match url.parse::<http::Uri>() {
                Ok(u) => matches!(u.scheme_str(), Some("http" | "https")) && u.host().is_some() && !url.contains('#'),
                Err(_) => false,
            };
            if !well_formed {
                return Err(UrlError::Malformed { digest: digest(), url: url.clone() });
            }
            if !self.urls_allow.is_empty() && !self.urls_allow.iter().any(|r| r.is_match(url)) {
                return Err(UrlError::NotAllowed { digest: digest(), url: url.clone() });
            }
            if let Some(r) = self.urls_deny.iter().find(|r| r.is_match(url)) {
                return Err(UrlError::Denied { digest: digest(), url: url.clone(), pattern: r.as_str().to_owned() });
            }
        }
        Ok(())
    }

    /// Whether the content `d` names (in `role`) must already be in the
    /// repository for the manifest to be accepted.
    pub fn must_be_present(&self, role: Role, d: &Descriptor) -> bool {
        match role {
            Role::Config => true,
            Role::Layer => {
                // A foreign layer that says where to fetch it is fetched there.
                let fetched_elsewhere = media_type::is_non_distributable(&d.media_type) && !d.urls.is_empty();
                !self.sparse_layers && !fetched_elsewhere
            }
            Role::Manifest => match &self.index_children {
                IndexChildren::All => true,
                IndexChildren::None => false,
                IndexChildren::Platforms(list) => {
                    d.platform.as_ref().is_some_and(|p| list.iter().any(|m| m.matches(p)))
                }
            },
            // A subject may be pushed after its referrers (OCI 1.1).
            Role::Subject => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use drydock_spec::{Algorithm, Digest};

    fn layer(media_type: &str, urls: &[&str]) -> Descriptor {
        Descriptor {
            media_type: media_type.to_owned(),
            digest: Digest::of(Algorithm::Sha256, media_type.as_bytes()),
            size: 1,
            artifact_type: None,
            annotations: Default::default(),
            urls: urls.iter().map(|u| u.to_string()).collect(),
            platform: None,
        }
    }

    const ND: &str = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip";

    #[test]
    fn foreign_layers_with_urls_need_not_be_here() {
        let rules = ManifestRules::default();
        assert!(!rules.must_be_present(Role::Layer, &layer(ND, &["https://example.com/l"])));
        assert!(rules.must_be_present(Role::Layer, &layer(ND, &[])), "without urls nobody could fetch it");
        let plain = layer(media_type::OCI_LAYER_GZIP, &["https://example.com/l"]);
        assert!(rules.must_be_present(Role::Layer, &plain));
        assert!(rules.must_be_present(Role::Config, &plain));
        let sparse = ManifestRules { sparse_layers: true, ..ManifestRules::default() };
        assert!(!sparse.must_be_present(Role::Layer, &plain));
        assert!(sparse.must_be_present(Role::Config, &plain), "a config is never optional");
    }

    #[test]
    fn index_children_by_setting() {
        let mut child = layer(media_type::OCI_MANIFEST, &[]);
        let all = ManifestRules::default();
        assert!(all.must_be_present(Role::Manifest, &child));
        let none = ManifestRules { index_children: IndexChildren::None, ..ManifestRules::default() };
        assert!(!none.must_be_present(Role::Manifest, &child));
        let amd64 = PlatformMatch { os: "linux".into(), architecture: "amd64".into() };
        let list = ManifestRules { index_children: IndexChildren::Platforms(vec![amd64]), ..ManifestRules::default() };
        assert!(!list.must_be_present(Role::Manifest, &child), "no platform: not listed");
        child.platform = Some(Platform { os: "linux".into(), architecture: "amd64".into(), variant: None });
        assert!(list.must_be_present(Role::Manifest, &child));
        child.platform = Some(Platform { os: "linux".into(), architecture: "arm64".into(), variant: None });
        assert!(!list.must_be_present(Role::Manifest, &child));
    }

    #[test]
    fn urls_follow_allow_and_deny() {
        let open = ManifestRules::default();
        assert_eq!(open.check_urls(&layer(ND, &["https://mcr.example/a", "http://b.example/x"])), Ok(()));
        for bad in ["ftp://a.example/x", "https://a.example/x#frag", "/relative", "https://"] {
            assert!(
                matches!(open.check_urls(&layer(ND, &[bad])), Err(UrlError::Malformed { .. })),
                "{bad} should be refused"
            );
        }
        let rules = ManifestRules {
            urls_allow: vec![Regex::new(r"^https://([a-z]+\.)?mcr\.example/").unwrap()],
            urls_deny: vec![Regex::new(r"/private/").unwrap()],
            ..ManifestRules::default()
        };
        assert_eq!(rules.check_urls(&layer(ND, &["https://eu.mcr.example/layer"])), Ok(()));
        assert!(matches!(
            rules.check_urls(&layer(ND, &["https://other.example/layer"])),
            Err(UrlError::NotAllowed { .. })
        ));
        assert!(matches!(
            rules.check_urls(&layer(ND, &["https://mcr.example/private/layer"])),
            Err(UrlError::Denied { .. })
        ));
    }
}
