//! Parsing and validating manifests and indexes.
//!
//! Four kinds are understood: OCI image manifest, OCI image index, Docker
//! schema2 manifest and Docker manifest list. The JSON is read through
//! `oci-spec`'s types (the Docker shapes are field-compatible with the OCI
//! ones); every descriptor is then re-validated with this crate's stricter
//! rules (registered digest algorithms only, well-formed media types).
//!
//! A [`Manifest`] keeps the raw bytes it was parsed from: its digest is always
//! of those bytes, never of a re-serialization.

use crate::digest::{Algorithm, Digest};
use crate::media_type;
use std::collections::BTreeMap;

/// Largest manifest body accepted, in bytes (the limit distribution and most
/// registries apply).
pub const MANIFEST_MAX_BYTES: usize = 4 * 1024 * 1024;

/// The four manifest formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ManifestKind {
    OciManifest,
    OciIndex,
    DockerManifest,
    DockerManifestList,
}

impl ManifestKind {
    pub const fn media_type(self) -> &'static str {
        match self {
            ManifestKind::OciManifest => media_type::OCI_MANIFEST,
            ManifestKind::OciIndex => media_type::OCI_INDEX,
            ManifestKind::DockerManifest => media_type::DOCKER_MANIFEST,
            ManifestKind::DockerManifestList => media_type::DOCKER_MANIFEST_LIST,
        }
    }

    pub fn from_media_type(mt: &str) -> Option<ManifestKind> {
        match media_type::essence(mt).as_str() {
            media_type::OCI_MANIFEST => Some(ManifestKind::OciManifest),
            media_type::OCI_INDEX => Some(ManifestKind::OciIndex),
            media_type::DOCKER_MANIFEST => Some(ManifestKind::DockerManifest),
            media_type::DOCKER_MANIFEST_LIST => Some(ManifestKind::DockerManifestList),
            _ => None,
        }
    }

    /// Whether the manifest lists other manifests rather than blobs.
    pub const fn is_index(self) -> bool {
        matches!(self, ManifestKind::OciIndex | ManifestKind::DockerManifestList)
    }
}

/// Why a manifest body was rejected. Maps to `MANIFEST_INVALID`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ManifestError {
    #[error("manifest is {0} bytes; the limit is {MANIFEST_MAX_BYTES}")]
    TooLarge(usize),
    #[error("manifest is not valid JSON for {kind:?}: {reason}")]
    Json { kind: ManifestKind, reason: String },
    #[error(
        "cannot tell the manifest's type: no known mediaType in the body and Content-Type {0:?} is not a manifest type"
    )]
    UnknownType(Option<String>),
    #[error("manifest mediaType {body:?} does not match Content-Type {header:?}")]
    TypeMismatch { body: String, header: String },
    #[error("schemaVersion must be 2, found {0}")]
    SchemaVersion(u32),
    #[error("{field}: {reason}")]
    Descriptor { field: String, reason: String },
}

/// A validated content descriptor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Descriptor {
    pub media_type: String,
    pub digest: Digest,
    pub size: u64,
    pub artifact_type: Option<String>,
    pub annotations: BTreeMap<String, String>,
    /// Where else the content may be fetched from (non-distributable layers).
    pub urls: Vec<String>,
    /// The platform an index entry is for.
    pub platform: Option<Platform>,
}

/// An index entry's platform, as far as registries compare them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Platform {
    pub os: String,
    pub architecture: String,
    pub variant: Option<String>,
}

/// What a referenced descriptor is to its manifest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Config,
    Layer,
    /// A child manifest of an index.
    Manifest,
    Subject,
}

/// A parsed manifest or index, with the bytes it came from.
#[derive(Clone, Debug)]
pub struct Manifest {
    raw: Vec<u8>,
    kind: ManifestKind,
    /// Whether the body names its own type (`mediaType`); if not, the type
    /// came from `Content-Type` or the shape, and only the registry's
    /// record of it can tell a later reader.
    self_typed: bool,
    pub config: Option<Descriptor>,
    pub layers: Vec<Descriptor>,
    pub manifests: Vec<Descriptor>,
    pub subject: Option<Descriptor>,
    pub artifact_type: Option<String>,
    pub annotations: BTreeMap<String, String>,
}

impl Manifest {
    /// Parses `raw`, typed by its `mediaType` field or else by the request's
    /// `Content-Type` (some tools, e.g. umoci, omit `mediaType`).
    pub fn parse(raw: Vec<u8>, content_type: Option<&str>) -> Result<Manifest, ManifestError> {
        if raw.len() > MANIFEST_MAX_BYTES {
            return Err(ManifestError::TooLarge(raw.len()));
        }
        let (kind, self_typed) = detect_kind(&raw, content_type)?;
        let json_err = |e: serde_json::Error| ManifestError::Json { kind, reason: e.to_string() };
        let mut m = Manifest {
            raw: Vec::new(),
            kind,
            self_typed,
            config: None,
            layers: Vec::new(),
            manifests: Vec::new(),
            subject: None,
            artifact_type: None,
            annotations: BTreeMap::new(),
        };
        if kind.is_index() {
            let idx: oci_spec::image::ImageIndex = serde_json::from_slice(&raw).map_err(json_err)?;
            check_schema(idx.schema_version())?;
            m.manifests = descriptors("manifests", idx.manifests())?;
            m.subject = idx.subject().as_ref().map(|d| descriptor("subject", d)).transpose()?;
            m.artifact_type = idx.artifact_type().as_ref().map(|t| t.to_string());
            m.annotations = sorted(idx.annotations());
        } else {
            let man: oci_spec::image::ImageManifest = serde_json::from_slice(&raw).map_err(json_err)?;
            check_schema(man.schema_version())?;
            m.config = Some(descriptor("config", man.config())?);
            m.layers = descriptors("layers", man.layers())?;
            m.subject = man.subject().as_ref().map(|d| descriptor("subject", d)).transpose()?;
            m.artifact_type = man.artifact_type().as_ref().map(|t| t.to_string());
            m.annotations = sorted(man.annotations());
        }
        if let Some(t) = &m.artifact_type
            && !media_type::is_valid(t)
        {
            return Err(ManifestError::Descriptor {
                field: "artifactType".into(),
                reason: format!("{t:?} is not a media type"),
            });
        }
        m.raw = raw;
        Ok(m)
    }

    pub fn kind(&self) -> ManifestKind {
        self.kind
    }

    /// Whether the body's own `mediaType` gives its type.
    pub fn is_self_typed(&self) -> bool {
        self.self_typed
    }

    pub fn media_type(&self) -> &'static str {
        self.kind.media_type()
    }

    /// The bytes exactly as received.
    pub fn raw(&self) -> &[u8] {
        &self.raw
    }

    pub fn into_raw(self) -> Vec<u8> {
        self.raw
    }

    /// The digest of the raw bytes.
    pub fn digest(&self, algorithm: Algorithm) -> Digest {
        Digest::of(algorithm, &self.raw)
    }

    /// Every descriptor the manifest references, with its role, subject last.
    pub fn references(&self) -> impl Iterator<Item = (Role, &Descriptor)> {
        self.config
            .iter()
            .map(|d| (Role::Config, d))
            .chain(self.layers.iter().map(|d| (Role::Layer, d)))
            .chain(self.manifests.iter().map(|d| (Role::Manifest, d)))
            .chain(self.subject.iter().map(|d| (Role::Subject, d)))
    }

    /// The artifact type as the referrers API reports it: `artifactType`, or
    /// else the config's media type (image manifests only).
    pub fn effective_artifact_type(&self) -> Option<&str> {
        self.artifact_type.as_deref().or(self.config.as_ref().map(|c| c.media_type.as_str()))
    }
}

/// The manifest's kind, and whether its body said so itself.
fn detect_kind(raw: &[u8], content_type: Option<&str>) -> Result<(ManifestKind, bool), ManifestError> {
    #[derive(serde::Deserialize)]
    struct Probe {
        #[serde(rename = "mediaType")]
        media_type: Option<String>,
        manifests: Option<serde::de::IgnoredAny>,
    }
    let header_kind = content_type.and_then(ManifestKind::from_media_type);
    let probe: Probe = serde_json::from_slice(raw).map_err(|e| ManifestError::Json {
        kind: header_kind.unwrap_or(ManifestKind::OciManifest),
        reason: e.to_string(),
    })?;
    match (probe.media_type, header_kind) {
        (Some(body), header) => {
            let body_kind =
                ManifestKind::from_media_type(&body).ok_or_else(|| ManifestError::UnknownType(Some(body.clone())))?;
            match header {
                Some(h) if h != body_kind => {
                    Err(ManifestError::TypeMismatch { body, header: content_type.unwrap_or_default().to_owned() })
                }
                _ => Ok((body_kind, true)),
            }
        }
        (None, Some(h)) => Ok((h, false)),
        // Neither says: the shape does. Only OCI allows omitting mediaType.
        (None, None) if probe.manifests.is_some() => Ok((ManifestKind::OciIndex, false)),
        (None, None) if content_type.is_none_or(is_generic_type) => Ok((ManifestKind::OciManifest, false)),
        (None, None) => Err(ManifestError::UnknownType(content_type.map(str::to_owned))),
    }
}

fn is_generic_type(ct: &str) -> bool {
    matches!(media_type::essence(ct).as_str(), "application/json" | "application/octet-stream" | "")
}

fn check_schema(v: u32) -> Result<(), ManifestError> {
    if v == 2 { Ok(()) } else { Err(ManifestError::SchemaVersion(v)) }
}

fn descriptors(field: &str, ds: &[oci_spec::image::Descriptor]) -> Result<Vec<Descriptor>, ManifestError> {
    ds.iter().enumerate().map(|(i, d)| descriptor(&format!("{field}[{i}]"), d)).collect()
}

fn descriptor(field: &str, d: &oci_spec::image::Descriptor) -> Result<Descriptor, ManifestError> {
    let bad = |reason: String| ManifestError::Descriptor { field: field.to_owned(), reason };
    let media_type = d.media_type().to_string();
    if !media_type::is_valid(&media_type) {
        return Err(bad(format!("mediaType {media_type:?} is not a media type")));
    }
    let digest = Digest::parse(d.digest().as_ref()).map_err(|e| bad(e.to_string()))?;
    let artifact_type = d.artifact_type().as_ref().map(|t| t.to_string());
    if let Some(t) = &artifact_type
        && !media_type::is_valid(t)
    {
        return Err(bad(format!("artifactType {t:?} is not a media type")));
    }
    let urls = d.urls().clone().unwrap_or_default();
    let platform = d.platform().as_ref().map(|p| Platform {
        os: p.os().to_string(),
        architecture: p.architecture().to_string(),
        variant: p.variant().clone(),
    });
    Ok(Descriptor {
        media_type,
        digest,
        size: d.size(),
        artifact_type,
        annotations: sorted(d.annotations()),
        urls,
        platform,
    })
}

fn sorted(a: &Option<std::collections::HashMap<String, String>>) -> BTreeMap<String, String> {
    a.as_ref().map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(n: u8) -> String {
        Digest::of(Algorithm::Sha256, &[n]).to_string()
    }

    fn image(media_type: Option<&str>) -> Vec<u8> {
        let mt = media_type.map(|m| format!(r#""mediaType":"{m}","#)).unwrap_or_default();
        format!(
            r#"{{"schemaVersion":2,{mt}"config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{}","size":2}},
            "layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"{}","size":5}}],
            "subject":{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{}","size":9}},
            "annotations":{{"b":"2","a":"1"}}}}"#,
            d(1),
            d(2),
            d(3)
        )
        .into_bytes()
    }

    #[test]
    fn parses_image_and_keeps_raw_bytes() {
        let raw = image(Some(media_type::OCI_MANIFEST));
        let m = Manifest::parse(raw.clone(), None).unwrap();
        assert_eq!(m.kind(), ManifestKind::OciManifest);
        assert_eq!(m.raw(), &raw[..]);
        assert_eq!(m.digest(Algorithm::Sha256), Digest::of(Algorithm::Sha256, &raw));
        let roles: Vec<Role> = m.references().map(|(r, _)| r).collect();
        assert_eq!(roles, [Role::Config, Role::Layer, Role::Subject]);
        assert_eq!(m.annotations.keys().collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(m.effective_artifact_type(), Some(media_type::OCI_CONFIG));
    }

    #[test]
    fn type_comes_from_content_type_when_body_is_silent() {
        let m = Manifest::parse(image(None), Some(media_type::DOCKER_MANIFEST)).unwrap();
        assert_eq!(m.kind(), ManifestKind::DockerManifest);
        let m = Manifest::parse(image(None), None).unwrap();
        assert_eq!(m.kind(), ManifestKind::OciManifest);
        assert!(matches!(Manifest::parse(image(None), Some("text/plain")), Err(ManifestError::UnknownType(_))));
    }

    #[test]
    fn body_and_header_must_agree() {
        let err = Manifest::parse(image(Some(media_type::OCI_MANIFEST)), Some(media_type::OCI_INDEX)).unwrap_err();
        assert!(matches!(err, ManifestError::TypeMismatch { .. }));
    }

    #[test]
    fn index_children() {
        let raw = format!(
            r#"{{"schemaVersion":2,"mediaType":"{}","manifests":[{{"mediaType":"{}","digest":"{}","size":7,"platform":{{"os":"linux","architecture":"arm64","variant":"v8"}}}}]}}"#,
            media_type::DOCKER_MANIFEST_LIST,
            media_type::DOCKER_MANIFEST,
            d(4)
        );
        let m = Manifest::parse(raw.into_bytes(), None).unwrap();
        assert!(m.kind().is_index());
        assert_eq!(m.manifests.len(), 1);
        let platform = Platform { os: "linux".into(), architecture: "arm64".into(), variant: Some("v8".into()) };
        assert_eq!(m.manifests[0].platform, Some(platform));
        assert_eq!(m.references().next().unwrap().0, Role::Manifest);
    }

    #[test]
    fn rejects_bad_content() {
        let unsupported = String::from_utf8(image(None)).unwrap().replace(&d(2), "sha384:abcd");
        assert!(Manifest::parse(unsupported.into_bytes(), None).is_err());
        let v3 = String::from_utf8(image(None)).unwrap().replace("\"schemaVersion\":2", "\"schemaVersion\":3");
        assert_eq!(Manifest::parse(v3.into_bytes(), None).unwrap_err(), ManifestError::SchemaVersion(3));
        assert!(matches!(Manifest::parse(b"{".to_vec(), None), Err(ManifestError::Json { .. })));
        assert!(matches!(Manifest::parse(vec![b' '; MANIFEST_MAX_BYTES + 1], None), Err(ManifestError::TooLarge(_))));
        let bad_mt = String::from_utf8(image(None)).unwrap().replace("tar+gzip", "tar gzip");
        assert!(matches!(Manifest::parse(bad_mt.into_bytes(), None), Err(ManifestError::Descriptor { .. })));
    }
}
