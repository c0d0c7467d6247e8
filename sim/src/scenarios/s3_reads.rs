//! Large blobs pulled whole and in seeded ranges from two instances over an
//! object store whose streamed reads keep breaking off partway — reset
//! connections, requests timing out under slow readers — at seeded points.
//!
//! Oracle: besides the universal one, every whole pull answers 200 with
//! exactly the blob's bytes (a break is the registry's to recover from,
//! not the client's), and every range answers 206 with exactly that range
//! of them: ranges read before any whole read are checked by nothing else.

use super::{Mutant, RunConfig, Scenario};
use crate::net::Client;
use crate::storage::{StorageFaults, StorageModel};
use drydock_spec::{Algorithm, Digest};
use http::Method;
use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const HOSTS: [&str; 2] = ["r1", "r2"];
const REPO: &str = "reads/app";
/// Pulls each client makes.
const PULLS: usize = 12;
/// Chance in 10,000 that a stream breaks: most reads meet one.
const STREAM_BREAKS: u32 = 4_000;

pub fn scenario() -> Scenario {
    Scenario {
        name: "s3-reads",
        description: "large blobs pulled whole and in ranges while the object store's streamed reads break off partway",
        origin: "drydock#14: an object store's read is one long request that can break anywhere; a retry must resume exactly where the bytes stopped",
        mutant: Mutant::ResumeAtWindowStart,
        catch_within: 5,
        run,
        generated_ops: None,
        storage: Some(StorageModel::S3),
    }
}

/// Two blobs above the size read whole before serving, so both stream.
fn blobs(seed: u64) -> Vec<Vec<u8>> {
    let bytes = |len: usize, salt: u64| -> Vec<u8> {
        (0..len)
            .map(|i| ((i as u64).wrapping_mul(0x9e37_79b9).rotate_left(7) ^ seed.wrapping_mul(131) ^ salt) as u8)
            .collect()
    };
    vec![
        bytes((1 << 20) + 100_000 + (seed % 7) as usize * 70_000, 3),
        bytes((2 << 20) + (seed % 3) as usize * 333_333, 4),
    ]
}

fn run(cfg: &RunConfig) -> Vec<String> {
    let violations: Arc<Mutex<Vec<String>>> = Arc::default();
    let mut sim = crate::builder(cfg.seed).build();
    let storage = cfg.storage(StorageFaults {
        max_latency: Duration::from_millis(2),
        stream_breaks_per_10k: STREAM_BREAKS,
        ..Default::default()
    });
    for name in HOSTS {
        let host = crate::registry_host(name, storage.clone(), cfg, Vec::new());
        sim.host(name, move || host.clone().serve());
    }
    let contents = Arc::new(blobs(cfg.seed));
    let pushed = Arc::new(std::sync::atomic::AtomicBool::new(false));
    {
        let client = Client::new("pusher", cfg.trace.clone());
        let (contents, pushed, v) = (contents.clone(), pushed.clone(), violations.clone());
        sim.client("pusher", async move {
            for data in contents.iter() {
                let d = Digest::of(Algorithm::Sha256, data);
                let path = format!("/v2/{REPO}/blobs/uploads/?digest={d}");
                match client.send("r1", Method::POST, &path, &[], data.clone()).await {
                    Ok(r) if r.status == 201 => {}
                    other => {
                        v.lock().unwrap().push(format!("pushing {d}: {:?}", other.map(|r| r.status)));
                        return Ok(());
                    }
                }
            }
            pushed.store(true, std::sync::atomic::Ordering::Relaxed);
            Ok(())
        });
    }
    for c in 0..2u64 {
        let name = format!("puller{c}");
        let client = Client::new(&name, cfg.trace.clone());
        let (contents, pushed, v) = (contents.clone(), pushed.clone(), violations.clone());
        let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed ^ (0x5e_ad00 + c));
        sim.client(name, async move {
            while !pushed.load(std::sync::atomic::Ordering::Relaxed) {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            for _ in 0..PULLS {
                let data = &contents[rng.next_u32() as usize % contents.len()];
                let host = HOSTS[rng.next_u32() as usize % HOSTS.len()];
                let d = Digest::of(Algorithm::Sha256, data);
                let path = format!("/v2/{REPO}/blobs/{d}");
                if rng.next_u32() % 2 == 0 {
                    match client.send(host, Method::GET, &path, &[], vec![]).await {
                        Ok(r) if r.status == 200 && r.body[..] == data[..] => {}
                        Ok(r) => v.lock().unwrap().push(format!(
                            "{host} answered a whole pull of {d} with {} and {} bytes",
                            r.status.as_u16(),
                            r.body.len()
                        )),
                        Err(e) => v.lock().unwrap().push(format!("{host}: a whole pull of {d} failed: {e}")),
                    }
                } else {
                    let len = data.len() as u64;
                    let first = rng.next_u64() % len;
                    let last = first + rng.next_u64() % (len - first);
                    let range = format!("bytes={first}-{last}");
                    let want = &data[first as usize..=last as usize];
                    match client.send(host, Method::GET, &path, &[("Range", &range)], vec![]).await {
                        Ok(r) if r.status == 206 && r.body[..] == *want => {}
                        Ok(r) => v.lock().unwrap().push(format!(
                            "{host} answered {range} of {d} with {} and {} bytes{}",
                            r.status.as_u16(),
                            r.body.len(),
                            if r.body.len() == want.len() { " unlike the blob's" } else { "" }
                        )),
                        Err(e) => v.lock().unwrap().push(format!("{host}: {range} of {d} failed: {e}")),
                    }
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
