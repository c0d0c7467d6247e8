#!/usr/bin/env bash
# drydock serve against Debian's docker-registry (distribution 2.8.2), measured
# in one run on this machine, each on fresh filesystem storage:
#   - push of a 1 GiB blob (POST, then the whole body streamed in the PUT) and
#     pull of it, in MiB/s;
#   - manifest GETs per second (wrk, keep-alive connections);
#   - peak RSS of each server over the push and pull.
# Prints each figure and the drydock/distribution ratios.
# Needs: curl, wrk, docker-registry (installed here if missing, via apt).
# DRYDOCK=PATH measures that binary instead of a fresh release build (e.g. to
# compare two builds in turns).
set -euo pipefail
cd "$(dirname "$0")/.."

SIZE_MIB=${SIZE_MIB:-1024}
WRK_SECONDS=${WRK_SECONDS:-5}

need=()
for tool in curl wrk docker-registry; do command -v "$tool" >/dev/null || need+=("$tool"); done
if [ ${#need[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi

if [ -z "${DRYDOCK:-}" ]; then
  cargo build --release --quiet
  DRYDOCK=./target/release/drydock
fi
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

blob="$work/blob"
head -c "$((SIZE_MIB * 1024 * 1024))" /dev/urandom >"$blob"
digest="sha256:$(sha256sum "$blob" | cut -d' ' -f1)"
printf '{}' >"$work/config"
config_digest="sha256:$(sha256sum "$work/config" | cut -d' ' -f1)"
cat >"$work/manifest" <<JSON
{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"$config_digest","size":2},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"$digest","size":$((SIZE_MIB * 1024 * 1024))}]}
JSON

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 1 400); do curl -s "http://127.0.0.1:$1/v2/" >/dev/null && return 0; sleep 0.025; done; return 1; }
now() { date +%s.%N; }
rate() { python3 -c "print(f'{$1 / ($3 - $2):.1f}')"; }
peak_rss_mib() { awk '/VmHWM/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }

measure() { # name port pid -> sets push, pull, gets, rss
  local name=$1 port=$2 pid=$3 base="http://127.0.0.1:$2/v2/bench"
  local t0 t1 t2
  local location
  t0=$(now)
  location=$(curl -sf -D - -o /dev/null -X POST "$base/blobs/uploads/" | tr -d '\r' | awk 'tolower($1) == "location:" { print $2 }')
  case "$location" in /*) location="http://127.0.0.1:$port$location" ;; esac
  curl -sf -o /dev/null -X PUT -T - -H 'Content-Type: application/octet-stream' "$location&digest=$digest" <"$blob"
  t1=$(now)
  curl -sf -o "$work/pulled" "$base/blobs/$digest"
  t2=$(now)
  [ "sha256:$(sha256sum "$work/pulled" | cut -d' ' -f1)" = "$digest" ] || { echo "$name: pulled bytes differ" >&2; exit 1; }
  rm -f "$work/pulled"
  push=$(rate "$SIZE_MIB" "$t0" "$t1")
  pull=$(rate "$SIZE_MIB" "$t1" "$t2")
  rss=$(peak_rss_mib "$pid")
  location=$(curl -sf -D - -o /dev/null -X POST "$base/blobs/uploads/" | tr -d '\r' | awk 'tolower($1) == "location:" { print $2 }')
  case "$location" in /*) location="http://127.0.0.1:$port$location" ;; esac
  curl -sf -o /dev/null -X PUT --data-binary @"$work/config" -H 'Content-Type: application/octet-stream' "$location&digest=$config_digest"
  curl -sf -o /dev/null -X PUT --data-binary @"$work/manifest" -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' "$base/manifests/latest"
  gets=$(wrk -t2 -c32 -d"${WRK_SECONDS}s" -H 'Accept: application/vnd.oci.image.manifest.v1+json' "$base/manifests/latest" \
    | awk '/Requests\/sec/ { print $2 }')
}

port=$(free_port)
mkdir -p "$work/drydock"
"$DRYDOCK" serve --addr "127.0.0.1:$port" --root "$work/drydock" >/dev/null 2>&1 &
pids+=($!); wait_port "$port"
measure drydock "$port" "${pids[-1]}"
d_push=$push d_pull=$pull d_gets=$gets d_rss=$rss

port=$(free_port)
mkdir -p "$work/distribution"
REGISTRY_HTTP_ADDR="127.0.0.1:$port" REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY="$work/distribution" \
  docker-registry serve fixtures/docker-registry/config.yml >/dev/null 2>&1 &
pids+=($!); wait_port "$port"
measure distribution "$port" "${pids[-1]}"
r_push=$push r_pull=$pull r_gets=$gets r_rss=$rss

python3 - "$SIZE_MIB" "$d_push" "$r_push" "$d_pull" "$r_pull" "$d_gets" "$r_gets" "$d_rss" "$r_rss" <<'PY'
import sys
size, dp, rp, dl, rl, dg, rg, dr, rr = sys.argv[1:]
dp, rp, dl, rl, dg, rg, dr, rr = map(float, (dp, rp, dl, rl, dg, rg, dr, rr))
print(f"{'':28}{'drydock':>12}{'distribution':>14}{'ratio':>8}")
print(f"{f'push {size} MiB blob (MiB/s)':28}{dp:12.1f}{rp:14.1f}{dp / rp:8.2f}")
print(f"{f'pull {size} MiB blob (MiB/s)':28}{dl:12.1f}{rl:14.1f}{dl / rl:8.2f}")
print(f"{'manifest GETs/s':28}{dg:12.0f}{rg:14.0f}{dg / rg:8.2f}")
print(f"{'peak RSS push+pull (MiB)':28}{dr:12.1f}{rr:14.1f}{dr / rr:8.2f}")
PY
