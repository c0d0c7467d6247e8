#!/usr/bin/env bash
# What one catalog page costs as the registry grows: for each size (default
# 10, 100 and 1000 repositories, each `org<i>/team/app`, three levels deep),
# the mean time of `GET /v2/_catalog?n=1` and of a page after `last`, over
# REQUESTS requests (default 200), and the ratio to the smallest registry.
# A page should cost what it shows: the ratios should stay near 1.
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=${SIZES:-"10 100 1000"}
requests=${REQUESTS:-200}
cargo build --release --quiet
work=$(mktemp -d)
trap 'kill "$server" 2>/dev/null || true; rm -rf "$work"' EXIT
port=$((20000 + RANDOM % 20000))
./target/release/drydock serve --addr "127.0.0.1:$port" --root "$work/storage" >/dev/null 2>&1 &
server=$!
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/v2/" >/dev/null && break; sleep 0.1; done
blob='{}'
digest="sha256:$(printf '%s' "$blob" | sha256sum | cut -d' ' -f1)"
pushed=0
mean_ms() { # URL → mean milliseconds over $requests requests
  local total
  total=$(for _ in $(seq "$requests"); do curl -fs -o /dev/null -w '%{time_total}\n' "$1"; done | awk '{ s += $1 } END { print s }')
  awk -v t="$total" -v n="$requests" 'BEGIN { printf "%.3f", t / n * 1000 }'
}
base_first=""
base_after=""
printf '%-8s %12s %8s %14s %8s\n' repos 'first page' ratio 'after last' ratio
for size in $sizes; do
  while [ "$pushed" -lt "$size" ]; do
    curl -fs -o /dev/null -X POST --data-binary "$blob" \
      "http://127.0.0.1:$port/v2/$(printf 'org%05d' "$pushed")/team/app/blobs/uploads/?digest=$digest"
    pushed=$((pushed + 1))
  done
  first=$(mean_ms "http://127.0.0.1:$port/v2/_catalog?n=1")
  after=$(mean_ms "http://127.0.0.1:$port/v2/_catalog?n=1&last=org00005/team/app")
  base_first=${base_first:-$first}
  base_after=${base_after:-$after}
  printf '%-8s %10s ms %8.2f %12s ms %8.2f\n' "$size" "$first" "$(awk -v a="$first" -v b="$base_first" 'BEGIN { print a / b }')" \
    "$after" "$(awk -v a="$after" -v b="$base_after" 'BEGIN { print a / b }')"
done
