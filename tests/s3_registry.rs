//! Three `drydock serve` instances over one bucket of the three-node Garage
//! cluster, each talking to a different node: uploads move between them,
//! one image is pushed through all three at once, every acknowledged push
//! is announced by a webhook, garbage collection on one runs while pushes go
//! through the others, `drydock check` passes against each (every check
//! against one, the protocol's core against the others), and each says
//! what holds across instances on this store.

mod common;

use common::garage::{Cluster, available};
use common::receiver::{Receiver, wait_for};
use common::{Process, Scratch, exchange, free_port, push_blob, spawn_listening};
use drydock_spec::{Algorithm, Digest};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

/// Signs upload state: instances sharing storage must share it.
const SECRET: &str = "one-secret-for-every-instance";
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

struct Instance {
    _process: Process,
    port: u16,
    debug: u16,
}

/// Starts an instance over the cluster's bucket through node `node`, with
/// `extra` TOML (top-level keys and tables) and a webhook endpoint if asked.
fn instance(dir: &Path, cluster: &Cluster, node: usize, webhook: Option<u16>, extra: &str) -> Instance {
    let (port, debug) = (free_port(), free_port());
    let hook = webhook.map_or_else(String::new, |p| {
        format!("[[notifications.endpoints]]\nname = \"hook\"\nurl = \"http://127.0.0.1:{p}/events\"\nthreshold = 1\nbackoff = \"100ms\"\ntimeout = \"2s\"\n")
    });
    let config = format!(
        "storage = \"s3\"\nsecret = \"{SECRET}\"\ndebug_addr = \"127.0.0.1:{debug}\"\n{extra}\n{hook}\n[s3]\nbucket = \"{}\"\nregion = \"{}\"\nendpoint = \"{}\"\naccess_key = \"{}\"\nsecret_key = \"{}\"\npath_style = true\nsecure = false\nroot = \"registry-root\"\n",
        cluster.bucket, cluster.region, cluster.endpoints[node], cluster.access_key, cluster.secret_key
    );
    let path = dir.join(format!("instance-{node}.toml"));
    std::fs::write(&path, config).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_drydock"));
    cmd.args(["serve", "--config", path.to_str().unwrap(), "--addr", &format!("127.0.0.1:{port}")]);
    Instance { _process: spawn_listening(&mut cmd, port), port, debug }
}

fn three(dir: &Path, cluster: &Cluster, webhook: Option<u16>) -> Vec<Instance> {
    (0..3).map(|node| instance(dir, cluster, node, webhook, "")).collect()
}

fn header<'a>(answer: &'a str, name: &str) -> Option<&'a str> {
    let head = answer.split("\r\n\r\n").next()?;
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

fn body(answer: &str) -> &str {
    answer.split_once("\r\n\r\n").map_or("", |(_, b)| b)
}

/// Printable content (the test client reads answers as text).
fn content(len: usize, salt: u64) -> Vec<u8> {
    (0..len as u64).map(|i| b'a' + ((i.wrapping_mul(2_654_435_761) ^ salt) % 26) as u8).collect()
}

fn get(port: u16, path: &str) -> (u16, String) {
    exchange(port, "GET", path, &[("Accept", OCI_MANIFEST)], b"")
}

#[test]
fn an_upload_started_on_one_instance_continues_on_a_second_and_commits_on_a_third() {
    if !available() {
        return;
    }
    let scratch = Scratch::new("s3-upload-moves");
    let cluster = Cluster::start(&scratch.0.join("garage"));
    let [a, b, c] = <[Instance; 3]>::try_from(three(&scratch.0, &cluster, None)).ok().unwrap();
    let data = content(3 << 20, 7);
    let d = Digest::of(Algorithm::Sha256, &data);
    let (status, answer) = exchange(a.port, "POST", "/v2/moving/blob/blobs/uploads/", &[], b"");
    assert_eq!(status, 202, "{answer}");
    let location = header(&answer, "Location").unwrap().to_owned();
    let first = 1 << 20;
    let range = format!("0-{}", first - 1);
    let (status, answer) = exchange(b.port, "PATCH", &location, &[("Content-Range", &range)], &data[..first]);
    assert_eq!(status, 202, "{answer}");
    let location = header(&answer, "Location").unwrap().to_owned();
    // The status as any instance sees it.
    let (status, answer) = exchange(c.port, "GET", &location, &[], b"");
    assert_eq!((status, header(&answer, "Range")), (204, Some(format!("0-{}", first - 1).as_str())), "{answer}");
    let close = format!("{location}&digest={d}");
    let (status, answer) = exchange(c.port, "PUT", &close, &[], &data[first..]);
    assert_eq!(status, 201, "{answer}");
    for i in [&a, &b, &c] {
        let (status, answer) = get(i.port, &format!("/v2/moving/blob/blobs/{d}"));
        assert_eq!(status, 200);
        assert!(body(&answer).as_bytes() == data, "instance on {} served other bytes", i.port);
    }
    // Each says, on its debug listener, what holds across instances here.
    for i in [&a, &b, &c] {
        let (status, answer) = get(i.debug, "/debug/vars");
        assert_eq!(status, 200);
        let vars: serde_json::Value = serde_json::from_str(body(&answer)).unwrap();
        let storage = &vars["storage"];
        assert_eq!(storage["driver"], "s3");
        assert_eq!(storage["appends"], false);
        // Garage 2.5 ignores conditional writes; drydock must not claim them.
        assert_eq!(storage["conditional_writes"], false, "{storage}");
        let holds: BTreeMap<String, bool> = storage["cross_instance"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| (g["name"].as_str().unwrap().to_owned(), g["holds"].as_bool().unwrap()))
            .collect();
        let expected = [
            ("blob-integrity", true),
            ("one-append-per-offset", false),
            ("tag-if-match", false),
            ("uploads-on-any-instance", true),
        ];
        assert_eq!(holds, expected.iter().map(|(k, v)| (k.to_string(), *v)).collect(), "{storage}");
    }
}

/// One image: its blobs and a manifest naming them.
struct Image {
    blobs: Vec<Vec<u8>>,
    manifest: String,
}

fn image(salt: u64) -> Image {
    let config = format!("{{\"architecture\":\"amd64\",\"os\":\"linux\",\"salt\":{salt}}}").into_bytes();
    let layers = [content(200_000, salt), content(6 << 20, salt + 1)];
    let descriptor = |media: &str, b: &[u8]| {
        format!(
            "{{\"mediaType\":\"{media}\",\"digest\":\"{}\",\"size\":{}}}",
            Digest::of(Algorithm::Sha256, b),
            b.len()
        )
    };
    let manifest = format!(
        "{{\"schemaVersion\":2,\"mediaType\":\"{OCI_MANIFEST}\",\"config\":{},\"layers\":[{},{}]}}",
        descriptor("application/vnd.oci.image.config.v1+json", &config),
        descriptor("application/vnd.oci.image.layer.v1.tar", &layers[0]),
        descriptor("application/vnd.oci.image.layer.v1.tar", &layers[1]),
    );
    Image { blobs: vec![config, layers[0].clone(), layers[1].clone()], manifest }
}

/// Pushes `image` to `repo` through `port`, tagged `tag`; every push must be
/// acknowledged. Returns the manifest's digest.
fn push_image(port: u16, repo: &str, tag: &str, image: &Image) -> String {
    for blob in &image.blobs {
        push_blob(port, repo, blob);
    }
    let path = format!("/v2/{repo}/manifests/{tag}");
    let (status, answer) = exchange(port, "PUT", &path, &[("Content-Type", OCI_MANIFEST)], image.manifest.as_bytes());
    assert_eq!(status, 201, "{answer}");
    header(&answer, "Docker-Content-Digest").unwrap().to_owned()
}

fn assert_image_served(port: u16, repo: &str, reference: &str, image: &Image) {
    let (status, answer) = get(port, &format!("/v2/{repo}/manifests/{reference}"));
    assert_eq!(status, 200, "{repo}:{reference} through {port}: {answer}");
    assert_eq!(body(&answer), image.manifest);
    for blob in &image.blobs {
        let d = Digest::of(Algorithm::Sha256, blob);
        let (status, answer) = get(port, &format!("/v2/{repo}/blobs/{d}"));
        assert_eq!(status, 200, "{repo} blob {d} through {port}");
        assert!(body(&answer).as_bytes() == &blob[..], "{repo} blob {d} through {port}: other bytes");
    }
}

#[test]
fn one_image_pushed_through_three_instances_at_once_is_whole_and_every_push_is_announced_once() {
    if !available() {
        return;
    }
    let scratch = Scratch::new("s3-same-image");
    let cluster = Cluster::start(&scratch.0.join("garage"));
    let receiver_port = free_port();
    let receiver = Receiver::start(receiver_port, 200);
    let instances = three(&scratch.0, &cluster, Some(receiver_port));
    let img = image(1);
    let digests: Vec<String> = std::thread::scope(|s| {
        let pushes: Vec<_> = instances
            .iter()
            .enumerate()
            .map(|(n, i)| {
                let img = &img;
                s.spawn(move || {
                    let shared = push_image(i.port, "same/image", "latest", img);
                    let own = push_image(i.port, "same/image", &format!("from-{n}"), img);
                    assert_eq!(shared, own);
                    shared
                })
            })
            .collect();
        pushes.into_iter().map(|p| p.join().unwrap()).collect()
    });
    assert!(digests.windows(2).all(|w| w[0] == w[1]));
    for i in &instances {
        for reference in ["latest", "from-0", "from-1", "from-2", &digests[0]] {
            assert_image_served(i.port, "same/image", reference, &img);
        }
    }
    // Each instance acknowledged two image pushes of 3 blobs and a manifest:
    // 24 operations, each announced under one id of its own (a retry
    // delivers the same id again; none may be missing).
    wait_for("every acknowledged push announced", || {
        let ids: std::collections::BTreeSet<String> = receiver
            .bodies
            .lock()
            .unwrap()
            .iter()
            .flat_map(|b| b["events"].as_array().cloned().unwrap_or_default())
            .filter(|e| e["action"] == "push")
            .map(|e| e["id"].as_str().unwrap().to_owned())
            .collect();
        assert!(ids.len() <= 24, "more events than acknowledged pushes: {}", ids.len());
        ids.len() == 24
    });
    let events: Vec<serde_json::Value> = receiver
        .bodies
        .lock()
        .unwrap()
        .iter()
        .flat_map(|b| b["events"].as_array().cloned().unwrap_or_default())
        .collect();
    let manifests = events.iter().filter(|e| e["target"]["mediaType"] == OCI_MANIFEST);
    let mut tags: Vec<&str> = manifests.filter_map(|e| e["target"]["tag"].as_str()).collect();
    tags.sort();
    tags.dedup();
    assert_eq!(tags, ["from-0", "from-1", "from-2", "latest"]);
}

#[test]
fn garbage_collection_on_one_instance_while_pushes_go_through_the_others_keeps_every_push() {
    if !available() {
        return;
    }
    let scratch = Scratch::new("s3-gc");
    let cluster = Cluster::start(&scratch.0.join("garage"));
    let collector =
        instance(&scratch.0, &cluster, 0, None, "[gc]\nenabled = true\ngrace = \"4s\"\ninterval = \"500ms\"\n");
    let pushers = [instance(&scratch.0, &cluster, 1, None, ""), instance(&scratch.0, &cluster, 2, None, "")];
    // Garbage: a blob no manifest will ever name.
    let garbage = push_blob(pushers[0].port, "gc/orphan", &content(10_000, 99));
    let images: Vec<Image> = (0..8).map(|n| image(100 + n)).collect();
    std::thread::scope(|s| {
        for (n, img) in images.iter().enumerate() {
            let port = pushers[n % 2].port;
            s.spawn(move || push_image(port, "gc/kept", &format!("v{n}"), img));
        }
    });
    // The collector removes the garbage once its grace is over...
    let blob_data = format!("registry-root/docker/registry/v2/blobs/sha256/{}/{}/data", &garbage[7..9], &garbage[7..]);
    wait_for("the unreferenced blob collected", || cluster.s3(1, "GET", &blob_data, &[], None).0 == 404);
    // ...and every acknowledged push is still whole, through every instance.
    for i in [&collector, &pushers[0], &pushers[1]] {
        for (n, img) in images.iter().enumerate() {
            assert_image_served(i.port, "gc/kept", &format!("v{n}"), img);
        }
    }
}

#[test]
fn drydock_check_passes_against_each_instance() {
    if !available() {
        return;
    }
    let scratch = Scratch::new("s3-check");
    let cluster = Cluster::start(&scratch.0.join("garage"));
    let instances = three(&scratch.0, &cluster, None);
    // Every check against the first; the core of the protocol (base, push,
    // pull, discovery, management, errors) against the other two. The rest
    // (the content matrix, the 150-round races) exercises nothing through
    // the other instances that it does not through the first, and costs
    // minutes on a two-core machine whose CPU the three Garage nodes share.
    for (n, i) in instances.iter().enumerate() {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_drydock"));
        cmd.args(["check", &format!("http://127.0.0.1:{}", i.port), "--jobs", "16"])
            .args(["--namespace", &format!("check-{n}")]);
        if n > 0 {
            for core in ["base/", "push/", "pull/", "discovery/", "management/", "errors/"] {
                cmd.args(["--only", core]);
            }
        }
        let out = cmd.output().unwrap();
        let report = String::from_utf8_lossy(&out.stdout);
        let failed: Vec<&str> = report.lines().filter(|l| l.contains("FAIL")).collect();
        assert!(out.status.success(), "drydock check against instance {n}: {failed:#?}\n{report}");
        assert!(report.contains(" 0 failed"), "{report}");
    }
}
