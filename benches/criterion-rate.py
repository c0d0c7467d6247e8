#!/usr/bin/env python3
"""Print the throughput (bytes/second) of a criterion benchmark from its saved
estimates: `criterion-rate.py TARGET_DIR BENCH_ID` (e.g. `sha256/1MiB`)."""
import json
import sys
from pathlib import Path

root = Path(sys.argv[1]) / "criterion" / sys.argv[2] / "new"
mean_ns = json.loads((root / "estimates.json").read_text())["mean"]["point_estimate"]
nbytes = json.loads((root / "benchmark.json").read_text())["throughput"]["Bytes"]
print(f"{nbytes / (mean_ns * 1e-9):.0f}")
