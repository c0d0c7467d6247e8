#!/usr/bin/env bash
# drydock serve against Debian's docker-registry (distribution 2.8.2), measured
# in one run on this machine, each on fresh filesystem storage:
#   - push of a 1 GiB blob (POST, then the whole body streamed in the PUT),
#     pull of it, and a second pull, in MiB/s (drydock checks both against
#     the BLAKE3 piece record the push took of the bytes it proved);
#   - server CPU (user + system, from /proc) per GiB pushed and per manifest GET;
#   - manifest GETs per second (wrk, keep-alive connections);
#   - peak RSS of each server over the push and pull.
# And the machine's own limits, in the same run: SHA-256 (openssl), a write of
# the blob with fsync (dd: its speed and the kernel CPU it costs), and a download of it over loopback from a
# sendfile server. Prints each figure, its ratio to its limit, and the
# drydock/distribution ratios (issue 15's table).
# Needs: curl, wrk, docker-registry (installed here if missing, via apt).
# DRYDOCK=PATH measures that binary instead of a fresh release build (e.g. to
# compare two builds in turns).
set -euo pipefail
cd "$(dirname "$0")/.."

SIZE_MIB=${SIZE_MIB:-1024}
WRK_SECONDS=${WRK_SECONDS:-5}

source benches/lib.sh
apt_need curl wrk docker-registry

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

# The machine's limits.
sha_mib=$(openssl speed -seconds 3 -bytes 16384 sha256 2>/dev/null \
  | awk '/^sha256/ { v = $NF; sub(/k$/, "", v); printf "%.1f", v * 1000 / 1048576 }')
# dd's write with fsync: its speed, and the kernel CPU it costs (copying into
# the page cache, allocating blocks), which any buffered writer pays too.
read -r write_mib write_sys_s < <(python3 - "$blob" "$work/write-probe" "$SIZE_MIB" <<'PY'
import resource, subprocess, sys, time
blob, probe, size = sys.argv[1], sys.argv[2], float(sys.argv[3])
t0 = time.monotonic()
subprocess.run(["dd", f"if={blob}", f"of={probe}", "bs=4M", "conv=fsync", "status=none"], check=True)
wall = time.monotonic() - t0
sys_s = resource.getrusage(resource.RUSAGE_CHILDREN).ru_stime
print(f"{size / wall:.1f} {sys_s * 1024 / size:.2f}")
PY
)
rm -f "$work/write-probe"
loop_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python3 - "$loop_port" "$blob" <<'PY' &
import os, socket, sys
port, path = int(sys.argv[1]), sys.argv[2]
size = os.path.getsize(path)
srv = socket.create_server(("127.0.0.1", port))
while True:
    conn, _ = srv.accept()
    conn.recv(65536)
    conn.sendall(f"HTTP/1.1 200 OK\r\nContent-Length: {size}\r\nConnection: close\r\n\r\n".encode())
    with open(path, "rb") as f:
        conn.sendfile(f)
    conn.close()
PY
pids+=($!)
for _ in $(seq 1 200); do curl -s -o /dev/null "http://127.0.0.1:$loop_port/" 2>/dev/null && break; sleep 0.025; done
t0=$(date +%s.%N)
curl -sf -o /dev/null "http://127.0.0.1:$loop_port/"
t1=$(date +%s.%N)
loop_mib=$(python3 -c "print(f'{$SIZE_MIB / ($t1 - $t0):.1f}')")

measure() { # name port pid -> sets push, pull, gets, rss
  local name=$1 port=$2 pid=$3 base="http://127.0.0.1:$2/v2/bench"
  local t0 t1 t2 t3 c0 c1 c2 c3 k0 k1
  local location
  c0=$(cpu_s "$pid") k0=$(sys_s "$pid")
  t0=$(now)
  location=$(upload_url "$port" bench)
  curl -sf -o /dev/null -X PUT -T - -H 'Content-Type: application/octet-stream' "$location&digest=$digest" <"$blob"
  t1=$(now)
  c1=$(cpu_s "$pid") k1=$(sys_s "$pid")
  curl -sf -o /dev/null "$base/blobs/$digest"
  t2=$(now)
  c2=$(cpu_s "$pid")
  curl -sf -o /dev/null "$base/blobs/$digest"
  t3=$(now)
  c3=$(cpu_s "$pid")
  again=$(rate "$SIZE_MIB" "$t2" "$t3")
  again_cpu=$(python3 -c "print(f'{($c3 - $c2) * 1024 / $SIZE_MIB:.2f}')")
  push_cpu=$(python3 -c "print(f'{($c1 - $c0) * 1024 / $SIZE_MIB:.2f}')")
  push_sys=$(python3 -c "print(f'{($k1 - $k0) * 1024 / $SIZE_MIB:.2f}')")
  pull_cpu=$(python3 -c "print(f'{($c2 - $c1) * 1024 / $SIZE_MIB:.2f}')")
  # Checked outside the timings: writing 1 GiB to a file costs the client
  # more CPU than the server spends.
  curl -sf -o "$work/pulled" "$base/blobs/$digest"
  [ "sha256:$(sha256sum "$work/pulled" | cut -d' ' -f1)" = "$digest" ] || { echo "$name: pulled bytes differ" >&2; exit 1; }
  rm -f "$work/pulled"
  push=$(rate "$SIZE_MIB" "$t0" "$t1")
  pull=$(rate "$SIZE_MIB" "$t1" "$t2")
  rss=$(peak_rss_mib "$pid")
  location=$(upload_url "$port" bench)
  curl -sf -o /dev/null -X PUT --data-binary @"$work/config" -H 'Content-Type: application/octet-stream' "$location&digest=$config_digest"
  curl -sf -o /dev/null -X PUT --data-binary @"$work/manifest" -H 'Content-Type: application/vnd.oci.image.manifest.v1+json' "$base/manifests/latest"
  c0=$(cpu_s "$pid")
  wrk -t2 -c32 -d"${WRK_SECONDS}s" -H 'Accept: application/vnd.oci.image.manifest.v1+json' "$base/manifests/latest" >"$work/wrk"
  c1=$(cpu_s "$pid")
  gets=$(awk '/Requests\/sec/ { print $2 }' "$work/wrk")
  local requests
  requests=$(awk '/requests in/ { print $1 }' "$work/wrk")
  get_cpu_us=$(python3 -c "print(f'{($c1 - $c0) * 1e6 / $requests:.0f}')")
}

port=$(free_port)
mkdir -p "$work/drydock"
"$DRYDOCK" serve --addr "127.0.0.1:$port" --root "$work/drydock" >/dev/null 2>&1 &
pids+=($!); wait_port "$port"
measure drydock "$port" "${pids[-1]}"
d_push=$push d_pull=$pull d_gets=$gets d_rss=$rss d_push_cpu=$push_cpu d_pull_cpu=$pull_cpu d_get_cpu=$get_cpu_us
d_again=$again d_again_cpu=$again_cpu d_push_sys=$push_sys

port=$(free_port)
mkdir -p "$work/distribution"
REGISTRY_HTTP_ADDR="127.0.0.1:$port" REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY="$work/distribution" \
  docker-registry serve fixtures/docker-registry/config.yml >/dev/null 2>&1 &
pids+=($!); wait_port "$port"
measure distribution "$port" "${pids[-1]}"
r_push=$push r_pull=$pull r_gets=$gets r_rss=$rss r_push_cpu=$push_cpu r_pull_cpu=$pull_cpu r_get_cpu=$get_cpu_us
r_again=$again r_again_cpu=$again_cpu r_push_sys=$push_sys

python3 - "$SIZE_MIB" "$sha_mib" "$write_mib" "$loop_mib" "$write_sys_s" \
  "$d_push" "$r_push" "$d_pull" "$r_pull" "$d_again" "$r_again" "$d_gets" "$r_gets" "$d_rss" "$r_rss" \
  "$d_push_cpu" "$r_push_cpu" "$d_push_sys" "$r_push_sys" "$d_pull_cpu" "$r_pull_cpu" "$d_again_cpu" "$r_again_cpu" "$d_get_cpu" "$r_get_cpu" <<'PY'
import sys
size = sys.argv[1]
(sha, write, loop, floor, dp, rp, dl, rl, da, ra, dg, rg, dr, rr,
 dpc, rpc, dps, rps, dlc, rlc, dac, rac, dgc, rgc) = map(float, sys.argv[2:])
durable = min(sha, write)
print(f"machine limits: sha256 {sha:.0f} MiB/s, {size} MiB write+fsync {write:.0f} MiB/s "
      f"(kernel CPU {floor:.2f} s/GiB), loopback download {loop:.0f} MiB/s")
print(f"{'':34}{'drydock':>10}{'distribution':>14}{'dd/dist':>9}{'drydock/limit':>15}")
print(f"{f'push {size} MiB blob (MiB/s)':34}{dp:10.1f}{rp:14.1f}{dp / rp:9.2f}{dp / durable:15.2f}  (limit: min(sha256, write+fsync))")
print(f"{f'pull {size} MiB blob (MiB/s)':34}{dl:10.1f}{rl:14.1f}{dl / rl:9.2f}{dl / loop:15.2f}  (limit: loopback; pieces recorded by the push: BLAKE3)")
print(f"{f'pull it again (MiB/s)':34}{da:10.1f}{ra:14.1f}{da / ra:9.2f}{da / loop:15.2f}  (the same record)")
print(f"{'CPU per GiB pushed (s)':34}{dpc:10.2f}{rpc:14.2f}{dpc / rpc:9.2f}")
print(f"{'  of it in the server (user, s)':34}{dpc - dps:10.2f}{rpc - rps:14.2f}{(dpc - dps) / (rpc - rps):9.2f}  (SHA-256 alone: {1024 / sha:.2f} s)")
print(f"{'  of it in the kernel (s)':34}{dps:10.2f}{rps:14.2f}{dps / rps:9.2f}  (dd's kernel CPU for the same write: {floor:.2f} s)")
print(f"{'CPU per GiB pulled (s)':34}{dlc:10.2f}{rlc:14.2f}{dlc / max(rlc, 0.01):9.2f}")
print(f"{'CPU per GiB pulled again (s)':34}{dac:10.2f}{rac:14.2f}{dac / max(rac, 0.01):9.2f}")
print(f"{'CPU per manifest GET (us)':34}{dgc:10.0f}{rgc:14.0f}{dgc / rgc:9.2f}")
print(f"{'manifest GETs/s':34}{dg:10.0f}{rg:14.0f}{dg / rg:9.2f}")
print(f"{'peak RSS push+pull (MiB)':34}{dr:10.1f}{rr:14.1f}{dr / rr:9.2f}")
PY
