#!/usr/bin/env bash
# What stalled uploads cost the server in memory: UPLOADS uploads (default
# 200) each send EACH_MIB MiB (default 3, under the 4 MiB append chunk, so
# each would keep all of it) of a PATCH body declared twice as long, then
# stall. Prints the server's resident memory before, while they stall, one
# second after their connections end and six seconds after (past the 5 s
# heap trim), for ROUNDS rounds (default 3), against the
# bound: the upload buffer (BUDGET_MIB, default the 256 MiB default) plus a
# read buffer per connection. What was sent should not show in either.
# DRYDOCK=PATH measures that binary instead of a fresh release build.
set -euo pipefail
cd "$(dirname "$0")/.."
uploads=${UPLOADS:-200}
each=${EACH_MIB:-3}
rounds=${ROUNDS:-3}
budget=${BUDGET_MIB:-256}
if [ -z "${DRYDOCK:-}" ]; then
  cargo build --release --quiet
  DRYDOCK=./target/release/drydock
fi
work=$(mktemp -d)
trap 'kill "$server" 2>/dev/null || true; rm -rf "$work"' EXIT
printf '[limits]\nupload_buffer_bytes = %d\n' $((budget << 20)) > "$work/drydock.toml"
port=$((20000 + RANDOM % 20000))
"$DRYDOCK" serve --config "$work/drydock.toml" --addr "127.0.0.1:$port" --root "$work/storage" >/dev/null 2>&1 &
server=$!
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/v2/" >/dev/null && break; sleep 0.1; done
python3 - "$port" "$server" "$uploads" "$each" "$rounds" "$budget" <<'PY'
import http.client, re, socket, sys, time
port, pid, uploads, each, rounds, budget = (int(a) for a in sys.argv[1:])
def rss():
    return int(re.search(r"VmRSS:\s+(\d+)", open(f"/proc/{pid}/status").read()).group(1)) / 1024
base = rss()
print(f"{uploads} uploads x {each} MiB stalled per round; upload buffer {budget} MiB")
print(f"baseline {base:.0f} MiB; bound while stalled: buffer + {uploads} connections x ~0.4 MiB")
print(f"{'round':>5} {'sent MiB':>9} {'stalled MiB':>12} {'above base':>11} {'after 1 s':>10} {'after 6 s':>10}")
body = b"\x07" * (each << 20)
for r in range(rounds):
    held = []
    for _ in range(uploads):
        c = http.client.HTTPConnection("127.0.0.1", port)
        c.request("POST", "/v2/stall/blobs/uploads/")
        answer = c.getresponse()
        answer.read()
        s = socket.create_connection(("127.0.0.1", port))
        head = f"PATCH {answer.getheader('location')} HTTP/1.1\r\nHost: x\r\nContent-Length: {2 * len(body)}\r\n\r\n"
        s.sendall(head.encode() + body)
        held.append(s)
    peak = max(rss() for _ in range(10) if time.sleep(0.1) is None)
    for s in held:
        s.close()
    time.sleep(1)
    soon = rss()
    time.sleep(5)
    print(f"{r:>5} {uploads * each:>9} {peak:>12.0f} {peak - base:>11.0f} {soon:>10.0f} {rss():>10.0f}")
PY
