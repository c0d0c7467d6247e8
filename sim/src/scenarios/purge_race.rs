//! Background upload purge on every instance, with a short age, while slow
//! chunked uploads progress across instances, other uploads are abandoned,
//! and a blob is mounted into another repository while its source link is
//! deleted. Storage fails now and then. A live upload is never purged, an
//! abandoned one always is, and every acknowledged mount and commit reads
//! back exactly.

use super::{Mutant, RunConfig, Scenario, range_end};
use crate::net::{Client, Reply};
use crate::storage::StorageFaults;
use drydock_spec::{Algorithm, Digest};
use http::Method;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub fn scenario() -> Scenario {
    Scenario {
        name: "purge-race",
        description: "upload purge with a short age racing slow uploads, abandoned uploads, and a mount racing a delete",
        origin: "distribution's upload purger (registry/storage/purgeuploads.go) deletes by startedat; an unreadable or coarse start time removes live uploads",
        mutant: Mutant::PurgeUnreadableUploads,
        catch_within: 10,
        run,
        generated_ops: None,
        storage: None,
    }
}

/// Uploads older than this are purged.
const PURGE_AGE: Duration = Duration::from_millis(150);
/// How often each instance purges.
const PURGE_INTERVAL: Duration = Duration::from_millis(20);
/// A request on an upload younger than this (from the client's POST) must
/// find it: the age less room for latency.
const SURELY_LIVE: Duration = Duration::from_millis(120);
/// By then an abandoned upload must be gone: the age, two purge rounds
/// (one may hit a storage fault) and room for latency.
const SURELY_PURGED: Duration = Duration::from_millis(150 + 2 * 20 + 60);
const HOSTS: [&str; 2] = ["r1", "r2"];

type Violations = Arc<Mutex<Vec<String>>>;

/// A chunked upload in `pieces`, `pause` apart, alternating instances;
/// resumes from the status after a failed PATCH. Reports a 404 on an upload
/// that is surely live. Returns the digest if the commit was acknowledged.
async fn slow_upload(
    client: &Client,
    v: &Violations,
    repo: &str,
    data: &[u8],
    pieces: usize,
    pause: Duration,
) -> Result<Option<Digest>, String> {
    let r = client.send("r1", Method::POST, &format!("/v2/{repo}/blobs/uploads/"), &[], vec![]).await?;
    let started = tokio::time::Instant::now();
    let Some(mut loc) = r.header("location").filter(|_| r.status == 202) else { return Ok(None) };
    let live_404 = |r: &Reply, what: &str| {
        if r.status == 404 && started.elapsed() < SURELY_LIVE {
            v.lock().unwrap().push(format!(
                "{what} on an upload {} ms old answered 404: purge removed a live upload",
                started.elapsed().as_millis()
            ));
        }
    };
    let piece = data.len().div_ceil(pieces);
    let mut offset = 0usize;
    let mut turn = 0usize;
    for _ in 0..pieces * 4 {
        if offset >= data.len() {
            break;
        }
        tokio::time::sleep(pause).await;
        turn += 1;
        let host = HOSTS[turn % 2];
        let end = (offset + piece).min(data.len());
        let range = format!("{offset}-{}", end - 1);
        let len = (end - offset).to_string();
        let headers = [("content-range", range.as_str()), ("content-length", len.as_str())];
        match client.send(host, Method::PATCH, &loc, &headers, data[offset..end].to_vec()).await {
            Ok(r) if r.status == 202 => {
                loc = r.header("location").unwrap_or(loc);
                offset = end;
            }
            Ok(r) => {
                live_404(&r, "PATCH");
                if r.status == 404 {
                    return Ok(None);
                }
                // Learn what was stored and go on from there.
                if let Ok(s) = client.send(host, Method::GET, &loc, &[], vec![]).await {
                    live_404(&s, "status GET");
                    if s.status == 204 {
                        offset = range_end(&s).unwrap_or(0) as usize;
                    }
                }
            }
            Err(_) => {}
        }
    }
    if offset < data.len() {
        return Ok(None);
    }
    let d = Digest::of(Algorithm::Sha256, data);
    for host in HOSTS {
        match client.send(host, Method::PUT, &format!("{loc}&digest={d}"), &[], vec![]).await {
            Ok(r) if r.status == 201 => return Ok(Some(d)),
            Ok(r) => {
                live_404(&r, "commit PUT");
                if r.status == 404 {
                    return Ok(None);
                }
            }
            Err(_) => {}
        }
    }
    Ok(None)
}

fn run(cfg: &RunConfig) -> Vec<String> {
    let violations: Violations = Arc::default();
    let mut sim = crate::builder(cfg.seed).build();
    let faults = StorageFaults { error_per_10k: 200, max_latency: Duration::from_millis(2), ..Default::default() };
    let storage = cfg.storage(faults);
    for name in HOSTS {
        let mut host = crate::registry_host(name, storage.clone(), cfg, Vec::new());
        host.purge = Some((PURGE_AGE, PURGE_INTERVAL));
        sim.host(name, move || host.clone().serve());
    }
    // Slow uploads that finish well within the purge age.
    for n in 0..2usize {
        let client = Client::new(format!("slow{n}"), cfg.trace.clone());
        let (v, seed) = (violations.clone(), cfg.seed);
        sim.client(format!("slow{n}"), async move {
            tokio::time::sleep(Duration::from_millis(seed % 50 + n as u64 * 30)).await;
            let data: Vec<u8> = (0..6_000usize).map(|i| (i as u64 ^ seed ^ n as u64) as u8).collect();
            let pause = Duration::from_millis(8 + (seed + n as u64) % 12);
            if let Some(d) = slow_upload(&client, &v, &format!("purge/slow{n}"), &data, 4, pause).await? {
                for host in HOSTS {
                    let r = client.send(host, Method::GET, &format!("/v2/purge/slow{n}/blobs/{d}"), &[], vec![]).await;
                    match r {
                        Ok(r) if r.status == 404 || (r.status == 200 && r.body[..] != data[..]) => v
                            .lock()
                            .unwrap()
                            .push(format!("{host}: committed blob answered {} with wrong content", r.status)),
                        _ => {}
                    }
                }
            }
            Ok(())
        });
    }
    // Abandoned uploads: purge must remove them.
    {
        let client = Client::new("abandoner", cfg.trace.clone());
        let v = violations.clone();
        sim.client("abandoner", async move {
            let mut abandoned = Vec::new();
            for host in HOSTS {
                let Ok(r) = client.send(host, Method::POST, "/v2/purge/gone/blobs/uploads/", &[], vec![]).await else {
                    continue;
                };
                if let Some(loc) = r.header("location").filter(|_| r.status == 202) {
                    let _ = client
                        .send(host, Method::PATCH, &loc, &[("content-range", "0-9")], b"abandoned!".to_vec())
                        .await;
                    abandoned.push(loc);
                }
            }
            tokio::time::sleep(SURELY_PURGED).await;
            for loc in abandoned {
                for host in HOSTS {
                    if let Ok(r) = client.send(host, Method::GET, &loc, &[], vec![]).await
                        && r.status == 204
                    {
                        v.lock()
                            .unwrap()
                            .push(format!("{host}: an upload abandoned {SURELY_PURGED:?} ago is still there"));
                    }
                }
            }
            Ok(())
        });
    }
    // A mount racing a delete of its source link.
    let blob = format!("mounted blob of seed {}", cfg.seed).into_bytes();
    let digest = Digest::of(Algorithm::Sha256, &blob);
    let pushed = Arc::new(tokio::sync::Notify::new());
    {
        let client = Client::new("deleter", cfg.trace.clone());
        let (v, pushed, blob, digest, seed) =
            (violations.clone(), pushed.clone(), blob.clone(), digest.clone(), cfg.seed);
        sim.client("deleter", async move {
            let mut ok = false;
            for _ in 0..5 {
                let path = format!("/v2/purge/src/blobs/uploads/?digest={digest}");
                if client.send("r1", Method::POST, &path, &[], blob.clone()).await.is_ok_and(|r| r.status == 201) {
                    ok = true;
                    break;
                }
            }
            pushed.notify_one();
            if !ok {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(seed % 6)).await;
            for _ in 0..5 {
                let Ok(r) =
                    client.send("r2", Method::DELETE, &format!("/v2/purge/src/blobs/{digest}"), &[], vec![]).await
                else {
                    continue;
                };
                if r.status == 202 {
                    for host in HOSTS {
                        let path = format!("/v2/purge/src/blobs/{digest}");
                        if client.send(host, Method::HEAD, &path, &[], vec![]).await.is_ok_and(|r| r.status == 200) {
                            v.lock().unwrap().push(format!("{host}: a deleted blob link still answers 200"));
                        }
                    }
                    break;
                }
            }
            Ok(())
        });
    }
    {
        let client = Client::new("mounter", cfg.trace.clone());
        let v = violations.clone();
        sim.client("mounter", async move {
            pushed.notified().await;
            let path = format!("/v2/purge/dst/blobs/uploads/?mount={digest}&from=purge/src");
            let Ok(r) = client.send("r1", Method::POST, &path, &[], vec![]).await else { return Ok(()) };
            if r.status != 201 {
                return Ok(()); // not mountable (any more): a fresh session, as the spec allows
            }
            for host in HOSTS {
                let r = client.send(host, Method::GET, &format!("/v2/purge/dst/blobs/{digest}"), &[], vec![]).await;
                match r {
                    Ok(r) if r.status == 404 => {
                        v.lock().unwrap().push(format!("{host}: an acknowledged mount answered 404"))
                    }
                    Ok(r) if r.status == 200 && r.body[..] != blob[..] => {
                        v.lock().unwrap().push(format!("{host}: a mounted blob reads back other bytes"))
                    }
                    _ => {}
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
