//! Garbage collection: mark every blob a stored manifest references, sweep
//! the rest — safely while pushes go on.
//!
//! distribution's collector must run with the registry read-only: a blob
//! uploaded just before the mark and referenced just after it is swept from
//! under the push. Here every operation that makes a blob wanted *touches* it
//! first (`/drydock/gc/touched/<alg>/<hex>` holds the time): blob commits,
//! mounts, and manifest PUTs for each blob they reference, before checking
//! it exists. The sweep removes an unreferenced blob only once it has gone
//! untouched for `grace`; one never touched (pushed before drydock, or by
//! another registry) is touched by the first sweep that finds it
//! unreferenced, so it too gets the full grace.
//!
//! `grace = 0` is distribution's offline collection: everything unreferenced
//! goes at once. Only do that with no pushes running.
//!
//! Touches of blobs that no longer exist (a manifest PUT refused for a
//! missing blob touches it too) are removed once older than the grace.
//!
//! Limit: the sweep reads a blob's touch, then deletes the blob. An
//! operation that touches that blob in between — a re-push of it, or a
//! manifest referencing it after it sat unreferenced for longer than the
//! grace — can find it present just before it goes. The window is one
//! storage operation; keep `grace` far above the longest push (the default
//! is an hour).

use super::Registry;
use super::catalog;
use super::error::{RegistryError, Result};
use super::paths;
use crate::storage::StorageDriver;
use bytes::Bytes;
use drydock_spec::manifest::Role;
use drydock_spec::{Algorithm, Digest, Manifest, RepositoryName, Tag};
use std::collections::BTreeSet;
use std::time::{Duration, SystemTime};

const TOUCHED: &str = "/drydock/gc/touched";

fn touched_path(d: &Digest) -> String {
    format!("{TOUCHED}/{}/{}", d.algorithm(), d.hex())
}

/// Records that `d` is wanted as of `now`.
pub async fn touch(driver: &dyn StorageDriver, d: &Digest, now: SystemTime) -> crate::storage::Result<()> {
    let stamp = humantime::format_rfc3339_millis(now).to_string();
    driver.put_content(&touched_path(d), Bytes::from(stamp)).await
}

async fn last_touched(driver: &dyn StorageDriver, d: &Digest) -> Result<Option<SystemTime>> {
    match driver.get_content(&touched_path(d)).await {
        Ok(stamp) => Ok(std::str::from_utf8(&stamp).ok().and_then(|s| humantime::parse_rfc3339(s.trim()).ok())),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// How a collection runs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Options {
    /// Unreferenced blobs (and, with `delete_untagged`, untagged manifests)
    /// touched more recently than this are kept.
    pub grace: Duration,
    /// Report what would be removed; change nothing.
    pub dry_run: bool,
    /// Also remove manifests no tag reaches: not tagged, not a child of a
    /// kept index, not a referrer of a kept manifest (distribution's
    /// `--delete-untagged`, minus its habit of deleting signatures).
    pub delete_untagged: bool,
}

/// What one collection found and did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// Blobs some kept manifest references (manifests included).
    pub referenced: usize,
    /// Untagged manifests removed, as `(repository, digest)`.
    pub untagged_removed: Vec<(String, Digest)>,
    /// Unreferenced blobs removed (or, in a dry run, that would be).
    pub removed: Vec<(Digest, u64)>,
    /// Unreferenced blobs kept because they were touched within the grace.
    pub kept_recent: usize,
    /// Touches of blobs that do not exist, removed past the grace.
    pub stale_touches: usize,
    /// Blobs or directories the sweep skipped on a storage error (they are
    /// looked at again next run).
    pub skipped: usize,
}

impl Report {
    fn skip(&mut self, what: &str, e: impl std::fmt::Display) {
        tracing::warn!(%what, error = %e, "garbage collection skipped this for now");
        self.skipped += 1;
    }
}

/// One manifest revision of a repository, as the mark sees it.
struct Revision {
    digest: Digest,
    /// Config, layers and child manifests (empty if it no longer parses).
    references: Vec<(Role, Digest)>,
    subject: Option<Digest>,
}

async fn revisions(registry: &Registry, repo: &RepositoryName) -> Result<Vec<Revision>> {
    let driver = registry.driver.as_ref();
    let mut out = Vec::new();
    for alg in Algorithm::ALL {
        for hex in list_or_empty(driver, &paths::revisions_dir(repo, alg)).await? {
            let Ok(digest) = Digest::from_hex(alg, &hex) else { continue };
            if registry.manifests.revisions.size(repo, &digest).await?.is_none() {
                continue;
            }
            let body = registry.blobs.get_verified(&digest).await?;
            // A manifest that no longer parses keeps only itself.
            let parsed = body.and_then(|b| Manifest::parse(b.to_vec(), None).ok());
            let references = parsed
                .as_ref()
                .map(|m| {
                    m.references().filter(|(r, _)| *r != Role::Subject).map(|(r, d)| (r, d.digest.clone())).collect()
                })
                .unwrap_or_default();
            let subject = parsed.and_then(|m| m.subject.map(|s| s.digest));
            out.push(Revision { digest, references, subject });
        }
    }
    Ok(out)
}

/// The revisions of `repo` a tag reaches: tagged ones, children of kept
/// indexes, referrers of kept manifests, and (not to race a push: an index's
/// children arrive untagged before it) any touched within the grace.
async fn reachable(
    registry: &Registry,
    repo: &RepositoryName,
    revs: &[Revision],
    options: &Options,
    (now, cutoff): (SystemTime, SystemTime),
) -> Result<BTreeSet<Digest>> {
    let mut keep = BTreeSet::new();
    for name in registry.tags().list(repo).await? {
        let Ok(tag) = Tag::parse(&name) else { continue };
        if let Some(d) = registry.tags().get(repo, &tag).await? {
            keep.insert(d);
        }
    }
    if !options.grace.is_zero() {
        for r in revs {
            match last_touched(registry.driver.as_ref(), &r.digest).await? {
                Some(t) if t < cutoff => {}
                Some(_) => {
                    keep.insert(r.digest.clone());
                }
                // Pushed by something that does not touch: the grace starts now.
                None => {
                    if !options.dry_run {
                        touch(registry.driver.as_ref(), &r.digest, now).await?;
                    }
                    keep.insert(r.digest.clone());
                }
            }
        }
    }
    loop {
        let before = keep.len();
        for r in revs {
            if keep.contains(&r.digest) {
                let children: Vec<_> =
                    r.references.iter().filter(|(role, _)| *role == Role::Manifest).map(|(_, d)| d.clone()).collect();
                keep.extend(children);
            } else if r.subject.as_ref().is_some_and(|s| keep.contains(s)) {
                keep.insert(r.digest.clone());
            }
        }
        if keep.len() == before {
            return Ok(keep);
        }
    }
}

/// Marks every blob a kept manifest revision of any repository references;
/// with `delete_untagged`, first removes (or, dry, lists) the revisions no
/// tag reaches.
async fn mark(
    registry: &Registry,
    options: &Options,
    clock: (SystemTime, SystemTime),
    report: &mut Report,
) -> Result<BTreeSet<Digest>> {
    let mut marked = BTreeSet::new();
    for name in catalog::repositories(registry.driver.as_ref()).await? {
        let Ok(repo) = RepositoryName::parse(&name) else { continue };
        let revs = revisions(registry, &repo).await?;
        let keep =
            if options.delete_untagged { Some(reachable(registry, &repo, &revs, options, clock).await?) } else { None };
        for r in revs {
            if keep.as_ref().is_some_and(|k| !k.contains(&r.digest)) {
                if !options.dry_run {
                    match registry.manifests.delete(&repo, &r.digest).await {
                        Ok(_) | Err(RegistryError::ManifestUnknown(_)) => {}
                        Err(e) => return Err(e),
                    }
                }
                report.untagged_removed.push((name.clone(), r.digest));
                continue;
            }
            marked.insert(r.digest);
            marked.extend(r.references.into_iter().map(|(_, d)| d));
        }
    }
    Ok(marked)
}

/// Every blob in the blob store that could be listed; a directory that
/// cannot be listed now is skipped and counted in `report.skipped`.
async fn stored_blobs(driver: &dyn StorageDriver, report: &mut Report) -> BTreeSet<Digest> {
    let mut out = BTreeSet::new();
    for alg in Algorithm::ALL {
        let root = format!("{}/blobs/{alg}", paths::ROOT);
        let prefixes = match list_or_empty(driver, &root).await {
            Ok(p) => p,
            Err(e) => {
                report.skip(&root, e);
                continue;
            }
        };
        for prefix in prefixes {
            let dir = format!("{root}/{prefix}");
            match list_or_empty(driver, &dir).await {
                Ok(hexes) => out.extend(hexes.iter().filter_map(|hex| Digest::from_hex(alg, hex).ok())),
                Err(e) => report.skip(&dir, e),
            }
        }
    }
    out
}

async fn list_or_empty(driver: &dyn StorageDriver, dir: &str) -> Result<Vec<String>> {
    match driver.list(dir).await {
        Ok(names) => Ok(names),
        Err(e) if e.is_not_found() => Ok(Vec::new()),
        Err(e) => Err(e.into()),
    }
}

/// Marks, then sweeps blobs unreferenced and untouched for the grace.
pub async fn collect(registry: &Registry, options: &Options) -> Result<Report> {
    let driver = registry.driver.as_ref();
    let (grace, dry_run) = (options.grace, options.dry_run);
    #[cfg(feature = "sim-mutants")]
    let grace = if registry.mutants.gc_without_grace() { Duration::ZERO } else { grace };
    // The clock is read before marking: a touch after this instant is
    // always newer than any cutoff this run uses.
    let now = registry.env.now();
    let cutoff = now.checked_sub(grace).unwrap_or(SystemTime::UNIX_EPOCH);
    let mut report = Report::default();
    let options = &Options { grace, ..options.clone() };
    let marked = mark(registry, options, (now, cutoff), &mut report).await?;
    report.referenced = marked.len();
    // The sweep goes blob by blob: a storage error skips that blob (it is
    // looked at again next run), unlike in the mark, where an error must
    // stop everything because a blob missing from the mark would be lost.
    let stored = stored_blobs(driver, &mut report).await;
    for d in stored.iter().filter(|d| !marked.contains(*d)) {
        match sweep(registry, d, options, (now, cutoff)).await {
            Ok(Some(size)) => report.removed.push((d.clone(), size)),
            Ok(None) => report.kept_recent += 1,
            Err(e) => report.skip(d.as_str(), e),
        }
    }
    if report.skipped == 0 {
        // Only with a complete picture of what is stored.
        for alg in Algorithm::ALL {
            for hex in list_or_empty(driver, &format!("{TOUCHED}/{alg}")).await? {
                let Ok(d) = Digest::from_hex(alg, &hex) else { continue };
                if stored.contains(&d) || marked.contains(&d) {
                    continue;
                }
                if last_touched(driver, &d).await?.is_some_and(|t| t < cutoff) {
                    if !dry_run {
                        remove_touch(driver, &d).await?;
                    }
                    report.stale_touches += 1;
                }
            }
        }
    }
    Ok(report)
}

/// Removes one unreferenced blob if it has gone untouched for the grace;
/// its size if it did (or would, dry), `None` if it is kept.
async fn sweep(
    registry: &Registry,
    d: &Digest,
    options: &Options,
    (now, cutoff): (SystemTime, SystemTime),
) -> Result<Option<u64>> {
    let driver = registry.driver.as_ref();
    if !options.grace.is_zero() {
        match last_touched(driver, d).await? {
            Some(t) if t < cutoff => {}
            Some(_) => return Ok(None),
            // Stored by something that does not touch: the grace starts now.
            None => {
                if !options.dry_run {
                    touch(driver, d, now).await?;
                }
                return Ok(None);
            }
        }
    }
    let size = registry.blobs.size(d).await?.unwrap_or(0);
    if !options.dry_run {
        registry.blobs.delete(d).await?;
        remove_touch(driver, d).await?;
    }
    Ok(Some(size))
}

async fn remove_touch(driver: &dyn StorageDriver, d: &Digest) -> Result<()> {
    match driver.delete(&touched_path(d)).await {
        Ok(()) => Ok(()),
        Err(e) if e.is_not_found() => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Collects every `interval`, the first run one interval after start. Runs
/// until dropped; a failed run is logged and retried next time.
pub async fn run_periodically(registry: Registry, options: Options, interval: Duration) {
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
    loop {
        ticks.tick().await;
        match collect(&registry, &options).await {
            Ok(r) => tracing::info!(
                untagged_removed = r.untagged_removed.len(),
                removed = r.removed.len(),
                freed = r.removed.iter().map(|(_, s)| s).sum::<u64>(),
                kept_recent = r.kept_recent,
                skipped = r.skipped,
                "garbage collection"
            ),
            Err(e) => tracing::warn!(error = %e, "garbage collection failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::testing::FixedClock;
    use crate::storage::InMemoryDriver;
    use crate::{Env, Registry};
    use std::sync::Arc;

    fn opts(grace: Duration, dry_run: bool) -> Options {
        Options { grace, dry_run, delete_untagged: false }
    }

    fn registry_at(driver: Arc<InMemoryDriver>, t: SystemTime) -> Registry {
        Registry::new(driver, Env::new(Arc::new(FixedClock(t)), [7; 32]), b"k", true)
    }

    async fn put_blob(r: &Registry, repo: &RepositoryName, data: &[u8]) -> Digest {
        let d = r.blobs.put(Algorithm::Sha256, Bytes::copy_from_slice(data)).await.unwrap();
        r.layers.link(repo, &d).await.unwrap();
        r.blobs.touch(&d, r.env.now()).await.unwrap();
        d
    }

    fn manifest(config: &Digest, layer: &Digest) -> Manifest {
        let body = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2, "mediaType": drydock_spec::media_type::OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config, "size": 2},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer, "size": 5}],
        }))
        .unwrap();
        Manifest::parse(body, None).unwrap()
    }

    #[tokio::test]
    async fn sweeps_only_unreferenced_blobs_past_the_grace() {
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let driver = Arc::new(InMemoryDriver::new());
        let r = registry_at(driver.clone(), t0);
        let repo = RepositoryName::parse("gc/app").unwrap();
        let config = put_blob(&r, &repo, b"{}").await;
        let layer = put_blob(&r, &repo, b"layer").await;
        let orphan = put_blob(&r, &repo, b"orphan").await;
        let m = r.manifests.put(&repo, manifest(&config, &layer), None, &[], None, t0).await.unwrap();
        let grace = Duration::from_secs(3600);

        // Within the grace nothing goes; a dry run changes nothing either.
        let later = registry_at(driver.clone(), t0 + Duration::from_secs(60));
        let report = collect(&later, &opts(grace, false)).await.unwrap();
        assert_eq!((report.referenced, report.removed.len(), report.kept_recent), (3, 0, 1));
        let after = registry_at(driver.clone(), t0 + grace + Duration::from_secs(1));
        assert_eq!(collect(&after, &opts(grace, true)).await.unwrap().removed, [(orphan.clone(), 6)]);
        assert!(after.blobs.size(&orphan).await.unwrap().is_some());

        // Past the grace the orphan goes, and only the orphan.
        assert_eq!(collect(&after, &opts(grace, false)).await.unwrap().removed, [(orphan.clone(), 6)]);
        assert!(after.blobs.size(&orphan).await.unwrap().is_none());
        for d in [&config, &layer, &m] {
            assert!(after.blobs.size(d).await.unwrap().is_some(), "{d} was referenced");
        }
    }

    #[tokio::test]
    async fn a_blob_never_touched_gets_the_full_grace() {
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let driver = Arc::new(InMemoryDriver::new());
        let r = registry_at(driver.clone(), t0);
        // Stored by something that does not touch (an older registry).
        let d = r.blobs.put(Algorithm::Sha256, Bytes::from_static(b"foreign")).await.unwrap();
        let grace = Duration::from_secs(60);
        let first = registry_at(driver.clone(), t0 + Duration::from_secs(3600));
        assert_eq!(collect(&first, &opts(grace, false)).await.unwrap().kept_recent, 1);
        let too_soon = registry_at(driver.clone(), t0 + Duration::from_secs(3630));
        assert!(collect(&too_soon, &opts(grace, false)).await.unwrap().removed.is_empty());
        let late = registry_at(driver.clone(), t0 + Duration::from_secs(3661));
        assert_eq!(collect(&late, &opts(grace, false)).await.unwrap().removed.len(), 1);
        assert!(late.blobs.size(&d).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn touches_of_missing_blobs_go_after_the_grace() {
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let driver = Arc::new(InMemoryDriver::new());
        let never_stored = Digest::of(Algorithm::Sha256, b"a manifest referenced this; it never came");
        touch(driver.as_ref(), &never_stored, t0).await.unwrap();
        let grace = Duration::from_secs(60);
        let soon = registry_at(driver.clone(), t0 + Duration::from_secs(30));
        assert_eq!(collect(&soon, &opts(grace, false)).await.unwrap().stale_touches, 0);
        let late = registry_at(driver.clone(), t0 + Duration::from_secs(61));
        assert_eq!(collect(&late, &opts(grace, false)).await.unwrap().stale_touches, 1);
        assert!(last_touched(driver.as_ref(), &never_stored).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn untagged_manifests_go_unless_a_tag_reaches_them() {
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let driver = Arc::new(InMemoryDriver::new());
        let r = registry_at(driver.clone(), t0);
        let repo = RepositoryName::parse("gc/untagged").unwrap();
        let config = put_blob(&r, &repo, b"{}").await;
        let (kept_layer, lost_layer) = (put_blob(&r, &repo, b"kept!").await, put_blob(&r, &repo, b"lost!").await);
        let put = |m: serde_json::Value, tag: Option<&'static str>| {
            let r = r.clone();
            let repo = repo.clone();
            async move {
                let m = Manifest::parse(serde_json::to_vec(&m).unwrap(), None).unwrap();
                let tag = tag.map(|t| Tag::parse(t).unwrap());
                r.manifests.put(&repo, m, None, tag.as_slice(), None, r.env.now()).await.unwrap()
            }
        };
        let json = |m: Manifest| serde_json::from_slice::<serde_json::Value>(m.raw()).unwrap();
        let child_size = manifest(&config, &kept_layer).raw().len();
        let child = put(json(manifest(&config, &kept_layer)), None).await;
        let lonely = put(json(manifest(&config, &lost_layer)), None).await;
        let index = put(
            serde_json::json!({"schemaVersion": 2, "mediaType": drydock_spec::media_type::OCI_INDEX,
                "manifests": [{"mediaType": drydock_spec::media_type::OCI_MANIFEST, "digest": child, "size": child_size}]}),
            Some("v1"),
        )
        .await;
        let signature = put(
            serde_json::json!({"schemaVersion": 2, "mediaType": drydock_spec::media_type::OCI_MANIFEST,
                "artifactType": "application/example.signature",
                "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": config, "size": 2},
                "layers": [],
                "subject": {"mediaType": drydock_spec::media_type::OCI_INDEX, "digest": index, "size": 1}}),
            None,
        )
        .await;
        let options = |grace| Options { grace, dry_run: false, delete_untagged: true };
        let grace = Duration::from_secs(60);

        // Within the grace an untagged manifest may be an index's child in flight.
        let soon = registry_at(driver.clone(), t0 + Duration::from_secs(30));
        assert!(collect(&soon, &options(grace)).await.unwrap().untagged_removed.is_empty());

        let late = registry_at(driver.clone(), t0 + Duration::from_secs(61));
        let report = collect(&late, &options(grace)).await.unwrap();
        assert_eq!(report.untagged_removed, [("gc/untagged".to_owned(), lonely.clone())]);
        let removed: BTreeSet<_> = report.removed.iter().map(|(d, _)| d.clone()).collect();
        assert_eq!(
            removed,
            BTreeSet::from([lost_layer.clone(), lonely.clone()]),
            "the lonely manifest and its own layer"
        );
        for d in [&child, &index, &signature] {
            assert!(late.manifests.get(&repo, d).await.is_ok(), "{d} is reached from tag v1");
        }
        assert!(late.manifests.get(&repo, &lonely).await.is_err());
        assert!(late.blobs.size(&kept_layer).await.unwrap().is_some());
    }

    #[tokio::test]
    async fn zero_grace_is_offline_collection() {
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let driver = Arc::new(InMemoryDriver::new());
        let r = registry_at(driver.clone(), t0);
        let repo = RepositoryName::parse("gc/app").unwrap();
        let d = put_blob(&r, &repo, b"just pushed").await;
        assert_eq!(collect(&r, &opts(Duration::ZERO, false)).await.unwrap().removed, [(d.clone(), 11)]);
        assert!(r.layers.size(&repo, &d).await.unwrap().is_none());
    }
}
