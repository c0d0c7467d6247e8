//! Deliberately wrong server behaviour, for the simulator only (feature
//! `sim-mutants`). Each flag re-creates a class of real registry bug so the
//! simulator can prove its oracle catches it. All flags default to off.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

#[derive(Clone, Default)]
pub struct Mutants(Arc<Flags>);

#[derive(Default)]
struct Flags {
    upload_offset_from_request: AtomicBool,
    event_after_response: AtomicBool,
    give_up_on_down_receiver: AtomicBool,
    purge_unreadable_uploads: AtomicBool,
    gc_without_grace: AtomicBool,
    commit_without_seal: AtomicBool,
    serve_unverified: AtomicBool,
    catalog_skips_below_last: AtomicBool,
    cached_manifest_skips_link: AtomicBool,
    verified_once: AtomicBool,
    adopt_segments_unverified: AtomicBool,
    resume_at_window_start: AtomicBool,
    tag_check_then_put: AtomicBool,
    answer_before_durable: AtomicBool,
    record_any_offset: AtomicBool,
    whole_body_unverified: AtomicBool,
}

impl Mutants {
    /// Trust the client's `Content-Range` start instead of the stored size
    /// (a retried PATCH then appends its bytes twice).
    pub fn upload_offset_from_request(&self) -> bool {
        self.0.upload_offset_from_request.load(Ordering::Relaxed)
    }

    /// Record notification events after answering instead of before (a crash
    /// right after the 2xx loses them).
    pub fn event_after_response(&self) -> bool {
        self.0.event_after_response.load(Ordering::Relaxed)
    }

    /// Count unreachable receivers and 5xx answers towards an event's
    /// attempts, so a long outage dead-letters events instead of delaying
    /// them.
    pub fn give_up_on_down_receiver(&self) -> bool {
        self.0.give_up_on_down_receiver.load(Ordering::Relaxed)
    }

    /// Purge an upload whose start time cannot be read (a storage hiccup
    /// then deletes a live upload).
    pub fn purge_unreadable_uploads(&self) -> bool {
        self.0.purge_unreadable_uploads.load(Ordering::Relaxed)
    }

    /// Collect garbage as distribution does offline: whatever one mark finds
    /// unreferenced goes at once, even a blob a push uploaded a moment ago.
    pub fn gc_without_grace(&self) -> bool {
        self.0.gc_without_grace.load(Ordering::Relaxed)
    }

    /// Commit an upload as distribution does: verify its bytes where they
    /// lie, then move them into the blob store (keeping a blob already
    /// there), so an append landing in between is stored under a digest it
    /// does not match.
    pub fn commit_without_seal(&self) -> bool {
        self.0.commit_without_seal.load(Ordering::Relaxed)
    }

    /// Serve stored blobs as they are, without checking them against their
    /// digest (as distribution does): damage from outside reaches clients.
    pub fn serve_unverified(&self) -> bool {
        self.0.serve_unverified.load(Ordering::Relaxed)
    }

    /// Resume a catalog page after `last` past everything below `last`
    /// too, as a walk that treats `last` as done (a page ending at `a`
    /// loses `a/b`).
    pub fn catalog_skips_below_last(&self) -> bool {
        self.0.catalog_skips_below_last.load(Ordering::Relaxed)
    }

    /// Serve a manifest held in the in-memory cache without asking storage
    /// whether the repository still links it (a delete through another
    /// instance then goes unseen).
    pub fn cached_manifest_skips_link(&self) -> bool {
        self.0.cached_manifest_skips_link.load(Ordering::Relaxed)
    }

    /// Serve a blob whose pieces were recorded by a verified read without
    /// checking them again, as a cache of "digests already verified" would:
    /// damage after the first read reaches clients.
    pub fn verified_once(&self) -> bool {
        self.0.verified_once.load(Ordering::Relaxed)
    }

    /// Copy an object store's sealed upload segments into the blob store
    /// without checking them against the digest (trusting the commit's
    /// claim, as a server-side copy would): a wrong digest stores bytes
    /// under it.
    pub fn adopt_segments_unverified(&self) -> bool {
        self.0.adopt_segments_unverified.load(Ordering::Relaxed)
    }

    /// Reopen a streamed storage read that broke where its request began
    /// instead of where it stopped, as a retry that forgets what it already
    /// handed on: bytes repeat.
    pub fn resume_at_window_start(&self) -> bool {
        self.0.resume_at_window_start.load(Ordering::Relaxed)
    }

    /// Honour `If-Match` on a tag by reading the tag, comparing, then
    /// writing it unconditionally — a check another instance can slip
    /// between.
    pub fn tag_check_then_put(&self) -> bool {
        self.0.tag_check_then_put.load(Ordering::Relaxed)
    }

    /// Answer a PATCH once its last chunk is handed to storage, not once it
    /// is stored: a crash right after the 202 loses acknowledged bytes.
    pub fn answer_before_durable(&self) -> bool {
        self.0.answer_before_durable.load(Ordering::Relaxed)
    }

    /// Go on with an upload's piece hashes wherever they stopped, and make
    /// them the blob's record at its commit, as if this instance had taken
    /// every byte: bytes another instance appended meanwhile are missing
    /// from the record, and the genuine blob is then refused as damaged.
    pub fn record_any_offset(&self) -> bool {
        self.0.record_any_offset.load(Ordering::Relaxed)
    }

    pub fn set_record_any_offset(&self, on: bool) {
        self.0.record_any_offset.store(on, Ordering::Relaxed);
    }

    /// On an object store, publish a closing PUT's body streamed straight
    /// into place without checking it against the digest (a body that is
    /// not the blob is then stored under its digest).
    pub fn whole_body_unverified(&self) -> bool {
        self.0.whole_body_unverified.load(Ordering::Relaxed)
    }

    pub fn set_whole_body_unverified(&self, on: bool) {
        self.0.whole_body_unverified.store(on, Ordering::Relaxed);
    }

    pub fn set_answer_before_durable(&self, on: bool) {
        self.0.answer_before_durable.store(on, Ordering::Relaxed);
    }

    pub fn set_tag_check_then_put(&self, on: bool) {
        self.0.tag_check_then_put.store(on, Ordering::Relaxed);
    }

    pub fn set_resume_at_window_start(&self, on: bool) {
        self.0.resume_at_window_start.store(on, Ordering::Relaxed);
    }

    pub fn set_adopt_segments_unverified(&self, on: bool) {
        self.0.adopt_segments_unverified.store(on, Ordering::Relaxed);
    }

    pub fn set_verified_once(&self, on: bool) {
        self.0.verified_once.store(on, Ordering::Relaxed);
    }

    pub fn set_cached_manifest_skips_link(&self, on: bool) {
        self.0.cached_manifest_skips_link.store(on, Ordering::Relaxed);
    }

    pub fn set_catalog_skips_below_last(&self, on: bool) {
        self.0.catalog_skips_below_last.store(on, Ordering::Relaxed);
    }

    pub fn set_serve_unverified(&self, on: bool) {
        self.0.serve_unverified.store(on, Ordering::Relaxed);
    }

    pub fn set_commit_without_seal(&self, on: bool) {
        self.0.commit_without_seal.store(on, Ordering::Relaxed);
    }

    pub fn set_gc_without_grace(&self, on: bool) {
        self.0.gc_without_grace.store(on, Ordering::Relaxed);
    }

    pub fn set_give_up_on_down_receiver(&self, on: bool) {
        self.0.give_up_on_down_receiver.store(on, Ordering::Relaxed);
    }

    pub fn set_purge_unreadable_uploads(&self, on: bool) {
        self.0.purge_unreadable_uploads.store(on, Ordering::Relaxed);
    }

    pub fn set_upload_offset_from_request(&self, on: bool) {
        self.0.upload_offset_from_request.store(on, Ordering::Relaxed);
    }

    pub fn set_event_after_response(&self, on: bool) {
        self.0.event_after_response.store(on, Ordering::Relaxed);
    }
}
