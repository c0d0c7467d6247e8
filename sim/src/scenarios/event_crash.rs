//! The registry crashes (no shutdown) at a seeded moment while pushes are
//! being acknowledged and the webhook receiver is down; after the restart and
//! the receiver's recovery, every acknowledged push has its event.

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
        name: "event-crash",
        description: "crash between the storage commit and event delivery; receiver down, then slow and refusing (503); restart",
        origin: "distribution's notifications keep unsent events in memory (design notes in ../shared/notes): a restart loses them",
        mutant: Mutant::EventAfterResponse,
        catch_within: 20,
        run,
        generated_ops: None,
        storage: None,
    }
}

fn run(cfg: &RunConfig) -> Vec<String> {
    let violations = Arc::new(Mutex::new(Vec::new()));
    let acked: Arc<Mutex<Vec<String>>> = Arc::default();
    let mut sim = crate::builder(cfg.seed).build();
    let storage = cfg.storage(StorageFaults { max_latency: Duration::from_millis(1), ..Default::default() });
    let mut endpoint =
        EndpointConfig::new("hook", format!("http://receiver:{}/events", crate::net::RECEIVER_PORT).parse().unwrap());
    endpoint.threshold = 1;
    endpoint.backoff = Duration::from_millis(100);
    endpoint.timeout = Duration::from_millis(500);
    let host = crate::registry_host("r1", storage.clone(), cfg, vec![endpoint]);
    sim.host("r1", move || host.clone().serve());
    // A slow receiver that refuses its first few deliveries.
    let receiver = Receiver::new(Duration::from_millis(cfg.seed % 30), (cfg.seed % 4) as usize);
    {
        let receiver = receiver.clone();
        sim.host("receiver", move || receiver.clone().serve());
    }
    let client = Client::new("pusher", cfg.trace.clone());
    {
        let acked = acked.clone();
        let seed = cfg.seed;
        sim.client("pusher", async move {
            for i in 0..12u64 {
                let data = format!("blob {i} of seed {seed}").into_bytes();
                let d = Digest::of(Algorithm::Sha256, &data);
                for _ in 0..40 {
                    match client
                        .send("r1", Method::POST, &format!("/v2/ev/blobs/uploads/?digest={d}"), &[], data.clone())
                        .await
                    {
                        Ok(r) if r.status == 201 => {
                            acked.lock().unwrap().push(d.to_string());
                            break;
                        }
                        _ => tokio::time::sleep(Duration::from_millis(25)).await,
                    }
                }
            }
            Ok(())
        });
    }
    // Drive the simulation by hand: receiver down from the start, a crash at
    // a seeded step, restart, receiver up, then wait for delivery.
    sim.partition("r1", "receiver");
    // Pushes take ~20 ms each for ~250 ms: crash somewhere inside that.
    let crash_at = 40 + (cfg.seed % 200) as usize;
    let mut crashed = false;
    let mut restarted = false;
    let (_, outcome) = crate::drive(&mut sim, |sim, step| {
        if step == crash_at {
            cfg.trace.record_at(sim.elapsed(), "chaos", "crash r1");
            sim.crash("r1");
            crashed = true;
        }
        if crashed && step == crash_at + 30 {
            cfg.trace.record_at(sim.elapsed(), "chaos", "restart r1; receiver reachable");
            sim.bounce("r1");
            sim.repair("r1", "receiver");
            restarted = true;
        }
    });
    if let Err(e) = outcome {
        violations.lock().unwrap().push(format!("simulation failed: {e}"));
    }
    // The workload may end before the crash or before the restart: finish
    // the story, then give delivery time with the receiver reachable.
    if crashed && !restarted {
        cfg.trace.record_at(sim.elapsed(), "chaos", "restart r1; receiver reachable");
        sim.bounce("r1");
    }
    if !restarted {
        sim.repair("r1", "receiver");
    }
    crate::settle(&mut sim, 3_000, || acked.lock().unwrap().iter().all(|d| receiver.has_push_of("ev", d)));
    for d in acked.lock().unwrap().iter() {
        if !receiver.has_push_of("ev", d) {
            violations.lock().unwrap().push(format!("acknowledged push of {d} never produced an event"));
        }
    }
    std::mem::take(&mut *violations.lock().unwrap())
}
