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
use super::error::Result;
use super::paths;
use crate::storage::StorageDriver;
use bytes::Bytes;
use drydock_spec::{Algorithm, Digest, Manifest, RepositoryName};
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

/// What one collection found and did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// Blobs some stored manifest references (manifests included).
    pub referenced: usize,
    /// Unreferenced blobs removed (or, in a dry run, that would be).
    pub removed: Vec<(Digest, u64)>,
    /// Unreferenced blobs kept because they were touched within the grace.
    pub kept_recent: usize,
    /// Touches of blobs that do not exist, removed past the grace.
    pub stale_touches: usize,
}

/// Every blob reachable from a manifest revision of any repository.
pub async fn mark(registry: &Registry) -> Result<BTreeSet<Digest>> {
    let driver = registry.driver.as_ref();
    let mut marked = BTreeSet::new();
    for name in catalog::repositories(driver).await? {
        let Ok(repo) = RepositoryName::parse(&name) else { continue };
        for alg in Algorithm::ALL {
            for hex in list_or_empty(driver, &paths::revisions_dir(&repo, alg)).await? {
                let Ok(d) = Digest::from_hex(alg, &hex) else { continue };
                if registry.manifests.revisions.size(&repo, &d).await?.is_none() {
                    continue;
                }
                marked.insert(d.clone());
                let body = match registry.blobs.get(&d).await {
                    Ok(b) => b,
                    Err(e) if e.is_not_found() => continue,
                    Err(e) => return Err(e.into()),
                };
                // A manifest that no longer parses keeps only itself.
                let Ok(m) = Manifest::parse(body.to_vec(), None) else { continue };
                for (role, desc) in m.references() {
                    if role != drydock_spec::manifest::Role::Subject {
                        marked.insert(desc.digest.clone());
                    }
                }
            }
        }
    }
    Ok(marked)
}

/// Every blob in the blob store.
async fn stored_blobs(driver: &dyn StorageDriver) -> Result<BTreeSet<Digest>> {
    let mut out = BTreeSet::new();
    for alg in Algorithm::ALL {
        let root = format!("{}/blobs/{alg}", paths::ROOT);
        for prefix in list_or_empty(driver, &root).await? {
            for hex in list_or_empty(driver, &format!("{root}/{prefix}")).await? {
                if let Ok(d) = Digest::from_hex(alg, &hex) {
                    out.insert(d);
                }
            }
        }
    }
    Ok(out)
}

async fn list_or_empty(driver: &dyn StorageDriver, dir: &str) -> Result<Vec<String>> {
    match driver.list(dir).await {
        Ok(names) => Ok(names),
        Err(e) if e.is_not_found() => Ok(Vec::new()),
        Err(e) => Err(e.into()),
    }
}

/// Marks, then sweeps blobs unreferenced and untouched for `grace`. With
/// `dry_run`, reports what it would remove and changes nothing.
pub async fn collect(registry: &Registry, grace: Duration, dry_run: bool) -> Result<Report> {
    let driver = registry.driver.as_ref();
    #[cfg(feature = "sim-mutants")]
    let grace = if registry.mutants.gc_without_grace() { Duration::ZERO } else { grace };
    // The clock is read before marking: a touch after this instant is
    // always newer than any cutoff this run uses.
    let now = registry.env.now();
    let cutoff = now.checked_sub(grace).unwrap_or(SystemTime::UNIX_EPOCH);
    let marked = mark(registry).await?;
    let mut report = Report { referenced: marked.len(), ..Report::default() };
    let stored = stored_blobs(driver).await?;
    for d in stored.iter().cloned() {
        if marked.contains(&d) {
            continue;
        }
        if !grace.is_zero() {
            match last_touched(driver, &d).await? {
                Some(t) if t < cutoff => {}
                Some(_) => {
                    report.kept_recent += 1;
                    continue;
                }
                None => {
                    if !dry_run {
                        touch(driver, &d, now).await?;
                    }
                    report.kept_recent += 1;
                    continue;
                }
            }
        }
        let size = registry.blobs.size(&d).await?.unwrap_or(0);
        if !dry_run {
            registry.blobs.delete(&d).await?;
            match driver.delete(&touched_path(&d)).await {
                Ok(()) => {}
                Err(e) if e.is_not_found() => {}
                Err(e) => return Err(e.into()),
            }
        }
        report.removed.push((d, size));
    }
    for alg in Algorithm::ALL {
        for hex in list_or_empty(driver, &format!("{TOUCHED}/{alg}")).await? {
            let Ok(d) = Digest::from_hex(alg, &hex) else { continue };
            if stored.contains(&d) || marked.contains(&d) {
                continue;
            }
            if last_touched(driver, &d).await?.is_some_and(|t| t < cutoff) {
                if !dry_run {
                    match driver.delete(&touched_path(&d)).await {
                        Ok(()) => {}
                        Err(e) if e.is_not_found() => {}
                        Err(e) => return Err(e.into()),
                    }
                }
                report.stale_touches += 1;
            }
        }
    }
    Ok(report)
}

/// Collects every `interval` with `grace`, the first run one interval after
/// start. Runs until dropped; a failed run is logged and retried next time.
pub async fn run_periodically(registry: Registry, grace: Duration, interval: Duration) {
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
    loop {
        ticks.tick().await;
        match collect(&registry, grace, false).await {
            Ok(r) => tracing::info!(
                removed = r.removed.len(),
                freed = r.removed.iter().map(|(_, s)| s).sum::<u64>(),
                kept_recent = r.kept_recent,
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

    fn registry_at(driver: Arc<InMemoryDriver>, t: SystemTime) -> Registry {
        Registry::new(driver, Env::new(Arc::new(FixedClock(t)), [7; 32]), b"k", true)
    }

    async fn put_blob(r: &Registry, repo: &RepositoryName, data: &[u8]) -> Digest {
        let d = r.blobs.put(Algorithm::Sha256, Bytes::copy_from_slice(data)).await.unwrap();
        r.layers.link(repo, &d).await.unwrap();
        touch(r.driver.as_ref(), &d, r.env.now()).await.unwrap();
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
        let m = r.manifests.put(&repo, manifest(&config, &layer), None, None).await.unwrap();
        let grace = Duration::from_secs(3600);

        // Within the grace nothing goes; a dry run changes nothing either.
        let later = registry_at(driver.clone(), t0 + Duration::from_secs(60));
        let report = collect(&later, grace, false).await.unwrap();
        assert_eq!((report.referenced, report.removed.len(), report.kept_recent), (3, 0, 1));
        let after = registry_at(driver.clone(), t0 + grace + Duration::from_secs(1));
        assert_eq!(collect(&after, grace, true).await.unwrap().removed, [(orphan.clone(), 6)]);
        assert!(after.blobs.size(&orphan).await.unwrap().is_some());

        // Past the grace the orphan goes, and only the orphan.
        assert_eq!(collect(&after, grace, false).await.unwrap().removed, [(orphan.clone(), 6)]);
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
        assert_eq!(collect(&first, grace, false).await.unwrap().kept_recent, 1);
        let too_soon = registry_at(driver.clone(), t0 + Duration::from_secs(3630));
        assert!(collect(&too_soon, grace, false).await.unwrap().removed.is_empty());
        let late = registry_at(driver.clone(), t0 + Duration::from_secs(3661));
        assert_eq!(collect(&late, grace, false).await.unwrap().removed.len(), 1);
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
        assert_eq!(collect(&soon, grace, false).await.unwrap().stale_touches, 0);
        let late = registry_at(driver.clone(), t0 + Duration::from_secs(61));
        assert_eq!(collect(&late, grace, false).await.unwrap().stale_touches, 1);
        assert!(last_touched(driver.as_ref(), &never_stored).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn zero_grace_is_offline_collection() {
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let driver = Arc::new(InMemoryDriver::new());
        let r = registry_at(driver.clone(), t0);
        let repo = RepositoryName::parse("gc/app").unwrap();
        let d = put_blob(&r, &repo, b"just pushed").await;
        assert_eq!(collect(&r, Duration::ZERO, false).await.unwrap().removed, [(d.clone(), 11)]);
        assert!(r.layers.size(&repo, &d).await.unwrap().is_none());
    }
}
