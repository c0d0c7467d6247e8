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
        storage: None,
    }
}

/// The same damage after both instances have read every blob whole: their
/// later reads go by the piece hashes those reads recorded, ranges too.
pub fn after_pull_scenario() -> Scenario {
    Scenario {
        name: "rot-after-pull",
        description: "blobs read whole on both instances (recording their pieces), then damaged behind their backs and pulled whole and in ranges",
        origin: "a cache of digests already verified serves whatever storage holds later; drydock#15: reads after the first check every piece against the hashes it recorded",
        mutant: Mutant::VerifiedOnce,
        catch_within: 5,
        run: run_after_pull,
        generated_ops: None,
        storage: None,
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
    run_world(cfg, false)
}

/// Asks for one of three seeded parts of `data` (together, every byte);
/// what is wrong with the answer, if anything. A range is not the universal
/// oracle's to judge: the genuine bytes are compared here.
async fn pull_part(client: &Client, host: &str, data: &[u8], seed: u64, part: usize) -> Option<String> {
    let d = Digest::of(Algorithm::Sha256, data);
    let len = data.len() as u64;
    let cut = |k: u64| (seed.wrapping_mul(2_654_435_761).wrapping_add(k * 977) % (len / 3)) + k * len / 3;
    let bounds = [0, cut(1), cut(2), len];
    let (first, last) = (bounds[part] as usize, bounds[part + 1] as usize - 1);
    let range = format!("bytes={first}-{last}");
    let path = format!("/v2/{REPO}/blobs/{d}");
    match client.send(host, Method::GET, &path, &[("Range", &range)], vec![]).await {
        Ok(r) if r.status == 206 && r.body[..] != data[first..=last] => {
            Some(format!("{host} served {range} of {d} unlike the blob's bytes"))
        }
        _ => None,
    }
}

fn run_after_pull(cfg: &RunConfig) -> Vec<String> {
    run_world(cfg, true)
}

/// With `after_pull`, the damage waits until each instance has served each
/// blob whole, the puller also asks for ranges, and the repair waits until
/// every byte of every blob was asked of every instance after the damage.
fn run_world(cfg: &RunConfig, after_pull: bool) -> Vec<String> {
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
    let warmed = Arc::new(AtomicBool::new(!after_pull));
    let damaged = Arc::new(AtomicBool::new(false));
    let swept = Arc::new(AtomicBool::new(!after_pull));
    {
        let client = Client::new("pusher", cfg.trace.clone());
        let (contents, pushed, repaired, warmed, storage, v) =
            (contents.clone(), pushed.clone(), repaired.clone(), warmed.clone(), storage.clone(), violations.clone());
        let (damaged, swept) = (damaged.clone(), swept.clone());
        let (seed, trace) = (cfg.seed, cfg.trace.clone());
        sim.client("pusher", async move {
            for data in &contents {
                if !push(&client, "r1", data).await {
                    v.lock().unwrap().push("the first push was never acknowledged".to_owned());
                    return Ok(());
                }
            }
            pushed.store(true, Ordering::Relaxed);
            while !warmed.load(Ordering::Relaxed) {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            // The damage, at a seeded moment while the puller reads.
            tokio::time::sleep(Duration::from_millis(5 + seed % 30)).await;
            for (i, data) in contents.iter().enumerate() {
                let d = Digest::of(Algorithm::Sha256, data);
                let (bad, how) = damage(data, seed.wrapping_mul(7).wrapping_add(i as u64));
                trace.record("chaos", format!("fault: the stored bytes of {d} are {how}"));
                storage.contents().put_content(&blob_path(&d), Bytes::from(bad)).await.map_err(|e| e.to_string())?;
            }
            damaged.store(true, Ordering::Relaxed);
            tokio::time::sleep(Duration::from_millis(40)).await;
            while !swept.load(Ordering::Relaxed) {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
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
        let (contents, pushed, repaired, warmed, v) =
            (contents.clone(), pushed.clone(), repaired.clone(), warmed.clone(), violations.clone());
        let (damaged, swept) = (damaged.clone(), swept.clone());
        let seed = cfg.seed;
        sim.client("puller", async move {
            while !pushed.load(Ordering::Relaxed) {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            if !warmed.load(Ordering::Relaxed) {
                for host in HOSTS {
                    for data in &contents {
                        let d = Digest::of(Algorithm::Sha256, data);
                        let path = format!("/v2/{REPO}/blobs/{d}");
                        let mut served = false;
                        for _ in 0..20 {
                            if let Ok(r) = client.send(host, Method::GET, &path, &[], vec![]).await
                                && r.status == 200
                            {
                                served = true;
                                break;
                            }
                        }
                        if !served {
                            v.lock().unwrap().push(format!("{host} never served {d} whole before the damage"));
                        }
                    }
                }
                warmed.store(true, Ordering::Relaxed);
            }
            let mut i = 0usize;
            while !repaired.load(Ordering::Relaxed) && i < 200 {
                if damaged.load(Ordering::Relaxed) && !swept.load(Ordering::Relaxed) {
                    // Every blob from every host, whole and in parts.
                    for host in HOSTS {
                        for data in &contents {
                            let d = Digest::of(Algorithm::Sha256, data);
                            let _ = client.send(host, Method::GET, &format!("/v2/{REPO}/blobs/{d}"), &[], vec![]).await;
                            for part in 0..3 {
                                if let Some(bad) = pull_part(&client, host, data, seed, part).await {
                                    v.lock().unwrap().push(bad);
                                }
                            }
                        }
                    }
                    swept.store(true, Ordering::Relaxed);
                }
                let data = &contents[i % contents.len()];
                // Every blob from every host in turn.
                let host = HOSTS[(i / contents.len()) % 2];
                if after_pull && i % 3 == 2 {
                    if let Some(bad) = pull_part(&client, host, data, seed, (i / 3) % 3).await {
                        v.lock().unwrap().push(bad);
                    }
                } else {
                    let d = Digest::of(Algorithm::Sha256, data);
                    let _ = client.send(host, Method::GET, &format!("/v2/{REPO}/blobs/{d}"), &[], vec![]).await;
                }
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
