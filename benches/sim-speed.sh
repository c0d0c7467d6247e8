#!/usr/bin/env bash
# Simulation speed on this machine: for each scenario, SEEDS seeds (default
# 1000) on the real server with --jobs 2, printing seeds per minute and
# simulated requests per wall-clock second as `drydock sim run` reports them.
set -euo pipefail
cd "$(dirname "$0")/.."
seeds=${SEEDS:-1000}
cargo build --release --quiet
for scenario in $(./target/release/drydock sim list | awk '/^[a-z]/ { print $1 }'); do
  line=$(./target/release/drydock sim run --scenario "$scenario" --seeds "0..$seeds" --jobs 2 2>/dev/null | grep 'seeds in')
  printf '%-16s %s\n' "$scenario" "$line"
done
