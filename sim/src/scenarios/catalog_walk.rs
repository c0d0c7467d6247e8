//! The catalog walked page by page while pushes create repositories,
//! nested in each other and beside each other (`a`, `a/b`, `a-b`, `a.z`),
//! through two instances on faulty storage. Pages are walked lazily, in
//! lexical order of full names, and resume after `last` (`registry/
//! catalog.rs`): whatever page size and boundary the seed draws, a whole
//! walk must list names in strictly increasing order, each once, and hold
//! every repository whose push was acknowledged before the walk began.

use super::{Mutant, RunConfig, Scenario};
use crate::net::Client;
use crate::storage::StorageFaults;
use drydock_spec::{Algorithm, Digest};
use http::Method;
use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Repository names whose order and nesting make page boundaries tricky:
/// a name, its children, and siblings sorting between them.
const NAMES: [&str; 10] =
    ["cat/a", "cat/a/b", "cat/a/b/c", "cat/a-b", "cat/a.z", "cat/a/b-c", "cat/ab", "cat/b", "cat/b/a", "cat/a0"];
const PUSHERS: usize = 2;
/// Whole walks of the catalog the walker makes.
const WALKS: usize = 8;
/// Attempts at one page before the walk is abandoned (storage faults).
const PAGE_ATTEMPTS: usize = 4;

pub fn scenario() -> Scenario {
    Scenario {
        name: "catalog-walk",
        description: "the catalog walked in pages of seeded sizes while pushes create nested repositories through two instances",
        origin: "drydock#11: catalog pages made O(page) by a lazy walk that resumes after `last`; a walk that treats `last` as done loses the repositories below it",
        mutant: Mutant::CatalogSkipsBelowLast,
        catch_within: 10,
        run,
        generated_ops: None,
        storage: None,
    }
}

fn rng(seed: u64, salt: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed.wrapping_mul(1_000_003).wrapping_add(salt))
}

fn run(cfg: &RunConfig) -> Vec<String> {
    let violations = Arc::new(Mutex::new(Vec::new()));
    let acked: Arc<Mutex<BTreeSet<String>>> = Arc::default();
    let mut sim = crate::builder(cfg.seed).build();
    let faults = StorageFaults { error_per_10k: 60, max_latency: Duration::from_millis(2), ..Default::default() };
    let storage = cfg.storage(faults);
    for name in ["r1", "r2"] {
        let host = crate::registry_host(name, storage.clone(), cfg, Vec::new());
        sim.host(name, move || host.clone().serve());
    }
    let data = b"a layer in every repository".to_vec();
    let digest = Digest::of(Algorithm::Sha256, &data);
    // The seed deals the names to the pushers in its own order.
    let mut order: Vec<&'static str> = NAMES.to_vec();
    let mut shuffle = rng(cfg.seed, 99);
    for i in (1..order.len()).rev() {
        order.swap(i, shuffle.next_u32() as usize % (i + 1));
    }
    for p in 0..PUSHERS {
        let client = Client::new(format!("pusher{p}"), cfg.trace.clone());
        let names: Vec<&'static str> = order.iter().skip(p).step_by(PUSHERS).copied().collect();
        let (acked, data, digest) = (acked.clone(), data.clone(), digest.clone());
        let mut rng = rng(cfg.seed, p as u64);
        sim.client(format!("pusher{p}"), async move {
            for name in names {
                tokio::time::sleep(Duration::from_millis(u64::from(rng.next_u32() % 6))).await;
                let host = if rng.next_u32().is_multiple_of(2) { "r1" } else { "r2" };
                let path = format!("/v2/{name}/blobs/uploads/?digest={digest}");
                for _ in 0..PAGE_ATTEMPTS {
                    if let Ok(r) = client.send(host, Method::POST, &path, &[], data.clone()).await
                        && r.status == 201
                    {
                        acked.lock().unwrap().insert(name.to_owned());
                        break;
                    }
                }
            }
            Ok(())
        });
    }
    let walker = Client::new("walker", cfg.trace.clone());
    let (acked, violations_w) = (acked.clone(), violations.clone());
    let mut rng = rng(cfg.seed, 7);
    sim.client("walker", async move {
        for walk in 0..WALKS {
            tokio::time::sleep(Duration::from_millis(u64::from(rng.next_u32() % 8))).await;
            let before: BTreeSet<String> = acked.lock().unwrap().clone();
            let n = 1 + rng.next_u32() as usize % 3;
            let host = if rng.next_u32().is_multiple_of(2) { "r1" } else { "r2" };
            let Some(seen) = walk_catalog(&walker, host, n).await else { continue };
            let mut problems = Vec::new();
            if let Some(w) = seen.windows(2).find(|w| w[0] >= w[1]) {
                problems.push(format!("{:?} listed before {:?}", w[0], w[1]));
            }
            let listed: BTreeSet<&String> = seen.iter().collect();
            problems.extend(
                before.iter().filter(|name| !listed.contains(name)).map(|name| format!("acknowledged {name} missing")),
            );
            for p in problems {
                violations_w.lock().unwrap().push(format!("walk {walk} on {host} with n={n}: {p} (walk: {seen:?})"));
            }
        }
        Ok(())
    });
    if let Err(e) = sim.run() {
        violations.lock().unwrap().push(format!("simulation failed: {e}"));
    }
    std::mem::take(&mut *violations.lock().unwrap())
}

/// Every name of one walk of the catalog in pages of `n`, following `last`;
/// `None` when a page kept failing (storage faults).
async fn walk_catalog(client: &Client, host: &str, n: usize) -> Option<Vec<String>> {
    let mut seen: Vec<String> = Vec::new();
    loop {
        let path = match seen.last() {
            None => format!("/v2/_catalog?n={n}"),
            Some(last) => format!("/v2/_catalog?n={n}&last={last}"),
        };
        let mut page = None;
        for _ in 0..PAGE_ATTEMPTS {
            if let Ok(r) = client.send(host, Method::GET, &path, &[], vec![]).await
                && r.status == 200
            {
                page = Some(r);
                break;
            }
        }
        let page = page?;
        let body: serde_json::Value = serde_json::from_slice(&page.body).ok()?;
        let names: Vec<String> =
            body["repositories"].as_array()?.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect();
        let more = page.header("link").is_some();
        seen.extend(names);
        if !more {
            return Some(seen);
        }
    }
}
