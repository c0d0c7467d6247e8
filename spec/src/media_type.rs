//! Media types the distribution protocol gives meaning to.
//!
//! The OCI names are the ones `oci-spec` also knows; they are repeated here as
//! `&'static str` constants so they can be used in `match` patterns and HTTP
//! headers without allocation. A test checks they agree with `oci-spec`.

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const OCI_LAYER: &str = "application/vnd.oci.image.layer.v1.tar";
pub const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
pub const OCI_LAYER_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";
pub const OCI_EMPTY: &str = "application/vnd.oci.empty.v1+json";

pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
pub const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
pub const DOCKER_FOREIGN_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";

/// Prefix of the OCI non-distributable layer types (`…nondistributable.v1.tar`,
/// `+gzip`, `+zstd`): content whose license restricts who may copy it.
pub const OCI_NONDISTRIBUTABLE_LAYER_PREFIX: &str = "application/vnd.oci.image.layer.nondistributable.";

/// The body of the OCI empty descriptor: `{}`.
pub const OCI_EMPTY_BODY: &[u8] = b"{}";

/// Manifest media types a registry stores and serves, in preference order.
pub const MANIFEST_TYPES: [&str; 4] = [OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_MANIFEST_LIST];

/// Whether `s` is a syntactically valid media type (RFC 6838 `type/subtype`,
/// parameters allowed), as descriptors must carry.
pub fn is_valid(s: &str) -> bool {
    let essence = s.split(';').next().unwrap_or("").trim();
    let Some((ty, sub)) = essence.split_once('/') else {
        return false;
    };
    let restricted_name = |n: &str| {
        !n.is_empty()
            && n.len() <= 127
            && n.as_bytes()[0].is_ascii_alphanumeric()
            && n.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
    };
    restricted_name(ty) && restricted_name(sub)
}

/// Whether a layer of this type is one registries are not expected to hold:
/// OCI's non-distributable layers and Docker's foreign layers (the Windows
/// base layers), which clients fetch from the descriptor's `urls`.
pub fn is_non_distributable(mt: &str) -> bool {
    let e = essence(mt);
    e.starts_with(OCI_NONDISTRIBUTABLE_LAYER_PREFIX) || e == DOCKER_FOREIGN_LAYER_GZIP
}

/// The media type without parameters, lowercased: `Application/JSON; q=1` → `application/json`.
pub fn essence(s: &str) -> String {
    s.split(';').next().unwrap_or("").trim().to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::image::MediaType;

    #[test]
    #[allow(deprecated)] // the non-distributable types are deprecated in image-spec 1.1, still pushed
    fn non_distributable_layers() {
        let oci = [
            MediaType::ImageLayerNonDistributable,
            MediaType::ImageLayerNonDistributableGzip,
            MediaType::ImageLayerNonDistributableZstd,
        ];
        for mt in oci.iter().map(ToString::to_string).chain([DOCKER_FOREIGN_LAYER_GZIP.to_owned()]) {
            assert!(is_non_distributable(&mt), "{mt}");
        }
        for mt in [OCI_LAYER_GZIP, DOCKER_LAYER_GZIP, OCI_CONFIG, "application/vnd.oci.image.layer.nondistributable"] {
            assert!(!is_non_distributable(mt), "{mt}");
        }
    }

    #[test]
    fn oci_constants_agree_with_oci_spec() {
        for (ours, theirs) in [
            (OCI_MANIFEST, MediaType::ImageManifest),
            (OCI_INDEX, MediaType::ImageIndex),
            (OCI_CONFIG, MediaType::ImageConfig),
            (OCI_LAYER, MediaType::ImageLayer),
            (OCI_LAYER_GZIP, MediaType::ImageLayerGzip),
            (OCI_LAYER_ZSTD, MediaType::ImageLayerZstd),
            (OCI_EMPTY, MediaType::EmptyJSON),
        ] {
            assert_eq!(ours, theirs.as_ref());
        }
    }

    #[test]
    fn validity() {
        assert!(is_valid(OCI_MANIFEST));
        assert!(is_valid("text/plain; charset=utf-8"));
        assert!(!is_valid("nonsense"));
        assert!(!is_valid("/x"));
        assert!(!is_valid("a/b c"));
        assert_eq!(essence("Application/JSON; q=1"), "application/json");
    }
}
