//! Garbage collection running on every instance while images are pushed the
//! way clients push them (blobs first, a pause, HEAD each blob, then the
//! manifest), one image is deleted, and one blob is never referenced. No
//! blob a push still needs is collected; every acknowledged manifest keeps
//! resolving; what nothing references is collected once the grace is over.

use super::{Mutant, RunConfig, Scenario};
use crate::net::Client;
use crate::storage::{FaultyStorage, StorageFaults};
use drydock_spec::{Algorithm, Digest};
use http::Method;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub fn scenario() -> Scenario {
    Scenario {
        name: "gc-race",
        description: "garbage collection on every instance racing image pushes, a delete and an orphan blob",
        origin: "distribution's garbage-collect must run read-only: it deletes blobs a concurrent push uploaded but has not referenced yet (distribution/distribution#1301)",
        mutant: Mutant::GcWithoutGrace,
        catch_within: 5,
        run,
    }
}

/// Unreferenced blobs are kept this long after their last touch.
const GRACE: Duration = Duration::from_millis(300);
/// How often each instance collects.
const INTERVAL: Duration = Duration::from_millis(30);
/// By then an unreferenced blob must be gone: the grace, three collections
/// (storage faults can fail one) and room for latency.
const SURELY_COLLECTED: Duration = Duration::from_millis(300 + 3 * 30 + 60);
const HOSTS: [&str; 2] = ["r1", "r2"];
const OCI: &str = "application/vnd.oci.image.manifest.v1+json";

type Violations = Arc<Mutex<Vec<String>>>;

fn manifest(config: &(Digest, Vec<u8>), layers: &[(Digest, Vec<u8>)]) -> Vec<u8> {
    let layers: Vec<_> = layers
        .iter()
        .map(|(d, b)| serde_json::json!({"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": d, "size": b.len()}))
        .collect();
    serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2, "mediaType": OCI,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config.0, "size": config.1.len()},
        "layers": layers,
    }))
    .unwrap()
}

/// Pushes a blob, retrying faults; true once acknowledged.
async fn push_blob(client: &Client, repo: &str, data: &[u8], first_host: usize) -> bool {
    let d = Digest::of(Algorithm::Sha256, data);
    for attempt in 0..5 {
        let host = HOSTS[(first_host + attempt) % 2];
        let path = format!("/v2/{repo}/blobs/uploads/?digest={d}");
        if client.send(host, Method::POST, &path, &[], data.to_vec()).await.is_ok_and(|r| r.status == 201) {
            return true;
        }
    }
    false
}

fn run(cfg: &RunConfig) -> Vec<String> {
    let violations: Violations = Arc::default();
    let mut sim = crate::builder(cfg.seed).build();
    let faults = StorageFaults { error_per_10k: 20, max_latency: Duration::from_millis(2), ..Default::default() };
    let storage = Arc::new(FaultyStorage::new(cfg.seed, faults, cfg.trace.clone()));
    for name in HOSTS {
        let mut host = crate::registry_host(name, storage.clone(), cfg, Vec::new());
        host.gc = Some((GRACE, INTERVAL));
        sim.host(name, move || host.clone().serve());
    }
    for pusher in 0..2usize {
        let client = Client::new(format!("pusher{pusher}"), cfg.trace.clone());
        let (v, seed) = (violations.clone(), cfg.seed);
        sim.client(format!("pusher{pusher}"), async move {
            let repo = format!("gc/app{pusher}");
            tokio::time::sleep(Duration::from_millis((seed * 7 + pusher as u64 * 13) % 40)).await;
            let mut blobs = Vec::new();
            for n in 0..3usize {
                // One layer is shared by both images.
                let data = if n == 1 {
                    format!("shared layer of seed {seed}").into_bytes()
                } else {
                    format!("blob {n} of image {pusher}, seed {seed}").into_bytes()
                };
                if !push_blob(&client, &repo, &data, n + pusher).await {
                    return Ok(()); // storage faults won; nothing to hold the registry to
                }
                blobs.push((Digest::of(Algorithm::Sha256, &data), data));
            }
            let pushed_at = tokio::time::Instant::now();
            // A client building its manifest; well inside the grace.
            tokio::time::sleep(Duration::from_millis((seed * 31 + pusher as u64 * 17) % 150)).await;
            for (i, (d, _)) in blobs.iter().enumerate() {
                let host = HOSTS[(i + pusher) % 2];
                let r = client.send(host, Method::HEAD, &format!("/v2/{repo}/blobs/{d}"), &[], vec![]).await;
                if r.is_ok_and(|r| r.status == 404) && pushed_at.elapsed() < GRACE {
                    v.lock().unwrap().push(format!(
                        "{host}: blob {i} answered 404 {} ms after its push was acknowledged",
                        pushed_at.elapsed().as_millis()
                    ));
                }
            }
            let body = manifest(&blobs[0], &blobs[1..]);
            let md = Digest::of(Algorithm::Sha256, &body);
            let mut acked = false;
            for attempt in 0..4 {
                let host = HOSTS[(attempt + pusher) % 2];
                let path = format!("/v2/{repo}/manifests/latest");
                let Ok(r) = client.send(host, Method::PUT, &path, &[("content-type", OCI)], body.clone()).await else {
                    continue;
                };
                if r.status == 201 {
                    acked = true;
                    break;
                }
                if r.status == 400 {
                    v.lock().unwrap().push(format!(
                        "{host}: manifest over blobs acknowledged {} ms ago refused: {}",
                        pushed_at.elapsed().as_millis(),
                        String::from_utf8_lossy(&r.body)
                    ));
                    return Ok(());
                }
            }
            if !acked {
                return Ok(());
            }
            // Pusher 1 deletes its image again; pusher 0's must keep resolving
            // through collections long past the grace.
            if pusher == 1 {
                tokio::time::sleep(Duration::from_millis(seed % 50)).await;
                let path = format!("/v2/{repo}/manifests/{md}");
                for host in HOSTS {
                    if client.send(host, Method::DELETE, &path, &[], vec![]).await.is_ok_and(|r| r.status == 202) {
                        break;
                    }
                }
                return Ok(());
            }
            for round in 0..8 {
                tokio::time::sleep(INTERVAL * 2).await;
                let host = HOSTS[round % 2];
                for (i, (d, data)) in blobs.iter().enumerate() {
                    let r = client.send(host, Method::GET, &format!("/v2/{repo}/blobs/{d}"), &[], vec![]).await;
                    match r {
                        Ok(r) if r.status == 404 => v
                            .lock()
                            .unwrap()
                            .push(format!("{host}: blob {i} of an acknowledged manifest was collected")),
                        Ok(r) if r.status == 200 && r.body[..] != data[..] => {
                            v.lock().unwrap().push(format!("{host}: blob {i} reads back other bytes"))
                        }
                        _ => {}
                    }
                }
            }
            Ok(())
        });
    }
    {
        // A blob pushed and never referenced is collected once the grace is over.
        let client = Client::new("orphaner", cfg.trace.clone());
        let (v, seed) = (violations.clone(), cfg.seed);
        sim.client("orphaner", async move {
            let data = format!("orphan of seed {seed}").into_bytes();
            let d = Digest::of(Algorithm::Sha256, &data);
            if !push_blob(&client, "gc/orphans", &data, seed as usize).await {
                return Ok(());
            }
            tokio::time::sleep(SURELY_COLLECTED).await;
            let path = format!("/v2/gc/orphans/blobs/{d}");
            for host in HOSTS {
                if client.send(host, Method::HEAD, &path, &[], vec![]).await.is_ok_and(|r| r.status == 200) {
                    v.lock()
                        .unwrap()
                        .push(format!("{host}: a blob unreferenced for {SURELY_COLLECTED:?} was never collected"));
                }
            }
            Ok(())
        });
    }
    if let Err(e) = sim.run() {
        violations.lock().unwrap().push(format!("simulation failed: {e}"));
    }
    std::mem::take(&mut *violations.lock().unwrap())
}
