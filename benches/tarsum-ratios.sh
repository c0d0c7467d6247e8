#!/usr/bin/env bash
# Tarsum over a generated 64 MiB tar against its two references, measured in
# the same run: sha256 of the same bytes through the same reader (target for
# plain tarsum: >= 0.85) and gzip decompression alone (target for gzip
# tarsum: >= 0.90).
set -euo pipefail
cd "$(dirname "$0")/.."
target=${CARGO_TARGET_DIR:-target}
secs=${SECONDS_PER_BENCH:-4}

cargo bench --quiet --bench tarsum -- --warm-up-time 1 --measurement-time "$secs" >"$target/tarsum-ratios.log" 2>&1
rate() { python3 benches/criterion-rate.py "$target" "tarsum-64MiB/$1"; }
python3 - "$(rate sha256-stream)" "$(rate tarsum-plain)" "$(rate gunzip-only)" "$(rate tarsum-gzip)" <<'PY'
import sys
sha, plain, gunzip, gz = map(float, sys.argv[1:])
for name, r in [("sha256 (stream)", sha), ("tarsum v1, plain", plain), ("gunzip alone", gunzip), ("tarsum v1, gzip", gz)]:
    print(f"{name:18} {r / 2**20:8.1f} MiB/s (of uncompressed tar)")
print(f"tarsum plain ratio vs sha256: {plain / sha:.2f}")
print(f"tarsum gzip ratio vs gunzip: {gz / gunzip:.2f}")
PY
