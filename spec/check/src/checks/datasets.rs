//! The content sets of the spec's main-branch conformance suite, each
//! pushed, listed, read back every way and deleted: images (compressed and
//! not, without layers, with a 4 MB manifest, with `data` fields, with
//! unknown fields, with non-distributable layers), indexes (of images, of
//! indexes, empty), artifacts and their referrers (subjects present and
//! absent), sha512 content, and tags set by a push by digest.
//!
//! A set is built as JSON from content unique to the run, then
//! [`exercise`]d: everything is judged by what the registry answers.

use crate::check;
use crate::harness::{Check, Ctx, Verdict, expect_digest, expect_error, expect_status, fail, fail_plain};
use base64::Engine;
use drydock_spec::media_type::{OCI_CONFIG, OCI_EMPTY, OCI_INDEX, OCI_LAYER, OCI_LAYER_GZIP, OCI_MANIFEST};
use drydock_spec::{Algorithm, Digest};
use http::Method;
use serde_json::{Value, json};

const EXAMPLE_TYPE_1: &str = "application/vnd.example.drydock.v1";
const EXAMPLE_TYPE_2: &str = "application/vnd.example.drydock.v2";
const ND_LAYER: &str = "application/vnd.oci.image.layer.nondistributable.v1.tar";
const ND_LAYER_GZIP: &str = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip";

pub fn checks() -> Vec<Check> {
    vec![
        check!("content/sets/image", "conformance data set: image", Oci10, "an image with two gzip layers", image),
        check!(
            "content/sets/image-uncompressed",
            "conformance data set: image-uncompressed",
            Oci10,
            "an image with uncompressed tar layers",
            image_uncompressed
        ),
        check!(
            "content/sets/no-layers",
            "conformance data set: no-layers",
            Oci11,
            "an image whose layer list is empty",
            no_layers
        ),
        check!(
            "content/sets/large-manifest",
            "spec §Pushing manifests (registries SHOULD accept 4 MiB)",
            Oci11,
            "an image whose manifest carries 3.9 MB of annotations",
            large_manifest
        ),
        check!(
            "content/sets/data-field",
            "image-spec §Descriptor data",
            Oci11,
            "an image whose descriptors embed their content (data)",
            data_field
        ),
        check!(
            "content/sets/custom-fields",
            "image-spec §Extensibility",
            Oci10,
            "an index, images and configs with fields the specs do not define, served byte for byte",
            custom_fields
        ),
        check!(
            "content/sets/index",
            "conformance data set: index",
            Oci10,
            "a two-platform index with its images",
            index
        ),
        check!(
            "content/sets/nested-index",
            "conformance data set: nested-index",
            Oci10,
            "an index of two indexes",
            nested_index
        ),
        check!(
            "content/sets/empty-index",
            "conformance data set: empty-index",
            Oci10,
            "an index of nothing",
            empty_index
        ),
        check!(
            "content/sets/artifact",
            "image-spec §Guidelines for artifact usage",
            Oci11,
            "an artifact (artifactType, empty config, one blob)",
            artifact
        ),
        check!(
            "content/sets/artifact-without-layers",
            "image-spec §Guidelines for artifact usage",
            Oci11,
            "an artifact whose only layer is the empty descriptor",
            artifact_without_layers
        ),
        check!(
            "content/sets/artifact-index",
            "image-spec §Image Index (artifactType)",
            Oci11,
            "an index of artifacts, itself typed",
            artifact_index
        ),
        check!(
            "content/sets/artifacts-with-subject",
            "spec §Listing Referrers",
            Oci11,
            "an image and three referrers of two types: each listed, and filtered by artifactType",
            artifacts_with_subject
        ),
        check!(
            "content/sets/index-with-subject",
            "spec §Listing Referrers",
            Oci11,
            "an index that refers to another index",
            index_with_subject
        ),
        check!(
            "content/sets/missing-subject",
            "spec §Pushing Manifests with Subject",
            Oci11,
            "a referrer pushed before its subject exists: accepted, listed",
            missing_subject
        ),
        check!(
            "content/sets/non-distributable-layers",
            "image-spec §Non-distributable layers; main-branch conformance",
            OciNext,
            "an image with non-distributable layers (urls) that were never pushed: accepted and pullable",
            non_distributable
        ),
        check!(
            "content/sets/sparse",
            "main-branch conformance: sparse manifests (optional)",
            OciNext,
            "an image missing a layer and an index missing a platform: stored whole, or refused with nothing stored",
            sparse
        ),
        check!(
            "content/sets/sha512",
            "image-spec §Digests; main-branch conformance",
            OciNext,
            "an index, images and blobs all addressed by sha512, served under sha512 digests",
            sha512
        ),
        check!(
            "content/sets/tag-param-sha256",
            "spec §Pushing Manifests with tags (end-7b)",
            OciNext,
            "a push by digest with ?tag= sets each tag and echoes it in OCI-Tag",
            tag_param_sha256
        ),
        check!(
            "content/sets/tag-param-sha512",
            "spec §Pushing Manifests with tags (end-7b)",
            OciNext,
            "tags set on a push by sha512 digest resolve to the sha512 digest",
            tag_param_sha512
        ),
        check!(
            "content/sets/bad-digest-manifest",
            "spec §Pushing Manifests",
            Oci10,
            "a manifest whose body does not hash to the digest it is pushed by: 400, nothing stored",
            bad_digest_manifest
        ),
    ]
}

/// A manifest of a set, in push order.
struct Pushed {
    digest: Digest,
    body: Vec<u8>,
    media_type: &'static str,
    tags: Vec<String>,
    /// The subject it names, if any.
    subject: Option<Digest>,
    artifact_type: Option<String>,
}

/// Content built for one check, then pushed and read back.
struct Set<'c> {
    ctx: &'c Ctx,
    alg: Algorithm,
    /// Descriptors embed their content (`data`).
    with_data: bool,
    /// Configs, images and indexes carry a field no spec defines.
    extra_fields: bool,
    /// Tags are set by `?tag=` on the push by digest.
    tag_param: bool,
    blobs: Vec<(Digest, Vec<u8>)>,
    manifests: Vec<Pushed>,
}

/// What to put in an image or index besides its content.
#[derive(Default)]
struct Opts<'a> {
    tag: Option<&'a str>,
    artifact_type: Option<&'a str>,
    subject: Option<&'a Value>,
    annotations: Option<Value>,
}

impl<'c> Set<'c> {
    fn new(ctx: &'c Ctx) -> Set<'c> {
        Set {
            ctx,
            alg: Algorithm::Sha256,
            with_data: false,
            extra_fields: false,
            tag_param: false,
            blobs: Vec::new(),
            manifests: Vec::new(),
        }
    }

    fn descriptor(&self, media_type: &str, bytes: &[u8]) -> Value {
        let mut d = json!({"mediaType": media_type, "digest": Digest::of(self.alg, bytes), "size": bytes.len()});
        if self.with_data {
            d["data"] = base64::engine::general_purpose::STANDARD.encode(bytes).into();
        }
        d
    }

    fn blob(&mut self, media_type: &str, bytes: Vec<u8>) -> Value {
        let d = self.descriptor(media_type, &bytes);
        let digest = Digest::of(self.alg, &bytes);
        if !self.blobs.iter().any(|(b, _)| b == &digest) {
            self.blobs.push((digest, bytes));
        }
        d
    }

    fn layer(&mut self, media_type: &str) -> Value {
        let bytes = self.ctx.unique_bytes("layer", 700);
        self.blob(media_type, bytes)
    }

    fn config(&mut self, os: &str, architecture: &str, layers: &[Value]) -> Value {
        let diff_ids: Vec<&Value> = layers.iter().map(|l| &l["digest"]).collect();
        let mut c = json!({
            "architecture": architecture, "os": os, "author": "drydock check",
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
            "drydock": self.ctx.unique_bytes("config", 16).escape_ascii().to_string(),
        });
        if self.extra_fields {
            c["org.example.drydock.unknown"] = json!({"nested": [1, 2, 3]});
        }
        self.blob(OCI_CONFIG, serde_json::to_vec(&c).expect("json"))
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
        let descriptor = self.descriptor(media_type, &body);
        self.manifests.push(Pushed {
            digest: Digest::of(self.alg, &body),
            media_type,
            tags: opts.tag.map(str::to_owned).into_iter().collect(),
            subject: opts.subject.and_then(|s| s["digest"].as_str()).and_then(|d| Digest::parse(d).ok()),
            // As the referrers API reports it: artifactType, else an
            // image's config type.
            artifact_type: opts
                .artifact_type
                .map(str::to_owned)
                .or_else(|| m["config"]["mediaType"].as_str().map(str::to_owned)),
            body,
        });
        descriptor
    }

    fn image_of(&mut self, config: Value, layers: Vec<Value>, opts: Opts<'_>) -> Value {
        let m = json!({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config, "layers": layers});
        self.finish(m, OCI_MANIFEST, opts)
    }

    /// A runnable image for a platform with `layers` layers of `layer_type`.
    fn image(&mut self, platform: (&str, &str), layers: usize, layer_type: &str, opts: Opts<'_>) -> Value {
        let layers: Vec<Value> = (0..layers).map(|_| self.layer(layer_type)).collect();
        let config = self.config(platform.0, platform.1, &layers);
        self.image_of(config, layers, opts)
    }

    /// An artifact: empty config, one blob of `layer_type`.
    fn artifact(&mut self, artifact_type: &str, layer_type: &str, opts: Opts<'_>) -> Value {
        let config = self.blob(OCI_EMPTY, b"{}".to_vec());
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
        let m = json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests});
        self.finish(m, OCI_INDEX, opts)
    }

    /// An index of one image per platform.
    fn index(&mut self, platforms: &[(&str, &str)], opts: Opts<'_>) -> Value {
        let children =
            platforms.iter().map(|&p| (self.image(p, 2, OCI_LAYER_GZIP, Opts::default()), Some(p))).collect::<Vec<_>>();
        self.index_of(children, opts)
    }
}

const TWO_PLATFORMS: [(&str, &str); 2] = [("linux", "amd64"), ("linux", "arm64")];

fn unique_annotation(ctx: &Ctx) -> Value {
    let key = format!("org.example.{}", Digest::of(Algorithm::Sha256, &ctx.unique_bytes("annotation", 8)).hex());
    json!({"org.opencontainers.conformance": "hello conformance test", key: "drydock"})
}

/// Pushes the set to a fresh repository, reads every part back each way it
/// can be asked for, checks tags and referrers, then deletes it all.
async fn exercise(label: &str, set: Set<'_>) -> Verdict {
    let ctx = set.ctx;
    let repo = ctx.repo(label);
    for (d, bytes) in &set.blobs {
        let pushed = ctx.push_blob_as(&repo, bytes, d.algorithm()).await?;
        debug_assert_eq!(&pushed, d);
    }
    for m in &set.manifests {
        push_manifest(ctx, &repo, m, set.tag_param).await?;
    }
    let tags: Vec<&String> = set.manifests.iter().flat_map(|m| &m.tags).collect();
    if !tags.is_empty() {
        let r = ctx.get(&format!("/v2/{repo}/tags/list")).await?;
        expect_status(&r, &[200])?;
        let listed = r.json().and_then(|v| v["tags"].as_array().cloned()).unwrap_or_default();
        for tag in &tags {
            if !listed.iter().any(|t| t.as_str() == Some(tag.as_str())) {
                return Err(fail(&r, format!("tag {tag} is missing from the tag list")));
            }
        }
    }
    for m in &set.manifests {
        let references = std::iter::once(m.digest.to_string()).chain(m.tags.iter().cloned());
        for reference in references {
            read_manifest(ctx, &repo, &reference, m).await?;
        }
    }
    for (d, bytes) in &set.blobs {
        read_blob(ctx, &repo, d, bytes).await?;
    }
    check_referrers(ctx, &repo, &set.manifests).await?;
    delete_all(ctx, &repo, &set).await
}

async fn push_manifest(ctx: &Ctx, repo: &str, m: &Pushed, tag_param: bool) -> Verdict {
    let mut path = format!("/v2/{repo}/manifests/{}", m.digest);
    if tag_param {
        for tag in &m.tags {
            path = Ctx::with_query(&path, "tag", tag);
        }
    }
    let r = ctx.req(Method::PUT, &path, &[("content-type", m.media_type)], m.body.clone()).await?;
    expect_status(&r, &[201])?;
    ctx.note_manifest(repo, &m.digest);
    expect_digest(ctx, &r, &m.digest)?;
    if r.header("location").is_none() {
        return Err(fail(&r, "a manifest push must answer with a Location"));
    }
    if let Some(subject) = &m.subject
        && ctx.profile >= crate::harness::Profile::Oci11
        && r.header("oci-subject") != Some(subject.as_str())
    {
        return Err(fail(&r, format!("a push naming subject {subject} must answer OCI-Subject: {subject}")));
    }
    if tag_param {
        let echoed: Vec<String> = r
            .headers
            .get_all("oci-tag")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|t| t.trim().to_owned())
            .collect();
        if let Some(missing) = m.tags.iter().find(|t| !echoed.contains(t)) {
            return Err(fail(&r, format!("?tag={missing} was sent but no OCI-Tag header names it")));
        }
    } else {
        for tag in &m.tags {
            let r = ctx
                .req(
                    Method::PUT,
                    &format!("/v2/{repo}/manifests/{tag}"),
                    &[("content-type", m.media_type)],
                    m.body.clone(),
                )
                .await?;
            expect_status(&r, &[201])?;
        }
    }
    Ok(())
}

async fn read_manifest(ctx: &Ctx, repo: &str, reference: &str, m: &Pushed) -> Verdict {
    let accept = [("accept", OCI_MANIFEST), ("accept", OCI_INDEX)];
    for method in [Method::HEAD, Method::GET] {
        let r = ctx.req(method.clone(), &format!("/v2/{repo}/manifests/{reference}"), &accept, vec![]).await?;
        expect_status(&r, &[200])?;
        let what = format!("{method} of manifest {reference}");
        if r.header("content-type") != Some(m.media_type) {
            return Err(fail(&r, format!("{what}: Content-Type should be {}", m.media_type)));
        }
        if r.header("content-length") != Some(m.body.len().to_string().as_str()) {
            return Err(fail(&r, format!("{what}: Content-Length should be {}", m.body.len())));
        }
        expect_digest(ctx, &r, &m.digest)?;
        if method == Method::GET && r.body[..] != m.body[..] {
            return Err(fail(&r, format!("{what}: the body differs from the bytes pushed")));
        }
    }
    Ok(())
}

async fn read_blob(ctx: &Ctx, repo: &str, d: &Digest, bytes: &[u8]) -> Verdict {
    for method in [Method::HEAD, Method::GET] {
        let r = ctx.req(method.clone(), &format!("/v2/{repo}/blobs/{d}"), &[], vec![]).await?;
        expect_status(&r, &[200])?;
        if r.header("content-length") != Some(bytes.len().to_string().as_str()) {
            return Err(fail(&r, format!("{method} of blob {d}: Content-Length should be {}", bytes.len())));
        }
        expect_digest(ctx, &r, d)?;
        if method == Method::GET && r.body[..] != bytes[..] {
            return Err(fail(&r, format!("blob {d}: the body differs from the bytes pushed")));
        }
    }
    Ok(())
}

/// Every referrer is listed for its subject, with its type, size and
/// annotations; filtered by type, the registry either says it filtered
/// (and shows only that type) or shows everything.
async fn check_referrers(ctx: &Ctx, repo: &str, manifests: &[Pushed]) -> Verdict {
    let mut subjects: Vec<&Digest> = manifests.iter().filter_map(|m| m.subject.as_ref()).collect();
    subjects.sort_by(|a, b| a.as_str().cmp(b.as_str()));
    subjects.dedup();
    for subject in subjects {
        let referrers: Vec<&Pushed> = manifests.iter().filter(|m| m.subject.as_ref() == Some(subject)).collect();
        let path = format!("/v2/{repo}/referrers/{subject}");
        let r = ctx.get(&path).await?;
        listed_all(&r, &referrers)?;
        let mut types: Vec<&str> = referrers.iter().filter_map(|m| m.artifact_type.as_deref()).collect();
        types.sort_unstable();
        types.dedup();
        for t in types {
            let r = ctx.get(&Ctx::with_query(&path, "artifactType", t)).await?;
            let filtered =
                r.header("oci-filters-applied").is_some_and(|v| v.split(',').any(|f| f.trim() == "artifactType"));
            let wanted: Vec<&Pushed> =
                referrers.iter().copied().filter(|m| !filtered || m.artifact_type.as_deref() == Some(t)).collect();
            listed_all(&r, &wanted)?;
            let listed = r.json().and_then(|v| v["manifests"].as_array().cloned()).unwrap_or_default();
            if filtered && let Some(other) = listed.iter().find(|e| e["artifactType"].as_str() != Some(t)) {
                return Err(fail(&r, format!("filtered by artifactType {t}, the list still holds {other}")));
            }
        }
    }
    Ok(())
}

fn listed_all(r: &crate::client::Reply, referrers: &[&Pushed]) -> Verdict {
    expect_status(r, &[200])?;
    let index = r.json().unwrap_or_default();
    if index["mediaType"] != OCI_INDEX || index["schemaVersion"] != 2 {
        return Err(fail(r, "the referrers list must be an OCI image index"));
    }
    let listed = index["manifests"].as_array().cloned().unwrap_or_default();
    for m in referrers {
        let declared: Value = serde_json::from_slice(&m.body).unwrap_or_default();
        let found = listed.iter().any(|e| {
            e["digest"] == m.digest.as_str()
                && e["mediaType"] == m.media_type
                && e["size"] == m.body.len()
                && e["artifactType"].as_str() == m.artifact_type.as_deref()
                && declared["annotations"]
                    .as_object()
                    .is_none_or(|a| a.iter().all(|(k, v)| e["annotations"].get(k) == Some(v)))
        });
        if !found {
            return Err(fail(r, format!("referrer {} is not listed with its type, size and annotations", m.digest)));
        }
    }
    Ok(())
}

/// Deletes tags, then manifests (last pushed first), then blobs; each
/// delete the registry accepts must take effect at once. A registry may
/// refuse deletes (400 or 405, as the suite allows); then the check ends.
async fn delete_all(ctx: &Ctx, repo: &str, set: &Set<'_>) -> Verdict {
    let tags = set.manifests.iter().flat_map(|m| m.tags.iter().map(String::as_str));
    let manifests = set.manifests.iter().rev().map(|m| m.digest.to_string());
    let paths = tags
        .map(|t| format!("/v2/{repo}/manifests/{t}"))
        .chain(manifests.map(|d| format!("/v2/{repo}/manifests/{d}")))
        .chain(set.blobs.iter().map(|(d, _)| format!("/v2/{repo}/blobs/{d}")));
    for path in paths {
        let r = ctx.req(Method::DELETE, &path, &[], vec![]).await?;
        match r.status.as_u16() {
            202 => {}
            400 | 405 => continue,
            _ => return Err(fail(&r, "a delete must answer 202 (or 400/405 where deletes are not supported)")),
        }
        let r = ctx.req(Method::HEAD, &path, &[], vec![]).await?;
        if r.status != 404 {
            return Err(fail(&r, "what a 202 DELETE removed must be gone at once (404)"));
        }
    }
    Ok(())
}

async fn image(ctx: &Ctx) -> Verdict {
    let mut set = Set::new(ctx);
    set.image(("linux", "amd64"), 2, OCI_LAYER_GZIP, Opts { tag: Some("image"), ..Opts::default() });
    exercise("set-image", set).await
}

async fn image_uncompressed(ctx: &Ctx) -> Verdict {
    let mut set = Set::new(ctx);
    set.image(("linux", "amd64"), 2, OCI_LAYER, Opts { tag: Some("image-uncompressed"), ..Opts::default() });
    exercise("set-uncompressed", set).await
}

async fn no_layers(ctx: &Ctx) -> Verdict {
    let mut set = Set::new(ctx);
    set.image(("linux", "amd64"), 0, OCI_LAYER_GZIP, Opts { tag: Some("no-layers"), ..Opts::default() });
    exercise("set-no-layers", set).await
}

async fn large_manifest(ctx: &Ctx) -> Verdict {
    let mut set = Set::new(ctx);
    let annotations: serde_json::Map<String, Value> =
        (0..390).map(|i| (format!("large-annotation-{i}"), Value::from("A".repeat(10_000)))).collect();
    let opts = Opts { tag: Some("large-manifest"), annotations: Some(Value::Object(annotations)), ..Opts::default() };
    set.image(("linux", "amd64"), 2, OCI_LAYER_GZIP, opts);
    exercise("set-large", set).await
}

async fn data_field(ctx: &Ctx) -> Verdict {
    let mut set = Set::new(ctx);
    set.with_data = true;
    set.image(("linux", "amd64"), 2, OCI_LAYER_GZIP, Opts { tag: Some("data-field"), ..Opts::default() });
    exercise("set-data-field", set).await
}

async fn custom_fields(ctx: &Ctx) -> Verdict {
    let mut set = Set::new(ctx);
    set.extra_fields = true;
    set.index(&TWO_PLATFORMS, Opts { tag: Some("custom-fields"), ..Opts::default() });
    exercise("set-custom-fields", set).await
}

async fn index(ctx: &Ctx) -> Verdict {
    let mut set = Set::new(ctx);
    set.index(&TWO_PLATFORMS, Opts { tag: Some("index"), ..Opts::default() });
    exercise("set-index", set).await
}

async fn nested_index(ctx: &Ctx) -> Verdict {
    let mut set = Set::new(ctx);
    let a = set.index(&TWO_PLATFORMS, Opts::default());
    let b = set.index(&TWO_PLATFORMS, Opts::default());
    set.index_of(vec![(a, None), (b, None)], Opts { tag: Some("index-of-index"), ..Opts::default() });
    exercise("set-nested-index", set).await
}

async fn empty_index(ctx: &Ctx) -> Verdict {
    let mut set = Set::new(ctx);
    set.index(&[], Opts { tag: Some("index"), ..Opts::default() });
    exercise("set-empty-index", set).await
}

async fn artifact(ctx: &Ctx) -> Verdict {
    let mut set = Set::new(ctx);
    set.artifact(EXAMPLE_TYPE_1, EXAMPLE_TYPE_1, Opts { tag: Some("artifact"), ..Opts::default() });
    exercise("set-artifact", set).await
}

async fn artifact_without_layers(ctx: &Ctx) -> Verdict {
    let mut set = Set::new(ctx);
    let empty = set.blob(OCI_EMPTY, b"{}".to_vec());
    let opts = Opts { tag: Some("artifact-without-layers"), artifact_type: Some(EXAMPLE_TYPE_1), ..Opts::default() };
    set.image_of(empty.clone(), vec![empty], opts);
    exercise("set-artifact-no-layers", set).await
}

async fn artifact_index(ctx: &Ctx) -> Verdict {
    let mut set = Set::new(ctx);
    let children = TWO_PLATFORMS
        .iter()
        .map(|&p| (set.artifact(EXAMPLE_TYPE_1, EXAMPLE_TYPE_1, Opts::default()), Some(p)))
        .collect();
    set.index_of(
        children,
        Opts { tag: Some("artifact-index"), artifact_type: Some(EXAMPLE_TYPE_1), ..Opts::default() },
    );
    exercise("set-artifact-index", set).await
}

async fn artifacts_with_subject(ctx: &Ctx) -> Verdict {
    let mut set = Set::new(ctx);
    let subject = set.image(("linux", "amd64"), 2, OCI_LAYER_GZIP, Opts { tag: Some("image"), ..Opts::default() });
    // An image as a referrer: its type is its config's.
    set.image(("linux", "amd64"), 1, OCI_LAYER_GZIP, Opts { subject: Some(&subject), ..Opts::default() });
    for (t, layer_type, tag) in [
        (EXAMPLE_TYPE_1, EXAMPLE_TYPE_1, "tagged-artifact1"),
        (EXAMPLE_TYPE_2, "application/octet-stream", "tagged-artifact2"),
    ] {
        let opts = Opts {
            subject: Some(&subject),
            tag: Some(tag),
            annotations: Some(unique_annotation(ctx)),
            ..Opts::default()
        };
        set.artifact(t, layer_type, opts);
    }
    exercise("set-referrers", set).await
}

async fn index_with_subject(ctx: &Ctx) -> Verdict {
    let mut set = Set::new(ctx);
    let subject = set.index(&TWO_PLATFORMS, Opts { tag: Some("index"), ..Opts::default() });
    let children = TWO_PLATFORMS
        .iter()
        .map(|&p| (set.artifact(EXAMPLE_TYPE_1, EXAMPLE_TYPE_1, Opts::default()), Some(p)))
        .collect();
    let opts = Opts {
        tag: Some("tagged-artifact"),
        artifact_type: Some(EXAMPLE_TYPE_1),
        subject: Some(&subject),
        annotations: Some(unique_annotation(ctx)),
    };
    set.index_of(children, opts);
    exercise("set-index-subject", set).await
}

async fn missing_subject(ctx: &Ctx) -> Verdict {
    let mut set = Set::new(ctx);
    let absent = ctx.unique_bytes("subject never pushed", 123);
    let subject = json!({"mediaType": OCI_MANIFEST, "digest": Digest::of(Algorithm::Sha256, &absent), "size": 123});
    let opts = Opts {
        subject: Some(&subject),
        tag: Some("tagged-artifact"),
        annotations: Some(unique_annotation(ctx)),
        ..Opts::default()
    };
    set.artifact(EXAMPLE_TYPE_1, EXAMPLE_TYPE_1, opts);
    exercise("set-missing-subject", set).await
}

async fn non_distributable(ctx: &Ctx) -> Verdict {
    let mut set = Set::new(ctx);
    let foreign = |media_type: &str, size: u64| {
        let d = Digest::of(Algorithm::Sha256, &ctx.unique_bytes("foreign layer", 256));
        json!({"mediaType": media_type, "digest": d, "size": size,
            "urls": [format!("https://store.example.com/blobs/sha256/{}", d.hex())]})
    };
    let layers = vec![foreign(ND_LAYER_GZIP, 123_456), foreign(ND_LAYER, 12_345), set.layer(OCI_LAYER_GZIP)];
    let config = set.config("linux", "amd64", &layers);
    set.image_of(config, layers, Opts { tag: Some("non-distributable-image"), ..Opts::default() });
    exercise("set-non-distributable", set).await
}

/// Sparse manifests are optional: a registry may store them whole or refuse
/// them (400 MANIFEST_BLOB_UNKNOWN) and store nothing; either way it must
/// keep its word.
async fn sparse(ctx: &Ctx) -> Verdict {
    const COMPLETE: usize = 1;
    let repo = ctx.repo("set-sparse");
    let mut set = Set::new(ctx);
    // 0: an image one of whose layers is never pushed.
    set.image(("linux", "amd64"), 2, OCI_LAYER_GZIP, Opts { tag: Some("sparse-image"), ..Opts::default() });
    let sparse_image: Value = serde_json::from_slice(&set.manifests[0].body).expect("json");
    set.blobs.retain(|(d, _)| sparse_image["layers"][0]["digest"] != d.as_str());
    // 1: a complete image; 2: an index of it and of a platform never pushed.
    let complete = set.image(("linux", "amd64"), 1, OCI_LAYER_GZIP, Opts::default());
    let absent = Digest::of(Algorithm::Sha256, &ctx.unique_bytes("platform never pushed", 1024));
    let absent_child = json!({"mediaType": OCI_MANIFEST, "digest": absent, "size": 1024});
    set.index_of(
        vec![(complete, Some(("linux", "amd64"))), (absent_child, Some(("linux", "arm64")))],
        Opts { tag: Some("sparse-index"), ..Opts::default() },
    );
    for (d, bytes) in &set.blobs {
        ctx.push_blob_as(&repo, bytes, d.algorithm()).await?;
    }
    for i in [COMPLETE, 0, 2] {
        let m = &set.manifests[i];
        let sparse = i != COMPLETE;
        let path = format!("/v2/{repo}/manifests/{}", m.tags.first().map_or(m.digest.to_string(), Clone::clone));
        let r = ctx.req(Method::PUT, &path, &[("content-type", m.media_type)], m.body.clone()).await?;
        if r.status == 201 {
            ctx.note_manifest(&repo, &m.digest);
            read_manifest(ctx, &repo, m.digest.as_str(), m).await?;
            for tag in &m.tags {
                read_manifest(ctx, &repo, tag, m).await?;
            }
        } else if sparse {
            expect_error(&r, &[400], &["MANIFEST_BLOB_UNKNOWN"])?;
            let back = ctx.get(&format!("/v2/{repo}/manifests/{}", m.digest)).await?;
            if back.status != 404 {
                return Err(fail(&back, "a refused sparse manifest must not be stored"));
            }
        } else {
            return Err(fail(&r, "a complete image must be accepted (201)"));
        }
    }
    Ok(())
}

async fn sha512(ctx: &Ctx) -> Verdict {
    let mut set = Set::new(ctx);
    set.alg = Algorithm::Sha512;
    set.index(&TWO_PLATFORMS, Opts::default());
    exercise("set-sha512", set).await
}

/// Tags on every manifest of an index set (`<label>-<n>`) and the index's
/// own, all through `?tag=` on the push by digest.
async fn tag_param(ctx: &Ctx, alg: Algorithm, label: &str) -> Verdict {
    let mut set = Set::new(ctx);
    set.alg = alg;
    set.tag_param = true;
    set.index(&TWO_PLATFORMS, Opts { tag: Some(label), ..Opts::default() });
    for (i, m) in set.manifests.iter_mut().enumerate() {
        m.tags.push(format!("{label}-{i}"));
    }
    exercise(label, set).await
}

async fn tag_param_sha256(ctx: &Ctx) -> Verdict {
    tag_param(ctx, Algorithm::Sha256, "tag-param-sha256").await
}

async fn tag_param_sha512(ctx: &Ctx) -> Verdict {
    tag_param(ctx, Algorithm::Sha512, "tag-param-sha512").await
}

async fn bad_digest_manifest(ctx: &Ctx) -> Verdict {
    let repo = ctx.repo("set-bad-digest");
    let mut set = Set::new(ctx);
    set.image(("linux", "amd64"), 1, OCI_LAYER_GZIP, Opts::default());
    for (d, bytes) in &set.blobs {
        ctx.push_blob_as(&repo, bytes, d.algorithm()).await?;
    }
    let m = &set.manifests[0];
    let mut body = m.body.clone();
    body.extend_from_slice(b"  ");
    let path = format!("/v2/{repo}/manifests/{}", m.digest);
    let r = ctx.req(Method::PUT, &path, &[("content-type", OCI_MANIFEST)], body.clone()).await?;
    if r.status == 201 {
        ctx.note_manifest(&repo, &m.digest);
        return Err(fail(&r, "bytes that do not hash to the digest in the URL must be refused (400)"));
    }
    expect_status(&r, &[400])?;
    let back = ctx.get(&path).await?;
    if back.status != 404 {
        return Err(fail(&back, "nothing may be stored under the digest of a refused push"));
    }
    let padded = Digest::of(Algorithm::Sha256, &body);
    let back = ctx.get(&format!("/v2/{repo}/manifests/{padded}")).await?;
    if back.status != 404 {
        return Err(fail_plain(format!("the refused bytes were stored under their own digest {padded}")));
    }
    Ok(())
}
