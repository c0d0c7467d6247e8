#!/usr/bin/env bash
# drydock serve against Debian's docker-registry (distribution 2.8.2, its s3
# driver) over one three-node Garage cluster on loopback (scripts/garage-cluster),
# measured in one run, each registry through the same node with its own root:
#   - push of a SIZE_MIB blob (default 1024) as one PUT (POST, then the whole
#     body in the closing PUT), and of another as clients push (one PATCH
#     with the whole body, then the closing PUT), in MiB/s;
#   - pull of it through the registry (distribution's redirects to the store
#     are off, so both serve the bytes themselves), in MiB/s;
#   - server CPU (user + system) per GiB pushed and pulled;
#   - peak resident memory of each server over the pushes, and over the pull;
#   - the S3 requests each push made, by kind (Garage's admin /metrics).
# And the store's own limit, in the same run: the blob PUT to and GET from
# Garage directly (curl, signed). Prints each figure, drydock/distribution
# and drydock/store ratios.
# Needs: curl, docker-registry (installed via apt if missing) and Garage
# (scripts/install-test-deps installs it; GARAGE=PATH for another binary).
# DRYDOCK=PATH measures that binary instead of a fresh release build.
set -euo pipefail
cd "$(dirname "$0")/.."
source benches/lib.sh

SIZE_MIB=${SIZE_MIB:-1024}
apt_need curl docker-registry
if [ -z "${DRYDOCK:-}" ]; then
  cargo build --release --quiet
  DRYDOCK=./target/release/drydock
fi
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  scripts/garage-cluster stop "$work/garage" || true
  rm -rf "$work"
}
trap cleanup EXIT

scripts/garage-cluster start "$work/garage" >/dev/null
# shellcheck disable=SC1091
source "$work/garage/env"
read -r -a endpoints <<<"$GARAGE_ENDPOINTS"
endpoint=${endpoints[0]}

for name in one patched; do
  head -c "$((SIZE_MIB * 1024 * 1024))" /dev/urandom >"$work/$name"
done
digest_of() { printf 'sha256:%s' "$(sha256sum "$1" | cut -d' ' -f1)"; }

# The store's limit: the blob straight to Garage and back.
s3() { # METHOD KEY [curl args...]
  local method=$1 key=$2; shift 2
  curl -sf --aws-sigv4 "aws:amz:$GARAGE_REGION:s3" --user "$GARAGE_ACCESS_KEY:$GARAGE_SECRET_KEY" \
    -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' -X "$method" "$@" "$endpoint/$GARAGE_BUCKET/$key"
}
t0=$(now)
s3 PUT direct/blob -T "$work/one" -o /dev/null
t1=$(now)
s3 GET direct/blob -o /dev/null
t2=$(now)
store_put=$(rate "$SIZE_MIB" "$t0" "$t1") store_get=$(rate "$SIZE_MIB" "$t1" "$t2")
s3 DELETE direct/blob -o /dev/null

# The store's S3 requests so far, by endpoint, summed over the nodes (Garage's
# admin /metrics): what each way of pushing costs the store.
admins=()
for i in 1 2 3; do
  admins+=("$(awk -F'"' '/^\[admin\]/ { a = 1 } a && /api_bind_addr/ { print $2; exit }' "$work/garage/node$i.toml")")
done
s3_requests() {
  for a in "${admins[@]}"; do curl -sf "http://$a/metrics"; done | awk '
    /^api_s3_request_counter\{/ { match($0, /api_endpoint="[^"]+"/); n[substr($0, RSTART + 14, RLENGTH - 15)] += $NF }
    END { for (e in n) print e, n[e] }'
}

measure() { # name port pid -> sets mono, patched, pull, cpu figures, rss
  local name=$1 port=$2 pid=$3 url t0 t1 t2 t3 c0 c1 c2 c3
  s3_requests >"$work/$name.requests0"
  c0=$(cpu_s "$pid") t0=$(now)
  url=$(upload_url "$port" bench)
  curl -sf -o /dev/null -X PUT -T - -H 'Content-Type: application/octet-stream' "$url&digest=$(digest_of "$work/one")" <"$work/one"
  c1=$(cpu_s "$pid") t1=$(now)
  s3_requests >"$work/$name.requests1"
  url=$(upload_url "$port" bench)
  url=$(curl -sf -D - -o /dev/null -X PATCH -T - -H 'Content-Type: application/octet-stream' "$url" <"$work/patched" \
    | tr -d '\r' | awk 'tolower($1) == "location:" { print $2 }')
  case "$url" in /*) url="http://127.0.0.1:$port$url" ;; esac
  case "$url" in *\?*) url="$url&" ;; *) url="$url?" ;; esac
  curl -sf -o /dev/null -X PUT "${url}digest=$(digest_of "$work/patched")"
  c2=$(cpu_s "$pid") t2=$(now)
  s3_requests >"$work/$name.requests2"
  push_rss=$(peak_rss_mib "$pid")
  curl -sf -o "$work/pulled" "http://127.0.0.1:$port/v2/bench/blobs/$(digest_of "$work/one")"
  c3=$(cpu_s "$pid") t3=$(now)
  [ "$(digest_of "$work/pulled")" = "$(digest_of "$work/one")" ] || { echo "$name: pulled bytes differ" >&2; exit 1; }
  rm -f "$work/pulled"
  mono=$(rate "$SIZE_MIB" "$t0" "$t1") patched=$(rate "$SIZE_MIB" "$t1" "$t2") pull=$(rate "$SIZE_MIB" "$t2" "$t3")
  per_gib() { python3 -c "print(f'{($2 - $1) * 1024 / $SIZE_MIB:.2f}')"; }
  mono_cpu=$(per_gib "$c0" "$c1") patched_cpu=$(per_gib "$c1" "$c2") pull_cpu=$(per_gib "$c2" "$c3")
  rss=$(peak_rss_mib "$pid")
}

# drydock, its own TOML.
port=$(free_port)
cat >"$work/drydock.toml" <<TOML
storage = "s3"
secret = "s3-compare"
[s3]
bucket = "$GARAGE_BUCKET"
region = "$GARAGE_REGION"
endpoint = "$endpoint"
access_key = "$GARAGE_ACCESS_KEY"
secret_key = "$GARAGE_SECRET_KEY"
path_style = true
secure = false
root = "drydock"
TOML
"$DRYDOCK" serve --config "$work/drydock.toml" --addr "127.0.0.1:$port" >"$work/drydock.log" 2>&1 &
pids+=($!); wait_port "$port"
measure drydock "$port" "${pids[-1]}"
d=("$mono" "$patched" "$pull" "$mono_cpu" "$patched_cpu" "$pull_cpu" "$push_rss" "$rss")

# distribution, its s3 driver with the same chunk size (10 MiB, both defaults).
port=$(free_port)
cat >"$work/distribution.yml" <<YAML
version: 0.1
log: {level: error}
storage:
  s3:
    bucket: $GARAGE_BUCKET
    region: $GARAGE_REGION
    regionendpoint: $endpoint
    forcepathstyle: true
    secure: false
    accesskey: $GARAGE_ACCESS_KEY
    secretkey: $GARAGE_SECRET_KEY
    rootdirectory: /distribution
  redirect: {disable: true}
  maintenance: {uploadpurging: {enabled: false}}
http: {addr: "127.0.0.1:$port", secret: s3-compare}
YAML
# Its AWS SDK cannot start with AWS_CA_BUNDLE set (some machines set it).
env -u AWS_CA_BUNDLE docker-registry serve "$work/distribution.yml" >"$work/distribution.log" 2>&1 &
pids+=($!); wait_port "$port"
measure distribution "$port" "${pids[-1]}"
r=("$mono" "$patched" "$pull" "$mono_cpu" "$patched_cpu" "$pull_cpu" "$push_rss" "$rss")

python3 - "$SIZE_MIB" "$store_put" "$store_get" "${d[@]}" "${r[@]}" <<'PY'
import sys
size = sys.argv[1]
put, get = map(float, sys.argv[2:4])
d = list(map(float, sys.argv[4:12]))
r = list(map(float, sys.argv[12:20]))
print(f"store (3 Garage nodes, replication 3, loopback): PUT {put:.0f} MiB/s, GET {get:.0f} MiB/s")
print(f"{'':36}{'drydock':>10}{'distribution':>14}{'dd/dist':>9}{'dd/store':>10}")
rows = [
    (f"push {size} MiB, one PUT (MiB/s)", 0, put),
    (f"push {size} MiB, PATCH + PUT (MiB/s)", 1, put),
    (f"pull {size} MiB (MiB/s)", 2, get),
    ("CPU per GiB, one PUT (s)", 3, None),
    ("CPU per GiB, PATCH + PUT (s)", 4, None),
    ("CPU per GiB pulled (s)", 5, None),
    ("peak RSS over the pushes (MiB)", 6, None),
    ("peak RSS over push + pull (MiB)", 7, None),
]
for label, i, limit in rows:
    store = f"{d[i] / limit:10.2f}" if limit else ""
    print(f"{label:36}{d[i]:10.2f}{r[i]:14.2f}{d[i] / max(r[i], 0.01):9.2f}{store}")
PY

# What each push asked of the store (the timings include what the
# registries' own requests cost; counts are from the store's side).
python3 - "$work" <<'PY'
import sys
work = sys.argv[1]
def load(name, i):
    with open(f"{work}/{name}.requests{i}") as f:
        return {e: float(n) for e, n in (line.split() for line in f if line.strip())}
print("S3 requests per push (store's counters):")
for name in ("drydock", "distribution"):
    snaps = [load(name, i) for i in range(3)]
    for label, a, b in (("one PUT", snaps[0], snaps[1]), ("PATCH + PUT", snaps[1], snaps[2])):
        delta = {e: b[e] - a.get(e, 0) for e in b if b[e] - a.get(e, 0) > 0}
        counts = ", ".join(f"{e} {n:.0f}" for e, n in sorted(delta.items(), key=lambda kv: -kv[1]))
        print(f"  {name:13} {label:12} {counts}")
PY
