//! Removing abandoned uploads: every upload whose `startedat` is older than a
//! cutoff, in every repository — a sealed one whose commit crashed included —
//! and what writes interrupted by a crash left in the backend (the storage
//! driver's stale temporaries). Run on a timer (`run_periodically`) by
//! `drydock serve` and by the simulator's registry hosts.

use super::Registry;
use super::catalog;
use super::error::{RegistryError, Result};
use drydock_spec::RepositoryName;
use std::time::{Duration, SystemTime};

/// Purges uploads started before `cutoff`; returns `(repository, upload id)`
/// for each one removed.
///
/// Only an upload known to be old is abandoned: one whose state cannot be
/// read right now (a backend error) is kept for the next run, or a storage
/// hiccup would delete a live upload (found by `drydock sim`, purge-race).
/// One without a start time at all is debris of a removal and goes.
pub async fn purge_uploads(registry: &Registry, cutoff: SystemTime) -> Result<Vec<(String, String)>> {
    let mut purged = Vec::new();
    for name in catalog::repositories(registry.driver.as_ref()).await? {
        let Ok(repo) = RepositoryName::parse(&name) else { continue };
        for id in registry.uploads.ids(&repo).await? {
            let started = match registry.uploads.started_at(&repo, &id).await {
                Ok(Some(started)) => started,
                Ok(None) => SystemTime::UNIX_EPOCH,
                Err(_) if purges_unreadable(registry) => SystemTime::UNIX_EPOCH,
                Err(e) => {
                    tracing::warn!(repository = %name, upload = %id, error = %e, "upload purge: state unreadable; kept");
                    continue;
                }
            };
            if started < cutoff {
                match registry.uploads.cancel(&repo, &id).await {
                    Ok(()) | Err(RegistryError::UploadUnknown(_)) => purged.push((name.clone(), id)),
                    Err(e) => {
                        tracing::warn!(repository = %name, upload = %id, error = %e, "upload purge: removal failed")
                    }
                }
            }
        }
    }
    Ok(purged)
}

fn purges_unreadable(registry: &Registry) -> bool {
    #[cfg(feature = "sim-mutants")]
    if registry.mutants.purge_unreadable_uploads() {
        return true;
    }
    let _ = registry;
    false
}

/// Purges uploads older than `age` every `interval`, the first run at once.
/// Runs until dropped; a failed run is logged and retried next time.
pub async fn run_periodically(registry: Registry, age: Duration, interval: Duration) {
    let mut ticks = tokio::time::interval(interval);
    loop {
        ticks.tick().await;
        let cutoff = registry.env.now().checked_sub(age).unwrap_or(SystemTime::UNIX_EPOCH);
        match purge_uploads(&registry, cutoff).await {
            Ok(purged) if purged.is_empty() => tracing::debug!("upload purge: nothing to remove"),
            Ok(purged) => tracing::info!(removed = purged.len(), "upload purge removed abandoned uploads"),
            Err(e) => tracing::warn!(error = %e, "upload purge failed"),
        }
        match registry.driver.remove_stale_temporaries(cutoff).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(removed = n, "upload purge removed temporary files left by interrupted writes"),
            Err(e) => tracing::warn!(error = %e, "removing stale temporary files failed"),
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
    use std::time::Duration;

    #[tokio::test]
    async fn removes_only_old_uploads() {
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let registry =
            Registry::new(Arc::new(InMemoryDriver::new()), Env::new(Arc::new(FixedClock(t0)), [1; 32]), b"k", true);
        let repo = RepositoryName::parse("a/b").unwrap();
        registry.uploads.start(&repo, "old", t0).await.unwrap();
        registry.uploads.start(&repo, "new", t0 + Duration::from_secs(3600)).await.unwrap();
        let purged = purge_uploads(&registry, t0 + Duration::from_secs(60)).await.unwrap();
        assert_eq!(purged, [("a/b".to_owned(), "old".to_owned())]);
        assert!(registry.uploads.status(&repo, "old").await.is_err());
        assert!(registry.uploads.status(&repo, "new").await.is_ok());
    }
}
