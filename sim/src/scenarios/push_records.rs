//! Large blobs pushed in chunks whose every step — each PATCH, the closing
//! PUT — lands on a seeded instance, through storage that fails now and
//! then (a failed PATCH is resumed from the status GET); then pulled whole
//! and in ranges from both instances.
//!
//! An instance keeps the piece hashes of an upload's bytes while it takes
//! every one of them, and a commit there turns them into the blob's record,
//! which every later read is checked against. Hashes an instance took of
//! bytes before another instance appended more are stale: used, they would
//! describe a different blob, and the genuine one would be refused.
//!
//! Oracle: besides the universal one, every whole pull answers 200 with
//! exactly the blob's bytes, and every range 206 with exactly its bytes.

use super::{Mutant, RunConfig, Scenario, range_end};
use crate::net::Client;
use crate::storage::StorageFaults;
use drydock_spec::{Algorithm, Digest};
use http::Method;
use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const HOSTS: [&str; 2] = ["r1", "r2"];
const REPO: &str = "records/app";
/// Pulls after the pushes.
const PULLS: usize = 8;
/// Tries per pull.
const PULL_TRIES: usize = 5;

pub fn scenario() -> Scenario {
    Scenario {
        name: "push-records",
        description: "large blobs pushed in chunks through both instances (each PATCH and the commit on a seeded one), then pulled whole and in ranges from both",
        origin: "drydock#15: a push records the piece hashes of the bytes it proves, so the first pull is checked at BLAKE3's speed; only hashes of every byte are a record",
        mutant: Mutant::RecordAnyOffset,
        catch_within: 10,
        run,
        generated_ops: None,
        storage: None,
    }
}

fn blob(seed: u64, salt: u64) -> Vec<u8> {
    let len = (1 << 20) + 50_000 + ((seed ^ salt) % 9) as usize * 150_000;
    (0..len)
        .map(|i| ((i as u64).wrapping_mul(0x9e37_79b9).rotate_left(5) ^ seed.wrapping_mul(77) ^ salt) as u8)
        .collect()
}

/// Pushes `data` in seeded chunks, each PATCH and the commit to a seeded
/// instance, resuming from the status GET after a failure. Whether it was
/// acknowledged.
async fn push(client: &Client, rng: &mut ChaCha8Rng, data: &[u8], d: &Digest) -> bool {
    let mut host = HOSTS[rng.next_u32() as usize % 2];
    let Ok(started) = client.send(host, Method::POST, &format!("/v2/{REPO}/blobs/uploads/"), &[], vec![]).await else {
        return false;
    };
    let Some(mut loc) = started.header("location").filter(|_| started.status == 202) else { return false };
    let mut at = 0;
    for _ in 0..40 {
        if at == data.len() {
            break;
        }
        host = HOSTS[rng.next_u32() as usize % 2];
        let end = (at + 1 + rng.next_u64() as usize % 700_000).min(data.len());
        let range = format!("{at}-{}", end - 1);
        let len = (end - at).to_string();
        let headers = [("content-range", range.as_str()), ("content-length", len.as_str())];
        match client.send(host, Method::PATCH, &loc, &headers, data[at..end].to_vec()).await {
            Ok(r) if r.status == 202 => {
                loc = r.header("location").unwrap_or(loc);
                at = range_end(&r).map_or(at, |end| end as usize);
            }
            _ => {
                let Ok(status) = client.send(HOSTS[rng.next_u32() as usize % 2], Method::GET, &loc, &[], vec![]).await
                else {
                    continue;
                };
                if status.status == 204 {
                    at = range_end(&status).unwrap_or(0) as usize;
                    loc = status.header("location").unwrap_or(loc);
                }
            }
        }
    }
    for _ in 0..6 {
        let host = HOSTS[rng.next_u32() as usize % 2];
        match client.send(host, Method::PUT, &format!("{loc}&digest={d}"), &[], vec![]).await {
            Ok(r) if r.status == 201 => return true,
            Ok(r) if r.status == 503 => continue,
            _ => return false,
        }
    }
    false
}

fn run(cfg: &RunConfig) -> Vec<String> {
    let violations: Arc<Mutex<Vec<String>>> = Arc::default();
    let mut sim = crate::builder(cfg.seed).build();
    let storage =
        cfg.storage(StorageFaults { max_latency: Duration::from_millis(2), error_per_10k: 300, ..Default::default() });
    for name in HOSTS {
        let host = crate::registry_host(name, storage.clone(), cfg, Vec::new());
        sim.host(name, move || host.clone().serve());
    }
    let contents = Arc::new([blob(cfg.seed, 1), blob(cfg.seed, 2)]);
    let client = Client::new("pusher", cfg.trace.clone());
    let (v, seed) = (violations.clone(), cfg.seed);
    sim.client("pusher", async move {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x09ec_04d5);
        let mut pushed = Vec::new();
        for data in contents.iter() {
            let d = Digest::of(Algorithm::Sha256, data);
            if push(&client, &mut rng, data, &d).await {
                pushed.push((data, d));
            }
        }
        for _ in 0..PULLS {
            let Some((data, d)) = pushed.get(rng.next_u32() as usize % pushed.len().max(1)) else { break };
            let host = HOSTS[rng.next_u32() as usize % 2];
            let path = format!("/v2/{REPO}/blobs/{d}");
            let (first, last) = match rng.next_u32() % 2 {
                0 => (0, data.len() - 1),
                _ => {
                    let first = rng.next_u64() as usize % data.len();
                    (first, first + rng.next_u64() as usize % (data.len() - first))
                }
            };
            let whole = first == 0 && last == data.len() - 1;
            let range = format!("bytes={first}-{last}");
            let headers: &[(&str, &str)] = if whole { &[] } else { &[("Range", &range)] };
            let want = &data[first..=last];
            // Storage errors may fail or cut a pull; the genuine bytes must
            // come through within a few tries.
            let mut failed = None;
            for _ in 0..PULL_TRIES {
                failed = match client.send(host, Method::GET, &path, headers, vec![]).await {
                    Ok(r) if r.status == if whole { 200 } else { 206 } && r.body[..] == *want => None,
                    Ok(r) if r.status == 200 || r.status == 206 => {
                        v.lock().unwrap().push(format!(
                            "{host} answered {} of {d} with {} and {} other bytes",
                            if whole { "a whole pull" } else { &range },
                            r.status.as_u16(),
                            r.body.len()
                        ));
                        None
                    }
                    Ok(r) => Some(format!("{}", r.status.as_u16())),
                    Err(e) => Some(e.to_string()),
                };
                if failed.is_none() {
                    break;
                }
            }
            if let Some(why) = failed {
                let what = if whole { "a whole pull".to_owned() } else { range };
                v.lock().unwrap().push(format!("{host} never served {what} of {d} in {PULL_TRIES} tries: {why}"));
            }
        }
        Ok(())
    });
    if let Err(e) = sim.run() {
        violations.lock().unwrap().push(format!("simulation failed: {e}"));
    }
    std::mem::take(&mut *violations.lock().unwrap())
}
