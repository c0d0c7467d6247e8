//! Removing abandoned uploads: every upload whose `startedat` is older than a
//! cutoff, in every repository. Run on a timer by `drydock serve`.

use super::Registry;
use super::catalog;
use super::error::Result;
use drydock_spec::RepositoryName;
use std::time::SystemTime;

/// Purges uploads started before `cutoff`; returns `(repository, upload id)`
/// for each one removed.
pub async fn purge_uploads(registry: &Registry, cutoff: SystemTime) -> Result<Vec<(String, String)>> {
    let mut purged = Vec::new();
    for name in catalog::repositories(registry.driver.as_ref()).await? {
        let Ok(repo) = RepositoryName::parse(&name) else { continue };
        for id in registry.uploads.purge_older_than(&repo, cutoff).await? {
            purged.push((name.clone(), id));
        }
    }
    Ok(purged)
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
