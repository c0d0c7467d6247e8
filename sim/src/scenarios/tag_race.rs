//! Two writers move one tag through two instances while a reader polls it:
//! a tag that has been acknowledged never reads as unknown, and once writes
//! settle both instances agree on a value some writer was acknowledged for.

use super::{Mutant, OCI, RunConfig, Scenario};
use crate::net::Client;
use crate::storage::StorageFaults;
use drydock_spec::{Algorithm, Digest};
use http::Method;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub fn scenario() -> Scenario {
    Scenario {
        name: "tag-race",
        description: "concurrent PUTs of one tag on two instances, read continuously",
        origin: "docker/distribution#2430: tags left without current/link (a tag that vanishes under concurrent writes)",
        mutant: Mutant::NonAtomicTagWrite,
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
    let faults =
        StorageFaults { max_latency: Duration::from_millis(2), non_atomic_tags: cfg.mutant, ..Default::default() };
    let storage = cfg.storage(faults);
    for name in ["r1", "r2"] {
        let host = crate::registry_host(name, storage.clone(), cfg, Vec::new());
        sim.host(name, move || host.clone().serve());
    }
    let config = Digest::of(Algorithm::Sha256, b"{}");
    let layer = Digest::of(Algorithm::Sha256, b"layer");
    // Seed the repository: blobs and a first tag value.
    let setup = Client::new("setup", cfg.trace.clone());
    {
        let (acked, config, layer) = (acked.clone(), config.clone(), layer.clone());
        sim.client("setup", async move {
            for (data, d) in [(&b"{}"[..], &config), (&b"layer"[..], &layer)] {
                setup
                    .send("r1", Method::POST, &format!("/v2/app/blobs/uploads/?digest={d}"), &[], data.to_vec())
                    .await?;
            }
            let body = super::tag_manifest(&config, &layer, 9, 0);
            let r =
                setup.send("r1", Method::PUT, "/v2/app/manifests/t", &[("content-type", OCI)], body.clone()).await?;
            if r.status == 201 {
                acked.lock().unwrap().push(Digest::of(Algorithm::Sha256, &body).to_string());
            }
            Ok(())
        });
    }
    for (w, host) in ["r1", "r2"].into_iter().enumerate() {
        let client = Client::new(format!("writer{w}"), cfg.trace.clone());
        let (acked, config, layer) = (acked.clone(), config.clone(), layer.clone());
        let start = Duration::from_millis(50 + (cfg.seed % 7) * 3);
        sim.client(format!("writer{w}"), async move {
            tokio::time::sleep(start).await;
            for round in 1..=6 {
                let body = super::tag_manifest(&config, &layer, w, round);
                if let Ok(r) =
                    client.send(host, Method::PUT, "/v2/app/manifests/t", &[("content-type", OCI)], body.clone()).await
                    && r.status == 201
                {
                    acked.lock().unwrap().push(Digest::of(Algorithm::Sha256, &body).to_string());
                }
            }
            Ok(())
        });
    }
    {
        let client = Client::new("reader", cfg.trace.clone());
        let (acked, violations) = (acked.clone(), violations.clone());
        sim.client("reader", async move {
            tokio::time::sleep(Duration::from_millis(45)).await;
            for i in 0..60 {
                let host = if i % 2 == 0 { "r1" } else { "r2" };
                let known = !acked.lock().unwrap().is_empty();
                if let Ok(r) = client.send(host, Method::GET, "/v2/app/manifests/t", &[("accept", OCI)], vec![]).await
                    && r.status == 404
                    && known
                {
                    violations.lock().unwrap().push(format!("read {i} on {host}: an acknowledged tag answered 404"));
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            // Settled: both instances agree, on an acknowledged value.
            tokio::time::sleep(Duration::from_millis(500)).await;
            let mut seen = Vec::new();
            for host in ["r1", "r2"] {
                let r = client.send(host, Method::GET, "/v2/app/manifests/t", &[("accept", OCI)], vec![]).await?;
                seen.push(r.header("docker-content-digest").unwrap_or_default());
            }
            if seen[0] != seen[1] {
                violations.lock().unwrap().push(format!("instances disagree on the settled tag: {seen:?}"));
            } else if !acked.lock().unwrap().contains(&seen[0]) {
                violations.lock().unwrap().push(format!("the settled tag {} was never acknowledged", seen[0]));
            }
            Ok(())
        });
    }
    if let Err(e) = sim.run() {
        violations.lock().unwrap().push(format!("simulation failed: {e}"));
    }
    std::mem::take(&mut *violations.lock().unwrap())
}
