//! Garbage collection (removing untagged manifests too) running on every
//! instance while images are pushed the way clients push them (blobs first,
//! a pause, HEAD each blob, then the manifest; an index's child by digest
//! before the index by tag), one image is deleted, one stays untagged, and
//! one blob is never referenced. Nothing a push still needs is collected;
//! a tagged index keeps its child and the child's blobs; what nothing
//! references, or no tag reaches, goes once the grace is over.

use super::{Mutant, RunConfig, Scenario};
use crate::net::Client;
use crate::storage::StorageFaults;
use drydock_reference::registry::gc;
use drydock_spec::{Algorithm, Digest};
use http::Method;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub fn scenario() -> Scenario {
    Scenario {
        name: "gc-race",
        description: "garbage collection (with untagged manifests) on every instance racing image and index pushes, a delete, an orphan blob",
        origin: "distribution's garbage-collect must run read-only: it deletes blobs a concurrent push uploaded but has not referenced yet (distribution/distribution#3045: garbage collection during a push corrupts the pushed image)",
        mutant: Mutant::GcWithoutGrace,
        catch_within: 5,
        run,
        generated_ops: None,
        storage: None,
    }
}

/// Unreferenced blobs are kept this long after their last touch.
const GRACE: Duration = Duration::from_millis(300);
/// How often each instance collects.
const INTERVAL: Duration = Duration::from_millis(30);
/// By then an unreferenced blob must be gone: the grace, then ten
/// collection intervals, since storage faults abort a mark (and a run takes
/// a while under latency); 1 seed in 15,000 needed more than three.
const SURELY_COLLECTED: Duration = Duration::from_millis(300 + 10 * 30);
const HOSTS: [&str; 2] = ["r1", "r2"];
const OCI: &str = "application/vnd.oci.image.manifest.v1+json";
const INDEX: &str = "application/vnd.oci.image.index.v1+json";

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

enum Put {
    Acked,
    /// Refused as invalid: `(host, body)`.
    Refused(&'static str, String),
    /// Faults won; nothing acknowledged.
    Failed,
}

async fn put_manifest(client: &Client, repo: &str, reference: &str, media_type: &str, body: &[u8], turn: usize) -> Put {
    for attempt in 0..4 {
        let host = HOSTS[(attempt + turn) % 2];
        let path = format!("/v2/{repo}/manifests/{reference}");
        let Ok(r) = client.send(host, Method::PUT, &path, &[("content-type", media_type)], body.to_vec()).await else {
            continue;
        };
        match r.status.as_u16() {
            201 => return Put::Acked,
            400 | 404 => return Put::Refused(host, String::from_utf8_lossy(&r.body).into_owned()),
            _ => {}
        }
    }
    Put::Failed
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
    let storage = cfg.storage(faults);
    cfg.trace.ledger().collects_garbage();
    for name in HOSTS {
        let mut host = crate::registry_host(name, storage.clone(), cfg, Vec::new());
        let options = gc::Options { grace: GRACE, dry_run: false, delete_untagged: true };
        host.gc = Some((options, INTERVAL));
        sim.host(name, move || host.clone().serve());
    }
    for pusher in 0..3usize {
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
            // Pusher 0 pushes its image as the one child of an index: the
            // child by digest (untagged for a while), then the index by tag.
            // The others push theirs by tag (pusher 1) or by digest only
            // (pusher 2: untagged for good).
            let reference = if pusher == 1 { "latest".to_owned() } else { md.to_string() };
            let manifest_at = tokio::time::Instant::now();
            match put_manifest(&client, &repo, &reference, OCI, &body, pusher).await {
                Put::Acked => {}
                Put::Failed => return Ok(()),
                Put::Refused(host, why) => {
                    v.lock().unwrap().push(format!(
                        "{host}: manifest over blobs acknowledged {} ms ago refused: {why}",
                        pushed_at.elapsed().as_millis()
                    ));
                    return Ok(());
                }
            }
            if pusher == 2 {
                tokio::time::sleep(SURELY_COLLECTED).await;
                let path = format!("/v2/{repo}/manifests/{md}");
                for host in HOSTS {
                    let r = client.send(host, Method::HEAD, &path, &[("accept", OCI)], vec![]).await;
                    if r.is_ok_and(|r| r.status == 200) {
                        v.lock()
                            .unwrap()
                            .push(format!("{host}: a manifest untagged for {SURELY_COLLECTED:?} is still there"));
                    }
                }
                return Ok(());
            }
            if pusher == 1 {
                // Deleted again; its blobs become garbage.
                tokio::time::sleep(Duration::from_millis(seed % 50)).await;
                let path = format!("/v2/{repo}/manifests/{md}");
                for host in HOSTS {
                    if client.send(host, Method::DELETE, &path, &[], vec![]).await.is_ok_and(|r| r.status == 202) {
                        break;
                    }
                }
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis((seed * 13) % 200)).await;
            let index = serde_json::to_vec(&serde_json::json!({
                "schemaVersion": 2, "mediaType": INDEX,
                "manifests": [{"mediaType": OCI, "digest": md, "size": body.len()}],
            }))
            .unwrap();
            match put_manifest(&client, &repo, "latest", INDEX, &index, pusher).await {
                Put::Acked => {}
                Put::Failed => return Ok(()),
                Put::Refused(host, why) => {
                    v.lock().unwrap().push(format!(
                        "{host}: an index over a child pushed {} ms ago refused: {why}",
                        manifest_at.elapsed().as_millis()
                    ));
                    return Ok(());
                }
            }
            // The tagged index keeps its child and the child's blobs through
            // collections long past the grace.
            for round in 0..8 {
                tokio::time::sleep(INTERVAL * 2).await;
                let host = HOSTS[round % 2];
                let path = format!("/v2/{repo}/manifests/{md}");
                let r = client.send(host, Method::GET, &path, &[("accept", OCI)], vec![]).await;
                if r.is_ok_and(|r| r.status == 404) {
                    v.lock().unwrap().push(format!("{host}: the child of a tagged index was removed"));
                }
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
