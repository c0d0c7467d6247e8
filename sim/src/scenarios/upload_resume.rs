//! A chunked upload whose PATCH is retried on another instance (the client
//! never saw the first answer), then resumed from the status GET: the upload
//! holds every byte once, and the blob commits with the client's digest.

use super::{Mutant, RunConfig, Scenario};
use crate::net::Client;
use crate::storage::{FaultyStorage, StorageFaults};
use drydock_spec::{Algorithm, Digest};
use http::Method;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub fn scenario() -> Scenario {
    Scenario {
        name: "upload-resume",
        description: "a PATCH retried on a second instance after its answer was lost, then resumed from the status GET",
        origin: "distribution 2.8.2 appends a retried PATCH twice (drydock check robustness/retried-patch) and rejects resumed uploads (robustness/cut-mid-patch)",
        mutant: Mutant::UploadOffsetFromRequest,
        catch_within: 10,
        run,
    }
}

fn range_end(r: &crate::net::Reply) -> Option<u64> {
    let v = r.header("range")?;
    let (_, end) = v.split_once('-')?;
    if v == "0-0" { Some(0) } else { end.parse::<u64>().ok().map(|e| e + 1) }
}

fn run(cfg: &RunConfig) -> Vec<String> {
    let violations = Arc::new(Mutex::new(Vec::new()));
    let mut sim = crate::builder(cfg.seed).build();
    let faults = StorageFaults {
        max_latency: Duration::from_millis(2),
        list_lag: Duration::from_millis(20),
        ..Default::default()
    };
    let storage = Arc::new(FaultyStorage::new(cfg.seed, faults, cfg.trace.clone()));
    for name in ["r1", "r2"] {
        let host = crate::registry_host(name, storage.clone(), cfg, Vec::new());
        sim.host(name, move || host.clone().serve());
    }
    let client = Client { name: "pusher".into(), trace: cfg.trace.clone() };
    let seed = cfg.seed;
    let v = violations.clone();
    sim.client("pusher", async move {
        let len = 3_000 + (seed % 5) as usize * 1_000;
        let data: Vec<u8> = (0..len).map(|i| (i as u64 ^ seed) as u8).collect();
        let cut = 1_000 + (seed % 3) as usize * 500;
        let r = client.send("r1", Method::POST, "/v2/up/blobs/uploads/", &[], vec![]).await?;
        let loc = r.header("location").ok_or("no location")?;
        let first = format!("0-{}", cut - 1);
        let r = client
            .send(
                "r1",
                Method::PATCH,
                &loc,
                &[("content-range", &first), ("content-length", &cut.to_string())],
                data[..cut].to_vec(),
            )
            .await?;
        let loc = r.header("location").ok_or("no location")?;
        let second = format!("{cut}-{}", len - 1);
        let rest_len = (len - cut).to_string();
        let headers = [("content-range", second.as_str()), ("content-length", rest_len.as_str())];
        // The answer to this PATCH is "lost": the client retries it on r2.
        client.send("r1", Method::PATCH, &loc, &headers, data[cut..].to_vec()).await?;
        let retried = client.send("r2", Method::PATCH, &loc, &headers, data[cut..].to_vec()).await?;
        let status = client.send("r2", Method::GET, &loc, &[], vec![]).await?;
        let stored = range_end(&status).unwrap_or(0);
        if stored as usize > len {
            v.lock().unwrap().push(format!(
                "the upload reports {stored} bytes after the retry (status {}), but only {len} exist",
                retried.status
            ));
        }
        let loc = status.header("location").unwrap_or(loc);
        let rest = data.get(stored as usize..).unwrap_or(&[]).to_vec();
        let d = Digest::of(Algorithm::Sha256, &data);
        let r = client.send("r2", Method::PUT, &format!("{loc}&digest={d}"), &[], rest).await?;
        if r.status != 201 {
            v.lock().unwrap().push(format!("committing the resumed upload answered {}", r.status));
            return Ok(());
        }
        let r = client.send("r1", Method::GET, &format!("/v2/up/blobs/{d}"), &[], vec![]).await?;
        if r.status != 200 || r.body[..] != data[..] {
            v.lock().unwrap().push("the committed blob does not read back exactly".into());
        }
        Ok(())
    });
    if let Err(e) = sim.run() {
        violations.lock().unwrap().push(format!("simulation failed: {e}"));
    }
    std::mem::take(&mut *violations.lock().unwrap())
}
