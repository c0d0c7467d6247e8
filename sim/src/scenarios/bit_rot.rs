//! Stored blobs damaged behind the registries' backs — a bad disk, another
//! program writing to shared storage — while clients pull them; then the
//! genuine content is pushed again.
//!
//! Oracle: the universal one (no instance ever serves bytes that do not hash
//! to their digest: a small damaged blob is missing, a large one's download
//! never completes), and once the re-push is acknowledged, both instances
//! serve the blob intact again.

use super::{Mutant, RunConfig, Scenario};
use crate::net::Client;
use crate::storage::StorageFaults;
use bytes::Bytes;
use drydock_reference::storage::StorageDriver;
use drydock_spec::{Algorithm, Digest};
use http::Method;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const HOSTS: [&str; 2] = ["r1", "r2"];
const REPO: &str = "rot/app";

pub fn scenario() -> Scenario {
    Scenario {
        name: "bit-rot",
        description: "stored blobs damaged behind the registries' backs while clients pull them, then pushed again",
        origin: "distribution serves whatever its storage holds; drydock#10: a blob found not to match its digest is never served, and the next push repairs it",
        mutant: Mutant::ServeUnverified,
        catch_within: 5,
        run,
        generated_ops: None,
    }
}

/// A small blob (read whole and checked before answering) and a large one
/// (checked as it streams).
fn blobs(seed: u64) -> Vec<Vec<u8>> {
    let bytes = |len: usize, salt: u64| -> Vec<u8> {
        (0..len).map(|i| ((i as u64).wrapping_mul(0x9e37_79b9) ^ seed.wrapping_mul(31) ^ salt) as u8).collect()
    };
    vec![bytes(2_000 + (seed % 40) as usize * 1_000, 1), bytes((1 << 20) + 200_000 + (seed % 5) as usize * 50_000, 2)]
}

/// Damages `data` one of three ways, drawn from `pick`.
fn damage(data: &[u8], pick: u64) -> (Vec<u8>, &'static str) {
    let mut out = data.to_vec();
    match pick % 3 {
        0 => {
            let at = (pick as usize / 3) % out.len();
            out[at] ^= 0x5a;
            (out, "a byte flipped")
        }
        1 => {
            out.truncate(out.len() / 2);
            (out, "cut short")
        }
        _ => {
            out.extend_from_slice(b"garbage from elsewhere");
            (out, "grown")
        }
    }
}

fn blob_path(d: &Digest) -> String {
    format!("/docker/registry/v2/blobs/{}/{}/{}/data", d.algorithm(), &d.hex()[..2], d.hex())
}

async fn push(client: &Client, host: &str, data: &[u8]) -> bool {
    let d = Digest::of(Algorithm::Sha256, data);
    let path = format!("/v2/{REPO}/blobs/uploads/?digest={d}");
    for _ in 0..5 {
        if let Ok(r) = client.send(host, Method::POST, &path, &[], data.to_vec()).await
            && r.status == 201
        {
            return true;
        }
    }
    false
}

fn run(cfg: &RunConfig) -> Vec<String> {
    let violations: Arc<Mutex<Vec<String>>> = Arc::default();
    let mut sim = crate::builder(cfg.seed).build();
    let storage = cfg.storage(StorageFaults { max_latency: Duration::from_millis(2), ..Default::default() });
    for name in HOSTS {
        let host = crate::registry_host(name, storage.clone(), cfg, Vec::new());
        sim.host(name, move || host.clone().serve());
    }
    let contents = blobs(cfg.seed);
    let pushed = Arc::new(AtomicBool::new(false));
    let repaired = Arc::new(AtomicBool::new(false));
    {
        let client = Client::new("pusher", cfg.trace.clone());
        let (contents, pushed, repaired, storage, v) =
            (contents.clone(), pushed.clone(), repaired.clone(), storage.clone(), violations.clone());
        let (seed, trace) = (cfg.seed, cfg.trace.clone());
        sim.client("pusher", async move {
            for data in &contents {
                if !push(&client, "r1", data).await {
                    v.lock().unwrap().push("the first push was never acknowledged".to_owned());
                    return Ok(());
                }
            }
            pushed.store(true, Ordering::Relaxed);
            // The damage, at a seeded moment while the puller reads.
            tokio::time::sleep(Duration::from_millis(5 + seed % 30)).await;
            for (i, data) in contents.iter().enumerate() {
                let d = Digest::of(Algorithm::Sha256, data);
                let (bad, how) = damage(data, seed.wrapping_mul(7).wrapping_add(i as u64));
                trace.record("chaos", format!("fault: the stored bytes of {d} are {how}"));
                storage.contents().put_content(&blob_path(&d), Bytes::from(bad)).await.map_err(|e| e.to_string())?;
            }
            tokio::time::sleep(Duration::from_millis(40)).await;
            // The genuine bytes again, through the other instance: a repair.
            for data in &contents {
                if !push(&client, "r2", data).await {
                    v.lock().unwrap().push("the repairing push was never acknowledged".to_owned());
                    return Ok(());
                }
            }
            repaired.store(true, Ordering::Relaxed);
            for host in HOSTS {
                for data in &contents {
                    let d = Digest::of(Algorithm::Sha256, data);
                    let r = client.send(host, Method::GET, &format!("/v2/{REPO}/blobs/{d}"), &[], vec![]).await;
                    match r {
                        Ok(r) if r.status == 200 && r.body[..] == data[..] => {}
                        Ok(r) => v.lock().unwrap().push(format!(
                            "{host}: after the repairing push {d} answers {} with {} bytes",
                            r.status.as_u16(),
                            r.body.len()
                        )),
                        Err(e) => v.lock().unwrap().push(format!("{host}: after the repairing push {d}: {e}")),
                    }
                }
            }
            Ok(())
        });
    }
    {
        // Pulls throughout; the ledger checks every byte served.
        let client = Client::new("puller", cfg.trace.clone());
        let (contents, pushed, repaired) = (contents.clone(), pushed.clone(), repaired.clone());
        sim.client("puller", async move {
            while !pushed.load(Ordering::Relaxed) {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            let mut i = 0usize;
            while !repaired.load(Ordering::Relaxed) && i < 200 {
                let data = &contents[i % contents.len()];
                let d = Digest::of(Algorithm::Sha256, data);
                let _ = client.send(HOSTS[i % 2], Method::GET, &format!("/v2/{REPO}/blobs/{d}"), &[], vec![]).await;
                tokio::time::sleep(Duration::from_millis(3)).await;
                i += 1;
            }
            Ok(())
        });
    }
    if let Err(e) = sim.run() {
        violations.lock().unwrap().push(format!("simulation failed: {e}"));
    }
    std::mem::take(&mut *violations.lock().unwrap())
}
