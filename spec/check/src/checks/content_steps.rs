//! Every content set × every operation × each digest algorithm, as checks
//! `content/<set>/<operation>[/sha512]`.
//!
//! The operations of one set in one algorithm form a [`Sequence`]: they run
//! in order against one fresh repository — push (blobs, by digest, by tag,
//! with `?tag=`), read back every way a client asks (HEAD and GET by digest
//! and tag, each real client's `Accept`, HEAD/GET agreement, ranges), list
//! tags and referrers, delete tags, manifests and blobs, push again. An
//! operation whose prerequisite did not pass is skipped naming it, so one
//! departure is reported once, not once per operation built on it.

use super::content_sets::{Manifest, SETS, Set, SetSpec};
use crate::harness::{
    Check, Ctx, Profile, Run, Sequence, Stop, Verdict, expect_digest, expect_error, expect_status, fail, skip,
};
use bytes::Bytes;
use drydock_spec::media_type::{DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, OCI_INDEX, OCI_MANIFEST};
use drydock_spec::{Algorithm, Digest};
use http::Method;
use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// Blobs larger than this are pushed in chunks of this size.
const CHUNK: usize = 1 << 20;

/// One operation on a content set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    PushBlobs,
    PushByDigest,
    PushByTag,
    PushTagParam,
    HeadByDigest,
    GetByDigest,
    HeadByTag,
    GetByTag,
    AcceptClients,
    HeadGetAgree,
    BlobHead,
    BlobGet,
    BlobRange,
    TagList,
    Referrers,
    ReferrersFilter,
    DeleteTag,
    DeleteManifest,
    DeleteBlob,
    Repush,
}

use Op::*;

impl Op {
    /// In the order they run.
    const ALL: [Op; 20] = [
        PushBlobs,
        PushByDigest,
        PushByTag,
        PushTagParam,
        HeadByDigest,
        GetByDigest,
        HeadByTag,
        GetByTag,
        AcceptClients,
        HeadGetAgree,
        BlobHead,
        BlobGet,
        BlobRange,
        TagList,
        Referrers,
        ReferrersFilter,
        DeleteTag,
        DeleteManifest,
        DeleteBlob,
        Repush,
    ];

    fn name(self) -> &'static str {
        match self {
            PushBlobs => "push-blobs",
            PushByDigest => "push-by-digest",
            PushByTag => "push-by-tag",
            PushTagParam => "push-tag-param",
            HeadByDigest => "head-by-digest",
            GetByDigest => "get-by-digest",
            HeadByTag => "head-by-tag",
            GetByTag => "get-by-tag",
            AcceptClients => "accept-clients",
            HeadGetAgree => "head-get-agree",
            BlobHead => "blob-head",
            BlobGet => "blob-get",
            BlobRange => "blob-range",
            TagList => "tag-list",
            Referrers => "referrers",
            ReferrersFilter => "referrers-filter",
            DeleteTag => "delete-tag",
            DeleteManifest => "delete-manifest",
            DeleteBlob => "delete-blob",
            Repush => "repush",
        }
    }

    fn section(self) -> &'static str {
        match self {
            PushBlobs => "spec §Pushing blobs (end-4a, end-5, end-6)",
            PushByDigest | PushByTag => "spec §Pushing Manifests (end-7)",
            PushTagParam => "spec §Pushing Manifests with tags (end-7b)",
            HeadByDigest | HeadByTag => "spec §Checking if content exists in the registry (end-3)",
            GetByDigest | GetByTag => "spec §Pulling manifests (end-3)",
            AcceptClients => "spec §Pulling manifests (Accept); RFC 9110 §12.5.1",
            HeadGetAgree => "spec §Checking if content exists in the registry; RFC 9110 §9.3.2",
            BlobHead => "spec §Checking if content exists in the registry (end-2)",
            BlobGet => "spec §Pulling blobs (end-2)",
            BlobRange => "spec §Pulling blobs (Range); RFC 9110 §14",
            TagList => "spec §Listing Tags (end-8a)",
            Referrers => "spec §Listing Referrers (end-12a)",
            ReferrersFilter => "spec §Listing Referrers (end-12b)",
            DeleteTag => "spec §Deleting tags (end-9)",
            DeleteManifest => "spec §Deleting Manifests (end-9)",
            DeleteBlob => "spec §Deleting Blobs (end-10)",
            Repush => "spec §Pushing Manifests (end-7), after deletion",
        }
    }

    fn title(self) -> &'static str {
        match self {
            PushBlobs => "every blob pushed (chunked above 1 MiB): 201, Location, its digest",
            PushByDigest => "every manifest pushed by digest: 201, Location, its digest, OCI-Subject",
            PushByTag => "the tagged manifests pushed by tag: 201, a digest of the body",
            PushTagParam => "every manifest tagged by ?tag= on a push by digest, echoed in OCI-Tag",
            HeadByDigest => "HEAD of every manifest by digest: its type, length and digest",
            GetByDigest => "GET of every manifest by digest: its bytes, type, length and digest",
            HeadByTag => "HEAD of every tag: its manifest's type, length and digest",
            GetByTag => "GET of every tag: its manifest's bytes",
            AcceptClients => "GET with Accept as docker, containerd and others send it (lines, lists, q-values)",
            HeadGetAgree => "HEAD and GET agree on Content-Length, Content-Type, Docker-Content-Digest, ETag",
            BlobHead => "HEAD of every blob: 200, its length and digest",
            BlobGet => "GET of every blob: its bytes",
            BlobRange => "a range of the largest blob: 206 with that range, or ranges not advertised",
            TagList => "the tag list names exactly the tags set",
            Referrers => "every manifest's referrers: exactly those pushed with it as subject",
            ReferrersFilter => "referrers filtered by artifactType: only that type, or the filter not claimed",
            DeleteTag => "every tag deleted: 202, then 404, its manifest kept",
            DeleteManifest => "every manifest deleted by digest: 202, then 404",
            DeleteBlob => "every blob deleted: 202, then 404",
            Repush => "everything pushed again after deletion is served again",
        }
    }

    fn since(self) -> Profile {
        match self {
            PushTagParam => Profile::OciNext,
            Referrers | ReferrersFilter => Profile::Oci11,
            _ => Profile::Oci10,
        }
    }

    /// What must have passed before this operation means anything.
    fn needs(self) -> &'static [Op] {
        match self {
            PushBlobs => &[],
            PushByDigest | BlobHead | BlobGet | BlobRange | DeleteBlob => &[PushBlobs],
            PushByTag | PushTagParam | HeadByDigest | GetByDigest | Referrers | ReferrersFilter | DeleteManifest => {
                &[PushByDigest]
            }
            HeadByTag | GetByTag | AcceptClients | HeadGetAgree | TagList | DeleteTag | Repush => &[PushByTag],
        }
    }

    fn applies(self, set: &Set) -> bool {
        match self {
            PushBlobs | BlobHead | BlobGet | DeleteBlob => !set.blobs.is_empty(),
            BlobRange => set.blobs.iter().any(|(_, b)| b.len() >= 2),
            ReferrersFilter => set.has_referrers(),
            _ => true,
        }
    }
}

/// Each operation as the docs list it: id segment, spec section, what it
/// checks, and the first profile that requires it.
pub fn operations() -> Vec<(&'static str, &'static str, &'static str, Profile)> {
    Op::ALL.into_iter().map(|op| (op.name(), op.section(), op.title(), op.since())).collect()
}

/// Every check of every set.
pub fn checks() -> Vec<Check> {
    let mut out = Vec::new();
    for spec in SETS {
        for alg in [Algorithm::Sha256, Algorithm::Sha512] {
            if alg == Algorithm::Sha512 && !spec.sha512 {
                continue;
            }
            let shape = Set::build(spec, alg, "shape");
            let ops: Vec<Op> = Op::ALL.into_iter().filter(|op| op.applies(&shape)).collect();
            let alg_since = if alg == Algorithm::Sha256 { Profile::Oci10 } else { Profile::OciNext };
            let sequence: Arc<dyn Sequence> = Arc::new(SetRun { spec, alg, ops: ops.clone() });
            for (index, op) in ops.into_iter().enumerate() {
                out.push(Check {
                    id: Cow::Owned(id(spec, op, alg)),
                    section: Cow::Owned(format!("{}; {}", op.section(), spec.section)),
                    title: Cow::Owned(format!("{} ({}{})", op.title(), spec.title, alg_suffix(alg, ", "))),
                    since: spec.since.max(op.since()).max(alg_since),
                    run: Run::Step { sequence: sequence.clone(), index },
                });
            }
        }
    }
    out
}

fn alg_suffix(alg: Algorithm, sep: &str) -> String {
    if alg == Algorithm::Sha256 { String::new() } else { format!("{sep}{}", alg.name()) }
}

fn id(spec: &SetSpec, op: Op, alg: Algorithm) -> String {
    format!("content/{}/{}{}", spec.name, op.name(), alg_suffix(alg, "/"))
}

/// One set in one algorithm, run as a sequence.
struct SetRun {
    spec: &'static SetSpec,
    alg: Algorithm,
    ops: Vec<Op>,
}

impl Sequence for SetRun {
    fn run<'a>(&'a self, ctx: &'a Ctx, last: usize) -> Pin<Box<dyn Future<Output = Vec<Verdict>> + 'a>> {
        Box::pin(async move {
            let set = Set::build(self.spec, self.alg, ctx.run_id());
            let repo = ctx.repo(&format!("set-{}{}", self.spec.name, alg_suffix(self.alg, "-")));
            let mut state = State::new(ctx, repo, set);
            let mut verdicts = Vec::new();
            for &op in self.ops.iter().take(last + 1) {
                // A need not generated for this set (no blobs to push) holds.
                let unmet = op.needs().iter().find(|need| self.ops.contains(need) && !state.established.contains(need));
                let verdict = if op.since() > ctx.profile {
                    Err(skip("not required by the selected profile"))
                } else if let Some(need) = unmet {
                    Err(skip(format!("needs {}, whose content was not stored", id(self.spec, *need, self.alg))))
                } else {
                    state.run(op).await
                };
                if verdict.is_ok() && !state.established.contains(&op) {
                    state.established.push(op);
                }
                verdicts.push(verdict);
            }
            verdicts
        })
    }
}

/// A tag the registry holds, and the digest it announced for it.
struct Tag {
    name: String,
    manifest: usize,
    announced: Option<Digest>,
}

/// What the registry holds of the set, as its answers said.
struct State<'c> {
    ctx: &'c Ctx,
    repo: String,
    set: Set,
    /// Per manifest: stored (a sparse manifest may be refused).
    stored: Vec<bool>,
    /// Per manifest: the digests it is stored under (pushed, and any other
    /// the registry announced for a push by tag).
    digests: Vec<Vec<Digest>>,
    tags: Vec<Tag>,
    /// Operations whose effect holds (a push step may fail on a header
    /// yet have stored everything).
    established: Vec<Op>,
}

/// How clients ask for manifests, as `Accept` header lines.
const CLIENTS: [(&str, &[&str]); 4] = [
    // docker (moby's distribution client): one line per type.
    ("docker", &[DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, OCI_INDEX, OCI_MANIFEST]),
    // containerd: one comma list ending in */*.
    (
        "containerd",
        &[
            "application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, */*",
        ],
    ),
    // Weighted preferences, some types on a second line.
    (
        "q-values",
        &[
            "application/vnd.oci.image.index.v1+json;q=0.9, application/vnd.oci.image.manifest.v1+json",
            "application/vnd.docker.distribution.manifest.list.v2+json; q=0.5, application/vnd.docker.distribution.manifest.v2+json;q=0.4, */*;q=0.1",
        ],
    ),
    // Exactly the manifest's own type (filled in per manifest).
    ("exact type", &[]),
];

impl<'c> State<'c> {
    fn new(ctx: &'c Ctx, repo: String, set: Set) -> State<'c> {
        let n = set.manifests.len();
        State {
            ctx,
            repo,
            stored: vec![false; n],
            digests: set.manifests.iter().map(|m| vec![m.digest.clone()]).collect(),
            tags: Vec::new(),
            established: Vec::new(),
            set,
        }
    }

    async fn run(&mut self, op: Op) -> Verdict {
        match op {
            PushBlobs => self.push_blobs().await.and_then(Details::verdict),
            PushByDigest => self.push_by_digest().await.and_then(Details::verdict),
            PushByTag => self.push_by_tag().await.and_then(Details::verdict),
            PushTagParam => self.push_tag_param().await,
            HeadByDigest => self.read_by_digest(Method::HEAD).await,
            GetByDigest => self.read_by_digest(Method::GET).await,
            HeadByTag => self.read_by_tag(Method::HEAD).await,
            GetByTag => self.read_by_tag(Method::GET).await,
            AcceptClients => self.accept_clients().await,
            HeadGetAgree => self.head_get_agree().await,
            BlobHead => self.read_blobs(Method::HEAD).await,
            BlobGet => self.read_blobs(Method::GET).await,
            BlobRange => self.blob_range().await,
            TagList => self.tag_list().await,
            Referrers => self.referrers().await,
            ReferrersFilter => self.referrers_filter().await,
            DeleteTag => self.delete_tags().await,
            DeleteManifest => self.delete_manifests().await,
            DeleteBlob => self.delete_blobs().await,
            Repush => self.repush().await,
        }
    }

    fn manifest_path(&self, reference: &str) -> String {
        format!("/v2/{}/manifests/{reference}", self.repo)
    }

    async fn push_blobs(&mut self) -> Result<Details, Stop> {
        let mut details = Details::default();
        for (d, bytes) in &self.set.blobs {
            details.note(push_blob(self.ctx, &self.repo, d, bytes).await?);
            let r = self.ctx.req(Method::HEAD, &format!("/v2/{}/blobs/{d}", self.repo), &[], Bytes::new()).await?;
            expect_status(&r, &[200])?;
        }
        self.established.push(PushBlobs);
        Ok(details)
    }

    async fn push_manifest(&self, reference: &str, m: &Manifest) -> Result<crate::client::Reply, Stop> {
        let body = Bytes::from(m.body.clone());
        let r =
            self.ctx.req(Method::PUT, &self.manifest_path(reference), &[("content-type", m.media_type)], body).await?;
        if r.status == 201 {
            self.ctx.note_manifest(&self.repo, &m.digest);
        }
        Ok(r)
    }

    /// A sparse manifest the registry refused: the refusal must be
    /// `MANIFEST_BLOB_UNKNOWN`, and nothing stored.
    async fn refused_sparse(&self, r: &crate::client::Reply, m: &Manifest) -> Verdict {
        expect_error(r, &[400], &["MANIFEST_BLOB_UNKNOWN"])?;
        let back = self.ctx.req(Method::HEAD, &self.manifest_path(m.digest.as_str()), &[], Bytes::new()).await?;
        if back.status != 404 {
            return Err(fail(&back, "a refused sparse manifest must not be stored (HEAD should answer 404)"));
        }
        Ok(())
    }

    async fn push_by_digest(&mut self) -> Result<Details, Stop> {
        let mut details = Details::default();
        for i in 0..self.set.manifests.len() {
            let m = &self.set.manifests[i];
            let r = self.push_manifest(m.digest.as_str(), m).await?;
            if m.sparse && r.status != 201 {
                details.note(self.refused_sparse(&r, m).await);
                continue;
            }
            expect_status(&r, &[201])?;
            self.stored[i] = true;
            details.note(expect_digest(self.ctx, &r, &m.digest));
            if r.header("location").is_none() {
                details.note(Err(fail(&r, "a manifest push must answer with a Location")));
            }
            if let Some(subject) = &m.subject
                && self.ctx.profile >= Profile::Oci11
                && r.header("oci-subject") != Some(subject.as_str())
            {
                let message = format!("a push naming subject {subject} must answer OCI-Subject: {subject}");
                details.note(Err(fail(&r, message)));
            }
        }
        self.established.push(PushByDigest);
        Ok(details)
    }

    /// The digest a registry announced for `m`: absent (allowed before
    /// oci-next), else a digest of its bytes.
    fn announced(&self, r: &crate::client::Reply, m: &Manifest) -> Result<Option<Digest>, Stop> {
        let Some(header) = r.header("docker-content-digest") else {
            if self.ctx.profile >= Profile::OciNext {
                return Err(fail(r, "expected a Docker-Content-Digest header"));
            }
            return Ok(None);
        };
        match Digest::parse(header) {
            Ok(d) if d == Digest::of(d.algorithm(), &m.body) => Ok(Some(d)),
            _ => Err(fail(r, format!("Docker-Content-Digest {header} is not a digest of the manifest's bytes"))),
        }
    }

    async fn push_by_tag(&mut self) -> Result<Details, Stop> {
        let mut details = Details::default();
        for i in 0..self.set.manifests.len() {
            let m = &self.set.manifests[i];
            let Some(tag) = m.tag.clone() else { continue };
            let r = self.push_manifest(&tag, m).await?;
            if !self.stored[i] {
                // Refused by digest: it must be refused by tag alike.
                if r.status == 201 {
                    details.note(Err(fail(&r, "a sparse manifest refused by digest was accepted by tag")));
                    continue;
                }
                details.note(self.refused_sparse(&r, m).await);
                continue;
            }
            expect_status(&r, &[201])?;
            let announced = self.announced(&r, m).unwrap_or_else(|e| {
                details.note(Err(e));
                None
            });
            if self.set.alg == Algorithm::Sha256 {
                details.note(expect_digest(self.ctx, &r, &m.digest));
            }
            if let Some(d) = &announced
                && !self.digests[i].contains(d)
            {
                self.digests[i].push(d.clone());
            }
            self.tags.push(Tag { name: tag, manifest: i, announced });
        }
        self.established.push(PushByTag);
        Ok(details)
    }

    async fn push_tag_param(&mut self) -> Verdict {
        for i in (0..self.set.manifests.len()).filter(|&i| self.stored[i]) {
            let m = &self.set.manifests[i];
            let tag = format!("param-{i}");
            let path = Ctx::with_query(&self.manifest_path(m.digest.as_str()), "tag", &tag);
            let r = self
                .ctx
                .req(Method::PUT, &path, &[("content-type", m.media_type)], Bytes::from(m.body.clone()))
                .await?;
            expect_status(&r, &[201])?;
            expect_digest(self.ctx, &r, &m.digest)?;
            let echoed = r.headers.get_all("oci-tag").iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(','));
            if !echoed.map(str::trim).any(|t| t == tag) {
                return Err(fail(&r, format!("?tag={tag} was sent but no OCI-Tag header names it")));
            }
            let back = self
                .ctx
                .req(Method::HEAD, &self.manifest_path(&tag), &[("accept", m.media_type)], Bytes::new())
                .await?;
            expect_status(&back, &[200])?;
            expect_digest(self.ctx, &back, &m.digest)?;
            self.tags.push(Tag { name: tag, manifest: i, announced: Some(m.digest.clone()) });
        }
        Ok(())
    }

    async fn read_by_digest(&self, method: Method) -> Verdict {
        for (i, m) in self.set.manifests.iter().enumerate() {
            for d in &self.digests[i] {
                let r = self
                    .ctx
                    .req(method.clone(), &self.manifest_path(d.as_str()), &[("accept", m.media_type)], Bytes::new())
                    .await?;
                if !self.stored[i] {
                    expect_not_found(&r, "MANIFEST_UNKNOWN", "a refused sparse manifest")?;
                    continue;
                }
                expect_manifest(self.ctx, &r, m, Some(d))?;
            }
        }
        Ok(())
    }

    async fn read_by_tag(&self, method: Method) -> Verdict {
        for tag in &self.tags {
            let m = &self.set.manifests[tag.manifest];
            let r = self
                .ctx
                .req(method.clone(), &self.manifest_path(&tag.name), &[("accept", m.media_type)], Bytes::new())
                .await?;
            expect_manifest(self.ctx, &r, m, tag.announced.as_ref())?;
        }
        Ok(())
    }

    async fn accept_clients(&self) -> Verdict {
        for tag in &self.tags {
            let m = &self.set.manifests[tag.manifest];
            for (client, lines) in CLIENTS {
                let lines: Vec<&str> = if lines.is_empty() { vec![m.media_type] } else { lines.to_vec() };
                let headers: Vec<(&str, &str)> = lines.iter().map(|l| ("accept", *l)).collect();
                let r = self.ctx.req(Method::GET, &self.manifest_path(&tag.name), &headers, Bytes::new()).await?;
                expect_manifest(self.ctx, &r, m, tag.announced.as_ref())
                    .map_err(|e| with_context(e, &format!("asked as {client} asks")))?;
            }
        }
        Ok(())
    }

    async fn head_get_agree(&self) -> Verdict {
        let mut paths: Vec<(String, Option<&str>)> = Vec::new();
        for (i, m) in self.set.manifests.iter().enumerate().filter(|(i, _)| self.stored[*i]) {
            paths.extend(self.digests[i].iter().map(|d| (self.manifest_path(d.as_str()), Some(m.media_type))));
        }
        for tag in &self.tags {
            paths.push((self.manifest_path(&tag.name), Some(self.set.manifests[tag.manifest].media_type)));
        }
        paths.extend(self.set.blobs.iter().map(|(d, _)| (format!("/v2/{}/blobs/{d}", self.repo), None)));
        for (path, accept) in paths {
            let headers: Vec<(&str, &str)> = accept.map(|a| ("accept", a)).into_iter().collect();
            let head = self.ctx.req(Method::HEAD, &path, &headers, Bytes::new()).await?;
            let get = self.ctx.req(Method::GET, &path, &headers, Bytes::new()).await?;
            expect_status(&head, &[200])?;
            expect_status(&get, &[200])?;
            for name in ["content-length", "content-type", "docker-content-digest", "etag"] {
                let (h, g) = (head.header(name), get.header(name));
                if h != g {
                    return Err(fail(&head, format!("HEAD answers {name}: {h:?} where GET answers {g:?} ({path})")));
                }
            }
        }
        Ok(())
    }

    async fn read_blobs(&self, method: Method) -> Verdict {
        for (d, bytes) in &self.set.blobs {
            let r = self.ctx.req(method.clone(), &format!("/v2/{}/blobs/{d}", self.repo), &[], Bytes::new()).await?;
            expect_status(&r, &[200])?;
            if r.header("content-length") != Some(bytes.len().to_string().as_str()) {
                return Err(fail(&r, format!("{method} of blob {d}: Content-Length should be {}", bytes.len())));
            }
            expect_digest(self.ctx, &r, d)?;
            if method == Method::GET && r.body[..] != bytes[..] {
                return Err(fail(&r, format!("blob {d}: the body differs from the bytes pushed")));
            }
        }
        Ok(())
    }

    async fn blob_range(&self) -> Verdict {
        let (d, bytes) = self.set.blobs.iter().max_by_key(|(_, b)| b.len()).expect("applies only with blobs");
        let path = format!("/v2/{}/blobs/{d}", self.repo);
        let head = self.ctx.req(Method::HEAD, &path, &[], Bytes::new()).await?;
        let advertised = head.header("accept-ranges").is_some_and(|v| v.split(',').any(|u| u.trim() == "bytes"));
        let (first, last) = (1, bytes.len() / 2);
        let range = format!("bytes={first}-{last}");
        let r = self.ctx.req(Method::GET, &path, &[("range", range.as_str())], Bytes::new()).await?;
        if r.status == 200 {
            if advertised {
                return Err(fail(&r, format!("HEAD advertises Accept-Ranges: bytes, but {range} got the whole blob")));
            }
            return Err(skip("the registry does not serve ranges (optional; it does not advertise them)"));
        }
        expect_status(&r, &[206])?;
        let exact = format!("bytes {first}-{last}/{}", bytes.len());
        let unknown_total = format!("bytes {first}-{last}/*");
        if !matches!(r.header("content-range"), Some(v) if v == exact || v == unknown_total) {
            return Err(fail(&r, format!("{range}: Content-Range should be {exact}")));
        }
        if r.body[..] != bytes[first..=last] {
            return Err(fail(&r, format!("{range}: the body should be bytes {first}-{last} of the blob")));
        }
        Ok(())
    }

    async fn tag_list(&self) -> Verdict {
        let r = self.ctx.get(&format!("/v2/{}/tags/list", self.repo)).await?;
        if self.tags.is_empty() && r.status == 404 {
            // Nothing was tagged (a refused sparse manifest): a repository
            // without tags may be unknown as a name.
            return expect_error(&r, &[404], &["NAME_UNKNOWN"]);
        }
        expect_status(&r, &[200])?;
        let v = r.json().unwrap_or_default();
        if v["name"] != self.repo.as_str() {
            return Err(fail(&r, format!("the tag list should name the repository {}", self.repo)));
        }
        let mut listed: Vec<&str> =
            v["tags"].as_array().map(|a| a.iter().filter_map(|t| t.as_str()).collect()).unwrap_or_default();
        let mut set: Vec<&str> = self.tags.iter().map(|t| t.name.as_str()).collect();
        listed.sort_unstable();
        set.sort_unstable();
        if listed != set {
            return Err(fail(&r, format!("the tag list should be exactly {set:?}")));
        }
        Ok(())
    }

    /// Every subject worth asking about: each stored manifest, and each
    /// subject named (pushed or not).
    fn subjects(&self) -> Vec<Digest> {
        let mut out: Vec<Digest> = (0..self.set.manifests.len())
            .filter(|&i| self.stored[i])
            .map(|i| self.set.manifests[i].digest.clone())
            .collect();
        for m in &self.set.manifests {
            if let Some(s) = &m.subject
                && !out.contains(s)
            {
                out.push(s.clone());
            }
        }
        out
    }

    /// The stored referrers of `subject`, each with every digest the
    /// registry holds it under (a push by tag may add one: it may list
    /// either).
    fn referrers_of(&self, subject: &Digest) -> Vec<(&Manifest, &[Digest])> {
        self.set
            .manifests
            .iter()
            .enumerate()
            .filter(|(i, m)| self.stored[*i] && m.subject.as_ref() == Some(subject))
            .map(|(i, m)| (m, self.digests[i].as_slice()))
            .collect()
    }

    async fn referrers(&self) -> Verdict {
        for subject in self.subjects() {
            let r = self.ctx.get(&format!("/v2/{}/referrers/{subject}", self.repo)).await?;
            listed_exactly(&r, &self.referrers_of(&subject))?;
        }
        Ok(())
    }

    async fn referrers_filter(&self) -> Verdict {
        for subject in self.subjects() {
            let referrers = self.referrers_of(&subject);
            let mut types: Vec<&str> = referrers.iter().filter_map(|(m, _)| m.artifact_type.as_deref()).collect();
            types.sort_unstable();
            types.dedup();
            types.push("application/vnd.example.drydock.absent");
            for t in types {
                let path = Ctx::with_query(&format!("/v2/{}/referrers/{subject}", self.repo), "artifactType", t);
                let r = self.ctx.get(&path).await?;
                let filtered =
                    r.header("oci-filters-applied").is_some_and(|v| v.split(',').any(|f| f.trim() == "artifactType"));
                let wanted: Vec<(&Manifest, &[Digest])> = referrers
                    .iter()
                    .copied()
                    .filter(|(m, _)| !filtered || m.artifact_type.as_deref() == Some(t))
                    .collect();
                listed_exactly(&r, &wanted)?;
            }
        }
        Ok(())
    }

    async fn delete_tags(&mut self) -> Verdict {
        for tag in std::mem::take(&mut self.tags) {
            let r = self.ctx.req(Method::DELETE, &self.manifest_path(&tag.name), &[], Bytes::new()).await?;
            if matches!(r.status.as_u16(), 400 | 405) {
                return Err(skip(format!(
                    "tag deletion is disabled ({}; the spec allows 400 or 405)",
                    r.status.as_u16()
                )));
            }
            expect_status(&r, &[202])?;
            let m = &self.set.manifests[tag.manifest];
            let back = self
                .ctx
                .req(Method::GET, &self.manifest_path(&tag.name), &[("accept", m.media_type)], Bytes::new())
                .await?;
            expect_not_found(&back, "MANIFEST_UNKNOWN", "a deleted tag")?;
            let kept = self
                .ctx
                .req(Method::HEAD, &self.manifest_path(m.digest.as_str()), &[("accept", m.media_type)], Bytes::new())
                .await?;
            if kept.status != 200 {
                return Err(fail(&kept, format!("deleting tag {} must keep its manifest (HEAD by digest)", tag.name)));
            }
        }
        let r = self.ctx.get(&format!("/v2/{}/tags/list", self.repo)).await?;
        if r.status == 404 {
            return expect_error(&r, &[404], &["NAME_UNKNOWN"]);
        }
        expect_status(&r, &[200])?;
        if r.json().and_then(|v| v["tags"].as_array().map(|a| !a.is_empty())).unwrap_or(false) {
            return Err(fail(&r, "every tag was deleted, yet the tag list still names some"));
        }
        Ok(())
    }

    async fn delete_manifests(&mut self) -> Verdict {
        let stored: Vec<usize> = (0..self.set.manifests.len()).rev().filter(|&i| self.stored[i]).collect();
        for i in stored {
            for d in self.digests[i].clone() {
                let path = self.manifest_path(d.as_str());
                let r = self.ctx.req(Method::DELETE, &path, &[], Bytes::new()).await?;
                if matches!(r.status.as_u16(), 400 | 405) {
                    return Err(skip(format!(
                        "manifest deletion is disabled ({}; the spec allows 400 or 405)",
                        r.status.as_u16()
                    )));
                }
                expect_status(&r, &[202])?;
                let media_type = self.set.manifests[i].media_type;
                let head = self.ctx.req(Method::HEAD, &path, &[("accept", media_type)], Bytes::new()).await?;
                if head.status != 404 {
                    return Err(fail(&head, "a deleted manifest must be gone at once (HEAD 404)"));
                }
                let get = self.ctx.req(Method::GET, &path, &[("accept", media_type)], Bytes::new()).await?;
                expect_not_found(&get, "MANIFEST_UNKNOWN", "a deleted manifest")?;
            }
            self.stored[i] = false;
        }
        self.tags.clear();
        Ok(())
    }

    async fn delete_blobs(&mut self) -> Verdict {
        for (d, _) in &self.set.blobs {
            let path = format!("/v2/{}/blobs/{d}", self.repo);
            let r = self.ctx.req(Method::DELETE, &path, &[], Bytes::new()).await?;
            if matches!(r.status.as_u16(), 400 | 405) {
                return Err(skip(format!("blob deletion is disabled ({}; the spec allows 405)", r.status.as_u16())));
            }
            expect_status(&r, &[202])?;
            let head = self.ctx.req(Method::HEAD, &path, &[], Bytes::new()).await?;
            if head.status != 404 {
                return Err(fail(&head, "a deleted blob must be gone at once (HEAD 404)"));
            }
            let get = self.ctx.get(&path).await?;
            expect_not_found(&get, "BLOB_UNKNOWN", "a deleted blob")?;
        }
        Ok(())
    }

    /// Judges only that everything is stored and served again: the
    /// pushes' headers were judged by the push steps.
    async fn repush(&mut self) -> Verdict {
        self.push_blobs().await?;
        self.stored.iter_mut().for_each(|s| *s = false);
        self.digests = self.set.manifests.iter().map(|m| vec![m.digest.clone()]).collect();
        self.tags.clear();
        self.push_by_digest().await?;
        self.push_by_tag().await?;
        let manifests = self.set.manifests.iter().enumerate().filter(|(i, _)| self.stored[*i]);
        let mut paths: Vec<(String, &[u8])> =
            manifests.map(|(_, m)| (self.manifest_path(m.digest.as_str()), &m.body[..])).collect();
        for tag in &self.tags {
            paths.push((self.manifest_path(&tag.name), &self.set.manifests[tag.manifest].body[..]));
        }
        paths.extend(self.set.blobs.iter().map(|(d, b)| (format!("/v2/{}/blobs/{d}", self.repo), &b[..])));
        for (path, bytes) in paths {
            let accept = [
                ("accept", OCI_MANIFEST),
                ("accept", OCI_INDEX),
                ("accept", DOCKER_MANIFEST),
                ("accept", DOCKER_MANIFEST_LIST),
            ];
            let r = self.ctx.req(Method::GET, &path, &accept, Bytes::new()).await?;
            expect_status(&r, &[200])?;
            if r.body[..] != bytes[..] {
                return Err(fail(&r, "pushed again after deletion, it is not served byte for byte"));
            }
        }
        Ok(())
    }
}

/// Pushes one blob: monolithically (POST, PUT), or in chunks above [`CHUNK`].
/// `Err`: the blob was not stored; `Ok(Err)`: stored, with a header wrong.
async fn push_blob(ctx: &Ctx, repo: &str, d: &Digest, bytes: &[u8]) -> Result<Verdict, Stop> {
    let mut location = ctx.start_upload(repo).await?;
    let mut body = Bytes::copy_from_slice(bytes);
    if bytes.len() > CHUNK {
        for (i, chunk) in bytes.chunks(CHUNK).enumerate() {
            let r = ctx.patch_chunk(&location, i * CHUNK, chunk).await?;
            expect_status(&r, &[202])?;
            location = r.header("location").map(Ctx::path_of).unwrap_or(location);
        }
        body = Bytes::new();
    }
    let r = ctx
        .req(
            Method::PUT,
            &Ctx::with_query(&location, "digest", d.as_str()),
            &[("content-type", "application/octet-stream")],
            body,
        )
        .await?;
    expect_status(&r, &[201])?;
    ctx.note_blob(repo, d);
    if r.header("location").is_none() {
        return Ok(Err(fail(&r, "a completed upload must answer with the blob's Location")));
    }
    Ok(expect_digest(ctx, &r, d))
}

/// The first wrong detail (a header) of a step whose effect still
/// happened (the content was stored): it fails the step, and the steps
/// built on that effect still run.
#[derive(Default)]
struct Details(Option<Stop>);

impl Details {
    fn note(&mut self, verdict: Verdict) {
        if let Err(e) = verdict
            && self.0.is_none()
        {
            self.0 = Some(e);
        }
    }

    fn verdict(self) -> Verdict {
        self.0.map_or(Ok(()), Err)
    }
}

/// A manifest answer: 200, its type and length, and (on GET) its bytes;
/// `Docker-Content-Digest` equal to `digest` when one is expected, else a
/// digest of the bytes.
fn expect_manifest(ctx: &Ctx, r: &crate::client::Reply, m: &Manifest, digest: Option<&Digest>) -> Verdict {
    expect_status(r, &[200])?;
    let what = format!("{} {}", r.sent.method, r.sent.path);
    if r.header("content-type") != Some(m.media_type) {
        return Err(fail(r, format!("{what}: Content-Type should be {}", m.media_type)));
    }
    if r.header("content-length") != Some(m.body.len().to_string().as_str()) {
        return Err(fail(r, format!("{what}: Content-Length should be {}", m.body.len())));
    }
    match digest {
        Some(d) => expect_digest(ctx, r, d)?,
        None => {
            if let Some(h) = r.header("docker-content-digest")
                && Digest::parse(h).map_or(true, |d| d != Digest::of(d.algorithm(), &m.body))
            {
                return Err(fail(r, format!("{what}: Docker-Content-Digest {h} is not a digest of the manifest")));
            }
        }
    }
    if r.sent.method == "GET" && r.body[..] != m.body[..] {
        return Err(fail(r, format!("{what}: the body differs from the bytes pushed")));
    }
    Ok(())
}

/// 404 with `code` (on GET, in a well-formed error body).
fn expect_not_found(r: &crate::client::Reply, code: &str, what: &str) -> Verdict {
    if r.status != 404 {
        return Err(fail(r, format!("{what} must answer 404, got {}", r.status.as_u16())));
    }
    if r.sent.method == "HEAD" {
        return Ok(());
    }
    expect_error(r, &[404], &[code])
}

fn with_context(stop: Stop, context: &str) -> Stop {
    match stop {
        Stop::Fail(mut f) => {
            f.message = format!("{context}: {}", f.message);
            Stop::Fail(f)
        }
        other => other,
    }
}

/// The referrers list is an OCI index (served as one) that names exactly
/// `referrers` (each under one of the digests it is stored under), with
/// their type, size, artifactType and annotations.
fn listed_exactly(r: &crate::client::Reply, referrers: &[(&Manifest, &[Digest])]) -> Verdict {
    expect_status(r, &[200])?;
    if r.header("content-type") != Some(OCI_INDEX) {
        return Err(fail(r, format!("the referrers list must be served as {OCI_INDEX}")));
    }
    let index = r.json().unwrap_or_default();
    if index["mediaType"] != OCI_INDEX || index["schemaVersion"] != 2 {
        return Err(fail(r, "the referrers list must be an OCI image index"));
    }
    let listed = index["manifests"].as_array().cloned().unwrap_or_default();
    let names = |e: &serde_json::Value, digests: &[Digest]| digests.iter().any(|d| e["digest"] == d.as_str());
    for (m, digests) in referrers {
        let found = listed.iter().any(|e| {
            names(e, digests)
                && e["mediaType"] == m.media_type
                && e["size"] == m.body.len()
                && e["artifactType"].as_str() == m.artifact_type.as_deref()
                && m.annotations.iter().all(|(k, v)| e["annotations"].get(k) == Some(v))
        });
        if !found {
            return Err(fail(r, format!("referrer {} is not listed with its type, size and annotations", m.digest)));
        }
    }
    if let Some(extra) = listed.iter().find(|e| !referrers.iter().any(|(_, digests)| names(e, digests))) {
        return Err(fail(r, format!("the list names {}, which does not refer to this subject", extra["digest"])));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn needs_come_first() {
        for (i, op) in Op::ALL.iter().enumerate() {
            for need in op.needs() {
                let at = Op::ALL.iter().position(|o| o == need).unwrap();
                assert!(at < i, "{op:?} needs {need:?}, which runs after it");
                assert!(need.since() <= op.since(), "{op:?} needs {need:?}, required by a later profile");
            }
        }
    }

    #[test]
    fn every_set_in_every_algorithm_it_allows() {
        let checks = checks();
        let sets = SETS.len() + SETS.iter().filter(|s| s.sha512).count();
        assert!(checks.len() >= sets * 15, "{} checks for {sets} set runs", checks.len());
        assert!(checks.iter().any(|c| c.id == "content/image/get-by-tag/sha512"));
        assert!(!checks.iter().any(|c| c.id == "content/docker-schema2/get-by-tag/sha512"));
        assert!(!checks.iter().any(|c| c.id == "content/empty-index/push-blobs"));
        let sha512 = checks.iter().find(|c| c.id.ends_with("/sha512")).unwrap();
        assert_eq!(sha512.since, Profile::OciNext);
    }
}
