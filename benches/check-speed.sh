#!/usr/bin/env bash
# How long a whole `drydock check --profile oci-next` takes against a local
# `drydock serve`, by --jobs (JOBS, default "1 4 8 16"), on in-memory storage
# and on the filesystem driver (which fsyncs every acknowledged write: its
# figures are bounded by the disk's sync latency, measured here too).
# DRYDOCK=PATH measures that binary instead of a fresh release build.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=${JOBS:-1 4 8 16}
if [ -z "${DRYDOCK:-}" ]; then
  cargo build --release --quiet
  DRYDOCK=./target/release/drydock
fi
work=$(mktemp -d)
servers=()
trap 'kill "${servers[@]}" 2>/dev/null || true; rm -rf "$work"' EXIT
start() {
  local port=$((20000 + RANDOM % 20000))
  "$DRYDOCK" serve --addr "127.0.0.1:$port" "$@" >/dev/null 2>&1 &
  servers+=($!)
  for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/v2/" >/dev/null && break; sleep 0.1; done
  echo "$port"
}
memory=$(start --storage memory)
filesystem=$(start --root "$work/storage")
sync_ms=$(dd if=/dev/zero of="$work/sync-probe" bs=4k count=200 oflag=dsync 2>&1 | awk '/copied/ {printf "%.2f", $(NF-3) * 1000 / 200}')
checks=$("$DRYDOCK" check --list | wc -l)
echo "$checks checks; this disk: ${sync_ms} ms per synchronous 4 KiB write"
printf '%6s %14s %14s\n' jobs "memory (s)" "filesystem (s)"
for j in $jobs; do
  row=()
  for port in "$memory" "$filesystem"; do
    t0=$EPOCHREALTIME
    "$DRYDOCK" check "http://127.0.0.1:$port" --profile oci-next --jobs "$j" >"$work/out" || { tail -5 "$work/out"; exit 1; }
    row+=("$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN {print b - a}')")
  done
  printf '%6s %14.1f %14.1f\n' "$j" "${row[0]}" "${row[1]}"
done
