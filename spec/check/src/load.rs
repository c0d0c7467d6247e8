//! `--load`: push and pull many blobs at once, verifying every byte, and
//! report throughput and latency percentiles.

use crate::harness::{Ctx, Failure, Stop};
use drydock_spec::{Algorithm, Digest};
use futures_util::StreamExt;
use std::time::Duration;

/// What to send.
#[derive(Clone, Copy, Debug)]
pub struct LoadOptions {
    pub blobs: usize,
    pub size: usize,
    pub concurrency: usize,
}

/// One direction's figures.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Phase {
    pub requests: usize,
    pub bytes: u64,
    pub seconds: f64,
    pub mib_per_second: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct LoadResult {
    pub blobs: usize,
    pub blob_size: usize,
    pub concurrency: usize,
    pub push: Phase,
    pub pull: Phase,
}

fn phase(latencies: &mut [Duration], bytes: u64, wall: Duration) -> Phase {
    latencies.sort();
    let at = |q: f64| {
        let i = ((latencies.len() as f64 * q).ceil() as usize).clamp(1, latencies.len().max(1)) - 1;
        latencies.get(i).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    let seconds = wall.as_secs_f64().max(f64::EPSILON);
    Phase {
        requests: latencies.len(),
        bytes,
        seconds,
        mib_per_second: bytes as f64 / (1 << 20) as f64 / seconds,
        p50_ms: at(0.50),
        p90_ms: at(0.90),
        p99_ms: at(0.99),
        max_ms: latencies.last().map_or(0.0, |d| d.as_secs_f64() * 1000.0),
    }
}

fn stopped(s: Stop) -> Failure {
    match s {
        Stop::Fail(f) => *f,
        Stop::Skip(why) => Failure { message: why, request: None, response: None },
    }
}

pub async fn run(ctx: &Ctx, opts: LoadOptions) -> Result<LoadResult, Failure> {
    let repo = ctx.repo("load");
    let blobs: Vec<Vec<u8>> = (0..opts.blobs).map(|i| ctx.unique_bytes(&format!("load{i}"), opts.size)).collect();
    let total = (opts.blobs * opts.size) as u64;

    let started = tokio::time::Instant::now();
    let pushes = futures_util::stream::iter(blobs.iter().map(|b| {
        let repo = repo.clone();
        async move {
            let t = tokio::time::Instant::now();
            ctx.push_blob(&repo, b).await.map(|d| (d, t.elapsed()))
        }
    }))
    .buffer_unordered(opts.concurrency.max(1))
    .collect::<Vec<_>>()
    .await;
    let push_wall = started.elapsed();
    let mut digests = Vec::new();
    let mut push_latency = Vec::new();
    for p in pushes {
        let (d, l) = p.map_err(stopped)?;
        digests.push(d);
        push_latency.push(l);
    }

    let started = tokio::time::Instant::now();
    let pulls = futures_util::stream::iter(digests.iter().map(|d| {
        let path = format!("/v2/{repo}/blobs/{d}");
        async move {
            let t = tokio::time::Instant::now();
            let r = ctx.get(&path).await.map_err(stopped)?;
            let elapsed = t.elapsed();
            let got = Digest::of(d.algorithm(), &r.body);
            if r.status.as_u16() != 200 || &got != d {
                return Err(Failure {
                    message: format!("pull of {d} answered {} with content {got}", r.status.as_u16()),
                    request: Some(r.sent.clone()),
                    response: Some(crate::harness::seen(&r)),
                });
            }
            Ok(elapsed)
        }
    }))
    .buffer_unordered(opts.concurrency.max(1))
    .collect::<Vec<_>>()
    .await;
    let pull_wall = started.elapsed();
    let mut pull_latency = Vec::new();
    for p in pulls {
        pull_latency.push(p?);
    }
    debug_assert!(digests.iter().all(|d| d.algorithm() == Algorithm::Sha256));
    Ok(LoadResult {
        blobs: opts.blobs,
        blob_size: opts.size,
        concurrency: opts.concurrency,
        push: phase(&mut push_latency, total, push_wall),
        pull: phase(&mut pull_latency, total, pull_wall),
    })
}

impl std::fmt::Display for LoadResult {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "load: {} blobs of {} bytes, {} at a time, every byte verified",
            self.blobs, self.blob_size, self.concurrency
        )?;
        writeln!(f, "        {:>10} {:>9} {:>9} {:>9} {:>9}", "MiB/s", "p50 ms", "p90 ms", "p99 ms", "max ms")?;
        for (name, p) in [("push", &self.push), ("pull", &self.pull)] {
            writeln!(
                f,
                "  {name:5} {:>10.1} {:>9.1} {:>9.1} {:>9.1} {:>9.1}",
                p.mib_per_second, p.p50_ms, p.p90_ms, p.p99_ms, p.max_ms
            )?;
        }
        Ok(())
    }
}
