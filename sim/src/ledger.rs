//! The universal oracle every run answers to, whatever its scenario.
//!
//! Clients report every exchange here ([`Ledger::observe`]); from those
//! alone the ledger learns what the registries acknowledged and checks every
//! read on the spot. At the end of the run [`Ledger::audit`] looks at the
//! storage itself:
//!
//! - every blob in the store hashes to its digest;
//! - every acknowledged blob push or mount, and every acknowledged manifest
//!   push, is still linked and stored, unless a delete of it was sent (an
//!   unanswered delete may have happened) or the scenario collects garbage;
//! - every blob and manifest any instance served by digest hashed to it.
//!
//! (No 5xx but 503 and no panic are checked by `run` for every run too.)

use crate::net::Reply;
use crate::storage::FaultyStorage;
use drydock_reference::storage::StorageDriver;
use drydock_spec::{Algorithm, Digest};
use http::{Method, StatusCode};
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

const ROOT: &str = "/docker/registry/v2";

#[derive(Clone, Default)]
pub struct Ledger(Arc<Mutex<Inner>>);

#[derive(Default)]
struct Inner {
    /// `(repository, digest)` of acknowledged blob pushes and mounts.
    blobs: BTreeSet<(String, String)>,
    /// `(repository, digest)` of acknowledged manifest pushes.
    manifests: BTreeSet<(String, String)>,
    /// `(repository, reference)` some client sent a DELETE for.
    deleted: BTreeSet<(String, String)>,
    violations: Vec<String>,
    stores: Vec<Arc<FaultyStorage>>,
    /// Garbage collection runs: unreferenced acknowledged blobs may go.
    collects: bool,
}

/// What a request path addresses.
enum Target<'a> {
    Upload { repo: &'a str },
    Blob { repo: &'a str, digest: &'a str },
    Manifest { repo: &'a str, reference: &'a str },
}

fn target(path: &str) -> Option<Target<'_>> {
    let path = path.split('?').next()?.strip_prefix("/v2/")?;
    if let Some(i) = path.rfind("/blobs/uploads") {
        return Some(Target::Upload { repo: &path[..i] });
    }
    if let Some(i) = path.rfind("/blobs/") {
        return Some(Target::Blob { repo: &path[..i], digest: &path[i + 7..] });
    }
    let i = path.rfind("/manifests/")?;
    Some(Target::Manifest { repo: &path[..i], reference: &path[i + 11..] })
}

impl Ledger {
    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Registers a store for the final audit.
    pub fn watch(&self, store: Arc<FaultyStorage>) {
        self.inner().stores.push(store);
    }

    /// The scenario collects garbage: acknowledged blobs nothing references
    /// may legitimately disappear.
    pub fn collects_garbage(&self) {
        self.inner().collects = true;
    }

    /// `(repository, digest)` of every acknowledged blob push or mount that
    /// no client sent a delete for: what must stay readable.
    pub fn undeleted_blobs(&self) -> Vec<(String, String)> {
        let inner = self.inner();
        inner.blobs.iter().filter(|b| !inner.deleted.contains(*b)).cloned().collect()
    }

    pub fn violations(&self) -> Vec<String> {
        self.inner().violations.clone()
    }

    /// Learns from one exchange (a request sent, and its answer if any).
    pub fn observe(&self, host: &str, method: &Method, path: &str, result: &Result<Reply, String>) {
        let Some(t) = target(path) else { return };
        let mut inner = self.inner();
        // A delete counts as sent whatever came back: unanswered, it may
        // still have happened.
        match (&t, method) {
            (Target::Blob { repo, digest }, &Method::DELETE) => {
                inner.deleted.insert((repo.to_string(), digest.to_string()));
            }
            (Target::Manifest { repo, reference }, &Method::DELETE) => {
                inner.deleted.insert((repo.to_string(), reference.to_string()));
            }
            _ => {}
        }
        let Ok(r) = result else { return };
        let digest = r.header("docker-content-digest");
        match (t, method) {
            (Target::Upload { repo }, &Method::POST | &Method::PUT) if r.status == StatusCode::CREATED => {
                if let Some(d) = digest {
                    inner.blobs.insert((repo.to_owned(), d));
                }
            }
            (Target::Manifest { repo, .. }, &Method::PUT) if r.status == StatusCode::CREATED => {
                if let Some(d) = digest {
                    inner.manifests.insert((repo.to_owned(), d));
                }
            }
            (Target::Blob { digest: reference, .. } | Target::Manifest { reference, .. }, &Method::GET)
                if r.status == StatusCode::OK =>
            {
                if let Ok(d) = Digest::parse(reference)
                    && Digest::of(d.algorithm(), &r.body) != d
                {
                    inner
                        .violations
                        .push(format!("{host} served {} bytes for {path} that do not hash to {d}", r.body.len()));
                }
            }
            _ => {}
        }
    }

    /// The end-of-run checks on the stores themselves (see the module
    /// docs). Runs outside the simulation, reading past injected faults.
    pub fn audit(&self) -> Vec<String> {
        let inner = self.inner();
        let mut out = Vec::new();
        let rt = tokio::runtime::Builder::new_current_thread().build().expect("a current-thread runtime");
        rt.block_on(async {
            for store in &inner.stores {
                let s = store.contents();
                for d in stored_blobs(s).await {
                    let data = blob_path(&d);
                    let Ok(body) = s.get_content(&data).await else { continue };
                    if Digest::of(d.algorithm(), &body) != d {
                        out.push(format!("the store holds {} bytes under {d} that do not hash to it", body.len()));
                    }
                }
            }
            if inner.collects {
                return;
            }
            let kinds = [("blob", "_layers", &inner.blobs), ("manifest", "_manifests/revisions", &inner.manifests)];
            for (kind, links, acked) in kinds {
                for (repo, digest) in acked.iter() {
                    if inner.deleted.contains(&(repo.clone(), digest.clone())) {
                        continue;
                    }
                    let Ok(d) = Digest::parse(digest) else { continue };
                    let link = format!("{ROOT}/repositories/{repo}/{links}/{}/{}/link", d.algorithm(), d.hex());
                    let mut found = false;
                    for store in &inner.stores {
                        let s = store.contents();
                        let linked = s.get_content(&link).await.is_ok_and(|l| l.as_ref() == digest.as_bytes());
                        found |= linked && s.stat(&blob_path(&d)).await.is_ok();
                    }
                    if !found {
                        out.push(format!("acknowledged {kind} {repo}@{digest} is gone"));
                    }
                }
            }
        });
        out
    }
}

fn blob_path(d: &Digest) -> String {
    format!("{ROOT}/blobs/{}/{}/{}/data", d.algorithm(), &d.hex()[..2], d.hex())
}

/// Every digest the blob store holds data for.
async fn stored_blobs(s: &dyn StorageDriver) -> Vec<Digest> {
    let mut out = Vec::new();
    for alg in Algorithm::ALL {
        let dir = format!("{ROOT}/blobs/{alg}");
        for prefix in s.list(&dir).await.unwrap_or_default() {
            for hex in s.list(&format!("{dir}/{prefix}")).await.unwrap_or_default() {
                if let Ok(d) = Digest::from_hex(alg, &hex) {
                    out.push(d);
                }
            }
        }
    }
    out
}
