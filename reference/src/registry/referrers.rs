//! The referrers index: for each subject digest, the manifests that name it
//! as `subject`. One link per referrer (no shared index document), so
//! concurrent pushes of referrers never overwrite each other.

use super::blob_store::BlobStore;
use super::error::Result;
use super::paths;
use crate::storage::StorageDriver;
use bytes::Bytes;
use drydock_spec::{Algorithm, Digest, Manifest, RepositoryName};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;

/// One entry of a referrers response.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Referrer {
    pub media_type: String,
    pub digest: Digest,
    pub size: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

#[derive(Clone)]
pub struct ReferrersStore {
    driver: Arc<dyn StorageDriver>,
    blobs: BlobStore,
}

impl ReferrersStore {
    pub fn new(driver: Arc<dyn StorageDriver>, blobs: BlobStore) -> ReferrersStore {
        ReferrersStore { driver, blobs }
    }

    pub async fn add(&self, repo: &RepositoryName, subject: &Digest, referrer: &Digest) -> Result<()> {
        let link = paths::referrer_link(repo, subject, referrer);
        Ok(self.driver.put_content(&link, Bytes::from(referrer.to_string())).await?)
    }

    pub async fn remove(&self, repo: &RepositoryName, subject: &Digest, referrer: &Digest) -> Result<()> {
        let link = paths::referrer_link(repo, subject, referrer);
        match self.driver.delete(link.trim_end_matches("/link")).await {
            Ok(()) => Ok(()),
            Err(e) if e.is_not_found() => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Every referrer of `subject`, in digest order, optionally only those of
    /// one artifact type.
    pub async fn list(
        &self,
        repo: &RepositoryName,
        subject: &Digest,
        artifact_type: Option<&str>,
    ) -> Result<Vec<Referrer>> {
        let dir = paths::referrers_dir(repo, subject);
        let mut out = Vec::new();
        for alg in Algorithm::ALL {
            let hexes = match self.driver.list(&format!("{dir}/{alg}")).await {
                Ok(h) => h,
                Err(e) if e.is_not_found() => continue,
                Err(e) => return Err(e.into()),
            };
            for hex in hexes {
                let Ok(d) = Digest::from_hex(alg, &hex) else { continue };
                // A referrer whose manifest is gone (deleted by digest) is skipped.
                let Some(body) = self.blobs.get_verified(&d).await? else { continue };
                let Ok(m) = Manifest::parse(body.to_vec(), None) else { continue };
                let entry = Referrer {
                    media_type: m.media_type().to_owned(),
                    digest: d,
                    size: body.len() as u64,
                    artifact_type: m.effective_artifact_type().map(str::to_owned),
                    annotations: m.annotations.clone(),
                };
                if artifact_type.is_none_or(|t| entry.artifact_type.as_deref() == Some(t)) {
                    out.push(entry);
                }
            }
        }
        Ok(out)
    }
}
