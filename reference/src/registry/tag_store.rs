//! Tags: `current/link` names what a tag points at now; `index/` remembers
//! every digest it has pointed at (distribution keeps the same history).

use super::error::{RegistryError, Result};
use super::paths;
use crate::storage::StorageDriver;
use bytes::Bytes;
use drydock_spec::{Digest, RepositoryName, Tag};
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use tokio::sync::Mutex;

/// Conditional tag updates are serialised per tag through one of this many
/// locks (striped, so memory does not grow with the number of tags).
const TAG_LOCK_STRIPES: usize = 64;

#[derive(Clone)]
pub struct TagStore {
    driver: Arc<dyn StorageDriver>,
    /// Serialises updates of one tag within this process.
    locks: Arc<[Mutex<()>; TAG_LOCK_STRIPES]>,
    #[cfg(feature = "sim-mutants")]
    pub(crate) mutants: crate::mutants::Mutants,
}

impl TagStore {
    pub fn new(driver: Arc<dyn StorageDriver>) -> TagStore {
        TagStore {
            driver,
            locks: Arc::new(std::array::from_fn(|_| Mutex::new(()))),
            #[cfg(feature = "sim-mutants")]
            mutants: Default::default(),
        }
    }

    pub async fn get(&self, repo: &RepositoryName, tag: &Tag) -> Result<Option<Digest>> {
        match self.driver.get_content(&paths::tag_current_link(repo, tag)).await {
            Ok(link) => {
                let text = String::from_utf8_lossy(&link);
                Digest::parse(text.trim())
                    .map(Some)
                    .map_err(|e| RegistryError::ManifestInvalid(format!("tag {tag} has a corrupt link: {e}")))
            }
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Points the tag at `d`. With `if_match`, only if the tag currently
    /// points at that digest: checked and replaced in one conditional write,
    /// so the condition holds across instances where the store has
    /// conditional writes (within this process, a lock per tag stripe).
    pub async fn put(&self, repo: &RepositoryName, tag: &Tag, d: &Digest, if_match: Option<&Digest>) -> Result<()> {
        // SipHash with fixed keys: the same stripe for the same tag in every run.
        let mut h = std::hash::DefaultHasher::new();
        (repo.as_str(), tag.as_str()).hash(&mut h);
        let _held = self.locks[(h.finish() % TAG_LOCK_STRIPES as u64) as usize].lock().await;
        let current_link = paths::tag_current_link(repo, tag);
        let link = Bytes::from(d.to_string());
        let failed = || RegistryError::PreconditionFailed {
            tag: tag.to_string(),
            expected: if_match.map(ToString::to_string).unwrap_or_default(),
        };
        // The link exactly as stored: the conditional write compares bytes.
        let expected = match if_match {
            None => None,
            Some(expected) => match self.driver.get_content(&current_link).await {
                Ok(raw) if Digest::parse(String::from_utf8_lossy(&raw).trim()).as_ref() == Ok(expected) => Some(raw),
                Ok(_) => return Err(failed()),
                Err(e) if e.is_not_found() => return Err(failed()),
                Err(e) => return Err(e.into()),
            },
        };
        self.driver.put_content(&paths::tag_index_link(repo, tag, d), link.clone()).await?;
        #[cfg(feature = "sim-mutants")]
        if self.mutants.tag_check_then_put() && expected.is_some() {
            self.driver.put_content(&current_link, link).await?;
            return Ok(());
        }
        if !self.driver.replace_if(&current_link, expected.as_deref(), link).await? {
            return Err(failed());
        }
        Ok(())
    }

    /// All tags of the repository, sorted.
    pub async fn list(&self, repo: &RepositoryName) -> Result<Vec<String>> {
        match self.driver.list(&paths::tags_dir(repo)).await {
            Ok(tags) => Ok(tags),
            Err(e) if e.is_not_found() => Ok(Vec::new()),
            Err(e) => Err(e.into()),
        }
    }

    /// Removes a tag; `false` if it did not exist.
    pub async fn delete(&self, repo: &RepositoryName, tag: &Tag) -> Result<bool> {
        match self.driver.delete(&paths::tag_dir(repo, tag)).await {
            Ok(()) => Ok(true),
            Err(e) if e.is_not_found() => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Tags currently pointing at `d`.
    pub async fn tags_for(&self, repo: &RepositoryName, d: &Digest) -> Result<Vec<Tag>> {
        let mut out = Vec::new();
        for name in self.list(repo).await? {
            let Ok(tag) = Tag::parse(&name) else { continue };
            if self.get(repo, &tag).await?.as_ref() == Some(d) {
                out.push(tag);
            }
        }
        Ok(out)
    }
}
