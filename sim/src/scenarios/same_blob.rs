//! Concurrent pushes of one blob through two instances, with storage errors
//! and latency: every acknowledged push reads back exactly, HEAD 200 implies
//! GET 200, and no storage fault turns into a 500.

use super::{Mutant, RunConfig, Scenario};
use crate::net::Client;
use crate::storage::StorageFaults;
use drydock_spec::{Algorithm, Digest};
use http::Method;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub fn scenario() -> Scenario {
    Scenario {
        name: "same-blob",
        description: "three clients push one blob through two instances while storage fails and stalls",
        origin: "distribution's blob writer races (two uploads moving to one blob path) and 500s on backend errors; a driver whose move copies in place (a cross-device rename fallback) exposes a growing blob",
        mutant: Mutant::NonAtomicBlobMove,
        catch_within: 10,
        run,
        generated_ops: None,
        storage: None,
    }
}

fn blob_bytes(seed: u64) -> Vec<u8> {
    (0..40_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> (seed % 7)) as u8).collect()
}

fn run(cfg: &RunConfig) -> Vec<String> {
    let violations = Arc::new(Mutex::new(Vec::new()));
    let mut sim = crate::builder(cfg.seed).build();
    let faults = StorageFaults {
        error_per_10k: 150,
        max_latency: Duration::from_millis(3),
        non_atomic_moves: cfg.mutant,
        ..Default::default()
    };
    let storage = cfg.storage(faults);
    for name in ["r1", "r2"] {
        let host = crate::registry_host(name, storage.clone(), cfg, Vec::new());
        sim.host(name, move || host.clone().serve());
    }
    let first_ack = Arc::new(Mutex::new(false));
    {
        // Polls both instances from the first acknowledgement on: an
        // acknowledged blob must never be missing, even while other pushes
        // of it commit.
        let client = Client::new("reader", cfg.trace.clone());
        let (first_ack, violations) = (first_ack.clone(), violations.clone());
        let data = blob_bytes(cfg.seed);
        let digest = Digest::of(Algorithm::Sha256, &data);
        sim.client("reader", async move {
            while !*first_ack.lock().unwrap() {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            for i in 0..40 {
                let host = if i % 2 == 0 { "r1" } else { "r2" };
                match client.send(host, Method::GET, &format!("/v2/shared/blobs/{digest}"), &[], vec![]).await {
                    Ok(r) if r.status == 404 => {
                        violations.lock().unwrap().push(format!("{host}: an acknowledged blob answered 404"))
                    }
                    Ok(r) if r.status == 200 && r.body[..] != data[..] => violations.lock().unwrap().push(format!(
                        "{host}: an acknowledged blob served {} bytes that are not its content",
                        r.body.len()
                    )),
                    _ => {}
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            Ok(())
        });
    }
    let data = blob_bytes(cfg.seed);
    let digest = Digest::of(Algorithm::Sha256, &data);
    for (i, target) in ["r1", "r2", "r1"].into_iter().enumerate() {
        let client = Client::new(format!("c{i}"), cfg.trace.clone());
        let (data, digest, violations, first_ack) =
            (data.clone(), digest.clone(), violations.clone(), first_ack.clone());
        sim.client(format!("c{i}"), async move {
            let path = format!("/v2/shared/blobs/uploads/?digest={digest}");
            let mut acked = false;
            for _ in 0..6 {
                match client.send(target, Method::POST, &path, &[], data.clone()).await {
                    Ok(r) if r.status == 201 => {
                        acked = true;
                        *first_ack.lock().unwrap() = true;
                        break;
                    }
                    Ok(r) if r.status == 500 => {
                        violations.lock().unwrap().push(format!("{}: POST answered 500", client.name))
                    }
                    _ => tokio::time::sleep(Duration::from_millis(20)).await,
                }
            }
            if !acked {
                return Ok(());
            }
            for host in ["r1", "r2"] {
                for attempt in 0..6 {
                    let head =
                        client.send(host, Method::HEAD, &format!("/v2/shared/blobs/{digest}"), &[], vec![]).await;
                    let get = client.send(host, Method::GET, &format!("/v2/shared/blobs/{digest}"), &[], vec![]).await;
                    match (head, get) {
                        (Ok(h), Ok(g)) if h.status == 200 && g.status == 200 => {
                            if g.body[..] != data[..] {
                                violations
                                    .lock()
                                    .unwrap()
                                    .push(format!("{host}: acknowledged blob reads back different bytes"));
                            }
                            break;
                        }
                        (Ok(h), Ok(g)) if h.status == 200 && g.status == 404 => {
                            violations.lock().unwrap().push(format!("{host}: HEAD 200 but GET 404"));
                            break;
                        }
                        (Ok(h), _) if h.status == 404 => {
                            violations.lock().unwrap().push(format!("{host}: acknowledged blob is unknown"));
                            break;
                        }
                        _ if attempt == 5 => {
                            violations.lock().unwrap().push(format!("{host}: acknowledged blob never readable"))
                        }
                        _ => tokio::time::sleep(Duration::from_millis(20)).await,
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
