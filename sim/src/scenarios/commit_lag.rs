//! Image pushes committed while storage listings lag behind writes (the old
//! S3 consistency model): each step of a push goes to a different instance
//! straight after the previous one was acknowledged. Commits, existence
//! checks and reads must never depend on a listing; once the lag has passed,
//! the tag list and the catalog show everything acknowledged.

use super::{Mutant, RunConfig, Scenario};
use crate::net::{Client, Reply};
use crate::storage::StorageFaults;
use drydock_spec::{Algorithm, Digest};
use http::Method;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const OCI: &str = "application/vnd.oci.image.manifest.v1+json";
const HOSTS: [&str; 2] = ["r1", "r2"];

pub fn scenario() -> Scenario {
    Scenario {
        name: "commit-lag",
        description: "image pushes whose every step lands on another instance while storage listings lag writes",
        origin: "distribution/distribution#4401: the S3 driver's Stat always listed the prefix, so a fresh object could be reported missing",
        mutant: Mutant::StatViaList,
        catch_within: 5,
        run,
        generated_ops: None,
        storage: None,
    }
}

type Violations = Arc<Mutex<Vec<String>>>;

fn blob(seed: u64, pusher: usize, n: usize) -> Vec<u8> {
    let len = 500 + ((seed as usize * 31 + pusher * 7 + n * 13) % 1_500);
    (0..len).map(|i| (i as u64 ^ seed ^ ((pusher * 3 + n) as u64) << 3) as u8).collect()
}

fn manifest(config: (&Digest, usize), layers: &[(Digest, usize)]) -> Vec<u8> {
    let layers: Vec<_> = layers
        .iter()
        .map(
            |(d, n)| serde_json::json!({"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": d, "size": n}),
        )
        .collect();
    serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2, "mediaType": OCI,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config.0, "size": config.1},
        "layers": layers,
    }))
    .unwrap()
}

/// Pushes `data` in one POST or in two chunks; true once acknowledged.
async fn push_blob(client: &Client, v: &Violations, host: &str, repo: &str, data: &[u8], chunked: bool) -> bool {
    try_push_blob(client, v, host, repo, data, chunked).await.unwrap_or(false)
}

/// An upload this client started and nobody closed must stay known.
fn check_upload_known(v: &Violations, what: &str, r: &Reply) {
    if r.status == 404 {
        v.lock().unwrap().push(format!("{what}: an upload just started answered 404"));
    }
}

async fn try_push_blob(
    client: &Client,
    v: &Violations,
    host: &str,
    repo: &str,
    data: &[u8],
    chunked: bool,
) -> Result<bool, String> {
    let d = Digest::of(Algorithm::Sha256, data);
    if !chunked {
        let path = format!("/v2/{repo}/blobs/uploads/?digest={d}");
        return Ok(client.send(host, Method::POST, &path, &[], data.to_vec()).await?.status == 201);
    }
    let r = client.send(host, Method::POST, &format!("/v2/{repo}/blobs/uploads/"), &[], vec![]).await?;
    let Some(loc) = r.header("location") else { return Ok(false) };
    let half = data.len() / 2;
    let range = format!("0-{}", half - 1);
    let len = half.to_string();
    let headers = [("content-range", range.as_str()), ("content-length", len.as_str())];
    let r = client.send(host, Method::PATCH, &loc, &headers, data[..half].to_vec()).await?;
    check_upload_known(v, &format!("{host} PATCH"), &r);
    let Some(loc) = r.header("location").filter(|_| r.status == 202) else { return Ok(false) };
    let r = client.send(host, Method::PUT, &format!("{loc}&digest={d}"), &[], data[half..].to_vec()).await?;
    check_upload_known(v, &format!("{host} closing PUT"), &r);
    Ok(r.status == 201)
}

/// Judges a read of something acknowledged. A transport error or a 503 is
/// an injected fault showing, not a lie.
fn check_read(v: &Violations, what: &str, r: &Result<Reply, String>, expected: Option<&[u8]>) {
    let Ok(r) = r else { return };
    match r.status.as_u16() {
        200 => {
            if let Some(e) = expected
                && r.body[..] != e[..]
            {
                v.lock().unwrap().push(format!("{what}: served other bytes than acknowledged"));
            }
        }
        404 => v.lock().unwrap().push(format!("{what}: acknowledged, then answered 404")),
        _ => {}
    }
}

fn run(cfg: &RunConfig) -> Vec<String> {
    let violations: Violations = Arc::default();
    let mut sim = crate::builder(cfg.seed).build();
    let lag = Duration::from_millis(50 + cfg.seed % 150);
    let faults = StorageFaults {
        error_per_10k: 20,
        max_latency: Duration::from_millis(2),
        list_lag: lag,
        stat_via_list: cfg.mutant,
        ..Default::default()
    };
    let storage = cfg.storage(faults);
    for name in HOSTS {
        let host = crate::registry_host(name, storage.clone(), cfg, Vec::new());
        sim.host(name, move || host.clone().serve());
    }
    cfg.trace.record_at(Duration::ZERO, "chaos", format!("storage listings lag writes by {lag:?}"));
    for pusher in 0..2usize {
        let client = Client::new(format!("pusher{pusher}"), cfg.trace.clone());
        let (v, seed) = (violations.clone(), cfg.seed);
        sim.client(format!("pusher{pusher}"), async move {
            let repo = format!("lag/app{pusher}");
            // Each step goes to the instance the previous step did not use.
            let mut turn = (seed as usize + pusher) % 2;
            let mut next_host = || {
                turn += 1;
                HOSTS[turn % 2]
            };
            let mut pushed = Vec::new();
            for n in 0..3 {
                let data = blob(seed, pusher, n);
                let chunked = (seed as usize + n) % 2 == 1;
                let mut acked = false;
                for _ in 0..3 {
                    if push_blob(&client, &v, next_host(), &repo, &data, chunked).await {
                        acked = true;
                        break;
                    }
                }
                if !acked {
                    return Ok(()); // storage faults won; nothing was acknowledged
                }
                let d = Digest::of(Algorithm::Sha256, &data);
                let host = next_host();
                let r = client.send(host, Method::GET, &format!("/v2/{repo}/blobs/{d}"), &[], vec![]).await;
                check_read(&v, &format!("{host} blob {n}"), &r, Some(&data));
                pushed.push((d, data));
            }
            let (config, layers) = pushed.split_first().unwrap();
            let layers: Vec<_> = layers.iter().map(|(d, b)| (d.clone(), b.len())).collect();
            let body = manifest((&config.0, config.1.len()), &layers);
            let md = Digest::of(Algorithm::Sha256, &body);
            let tag = format!("t{seed}");
            let mut acked = false;
            for _ in 0..3 {
                let host = next_host();
                let path = format!("/v2/{repo}/manifests/{tag}");
                let Ok(r) = client.send(host, Method::PUT, &path, &[("content-type", OCI)], body.clone()).await else {
                    continue;
                };
                match r.status.as_u16() {
                    201 => {
                        acked = true;
                        break;
                    }
                    400 => {
                        let why = String::from_utf8_lossy(&r.body).into_owned();
                        v.lock().unwrap().push(format!("{host}: manifest over acknowledged blobs refused: {why}"));
                        return Ok(());
                    }
                    _ => {}
                }
            }
            if !acked {
                return Ok(());
            }
            for path in [format!("/v2/{repo}/manifests/{tag}"), format!("/v2/{repo}/manifests/{md}")] {
                let host = next_host();
                let r = client.send(host, Method::GET, &path, &[("accept", OCI)], vec![]).await;
                check_read(&v, &format!("{host}{path}"), &r, Some(&body));
            }
            // Once the lag has passed, listings must show everything.
            tokio::time::sleep(lag + Duration::from_millis(10)).await;
            for host in HOSTS {
                let Ok(r) = client.send(host, Method::GET, &format!("/v2/{repo}/tags/list"), &[], vec![]).await else {
                    continue;
                };
                if r.status == 404 {
                    v.lock().unwrap().push(format!("{host}: the tag list of {repo} answered 404 after a tag push"));
                }
                let tags: serde_json::Value = serde_json::from_slice(&r.body).unwrap_or_default();
                if r.status == 200 && !tags["tags"].as_array().is_some_and(|t| t.iter().any(|t| *t == *tag)) {
                    v.lock().unwrap().push(format!("{host}: tag {tag} missing from the tag list after the lag"));
                }
                let Ok(r) = client.send(host, Method::GET, "/v2/_catalog", &[], vec![]).await else { continue };
                let repos: serde_json::Value = serde_json::from_slice(&r.body).unwrap_or_default();
                if r.status == 200 && !repos["repositories"].as_array().is_some_and(|t| t.iter().any(|t| *t == *repo)) {
                    v.lock().unwrap().push(format!("{host}: {repo} missing from the catalog after the lag"));
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
