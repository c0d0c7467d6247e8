//! A chunked upload whose connection breaks mid-PATCH and is resumed on the
//! other instance from the status GET. How it breaks is drawn from the seed:
//!
//! - the answer to a PATCH is lost (the bytes were stored, the client never
//!   heard), so the client retries it on the other instance, then asks
//!   there where to go on;
//! - the instance crashes mid-PATCH, possibly mid-append (storage keeps only
//!   a prefix of an append in flight: an unsynced write lost in the crash);
//! - the link is held: the client gives up, resumes elsewhere, and the held
//!   PATCH is delivered late: together with the resumed one, or after it;
//! - the links lose messages, breaking connections at random.
//!
//! Oracle: a reported `Range` never goes back on bytes acknowledged and never
//! exceeds the bytes sent (no retry duplicates bytes); the commit succeeds
//! with the client's digest and reads back exactly.

use super::{Mutant, RunConfig, Scenario, range_end};
use crate::net::Client;
use crate::storage::StorageFaults;
use drydock_spec::{Algorithm, Digest};
use http::Method;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub fn scenario() -> Scenario {
    Scenario {
        name: "upload-resume",
        description: "a chunked upload resumed on the other instance after its PATCH broke (answer lost, crash mid-append, held link, lossy link)",
        origin: "distribution 2.8.2 appends a retried PATCH twice (drydock check robustness/retried-patch) and rejects resumed uploads (robustness/cut-mid-patch)",
        mutant: Mutant::UploadOffsetFromRequest,
        catch_within: 10,
        run,
        generated_ops: None,
        storage: None,
    }
}

/// Only the crash, on every seed: an instance dies while (or just after)
/// it answers a PATCH. A 202 must mean the bytes are stored.
pub fn crash_scenario() -> Scenario {
    Scenario {
        name: "crash-after-ack",
        description: "an instance crashes mid-PATCH or just after answering one; the upload is resumed on the other",
        origin: "drydock's pipelined push: each append is written while the next gathers, so the answer must wait for the last",
        mutant: Mutant::AnswerBeforeDurable,
        catch_within: 10,
        run: run_crash,
        generated_ops: None,
        storage: None,
    }
}

fn run_crash(cfg: &RunConfig) -> Vec<String> {
    run_with(cfg, Break::CrashMidPatch)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Break {
    AnswerLost,
    CrashMidPatch,
    HeldLink,
    LossyLink,
}

/// Where the crash of r1 stands (crash-mid-patch only).
#[derive(Clone, Copy)]
enum Chaos {
    Waiting,
    CrashAt(Duration),
    RestartAt(Duration),
    Done,
}

/// Bytes per PATCH.
const PIECE: usize = 1_500;
/// A client gives up on an answer after this long and resumes elsewhere.
const PATCH_TIMEOUT: Duration = Duration::from_millis(300);

fn other(host: &str) -> &'static str {
    if host == "r1" { "r2" } else { "r1" }
}

fn run(cfg: &RunConfig) -> Vec<String> {
    run_with(cfg, [Break::AnswerLost, Break::CrashMidPatch, Break::HeldLink, Break::LossyLink][(cfg.seed % 4) as usize])
}

fn run_with(cfg: &RunConfig, mode: Break) -> Vec<String> {
    let violations = Arc::new(Mutex::new(Vec::new()));
    let mut builder = crate::builder(cfg.seed);
    if mode == Break::LossyLink {
        // Each millisecond a link breaks with this chance, dropping what is
        // in flight, and heals with the repair chance.
        builder.fail_rate(0.03 + (cfg.seed % 3) as f64 * 0.02).repair_rate(0.2);
    }
    let mut sim = builder.build();
    let faults = StorageFaults {
        max_latency: Duration::from_millis(2),
        list_lag: Duration::from_millis(20),
        torn_appends: true,
        ..Default::default()
    };
    let storage = cfg.storage(faults);
    for name in ["r1", "r2"] {
        let host = crate::registry_host(name, storage.clone(), cfg, Vec::new());
        sim.host(name, move || host.clone().serve());
    }
    cfg.trace.record_at(Duration::ZERO, "chaos", format!("the PATCH breaks by {mode:?}"));
    // Set by the client as the PATCH to break goes out; the driver crashes r1.
    let crash_now = Arc::new(AtomicBool::new(false));
    let mut client = Client::new("pusher", cfg.trace.clone());
    client.timeout = PATCH_TIMEOUT;
    let (v, seed, crash) = (violations.clone(), cfg.seed, crash_now.clone());
    sim.client("pusher", async move {
        let len = 3 * PIECE + (seed % 5) as usize * 300;
        let data: Vec<u8> = (0..len).map(|i| (i as u64 ^ seed) as u8).collect();
        let d = Digest::of(Algorithm::Sha256, &data);
        let mut host = "r1";
        let mut loc = None;
        for _ in 0..10 {
            match client.send(host, Method::POST, "/v2/up/blobs/uploads/", &[], vec![]).await {
                Ok(r) if r.status == 202 => {
                    loc = r.header("location");
                    break;
                }
                _ => host = other(host),
            }
        }
        let Some(mut loc) = loc else { return Ok(()) };
        // Bytes some answer acknowledged: the upload may never report fewer.
        let mut acked = 0usize;
        let mut patches = 0;
        let mut broke = false;
        // A PATCH waits in the held link to r1; it is released together with
        // the resumed PATCH, or once that one was acknowledged.
        let mut held = false;
        let release_with_resume = (seed / 4) % 2 == 1;
        while acked < len && patches < 30 {
            patches += 1;
            let end = (acked + PIECE).min(len);
            let range = format!("{acked}-{}", end - 1);
            let n = (end - acked).to_string();
            let headers = [("content-range", range.as_str()), ("content-length", n.as_str())];
            // The second PATCH to r1 is the one that breaks.
            let breaking = !broke && acked > 0 && host == "r1";
            if breaking {
                broke = true;
                if mode == Break::CrashMidPatch {
                    crash.store(true, Ordering::SeqCst);
                }
            }
            let piece = data[acked..end].to_vec();
            if held && release_with_resume {
                // The held PATCH arrives while the resumed one is in flight.
                held = false;
                turmoil::release("pusher", "r1");
            }
            let answer = if breaking && mode == Break::HeldLink {
                client.send_held(host, Method::PATCH, &loc, &headers, piece).await
            } else {
                client.send(host, Method::PATCH, &loc, &headers, piece).await
            };
            match answer {
                Ok(r) if r.status == 202 && !(breaking && mode == Break::AnswerLost) => {
                    if held {
                        // The held PATCH arrives now, after the resumed one
                        // covered its range.
                        held = false;
                        turmoil::release("pusher", "r1");
                        tokio::time::sleep(Duration::from_millis(30)).await;
                    }
                    loc = r.header("location").unwrap_or(loc);
                    let reported = range_end(&r).unwrap_or(0) as usize;
                    if reported != end {
                        v.lock().unwrap().push(format!("a PATCH of {range} answered Range up to {reported}"));
                    }
                    acked = end;
                    continue;
                }
                _ => {}
            }
            // The answer is lost or bad: ask the other instance where to go on.
            host = other(host);
            if breaking && mode == Break::AnswerLost {
                // A naive client first retries the same PATCH there.
                let _ = client.send(host, Method::PATCH, &loc, &headers, data[acked..end].to_vec()).await;
            }
            held |= breaking && mode == Break::HeldLink;
            let Ok(status) = client.send(host, Method::GET, &loc, &[], vec![]).await else { continue };
            if status.status != 204 {
                continue;
            }
            let stored = range_end(&status).unwrap_or(0) as usize;
            if stored < acked {
                v.lock()
                    .unwrap()
                    .push(format!("{host}: the upload went back from {acked} acknowledged bytes to {stored}"));
                return Ok(());
            }
            if stored > end {
                v.lock().unwrap().push(format!("{host}: the upload reports {stored} bytes, but only {end} were sent"));
                return Ok(());
            }
            loc = status.header("location").unwrap_or(loc);
            acked = stored;
        }
        if acked < len {
            return Ok(()); // the network never let it through: nothing acknowledged
        }
        let mut committed = false;
        for _ in 0..6 {
            match client.send(host, Method::PUT, &format!("{loc}&digest={d}"), &[], vec![]).await {
                Ok(r) if r.status == 201 => {
                    committed = true;
                    break;
                }
                Ok(r) if r.status == 400 => {
                    let why = String::from_utf8_lossy(&r.body).into_owned();
                    v.lock().unwrap().push(format!("{host}: committing the resumed upload answered 400: {why}"));
                    return Ok(());
                }
                // 404 after a lost answer: the commit may have happened.
                Ok(r) if r.status == 404 => {
                    committed = true;
                    break;
                }
                _ => host = other(host),
            }
        }
        if !committed {
            return Ok(());
        }
        for _ in 0..6 {
            if let Ok(r) = client.send(other(host), Method::GET, &format!("/v2/up/blobs/{d}"), &[], vec![]).await {
                if r.status != 200 || r.body[..] != data[..] {
                    v.lock().unwrap().push(format!("the committed blob answered {} or other bytes", r.status));
                }
                break;
            }
        }
        Ok(())
    });
    // Crash r1 a seeded moment after the breaking PATCH goes out: before,
    // during or after its append.
    let crash_after = Duration::from_micros(500 * (cfg.seed % 16));
    let mut chaos = Chaos::Waiting;
    let (_, outcome) = crate::drive(&mut sim, |sim, _| {
        let now = sim.elapsed();
        chaos = match chaos {
            Chaos::Waiting if crash_now.load(Ordering::SeqCst) => Chaos::CrashAt(now + crash_after),
            Chaos::CrashAt(t) if now >= t => {
                cfg.trace.record_at(now, "chaos", "crash r1");
                sim.crash("r1");
                Chaos::RestartAt(now + Duration::from_millis(50))
            }
            Chaos::RestartAt(t) if now >= t => {
                cfg.trace.record_at(now, "chaos", "restart r1");
                sim.bounce("r1");
                Chaos::Done
            }
            c => c,
        };
    });
    if let Err(e) = outcome {
        violations.lock().unwrap().push(format!("simulation failed: {e}"));
    }
    std::mem::take(&mut *violations.lock().unwrap())
}
