#!/usr/bin/env bash
# sha256 over 1 MiB buffers: drydock's Digester (criterion) against
# `openssl speed`, both single-threaded, measured now on this machine.
# Last line: `sha256 ratio vs openssl: X.XX` (target: >= 0.95).
set -euo pipefail
cd "$(dirname "$0")/.."
target=${CARGO_TARGET_DIR:-target}
secs=${SECONDS_PER_SIDE:-3}

cargo bench --quiet --bench digest -- "sha256/1MiB" --warm-up-time 1 --measurement-time "$secs" >"$target/compare-openssl.log" 2>&1
ours=$(python3 benches/criterion-rate.py "$target" sha256/1MiB)

# openssl prints the rate in thousands of bytes per second, e.g. "sha256  1907426.38k".
theirs=$(openssl speed -evp sha256 -bytes 1048576 -seconds "$secs" 2>/dev/null \
  | awk '$1 == "sha256" { sub(/k$/, "", $2); printf "%.0f", $2 * 1000 }')

python3 - "$ours" "$theirs" <<'PY'
import sys
ours, theirs = float(sys.argv[1]), float(sys.argv[2])
print(f"drydock sha256, 1 MiB buffers: {ours / 1e6:8.1f} MB/s")
print(f"openssl sha256, 1 MiB buffers: {theirs / 1e6:8.1f} MB/s")
print(f"sha256 ratio vs openssl: {ours / theirs:.2f}")
PY
