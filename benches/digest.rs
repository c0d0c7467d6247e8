//! Digest throughput through the same `Digester` the registry hashes uploads with.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use drydock_spec::{Algorithm, Digester};
use std::hint::black_box;

const SIZES: [(&str, usize); 4] = [("4KiB", 4 << 10), ("64KiB", 64 << 10), ("1MiB", 1 << 20), ("16MiB", 16 << 20)];

fn digest(c: &mut Criterion) {
    let data: Vec<u8> = (0..16usize << 20).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect();
    for alg in Algorithm::ALL {
        let mut group = c.benchmark_group(alg.name());
        for (label, size) in SIZES {
            let buf = &data[..size];
            group.throughput(Throughput::Bytes(size as u64));
            group.bench_with_input(BenchmarkId::from_parameter(label), buf, |b, buf| {
                b.iter(|| {
                    let mut d = Digester::new(alg);
                    d.update(black_box(buf));
                    d.finish()
                })
            });
        }
        group.finish();
    }
}

criterion_group!(benches, digest);
criterion_main!(benches);
