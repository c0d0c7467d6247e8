//! A webhook receiver is unreachable for a long, seeded while, and a registry
//! instance crashes and restarts during the outage. Two instances record
//! events into one shared queue; some pushes fail on purpose. Once the
//! receiver is back, every acknowledged push has its event (at least once)
//! and no failed push has one.

use super::{Mutant, RunConfig, Scenario};
use crate::net::{Client, Receiver};
use crate::storage::StorageFaults;
use drydock_reference::notifications::EndpointConfig;
use drydock_spec::{Algorithm, Digest};
use http::Method;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub fn scenario() -> Scenario {
    Scenario {
        name: "receiver-outage",
        description: "webhook receiver unreachable for up to a second while an instance crashes and restarts",
        origin: "distribution's notifications promise that once a faulty endpoint is fixed every queued event goes through, but queue in memory (design notes in ../shared/notes): a restart during an outage, or a sender that gives up, breaks it",
        mutant: Mutant::GiveUpOnDownReceiver,
        catch_within: 5,
        run,
        generated_ops: None,
        storage: None,
    }
}

/// Pushes in the workload; every third one claims a wrong digest.
const PUSHES: u64 = 12;

fn run(cfg: &RunConfig) -> Vec<String> {
    let violations = Arc::new(Mutex::new(Vec::new()));
    let acked: Arc<Mutex<Vec<String>>> = Arc::default();
    let refused: Arc<Mutex<Vec<String>>> = Arc::default();
    let mut sim = crate::builder(cfg.seed).build();
    let storage =
        cfg.storage(StorageFaults { max_latency: Duration::from_millis(1), error_per_10k: 30, ..Default::default() });
    let mut endpoint =
        EndpointConfig::new("hook", format!("http://receiver:{}/events", crate::net::RECEIVER_PORT).parse().unwrap());
    endpoint.threshold = 1;
    endpoint.backoff = Duration::from_millis(40);
    endpoint.timeout = Duration::from_millis(200);
    // A receiver that keeps answering 4xx gets its events dead-lettered; one
    // that is merely down must not.
    endpoint.max_attempts = Some(3);
    for name in ["r1", "r2"] {
        let host = crate::registry_host(name, storage.clone(), cfg, vec![endpoint.clone()]);
        sim.host(name, move || host.clone().serve());
    }
    let receiver = Receiver::new(Duration::from_millis(cfg.seed % 10), (cfg.seed % 3) as usize);
    {
        let receiver = receiver.clone();
        sim.host("receiver", move || receiver.clone().serve());
    }
    {
        let client = Client::new("pusher", cfg.trace.clone());
        let (acked, refused, seed) = (acked.clone(), refused.clone(), cfg.seed);
        sim.client("pusher", async move {
            for i in 0..PUSHES {
                let host = if (i + seed) % 2 == 0 { "r1" } else { "r2" };
                let data = format!("outage blob {i} of seed {seed}").into_bytes();
                let wrong = i % 3 == 2;
                let claimed = if wrong {
                    Digest::of(Algorithm::Sha256, b"not these bytes")
                } else {
                    Digest::of(Algorithm::Sha256, &data)
                };
                let path = format!("/v2/out/blobs/uploads/?digest={claimed}");
                for _ in 0..10 {
                    match client.send(host, Method::POST, &path, &[], data.clone()).await {
                        Ok(r) if r.status == 201 => {
                            acked.lock().unwrap().push(claimed.to_string());
                            break;
                        }
                        Ok(r) if r.status == 400 => {
                            refused.lock().unwrap().push(claimed.to_string());
                            break;
                        }
                        _ => tokio::time::sleep(Duration::from_millis(15)).await,
                    }
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            Ok(())
        });
    }
    sim.partition("r1", "receiver");
    sim.partition("r2", "receiver");
    let outage_end = 400 + (cfg.seed % 600) as usize;
    let crash_at = 30 + (cfg.seed % 300) as usize;
    let restart_at = crash_at + 20 + (cfg.seed % 40) as usize;
    cfg.trace.record_at(Duration::ZERO, "chaos", format!("receiver unreachable for {outage_end} ms"));
    let (step, outcome) = crate::drive(&mut sim, |sim, step| {
        if step == crash_at {
            cfg.trace.record_at(sim.elapsed(), "chaos", "crash r2");
            sim.crash("r2");
        }
        if step == restart_at {
            cfg.trace.record_at(sim.elapsed(), "chaos", "restart r2");
            sim.bounce("r2");
        }
        if step == outage_end {
            cfg.trace.record_at(sim.elapsed(), "chaos", "receiver reachable");
            sim.repair("r1", "receiver");
            sim.repair("r2", "receiver");
        }
    });
    if let Err(e) = outcome {
        violations.lock().unwrap().push(format!("simulation failed: {e}"));
    }
    // The workload can finish before the outage ends: finish the story.
    if step < restart_at {
        cfg.trace.record_at(sim.elapsed(), "chaos", "restart r2");
        sim.bounce("r2");
    }
    if step < outage_end {
        cfg.trace.record_at(sim.elapsed(), "chaos", "receiver reachable");
        sim.repair("r1", "receiver");
        sim.repair("r2", "receiver");
    }
    crate::settle(&mut sim, 4_000, || acked.lock().unwrap().iter().all(|d| receiver.has_push_of("out", d)));
    let mut v = violations.lock().unwrap();
    for d in acked.lock().unwrap().iter() {
        if !receiver.has_push_of("out", d) {
            v.push(format!("acknowledged push of {d} never produced an event"));
        }
    }
    for d in refused.lock().unwrap().iter() {
        if receiver.has_push_of("out", d) {
            v.push(format!("a refused push ({d}) produced an event"));
        }
    }
    std::mem::take(&mut *v)
}
