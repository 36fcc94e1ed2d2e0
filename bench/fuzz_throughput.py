#!/usr/bin/env python3
"""Fuzz target throughput under the real engine, as a ratio to a trivial
target built with the same engine, sanitizers and instrumentation.

Each target runs under libFuzzer for --seconds with its seed corpus, with
RESERVOIR_PROGRAM_OPS=N so that every input executes exactly N operations
after the target's prologue; trivial_fuzzer runs the same way. The result is
executions per second (libFuzzer's executed units over the wall time) and
the fraction of the trivial target's rate, for N = 16, 64 and 256.

  bench/fuzz_throughput.py [--build build/libfuzzer-asan] [--seconds 5]
                           [--targets reserve_fuzzer,slab_fuzzer]
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fuzz" / "campaign"))
from reservoir_campaign.common import fail, set_prog  # noqa: E402
from reservoir_campaign.targets import TARGETS  # noqa: E402

set_prog("fuzz_throughput")

LENGTHS = [16, 64, 256]
GOAL_RATIO_AT_64 = 0.10
UNITS_RE = re.compile(r"stat::number_of_executed_units:\s+(\d+)")


def run(binary, seeds, seconds, ops):
    env = dict(os.environ)
    if ops is not None:
        env["RESERVOIR_PROGRAM_OPS"] = str(ops)
    with tempfile.TemporaryDirectory() as corpus:
        command = [str(binary), f"-max_total_time={seconds}", "-seed=1",
                   "-print_final_stats=1", "-max_len=2072", corpus]
        if seeds is not None and seeds.is_dir():
            command.append(str(seeds))
        started = time.monotonic()
        done = subprocess.run(command, env=env, capture_output=True, text=True)
        elapsed = time.monotonic() - started
    units = UNITS_RE.search(done.stderr)
    if done.returncode != 0 or not units:
        tail = "\n".join(done.stderr.splitlines()[-5:])
        fail(f"{binary.name} did not finish cleanly:\n{tail}")
    return int(units.group(1)) / elapsed


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build", default="build/libfuzzer-asan",
                        help="a libFuzzer build directory (default: %(default)s)")
    parser.add_argument("--seconds", type=int, default=5,
                        help="fuzzing time per measurement (default: 5)")
    parser.add_argument("--targets", metavar="LIST",
                        help="comma-separated targets (default: all)")
    parser.add_argument("--json", metavar="FILE",
                        help="also write the figures as JSON")
    args = parser.parse_args()
    if args.seconds <= 0:
        fail("--seconds must be positive")
    targets = args.targets.split(",") if args.targets else TARGETS
    for name in targets:
        if name not in TARGETS:
            fail(f"unknown target '{name}' (known: {', '.join(TARGETS)})")
    build = Path(args.build)
    binaries = build / "fuzz" / "targets"
    for name in targets + ["trivial_fuzzer"]:
        if not (binaries / name).exists():
            fail(f"{binaries / name} is missing: build the preset first")

    trivial = run(binaries / "trivial_fuzzer", None, args.seconds, None)
    print(f"trivial_fuzzer: {trivial:,.0f} exec/s (same engine and sanitizers)")
    results = {"trivial_exec_per_sec": round(trivial), "targets": {}}
    header = "| target | " + " | ".join(f"{n} ops" for n in LENGTHS) + \
        " | ratio to trivial at 64 | goal (>= 10%) |"
    print()
    print(header)
    print("|---|" + "---:|" * len(LENGTHS) + "---:|---|")
    for target in targets:
        seeds = build / "corpus" / target
        rates = {n: run(binaries / target, seeds, args.seconds, n)
                 for n in LENGTHS}
        ratio = rates[64] / trivial
        results["targets"][target] = {
            "exec_per_sec": {str(n): round(r) for n, r in rates.items()},
            "ratio_at_64": round(ratio, 4),
            # Cost per operation: (1/rate) / ops, in microseconds.
            "us_per_op": {str(n): round(1e6 / r / n, 3) for n, r in rates.items()},
        }
        cells = " | ".join(f"{rates[n]:,.0f}" for n in LENGTHS)
        verdict = "met" if ratio >= GOAL_RATIO_AT_64 else "not met"
        print(f"| {target} | {cells} | {ratio:.1%} | {verdict} |")
    print()
    print("cost per operation (us/op), 16 / 64 / 256 ops: a flat row is "
          "linear cost")
    for target, r in results["targets"].items():
        per_op = r["us_per_op"]
        print(f"  {target}: " + " / ".join(str(per_op[str(n)]) for n in LENGTHS))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
