//! The registry's storage model on top of a driver: blob store, linked blob
//! stores, blob writer (uploads), tag and manifest stores, catalog, and the
//! maintenance that runs beside them (upload purge, garbage collection).

pub mod blob_store;
pub mod blob_writer;
pub mod catalog;
pub mod error;
pub mod gc;
pub mod linked_blob_store;
pub mod manifest_store;
pub mod paths;
pub mod purge;
pub mod referrers;
pub mod tag_store;
pub mod upload_token;

use crate::env::Env;
use crate::notifications::Broadcaster;
use crate::storage::StorageDriver;
use blob_store::BlobStore;
use blob_writer::BlobWriter;
use linked_blob_store::{LinkKind, LinkedBlobStore};
use manifest_store::ManifestStore;
use referrers::ReferrersStore;
use std::sync::Arc;
use tag_store::TagStore;
use upload_token::TokenSigner;

/// Everything a request handler needs, cheap to clone.
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
    /// Identifies this process in logs and event sources; new every start.
    pub instance_id: String,
    /// Where events go; empty unless endpoints are configured.
    pub notifications: Broadcaster,
    /// `host:port` this instance reports as its event source.
    pub source_addr: String,
    /// `http` or `https`, for URLs in events.
    pub scheme: &'static str,
    /// Deliberate bugs the simulator can switch on.
    #[cfg(feature = "sim-mutants")]
    pub mutants: crate::mutants::Mutants,
}

impl Registry {
    pub fn new(driver: Arc<dyn StorageDriver>, env: Env, secret: &[u8], delete_enabled: bool) -> Registry {
        let blobs = BlobStore::new(driver.clone());
        let layers = LinkedBlobStore::new(driver.clone(), blobs.clone(), LinkKind::Layer);
        let revisions = LinkedBlobStore::new(driver.clone(), blobs.clone(), LinkKind::Revision);
        let manifests = ManifestStore {
            blobs: blobs.clone(),
            layers: layers.clone(),
            revisions,
            tags: TagStore::new(driver.clone()),
            referrers: ReferrersStore::new(driver.clone(), blobs.clone()),
        };
        let instance_id = env.new_uuid();
        Registry {
            notifications: Broadcaster::new(driver.clone(), &instance_id, Vec::new()),
            instance_id,
            source_addr: String::new(),
            scheme: "http",
            #[cfg(feature = "sim-mutants")]
            mutants: Default::default(),
            uploads: BlobWriter::new(driver.clone()),
            driver,
            env,
            blobs,
            layers,
            manifests,
            tokens: TokenSigner::new(secret),
            delete_enabled,
        }
    }

    /// Sends events to these endpoints (recorded in this registry's storage).
    pub fn with_notifications(mut self, endpoints: Vec<crate::notifications::EndpointConfig>) -> Registry {
        self.notifications = Broadcaster::new(self.driver.clone(), &self.instance_id, endpoints);
        #[cfg(feature = "sim-mutants")]
        {
            self.notifications.mutants = self.mutants.clone();
        }
        self
    }

    pub fn tags(&self) -> &TagStore {
        &self.manifests.tags
    }

    pub fn referrers(&self) -> &ReferrersStore {
        &self.manifests.referrers
    }
}
