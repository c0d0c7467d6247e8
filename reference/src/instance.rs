//! One registry process: its storage model, its webhook pipeline and its
//! identity. `drydock serve`, the simulator and the tests all build theirs
//! with [`Instance::new`], so they run the same wiring.

use crate::auth::AccessController;
use crate::env::Env;
use crate::http::limits::ConnectionLimits;
use crate::http::metrics::RequestMetrics;
use crate::notifications::{Broadcaster, EndpointConfig};
use crate::registry::Registry;
use crate::registry::validation::ManifestRules;
use crate::storage::StorageDriver;
use crate::storage::instrumented::{Instrumented, StorageMetrics};
use std::sync::Arc;

/// What an instance is made from.
pub struct InstanceConfig {
    pub driver: Arc<dyn StorageDriver>,
    pub env: Env,
    /// Signs upload state; instances sharing storage must share it.
    pub secret: Vec<u8>,
    pub delete_enabled: bool,
    /// Refuse every change (distribution's `maintenance.readonly`).
    pub read_only: bool,
    /// Added to every response (distribution's `http.headers`).
    pub response_headers: Vec<(http::HeaderName, http::HeaderValue)>,
    /// Who may do what (open unless `auth` is configured).
    pub access: AccessController,
    /// Timeouts of each connection and request.
    pub limits: ConnectionLimits,
    /// Upload bytes all requests together may hold in memory
    /// ([`crate::registry::blob_writer::UPLOAD_BUFFER_BUDGET`] by default).
    pub upload_buffer: usize,
    /// Mounts without `from` link any stored blob (OCI 1.1 automatic
    /// content discovery); off, they open an upload session.
    pub automatic_mount: bool,
    /// What a manifest push must satisfy (`validation.manifests`).
    pub manifest_rules: ManifestRules,
    /// Webhook endpoints; their queues live in `driver`.
    pub endpoints: Vec<EndpointConfig>,
    /// `host:port` this instance reports as its event source.
    pub source_addr: String,
    /// `http` or `https`, for URLs in events.
    pub scheme: &'static str,
}

impl InstanceConfig {
    /// Deletes enabled, no webhooks, plain HTTP.
    pub fn new(driver: Arc<dyn StorageDriver>, env: Env, secret: &[u8]) -> InstanceConfig {
        InstanceConfig {
            driver,
            env,
            secret: secret.to_vec(),
            delete_enabled: true,
            read_only: false,
            response_headers: Vec::new(),
            access: AccessController::Open,
            limits: ConnectionLimits::DEFAULT,
            upload_buffer: crate::registry::blob_writer::UPLOAD_BUFFER_BUDGET,
            automatic_mount: true,
            manifest_rules: ManifestRules::default(),
            endpoints: Vec::new(),
            source_addr: String::new(),
            scheme: "http",
        }
    }
}

/// A running registry's parts, cheap to clone.
#[derive(Clone)]
pub struct Instance {
    pub registry: Registry,
    /// Where events go; empty unless endpoints are configured.
    pub notifications: Broadcaster,
    /// Identifies this process in logs and event sources; new every start.
    pub instance_id: String,
    pub source_addr: String,
    pub scheme: &'static str,
    /// Added to every response.
    pub response_headers: Arc<Vec<(http::HeaderName, http::HeaderValue)>>,
    pub access: Arc<AccessController>,
    pub limits: ConnectionLimits,
    /// Request counters, served on the debug listener.
    pub metrics: Arc<RequestMetrics>,
    /// Storage operation latencies and errors, served there too.
    pub storage_metrics: Arc<StorageMetrics>,
}

impl Instance {
    pub fn new(config: InstanceConfig) -> Instance {
        let instance_id = config.env.new_uuid();
        // Every storage operation, the registry's and the notification
        // queues', is timed for /metrics.
        let timed = Arc::new(Instrumented::new(config.driver));
        let storage_metrics = timed.metrics.clone();
        let driver: Arc<dyn StorageDriver> = timed;
        let mut registry = Registry::new(driver.clone(), config.env, &config.secret, config.delete_enabled);
        registry.uploads = crate::registry::blob_writer::BlobWriter::with_budget(driver.clone(), config.upload_buffer);
        registry.automatic_mount = config.automatic_mount;
        registry.read_only = config.read_only;
        registry.manifests.rules = config.manifest_rules;
        #[allow(unused_mut)]
        let mut notifications = Broadcaster::new(driver, &instance_id, config.endpoints);
        #[cfg(feature = "sim-mutants")]
        {
            notifications.mutants = registry.mutants.clone();
            registry.uploads.mutants = registry.mutants.clone();
        }
        Instance {
            registry,
            notifications,
            instance_id,
            source_addr: config.source_addr,
            scheme: config.scheme,
            response_headers: Arc::new(config.response_headers),
            access: Arc::new(config.access),
            limits: config.limits,
            metrics: Arc::default(),
            storage_metrics,
        }
    }

    /// The simulator's switches for deliberate bugs (shared by every part).
    #[cfg(feature = "sim-mutants")]
    pub fn mutants(&self) -> &crate::mutants::Mutants {
        &self.registry.mutants
    }
}
