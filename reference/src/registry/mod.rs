//! The registry's storage model on top of a driver: blob store, linked blob
//! stores, blob writer (uploads), tag and manifest stores, catalog, and the
//! maintenance that runs beside them (upload purge, garbage collection).

pub mod blob_store;
pub mod blob_writer;
pub mod bounded_cache;
pub mod catalog;
pub mod error;
pub mod gc;
pub mod linked_blob_store;
pub mod listener;
pub mod manifest_cache;
pub mod manifest_store;
pub mod paths;
pub mod piece_record;
pub mod purge;
pub mod referrers;
pub mod repository;
pub mod tag_store;
pub mod upload_data;
pub mod upload_token;
pub mod validation;

use crate::env::Env;
use crate::storage::StorageDriver;
use blob_store::BlobStore;
use blob_writer::BlobWriter;
use linked_blob_store::{LinkKind, LinkedBlobStore};
use manifest_cache::{MANIFEST_CACHE_BYTES, ManifestCache};
use manifest_store::ManifestStore;
use referrers::ReferrersStore;
use std::sync::Arc;
use tag_store::TagStore;
use upload_token::TokenSigner;

pub use listener::{Listener, NoListener, RepositoryEvent};
pub use repository::Repository;

/// The storage model over one driver, cheap to clone. Protocol operations
/// go through [`Registry::repository`]; the stores are public for the
/// maintenance that works across repositories (purge, garbage collection)
/// and for reads that need no more than a link check.
#[derive(Clone)]
pub struct Registry {
    pub driver: Arc<dyn StorageDriver>,
    pub env: Env,
    pub blobs: BlobStore,
    pub layers: LinkedBlobStore,
    pub manifests: ManifestStore,
    pub uploads: BlobWriter,
    pub tokens: TokenSigner,
    pub delete_enabled: bool,
    /// Every change is refused (`RegistryError::ReadOnly`); reads work.
    pub read_only: bool,
    /// A mount without `from` links a blob stored anywhere (on by default).
    pub automatic_mount: bool,
    /// Deliberate bugs the simulator can switch on.
    #[cfg(feature = "sim-mutants")]
    pub mutants: crate::mutants::Mutants,
}

impl Registry {
    pub fn new(driver: Arc<dyn StorageDriver>, env: Env, secret: &[u8], delete_enabled: bool) -> Registry {
        let blobs = BlobStore::new(driver.clone());
        let layers = LinkedBlobStore::new(driver.clone(), blobs.clone(), LinkKind::Layer);
        let revisions = LinkedBlobStore::new(driver.clone(), blobs.clone(), LinkKind::Revision);
        #[cfg(feature = "sim-mutants")]
        let mutants = crate::mutants::Mutants::default();
        #[cfg_attr(not(feature = "sim-mutants"), allow(unused_mut))]
        let mut tags = TagStore::new(driver.clone());
        #[cfg(feature = "sim-mutants")]
        {
            tags.mutants = mutants.clone();
        }
        let manifests = ManifestStore {
            driver: driver.clone(),
            blobs: blobs.clone(),
            layers: layers.clone(),
            revisions,
            tags,
            referrers: ReferrersStore::new(driver.clone(), blobs.clone()),
            cache: Arc::new(ManifestCache::new(MANIFEST_CACHE_BYTES)),
            rules: Default::default(),
        };
        #[cfg_attr(not(feature = "sim-mutants"), allow(unused_mut))]
        let mut uploads = BlobWriter::new(driver.clone());
        #[cfg(feature = "sim-mutants")]
        {
            uploads.mutants = mutants.clone();
        }
        Registry {
            #[cfg(feature = "sim-mutants")]
            mutants,
            uploads,
            driver,
            env,
            blobs,
            layers,
            manifests,
            tokens: TokenSigner::new(secret),
            delete_enabled,
            read_only: false,
            automatic_mount: true,
        }
    }

    pub fn tags(&self) -> &TagStore {
        &self.manifests.tags
    }
}
