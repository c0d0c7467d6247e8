//! The content sets: shapes of images, indexes and artifacts that clients
//! push, each built as JSON from bytes unique to the run. Every set runs
//! through every operation of `content_steps`, in sha256 and (where the
//! shape allows) sha512.
//!
//! The sets cover the data sets of the spec's main-branch conformance suite
//! and the shapes real clients push that it leaves out (Docker schema2,
//! foreign layers, many layers, a multi-MiB layer, empty blobs).

use crate::harness::{Profile, seeded_bytes};
use base64::Engine;
use drydock_spec::media_type::{
    DOCKER_CONFIG, DOCKER_FOREIGN_LAYER_GZIP, DOCKER_LAYER_GZIP, DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, OCI_CONFIG,
    OCI_EMPTY, OCI_EMPTY_BODY, OCI_INDEX, OCI_LAYER, OCI_LAYER_GZIP, OCI_MANIFEST,
};
use drydock_spec::{Algorithm, Digest};
use serde_json::{Value, json};

const EXAMPLE_TYPE_1: &str = "application/vnd.example.drydock.v1";
const EXAMPLE_TYPE_2: &str = "application/vnd.example.drydock.v2";
const EXAMPLE_CONFIG: &str = "application/vnd.example.drydock.config.v1+json";
const ND_LAYER: &str = "application/vnd.oci.image.layer.nondistributable.v1.tar";
const ND_LAYER_GZIP: &str = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip";
const TWO_PLATFORMS: [(&str, &str); 2] = [("linux", "amd64"), ("linux", "arm64")];
/// Layers in the many-layers set (Docker's old limit was 127; clients
/// build images with more).
const MANY_LAYERS: usize = 130;
/// The multi-MiB layer, pushed in chunks.
const BIG_LAYER: usize = 5 << 20 | 12_345;

/// One shape of content.
pub struct SetSpec {
    /// The id segment: `content/<name>/<operation>`.
    pub name: &'static str,
    pub section: &'static str,
    pub title: &'static str,
    pub since: Profile,
    /// Also built with sha512 digests (Docker media types are sha256-only).
    pub sha512: bool,
    pub build: fn(&mut Set),
}

/// Every content set, in the order they run.
pub const SETS: &[SetSpec] = &[
    SetSpec {
        name: "image",
        section: "conformance data set: image",
        title: "an image with two gzip layers",
        since: Profile::Oci10,
        sha512: true,
        build: image,
    },
    SetSpec {
        name: "image-uncompressed",
        section: "conformance data set: image-uncompressed",
        title: "an image with uncompressed tar layers",
        since: Profile::Oci10,
        sha512: true,
        build: image_uncompressed,
    },
    SetSpec {
        name: "no-layers",
        section: "conformance data set: no-layers",
        title: "an image whose layer list is empty",
        since: Profile::Oci11,
        sha512: true,
        build: no_layers,
    },
    SetSpec {
        name: "empty-blobs",
        section: "image-spec §Image Manifest (empty layers and configs)",
        title: "an image whose config is `{}` and whose layers are zero bytes",
        since: Profile::Oci10,
        sha512: true,
        build: empty_blobs,
    },
    SetSpec {
        name: "empty-descriptor",
        section: "image-spec §Guidelines for artifact usage (the empty descriptor)",
        title: "an artifact whose config and only layer are the empty descriptor",
        since: Profile::Oci11,
        sha512: true,
        build: empty_descriptor,
    },
    SetSpec {
        name: "many-layers",
        section: "image-spec §Image Manifest",
        title: "an image with 130 layers",
        since: Profile::Oci10,
        sha512: true,
        build: many_layers,
    },
    SetSpec {
        name: "big-layer",
        section: "spec §Pushing a blob in chunks",
        title: "an image with a 5 MiB layer, pushed in 1 MiB chunks",
        since: Profile::Oci10,
        sha512: true,
        build: big_layer,
    },
    SetSpec {
        name: "large-annotations",
        section: "spec §Pushing manifests (registries SHOULD accept 4 MiB)",
        title: "an image whose manifest carries 3.9 MB of annotations",
        since: Profile::Oci11,
        sha512: true,
        build: large_annotations,
    },
    SetSpec {
        name: "data-field",
        section: "image-spec §Descriptor data",
        title: "an image whose descriptors embed their content (data)",
        since: Profile::Oci11,
        sha512: true,
        build: data_field,
    },
    SetSpec {
        name: "custom-fields",
        section: "image-spec §Extensibility",
        title: "an index, images and configs with fields no spec defines, served byte for byte",
        since: Profile::Oci10,
        sha512: true,
        build: custom_fields,
    },
    SetSpec {
        name: "index",
        section: "conformance data set: index",
        title: "a two-platform index with its images",
        since: Profile::Oci10,
        sha512: true,
        build: index,
    },
    SetSpec {
        name: "nested-index",
        section: "conformance data set: nested-index",
        title: "an index of two indexes",
        since: Profile::Oci10,
        sha512: true,
        build: nested_index,
    },
    SetSpec {
        name: "empty-index",
        section: "conformance data set: empty-index",
        title: "an index of nothing",
        since: Profile::Oci10,
        sha512: true,
        build: empty_index,
    },
    SetSpec {
        name: "sparse-image",
        section: "main-branch conformance: sparse manifests (optional)",
        title: "an image missing a layer: stored whole, or refused with nothing stored",
        since: Profile::OciNext,
        sha512: true,
        build: sparse_image,
    },
    SetSpec {
        name: "sparse-index",
        section: "main-branch conformance: sparse manifests (optional)",
        title: "an index missing a platform: stored whole, or refused with nothing stored",
        since: Profile::OciNext,
        sha512: true,
        build: sparse_index,
    },
    SetSpec {
        name: "artifact",
        section: "image-spec §Guidelines for artifact usage",
        title: "an artifact with its own config type",
        since: Profile::Oci11,
        sha512: true,
        build: artifact,
    },
    SetSpec {
        name: "artifact-no-config",
        section: "image-spec §Guidelines for artifact usage",
        title: "an artifact (artifactType, empty config, one blob)",
        since: Profile::Oci11,
        sha512: true,
        build: artifact_no_config,
    },
    SetSpec {
        name: "artifact-index",
        section: "image-spec §Image Index (artifactType)",
        title: "an index of artifacts, itself typed",
        since: Profile::Oci11,
        sha512: true,
        build: artifact_index,
    },
    SetSpec {
        name: "artifacts-with-subject",
        section: "spec §Listing Referrers",
        title: "an image and three referrers of two types",
        since: Profile::Oci11,
        sha512: true,
        build: artifacts_with_subject,
    },
    SetSpec {
        name: "index-with-subject",
        section: "spec §Listing Referrers",
        title: "an index that refers to another index",
        since: Profile::Oci11,
        sha512: true,
        build: index_with_subject,
    },
    SetSpec {
        name: "missing-subject",
        section: "spec §Pushing Manifests with Subject",
        title: "a referrer pushed before its subject exists",
        since: Profile::Oci11,
        sha512: true,
        build: missing_subject,
    },
    SetSpec {
        name: "non-distributable",
        section: "image-spec §Non-distributable layers; main-branch conformance",
        title: "an image with non-distributable layers (urls) that are never pushed",
        since: Profile::OciNext,
        sha512: true,
        build: non_distributable,
    },
    SetSpec {
        name: "docker-schema2",
        section: "Docker Image Manifest V2 Schema 2",
        title: "a Docker schema2 image",
        since: Profile::Oci10,
        sha512: false,
        build: docker_schema2,
    },
    SetSpec {
        name: "docker-manifest-list",
        section: "Docker Image Manifest V2 Schema 2 (manifest list)",
        title: "a Docker manifest list of two schema2 images",
        since: Profile::Oci10,
        sha512: false,
        build: docker_manifest_list,
    },
    SetSpec {
        name: "docker-foreign-layers",
        section: "Docker Image Manifest V2 Schema 2 (foreign layers)",
        title: "a Docker schema2 image with a foreign layer (urls) that is never pushed",
        since: Profile::OciNext,
        sha512: false,
        build: docker_foreign_layers,
    },
];

/// A manifest of a set, in push order.
pub struct Manifest {
    pub digest: Digest,
    pub body: Vec<u8>,
    pub media_type: &'static str,
    /// The tag it is pushed under, if any.
    pub tag: Option<String>,
    /// The subject it names, if any.
    pub subject: Option<Digest>,
    /// As the referrers API reports it: artifactType, else the config's type.
    pub artifact_type: Option<String>,
    pub annotations: serde_json::Map<String, Value>,
    /// It names content that is never pushed (a sparse manifest): a
    /// registry may refuse it.
    pub sparse: bool,
}

/// Content built for one run of a set.
pub struct Set {
    seed: String,
    counter: usize,
    pub alg: Algorithm,
    /// Descriptors embed their content (`data`).
    with_data: bool,
    /// Configs, images and indexes carry a field no spec defines.
    extra_fields: bool,
    pub blobs: Vec<(Digest, Vec<u8>)>,
    pub manifests: Vec<Manifest>,
}

/// What to put in an image or index besides its content.
#[derive(Default)]
struct Opts<'a> {
    tag: Option<&'a str>,
    artifact_type: Option<&'a str>,
    subject: Option<&'a Value>,
    annotations: Option<Value>,
    media_type: Option<&'static str>,
}

impl Set {
    /// The set `spec` in `alg`, from bytes determined by `seed`.
    pub fn build(spec: &SetSpec, alg: Algorithm, seed: &str) -> Set {
        let mut set = Set {
            seed: format!("{seed} {} {}", spec.name, alg.name()),
            counter: 0,
            alg,
            with_data: false,
            extra_fields: false,
            blobs: Vec::new(),
            manifests: Vec::new(),
        };
        (spec.build)(&mut set);
        set
    }

    /// Whether any manifest names a subject.
    pub fn has_referrers(&self) -> bool {
        self.manifests.iter().any(|m| m.subject.is_some())
    }

    fn unique(&mut self, label: &str, len: usize) -> Vec<u8> {
        self.counter += 1;
        seeded_bytes(&format!("{} {label} {}", self.seed, self.counter), len)
    }

    /// The descriptor of `bytes`, whose digest (in the set's algorithm) is `digest`.
    fn descriptor(&self, media_type: &str, bytes: &[u8], digest: &Digest) -> Value {
        let mut d = json!({"mediaType": media_type, "digest": digest, "size": bytes.len()});
        if self.with_data {
            d["data"] = base64::engine::general_purpose::STANDARD.encode(bytes).into();
        }
        d
    }

    fn blob(&mut self, media_type: &str, bytes: Vec<u8>) -> Value {
        let digest = Digest::of(self.alg, &bytes);
        let d = self.descriptor(media_type, &bytes, &digest);
        if !self.blobs.iter().any(|(b, _)| b == &digest) {
            self.blobs.push((digest, bytes));
        }
        d
    }

    fn layer(&mut self, media_type: &str) -> Value {
        let bytes = self.unique("layer", 700);
        self.blob(media_type, bytes)
    }

    fn config_of(&mut self, media_type: &str, os: &str, architecture: &str, layers: &[Value]) -> Value {
        let diff_ids: Vec<&Value> = layers.iter().map(|l| &l["digest"]).collect();
        let mut c = json!({
            "architecture": architecture, "os": os, "author": "drydock check",
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
            "drydock": self.unique("config", 16).escape_ascii().to_string(),
        });
        if self.extra_fields {
            c["org.example.drydock.unknown"] = json!({"nested": [1, 2, 3]});
        }
        self.blob(media_type, serde_json::to_vec(&c).expect("json"))
    }

    fn finish(&mut self, mut m: Value, media_type: &'static str, opts: Opts<'_>) -> Value {
        if let Some(t) = opts.artifact_type {
            m["artifactType"] = t.into();
        }
        if let Some(s) = opts.subject {
            m["subject"] = s.clone();
        }
        if let Some(a) = opts.annotations {
            m["annotations"] = a;
        }
        if self.extra_fields {
            m["org.example.drydock.unknown"] = json!({"nested": true});
        }
        let body = serde_json::to_vec(&m).expect("json");
        let digest = Digest::of(self.alg, &body);
        let descriptor = self.descriptor(media_type, &body, &digest);
        self.manifests.push(Manifest {
            digest,
            media_type,
            tag: opts.tag.map(str::to_owned),
            subject: opts.subject.and_then(|s| s["digest"].as_str()).and_then(|d| Digest::parse(d).ok()),
            artifact_type: opts
                .artifact_type
                .map(str::to_owned)
                .or_else(|| m["config"]["mediaType"].as_str().map(str::to_owned)),
            annotations: m["annotations"].as_object().cloned().unwrap_or_default(),
            sparse: false,
            body,
        });
        descriptor
    }

    fn image_of(&mut self, config: Value, layers: Vec<Value>, opts: Opts<'_>) -> Value {
        let media_type = opts.media_type.unwrap_or(OCI_MANIFEST);
        let m = json!({"schemaVersion": 2, "mediaType": media_type, "config": config, "layers": layers});
        self.finish(m, media_type, opts)
    }

    /// A runnable image for a platform with `layers` layers of `layer_type`.
    fn image(&mut self, platform: (&str, &str), layers: usize, layer_type: &str, opts: Opts<'_>) -> Value {
        let layers: Vec<Value> = (0..layers).map(|_| self.layer(layer_type)).collect();
        let config = self.config_of(OCI_CONFIG, platform.0, platform.1, &layers);
        self.image_of(config, layers, opts)
    }

    /// An artifact: empty config, one blob of `layer_type`.
    fn artifact(&mut self, artifact_type: &str, layer_type: &str, opts: Opts<'_>) -> Value {
        let config = self.blob(OCI_EMPTY, OCI_EMPTY_BODY.to_vec());
        let layer = self.layer(layer_type);
        self.image_of(config, vec![layer], Opts { artifact_type: Some(artifact_type), ..opts })
    }

    fn index_of(&mut self, children: Vec<(Value, Option<(&str, &str)>)>, opts: Opts<'_>) -> Value {
        let manifests: Vec<Value> = children
            .into_iter()
            .map(|(mut d, platform)| {
                if let Some((os, architecture)) = platform {
                    d["platform"] = json!({"os": os, "architecture": architecture});
                }
                d
            })
            .collect();
        let media_type = opts.media_type.unwrap_or(OCI_INDEX);
        let m = json!({"schemaVersion": 2, "mediaType": media_type, "manifests": manifests});
        self.finish(m, media_type, opts)
    }

    /// An index of one image per platform.
    fn index(&mut self, platforms: &[(&str, &str)], opts: Opts<'_>) -> Value {
        let children =
            platforms.iter().map(|&p| (self.image(p, 2, OCI_LAYER_GZIP, Opts::default()), Some(p))).collect::<Vec<_>>();
        self.index_of(children, opts)
    }

    fn annotation(&mut self) -> Value {
        let key = format!("org.example.{}", Digest::of(Algorithm::Sha256, &self.unique("annotation", 8)).hex());
        json!({"org.opencontainers.conformance": "hello conformance test", key: "drydock"})
    }

    fn docker_image(&mut self, platform: (&str, &str), opts: Opts<'_>) -> Value {
        let layers: Vec<Value> = (0..2).map(|_| self.layer(DOCKER_LAYER_GZIP)).collect();
        let config = self.config_of(DOCKER_CONFIG, platform.0, platform.1, &layers);
        self.image_of(config, layers, Opts { media_type: Some(DOCKER_MANIFEST), ..opts })
    }
}

fn tagged(tag: &str) -> Opts<'_> {
    Opts { tag: Some(tag), ..Opts::default() }
}

fn image(set: &mut Set) {
    set.image(("linux", "amd64"), 2, OCI_LAYER_GZIP, tagged("image"));
}

fn image_uncompressed(set: &mut Set) {
    set.image(("linux", "amd64"), 2, OCI_LAYER, tagged("image-uncompressed"));
}

fn no_layers(set: &mut Set) {
    set.image(("linux", "amd64"), 0, OCI_LAYER_GZIP, tagged("no-layers"));
}

fn empty_blobs(set: &mut Set) {
    let config = set.blob(OCI_CONFIG, OCI_EMPTY_BODY.to_vec());
    let empty = set.blob(OCI_LAYER, Vec::new());
    // Only the annotation makes the manifest unique to the run.
    let opts = Opts { tag: Some("empty-blobs"), annotations: Some(set.annotation()), ..Opts::default() };
    set.image_of(config, vec![empty.clone(), empty], opts);
}

fn empty_descriptor(set: &mut Set) {
    let empty = set.blob(OCI_EMPTY, OCI_EMPTY_BODY.to_vec());
    let opts = Opts {
        tag: Some("empty-descriptor"),
        artifact_type: Some(EXAMPLE_TYPE_1),
        annotations: Some(set.annotation()),
        ..Opts::default()
    };
    set.image_of(empty.clone(), vec![empty], opts);
}

fn many_layers(set: &mut Set) {
    let layers: Vec<Value> = (0..MANY_LAYERS)
        .map(|i| {
            let bytes = set.unique("small layer", 16 + i);
            set.blob(OCI_LAYER_GZIP, bytes)
        })
        .collect();
    let config = set.config_of(OCI_CONFIG, "linux", "amd64", &layers);
    set.image_of(config, layers, tagged("many-layers"));
}

fn big_layer(set: &mut Set) {
    // A run-unique block repeated: unique content without hashing a chain
    // through 5 MiB each time the sets are built (every `drydock check`
    // builds them to list its checks).
    let mut bytes = set.unique("big layer", 4096).repeat(BIG_LAYER / 4096 + 1);
    bytes.truncate(BIG_LAYER);
    let layers = vec![set.blob(OCI_LAYER_GZIP, bytes), set.layer(OCI_LAYER_GZIP)];
    let config = set.config_of(OCI_CONFIG, "linux", "amd64", &layers);
    set.image_of(config, layers, tagged("big-layer"));
}

fn large_annotations(set: &mut Set) {
    let annotations: serde_json::Map<String, Value> =
        (0..390).map(|i| (format!("large-annotation-{i}"), Value::from("A".repeat(10_000)))).collect();
    let opts =
        Opts { tag: Some("large-annotations"), annotations: Some(Value::Object(annotations)), ..Opts::default() };
    set.image(("linux", "amd64"), 2, OCI_LAYER_GZIP, opts);
}

fn data_field(set: &mut Set) {
    set.with_data = true;
    set.image(("linux", "amd64"), 2, OCI_LAYER_GZIP, tagged("data-field"));
}

fn custom_fields(set: &mut Set) {
    set.extra_fields = true;
    set.index(&TWO_PLATFORMS, tagged("custom-fields"));
}

fn index(set: &mut Set) {
    set.index(&TWO_PLATFORMS, tagged("index"));
}

fn nested_index(set: &mut Set) {
    let a = set.index(&TWO_PLATFORMS, Opts::default());
    let b = set.index(&TWO_PLATFORMS, Opts::default());
    set.index_of(vec![(a, None), (b, None)], tagged("index-of-index"));
}

fn empty_index(set: &mut Set) {
    let opts = Opts { tag: Some("empty-index"), annotations: Some(set.annotation()), ..Opts::default() };
    set.index(&[], opts);
}

fn sparse_image(set: &mut Set) {
    set.image(("linux", "amd64"), 2, OCI_LAYER_GZIP, tagged("sparse-image"));
    let m = set.manifests.last_mut().expect("an image");
    m.sparse = true;
    let image: Value = serde_json::from_slice(&m.body).expect("json");
    set.blobs.retain(|(d, _)| image["layers"][0]["digest"] != d.as_str());
}

fn sparse_index(set: &mut Set) {
    let complete = set.image(("linux", "amd64"), 1, OCI_LAYER_GZIP, Opts::default());
    let absent = set.unique("platform never pushed", 1024);
    let absent = json!({"mediaType": OCI_MANIFEST, "digest": Digest::of(set.alg, &absent), "size": 1024});
    set.index_of(
        vec![(complete, Some(("linux", "amd64"))), (absent, Some(("linux", "arm64")))],
        tagged("sparse-index"),
    );
    set.manifests.last_mut().expect("an index").sparse = true;
}

fn artifact(set: &mut Set) {
    let config = set.unique("artifact config", 64);
    let config = set.blob(EXAMPLE_CONFIG, config);
    let layer = set.layer(EXAMPLE_TYPE_1);
    let opts = Opts { tag: Some("artifact"), artifact_type: Some(EXAMPLE_TYPE_1), ..Opts::default() };
    set.image_of(config, vec![layer], opts);
}

fn artifact_no_config(set: &mut Set) {
    set.artifact(EXAMPLE_TYPE_1, EXAMPLE_TYPE_1, tagged("artifact-no-config"));
}

fn artifact_index(set: &mut Set) {
    let children = TWO_PLATFORMS
        .iter()
        .map(|&p| (set.artifact(EXAMPLE_TYPE_1, EXAMPLE_TYPE_1, Opts::default()), Some(p)))
        .collect();
    let opts = Opts { tag: Some("artifact-index"), artifact_type: Some(EXAMPLE_TYPE_1), ..Opts::default() };
    set.index_of(children, opts);
}

fn artifacts_with_subject(set: &mut Set) {
    let subject = set.image(("linux", "amd64"), 2, OCI_LAYER_GZIP, tagged("image"));
    // An image as a referrer: its type is its config's.
    set.image(("linux", "amd64"), 1, OCI_LAYER_GZIP, Opts { subject: Some(&subject), ..Opts::default() });
    for (t, layer_type, tag) in [
        (EXAMPLE_TYPE_1, EXAMPLE_TYPE_1, "tagged-artifact1"),
        (EXAMPLE_TYPE_2, "application/octet-stream", "tagged-artifact2"),
    ] {
        let annotations = set.annotation();
        let opts = Opts { subject: Some(&subject), tag: Some(tag), annotations: Some(annotations), ..Opts::default() };
        set.artifact(t, layer_type, opts);
    }
}

fn index_with_subject(set: &mut Set) {
    let subject = set.index(&TWO_PLATFORMS, tagged("index"));
    let children = TWO_PLATFORMS
        .iter()
        .map(|&p| (set.artifact(EXAMPLE_TYPE_1, EXAMPLE_TYPE_1, Opts::default()), Some(p)))
        .collect();
    let annotations = set.annotation();
    let opts = Opts {
        tag: Some("tagged-artifact"),
        artifact_type: Some(EXAMPLE_TYPE_1),
        subject: Some(&subject),
        annotations: Some(annotations),
        media_type: None,
    };
    set.index_of(children, opts);
}

fn missing_subject(set: &mut Set) {
    let absent = set.unique("subject never pushed", 123);
    let subject = json!({"mediaType": OCI_MANIFEST, "digest": Digest::of(set.alg, &absent), "size": 123});
    let annotations = set.annotation();
    let opts = Opts {
        subject: Some(&subject),
        tag: Some("tagged-artifact"),
        annotations: Some(annotations),
        ..Opts::default()
    };
    set.artifact(EXAMPLE_TYPE_1, EXAMPLE_TYPE_1, opts);
}

/// A layer that lives elsewhere (`urls`): never pushed.
fn foreign(set: &mut Set, media_type: &str, size: u64) -> Value {
    let d = Digest::of(set.alg, &set.unique("foreign layer", 256));
    json!({"mediaType": media_type, "digest": d, "size": size,
        "urls": [format!("https://store.example.com/blobs/{}/{}", d.algorithm().name(), d.hex())]})
}

fn non_distributable(set: &mut Set) {
    let layers = vec![foreign(set, ND_LAYER_GZIP, 123_456), foreign(set, ND_LAYER, 12_345), set.layer(OCI_LAYER_GZIP)];
    let config = set.config_of(OCI_CONFIG, "linux", "amd64", &layers);
    set.image_of(config, layers, tagged("non-distributable"));
}

fn docker_schema2(set: &mut Set) {
    set.docker_image(("linux", "amd64"), tagged("docker-schema2"));
}

fn docker_manifest_list(set: &mut Set) {
    let children = TWO_PLATFORMS.iter().map(|&p| (set.docker_image(p, Opts::default()), Some(p))).collect();
    set.index_of(
        children,
        Opts { tag: Some("manifest-list"), media_type: Some(DOCKER_MANIFEST_LIST), ..Opts::default() },
    );
}

fn docker_foreign_layers(set: &mut Set) {
    let layers = vec![foreign(set, DOCKER_FOREIGN_LAYER_GZIP, 98_765), set.layer(DOCKER_LAYER_GZIP)];
    let config = set.config_of(DOCKER_CONFIG, "windows", "amd64", &layers);
    let opts = Opts { tag: Some("docker-foreign-layers"), media_type: Some(DOCKER_MANIFEST), ..Opts::default() };
    set.image_of(config, layers, opts);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_are_deterministic_and_self_consistent() {
        for spec in SETS {
            for alg in [Algorithm::Sha256, Algorithm::Sha512] {
                let a = Set::build(spec, alg, "seed");
                let b = Set::build(spec, alg, "seed");
                assert_eq!(a.manifests.len(), b.manifests.len());
                assert!(a.manifests.iter().zip(&b.manifests).all(|(x, y)| x.body == y.body), "{}", spec.name);
                assert!(a.manifests.iter().any(|m| m.tag.is_some()), "{} tags its root", spec.name);
                for m in &a.manifests {
                    assert_eq!(m.digest, Digest::of(alg, &m.body));
                    let v: Value = serde_json::from_slice(&m.body).unwrap();
                    assert_eq!(v["mediaType"], m.media_type);
                }
                let other = Set::build(spec, alg, "another seed");
                assert_ne!(other.manifests[0].body, a.manifests[0].body, "{}: content is unique per seed", spec.name);
            }
        }
    }
}
