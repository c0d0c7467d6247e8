//! The scenarios: each a world, a workload, faults drawn from the seed, an
//! oracle, and the deliberately wrong server variant it must catch.

mod bit_rot;
mod catalog_walk;
mod commit_lag;
mod delete_pull;
mod event_crash;
mod gc_race;
mod interleavings;
mod purge_race;
mod push_records;
mod receiver_outage;
mod s3_reads;
mod same_blob;
mod tag_if_match;
mod tag_race;
mod upload_resume;

use crate::trace::Trace;

/// One deliberately wrong variant of the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mutant {
    /// A tag's `current/link` is replaced by delete-then-write.
    NonAtomicTagWrite,
    /// A tag delete is acknowledged by storage but not done.
    LostTagDelete,
    /// A PATCH trusts its `Content-Range` start instead of the stored size.
    UploadOffsetFromRequest,
    /// Events are recorded after the 2xx instead of before it.
    EventAfterResponse,
    /// Storage moves an upload into place by copying it piece by piece.
    NonAtomicBlobMove,
    /// Storage answers `stat` from a (lagging) listing.
    StatViaList,
    /// Delivery gives up on an event after a few failed attempts, even when
    /// the receiver is merely unreachable.
    GiveUpOnDownReceiver,
    /// Purge treats an upload whose state it cannot read as abandoned.
    PurgeUnreadableUploads,
    /// Garbage collection sweeps whatever one mark finds unreferenced.
    GcWithoutGrace,
    /// A commit verifies the upload where it lies, then moves it into the
    /// blob store (keeping a blob already there): no seal.
    CommitWithoutSeal,
    /// Blobs are served as stored, without checking them against their
    /// digest.
    ServeUnverified,
    /// A catalog page resumed after `last` skips what is below `last`.
    CatalogSkipsBelowLast,
    /// A manifest in an instance's in-memory cache is served without
    /// checking that the repository still links it.
    CachedManifestSkipsLink,
    /// A blob read whole once is served later without checking its pieces
    /// against the hashes that read recorded.
    VerifiedOnce,
    /// An object store's upload segments are copied into the blob store
    /// without checking them against the digest.
    AdoptSegmentsUnverified,
    /// A streamed storage read that broke is reopened where its request
    /// began, not where it stopped.
    ResumeAtWindowStart,
    /// `If-Match` on a tag checked by a read, then written unconditionally.
    TagCheckThenPut,
    /// A PATCH is answered once its last chunk is handed to storage, before
    /// the write is done.
    AnswerBeforeDurable,
    /// An instance continues an upload's piece hashes wherever they stopped,
    /// even after another instance appended bytes they never saw.
    RecordAnyOffset,
    /// On an object store, a closing PUT's body streamed straight into
    /// place is published without checking it against the digest.
    WholeBodyUnverified,
    /// No planted bug: the scenario guards invariants of the real server only.
    None,
}

impl Mutant {
    pub fn name(self) -> &'static str {
        match self {
            Mutant::NonAtomicTagWrite => "non-atomic-tag-write",
            Mutant::LostTagDelete => "lost-tag-delete",
            Mutant::UploadOffsetFromRequest => "upload-offset-from-request",
            Mutant::EventAfterResponse => "event-after-response",
            Mutant::NonAtomicBlobMove => "non-atomic-blob-move",
            Mutant::StatViaList => "stat-via-list",
            Mutant::GiveUpOnDownReceiver => "give-up-on-down-receiver",
            Mutant::PurgeUnreadableUploads => "purge-unreadable-uploads",
            Mutant::GcWithoutGrace => "gc-without-grace",
            Mutant::CommitWithoutSeal => "commit-without-seal",
            Mutant::ServeUnverified => "serve-unverified",
            Mutant::CatalogSkipsBelowLast => "catalog-skips-below-last",
            Mutant::CachedManifestSkipsLink => "cached-manifest-skips-link",
            Mutant::VerifiedOnce => "verified-once",
            Mutant::AdoptSegmentsUnverified => "adopt-segments-unverified",
            Mutant::ResumeAtWindowStart => "resume-at-window-start",
            Mutant::TagCheckThenPut => "tag-check-then-put",
            Mutant::AnswerBeforeDurable => "answer-before-durable",
            Mutant::RecordAnyOffset => "record-any-offset",
            Mutant::WholeBodyUnverified => "whole-body-unverified",
            Mutant::None => "none",
        }
    }
}

/// What one run is given.
#[derive(Clone)]
pub struct RunConfig {
    pub seed: u64,
    /// Run the scenario's mutant instead of the real server.
    pub mutant: bool,
    /// Which mutant the scenario plants.
    pub mutant_kind: Option<Mutant>,
    /// Operations per client in a generated workload (`None`: the
    /// scenario's own number). Shrinking a failure lowers it.
    pub budget: Option<usize>,
    /// The backend the run's storage behaves as.
    pub storage: crate::storage::StorageModel,
    pub trace: Trace,
}

impl RunConfig {
    /// The run's shared storage with `faults`, watched by the universal
    /// oracle.
    pub fn storage(&self, faults: crate::storage::StorageFaults) -> std::sync::Arc<crate::storage::FaultyStorage> {
        let faults = self.storage.apply(faults);
        let store = std::sync::Arc::new(crate::storage::FaultyStorage::new(self.seed, faults, self.trace.clone()));
        self.trace.ledger().watch(store.clone());
        store
    }
}

pub struct Scenario {
    pub name: &'static str,
    pub description: &'static str,
    /// The real bug report the scenario comes from.
    pub origin: &'static str,
    pub mutant: Mutant,
    /// The mutant is caught within this many seeds starting at 0 (the test
    /// suite holds the simulator to it).
    pub catch_within: u64,
    /// Runs the world; returns the oracle's violations.
    pub run: fn(&RunConfig) -> Vec<String>,
    /// Operations per client, for a generated workload that honours
    /// `RunConfig::budget` (so a failing seed can be shrunk); `None` for a
    /// written story.
    pub generated_ops: Option<usize>,
    /// The one backend the scenario runs on (its mutant is a bug of that
    /// backend's layout); `None`: whichever the run asks for.
    pub storage: Option<crate::storage::StorageModel>,
}

/// Where an upload's stored bytes end, from the `Range` header of a PATCH
/// answer or a status GET (`0-0` is an empty upload).
fn range_end(r: &crate::net::Reply) -> Option<u64> {
    let v = r.header("range")?;
    let (_, end) = v.split_once('-')?;
    if v == "0-0" { Some(0) } else { end.parse::<u64>().ok().map(|e| e + 1) }
}

/// Tries each read of [`read_back`] gets: injected storage errors may fail
/// a few in a row.
const READ_BACK_TRIES: usize = 6;

/// Once a workload is over: every blob the ledger saw acknowledged (and
/// nobody deleted) is pulled whole from every instance in `hosts`, and must
/// answer 200 (the ledger checks the bytes against the digest). Only a 503
/// or a broken answer is tried again. Returns what failed.
async fn read_back(client: &crate::net::Client, hosts: &[&str]) -> Vec<String> {
    let mut failures = Vec::new();
    for (repo, digest) in client.trace.ledger().undeleted_blobs() {
        let path = format!("/v2/{repo}/blobs/{digest}");
        for host in hosts {
            let mut last = String::new();
            for _ in 0..READ_BACK_TRIES {
                match client.send(host, http::Method::GET, &path, &[], vec![]).await {
                    Ok(r) if r.status == http::StatusCode::OK => {
                        last.clear();
                        break;
                    }
                    Ok(r) if r.status != http::StatusCode::SERVICE_UNAVAILABLE => {
                        last = format!("answered {}", r.status);
                        break;
                    }
                    Ok(r) => last = format!("answered {}", r.status),
                    Err(e) => last = e,
                }
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            if !last.is_empty() {
                failures.push(format!("acknowledged blob {repo}@{digest} unreadable from {host}: {last}"));
            }
        }
    }
    failures
}

const OCI: &str = "application/vnd.oci.image.manifest.v1+json";

/// A distinct image manifest over one config and one layer, told apart by
/// its writer and round (the tag scenarios move tags between them).
fn tag_manifest(config: &drydock_spec::Digest, layer: &drydock_spec::Digest, writer: usize, round: usize) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2, "mediaType": OCI,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config, "size": 2},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer, "size": 5}],
        "annotations": {"writer": writer.to_string(), "round": round.to_string()},
    }))
    .unwrap()
}

pub fn all() -> Vec<Scenario> {
    vec![
        same_blob::scenario(),
        tag_race::scenario(),
        tag_if_match::scenario(),
        upload_resume::scenario(),
        upload_resume::crash_scenario(),
        push_records::scenario(),
        event_crash::scenario(),
        delete_pull::scenario(),
        delete_pull::cached_scenario(),
        commit_lag::scenario(),
        receiver_outage::scenario(),
        purge_race::scenario(),
        gc_race::scenario(),
        interleavings::scenario(),
        interleavings::s3_scenario(),
        s3_reads::scenario(),
        bit_rot::scenario(),
        bit_rot::after_pull_scenario(),
        catalog_walk::scenario(),
    ]
}
