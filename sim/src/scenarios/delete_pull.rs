//! A manifest deleted (by digest) through one instance while a client pulls
//! it by tag through the other: every pull is whole or a clean 404, never a
//! 5xx or a manifest naming missing blobs, and once the delete is
//! acknowledged the manifest and its tag are gone on both instances (not
//! served, not listed).

use super::{Mutant, RunConfig, Scenario};
use crate::net::Client;
use crate::storage::StorageFaults;
use drydock_spec::{Algorithm, Digest};
use http::Method;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const OCI: &str = "application/vnd.oci.image.manifest.v1+json";

pub fn scenario() -> Scenario {
    Scenario {
        name: "delete-pull",
        description: "a manifest deleted through one instance while another serves pulls of it",
        origin: "distribution's manifest delete leaves tags behind on eventually consistent backends (deleted images still pullable by tag)",
        mutant: Mutant::LostTagDelete,
        catch_within: 5,
        run,
        generated_ops: None,
        storage: None,
    }
}

/// The same world against per-instance manifest caches: the instance that
/// served (and cached) the manifest must still see the delete made through
/// the other.
pub fn cached_scenario() -> Scenario {
    Scenario {
        name: "cached-delete",
        description: "a manifest cached by one instance, deleted through another, must 404 on both at once",
        origin: "registries that cache manifests per node keep serving deleted images until the cache expires",
        mutant: Mutant::CachedManifestSkipsLink,
        catch_within: 5,
        run,
        generated_ops: None,
        storage: None,
    }
}

fn run(cfg: &RunConfig) -> Vec<String> {
    let violations: Arc<Mutex<Vec<String>>> = Arc::default();
    let deleted = Arc::new(Mutex::new(false));
    let mut sim = crate::builder(cfg.seed).build();
    let lost_tag_deletes = cfg.mutant && cfg.mutant_kind == Some(Mutant::LostTagDelete);
    let faults = StorageFaults { max_latency: Duration::from_millis(2), lost_tag_deletes, ..Default::default() };
    let storage = cfg.storage(faults);
    for name in ["r1", "r2"] {
        let host = crate::registry_host(name, storage.clone(), cfg, Vec::new());
        sim.host(name, move || host.clone().serve());
    }
    let layer: Vec<u8> = (0..5_000u32).map(|i| (i ^ cfg.seed as u32) as u8).collect();
    let layer_d = Digest::of(Algorithm::Sha256, &layer);
    let config_d = Digest::of(Algorithm::Sha256, b"{}");
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2, "mediaType": OCI,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_d, "size": 2},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer_d, "size": layer.len()}],
    }))
    .unwrap();
    let manifest_d = Digest::of(Algorithm::Sha256, &manifest);
    let pushed = Arc::new(tokio::sync::Notify::new());
    {
        let client = Client::new("owner", cfg.trace.clone());
        let (violations, deleted, pushed) = (violations.clone(), deleted.clone(), pushed.clone());
        let (layer, manifest, layer_d, config_d, manifest_d) =
            (layer.clone(), manifest.clone(), layer_d.clone(), config_d.clone(), manifest_d.clone());
        let delete_after = Duration::from_millis(20 + cfg.seed % 40);
        sim.client("owner", async move {
            client
                .send("r1", Method::POST, &format!("/v2/app/blobs/uploads/?digest={config_d}"), &[], b"{}".to_vec())
                .await?;
            client.send("r1", Method::POST, &format!("/v2/app/blobs/uploads/?digest={layer_d}"), &[], layer).await?;
            let r = client.send("r1", Method::PUT, "/v2/app/manifests/v1", &[("content-type", OCI)], manifest).await?;
            if r.status != 201 {
                return Err(format!("setup push answered {}", r.status).into());
            }
            pushed.notify_waiters();
            tokio::time::sleep(delete_after).await;
            let r = client.send("r1", Method::DELETE, &format!("/v2/app/manifests/{manifest_d}"), &[], vec![]).await?;
            if r.status != 202 {
                violations.lock().unwrap().push(format!("delete answered {}", r.status));
                return Ok(());
            }
            *deleted.lock().unwrap() = true;
            for host in ["r1", "r2"] {
                let r = client.send(host, Method::GET, "/v2/app/tags/list", &[], vec![]).await?;
                let tags: serde_json::Value = serde_json::from_slice(&r.body).unwrap_or_default();
                if tags["tags"].as_array().is_some_and(|t| t.iter().any(|t| t == "v1")) {
                    violations.lock().unwrap().push(format!("{host}: the deleted manifest's tag is still listed"));
                }
                for path in ["/v2/app/manifests/v1".to_owned(), format!("/v2/app/manifests/{manifest_d}")] {
                    let r = client.send(host, Method::GET, &path, &[("accept", OCI)], vec![]).await?;
                    if r.status != 404 {
                        violations
                            .lock()
                            .unwrap()
                            .push(format!("{host}{path} answered {} after the delete was acknowledged", r.status));
                    }
                }
            }
            Ok(())
        });
    }
    {
        let client = Client::new("puller", cfg.trace.clone());
        let (violations, deleted) = (violations.clone(), deleted.clone());
        sim.client("puller", async move {
            pushed.notified().await;
            for _ in 0..40 {
                let was_deleted = *deleted.lock().unwrap();
                let r = client.send("r2", Method::GET, "/v2/app/manifests/v1", &[("accept", OCI)], vec![]).await?;
                match r.status.as_u16() {
                    404 => {}
                    200 if was_deleted => violations
                        .lock()
                        .unwrap()
                        .push("a pull by tag succeeded after the delete was acknowledged".into()),
                    200 => {
                        let b =
                            client.send("r2", Method::GET, &format!("/v2/app/blobs/{layer_d}"), &[], vec![]).await?;
                        if b.status != 200 || b.body[..] != layer[..] {
                            violations.lock().unwrap().push(format!("a served manifest's layer answered {}", b.status));
                        }
                    }
                    s => violations.lock().unwrap().push(format!("a pull answered {s}")),
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            Ok(())
        });
    }
    if let Err(e) = sim.run() {
        violations.lock().unwrap().push(format!("simulation failed: {e}"));
    }
    std::mem::take(&mut *violations.lock().unwrap())
}
