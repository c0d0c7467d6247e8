//! Tarsum throughput over a generated 64 MiB tar, plain and gzip-compressed,
//! next to the two references its targets are stated against: raw sha256
//! over the same bytes, and gzip decompression alone.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use drydock_spec::tarsum::{self, Hash, Options, Version};
use drydock_spec::{Algorithm, Digester};
use std::hint::black_box;
use std::io::{Read, Write};

/// Total size of the generated archive's file bodies.
const TAR_BYTES: usize = 64 << 20;
/// Files of mixed sizes, as layers have: many small ones and a few large.
const FILE_SIZES: [usize; 8] = [512, 4 << 10, 16 << 10, 64 << 10, 256 << 10, 1 << 20, 4 << 20, 8 << 20];

/// Text-like bytes (compressible about 3:1, like real layers), deterministic.
fn content(len: usize, seed: u64) -> Vec<u8> {
    const WORDS: [&[u8]; 12] = [
        b"lib",
        b"usr ",
        b"share/",
        b"0x7f",
        b"config",
        b"\n",
        b"locale ",
        b"ELF",
        b"\0\0\0\0",
        b"doc",
        b"=1 ",
        b"bin/",
    ];
    let mut out = Vec::with_capacity(len + 16);
    let mut x = seed | 1;
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(WORDS[(x % 12) as usize]);
        if x.is_multiple_of(5) {
            out.push((x >> 32) as u8);
        }
    }
    out.truncate(len);
    out
}

fn generated_tar() -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::with_capacity(TAR_BYTES + (1 << 20)));
    let (mut total, mut i) = (0usize, 0usize);
    while total < TAR_BYTES {
        let size = FILE_SIZES[i % FILE_SIZES.len()].min(TAR_BYTES - total);
        let mut h = tar::Header::new_ustar();
        h.set_path(format!("dir{}/file{i}", i % 17)).unwrap();
        h.set_size(size as u64);
        h.set_mode(0o644);
        h.set_mtime(1_700_000_000 + i as u64);
        h.set_cksum();
        b.append(&h, &content(size, i as u64)[..]).unwrap();
        total += size;
        i += 1;
    }
    b.into_inner().unwrap()
}

fn tarsum(c: &mut Criterion) {
    let plain = generated_tar();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&plain).unwrap();
    let gz = gz.finish().unwrap();
    let options = Options::new(Version::V1, Hash::Sha256);

    let mut group = c.benchmark_group("tarsum-64MiB");
    group.sample_size(10);
    group.throughput(Throughput::Bytes(plain.len() as u64));
    // The reference for the plain target: the same bytes through the same
    // `Read` interface and buffer size the tarsum path uses, i.e. what hashing
    // a layer file costs without tarsum.
    group.bench_function("sha256-stream", |b| {
        b.iter(|| {
            let mut d = Digester::new(Algorithm::Sha256);
            let mut input = black_box(&plain[..]);
            let mut buf = vec![0u8; 256 << 10];
            loop {
                match input.read(&mut buf).unwrap() {
                    0 => break d.finish(),
                    n => d.update(&buf[..n]),
                }
            }
        })
    });
    group.bench_function("tarsum-plain", |b| b.iter(|| tarsum::sum(black_box(&plain[..]), None, options).unwrap()));
    group.bench_function("gunzip-only", |b| {
        b.iter(|| {
            let mut d = flate2::read::MultiGzDecoder::new(black_box(&gz[..]));
            let mut buf = vec![0u8; 256 << 10];
            let mut n = 0;
            loop {
                match d.read(&mut buf).unwrap() {
                    0 => break n,
                    k => n += k,
                }
            }
        })
    });
    group.bench_function("tarsum-gzip", |b| b.iter(|| tarsum::sum_gzip(black_box(&gz[..]), None, options).unwrap()));
    group.finish();
}

criterion_group!(benches, tarsum);
criterion_main!(benches);
