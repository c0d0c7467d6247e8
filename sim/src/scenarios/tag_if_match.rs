//! Writers on two instances move one tag with `If-Match`: each reads what
//! the tag points at, then pushes a new manifest to it only if it still
//! points there. On a store honouring conditional writes that is a
//! compare-and-swap across instances.
//!
//! Oracle: every manifest is new, so a value the tag left never comes back:
//! no two acknowledged conditional pushes may start from the same value,
//! and once writes settle the tag holds the end of the chain the
//! acknowledged pushes form from the first value. (Storage errors are off:
//! a push answered 503 after its tag moved would hide a link of the chain.)

use super::{Mutant, OCI, RunConfig, Scenario};
use crate::net::Client;
use crate::storage::{StorageFaults, StorageModel};
use drydock_spec::{Algorithm, Digest};
use http::Method;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const HOSTS: [&str; 2] = ["r1", "r2"];
const WRITERS: usize = 3;
const ROUNDS: usize = 8;
const TAG: &str = "/v2/app/manifests/stable";

pub fn scenario() -> Scenario {
    Scenario {
        name: "tag-if-match",
        description: "writers on two instances move one tag with If-Match (read, then push only if unchanged) on an S3 store honouring conditional writes",
        origin: "drydock#14: If-Match checked by reading the tag, then writing it, lets two instances both pass the check (a lost update)",
        mutant: Mutant::TagCheckThenPut,
        catch_within: 10,
        run,
        generated_ops: None,
        storage: Some(StorageModel::S3),
    }
}

/// Acknowledged conditional pushes: the value each started from, and the
/// values it moved the tag to.
type Moves = Arc<Mutex<Vec<(String, String)>>>;

fn run(cfg: &RunConfig) -> Vec<String> {
    let violations: Arc<Mutex<Vec<String>>> = Arc::default();
    let moves: Moves = Arc::default();
    let first: Arc<Mutex<Option<String>>> = Arc::default();
    let mut sim = crate::builder(cfg.seed).build();
    let storage = cfg.storage(StorageFaults { max_latency: Duration::from_millis(3), ..Default::default() });
    for name in HOSTS {
        let host = crate::registry_host(name, storage.clone(), cfg, Vec::new());
        sim.host(name, move || host.clone().serve());
    }
    let config = Digest::of(Algorithm::Sha256, b"{}");
    let layer = Digest::of(Algorithm::Sha256, b"layer");
    {
        let setup = Client::new("setup", cfg.trace.clone());
        let (first, config, layer, v) = (first.clone(), config.clone(), layer.clone(), violations.clone());
        sim.client("setup", async move {
            for (data, d) in [(&b"{}"[..], &config), (&b"layer"[..], &layer)] {
                setup
                    .send("r1", Method::POST, &format!("/v2/app/blobs/uploads/?digest={d}"), &[], data.to_vec())
                    .await?;
            }
            let body = super::tag_manifest(&config, &layer, 99, 0);
            match setup.send("r1", Method::PUT, TAG, &[("content-type", OCI)], body.clone()).await? {
                r if r.status == 201 => *first.lock().unwrap() = Some(Digest::of(Algorithm::Sha256, &body).to_string()),
                r => v.lock().unwrap().push(format!("the first push answered {}", r.status.as_u16())),
            }
            Ok(())
        });
    }
    for w in 0..WRITERS {
        let client = Client::new(format!("writer{w}"), cfg.trace.clone());
        let (first, moves, config, layer) = (first.clone(), moves.clone(), config.clone(), layer.clone());
        let seed = cfg.seed;
        sim.client(format!("writer{w}"), async move {
            while first.lock().unwrap().is_none() {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            tokio::time::sleep(Duration::from_micros((seed.wrapping_mul(7_919) + w as u64 * 1_337) % 3_000)).await;
            for round in 1..=ROUNDS {
                let host = HOSTS[(w + round + seed as usize) % HOSTS.len()];
                let Ok(read) = client.send(host, Method::GET, TAG, &[("accept", OCI)], vec![]).await else { continue };
                let Some(current) = read.header("docker-content-digest") else { continue };
                let body = super::tag_manifest(&config, &layer, w, round);
                let if_match = format!("\"{current}\"");
                let headers = [("content-type", OCI), ("if-match", if_match.as_str())];
                if let Ok(r) = client.send(host, Method::PUT, TAG, &headers, body.clone()).await
                    && r.status == 201
                {
                    moves.lock().unwrap().push((current, Digest::of(Algorithm::Sha256, &body).to_string()));
                }
            }
            Ok(())
        });
    }
    {
        let client = Client::new("auditor", cfg.trace.clone());
        let (first, moves, v) = (first.clone(), moves.clone(), violations.clone());
        sim.client("auditor", async move {
            tokio::time::sleep(Duration::from_secs(3)).await;
            let Some(first) = first.lock().unwrap().clone() else { return Ok(()) };
            let moves = moves.lock().unwrap().clone();
            let mut next: BTreeMap<&str, &str> = BTreeMap::new();
            for (from, to) in &moves {
                if let Some(other) = next.insert(from, to) {
                    v.lock().unwrap().push(format!(
                        "two conditional pushes from {from} were both acknowledged: to {other} and to {to}"
                    ));
                }
            }
            let mut end = first.as_str();
            let mut steps = 0;
            while let Some(to) = next.get(end) {
                end = to;
                steps += 1;
                if steps > moves.len() {
                    break;
                }
            }
            for host in HOSTS {
                let r = client.send(host, Method::GET, TAG, &[("accept", OCI)], vec![]).await?;
                let settled = r.header("docker-content-digest").unwrap_or_default();
                if settled != end {
                    v.lock().unwrap().push(format!(
                        "{host}: the settled tag is {settled}, not {end}, where the {} acknowledged pushes lead",
                        moves.len()
                    ));
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
