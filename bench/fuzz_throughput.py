#!/usr/bin/env python3
"""Fuzz target throughput under the real engine, as a ratio to a trivial
target built with the same engine, sanitizers and instrumentation.

Each target runs under libFuzzer for --seconds with its seed corpus, with
RESERVOIR_PROGRAM_OPS=N so that every input executes exactly N operations
after the target's prologue; trivial_fuzzer runs the same way. The result is
executions per second (libFuzzer's executed units over the wall time) and
the fraction of the trivial target's rate, for N = 16, 64 and 256.

With --callgrind-build (a libFuzzer build without sanitizers: valgrind
cannot run ASan binaries) the same run also counts each target's own
instructions per input at each N with callgrind (bench/profile_input.py's
steady-state method over the seed files), and the trivial target's, so the
figure of record on a noisy machine sits next to the timing.

With --min-ratio R the exit status is 1 when any target's exec/s at 64
operations is below R times the trivial target's (0 when all reach it).

  bench/fuzz_throughput.py [--build build/libfuzzer-asan] [--seconds 5]
      [--targets reserve_fuzzer,slab_fuzzer]
      [--callgrind-build build/prof] [--min-ratio 0.10] [--json FILE]
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fuzz" / "campaign"))
from reservoir_campaign.common import fail, set_prog, write_atomically  # noqa: E402
from reservoir_campaign.targets import TARGETS  # noqa: E402
sys.path.insert(0, str(Path(__file__).resolve().parent))
import profile_input  # noqa: E402

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


def instructions_per_input(binary, seeds, ops, scratch):
    """The target's own steady-state instructions per input over its seed
    files (profile_input's once-and-three-times difference)."""
    files = sorted(str(p) for p in seeds.iterdir() if p.is_file()) if seeds else []
    if not files:
        # The trivial target has no seeds: any fixed inputs do.
        files = []
        for i in range(4):
            path = scratch / f"input{i}"
            path.write_bytes(bytes(range(i * 8, i * 8 + 24)))
            files.append(str(path))
    passes = []
    for repeat in (1, 3):
        out = scratch / f"{binary.name}.{ops}.{repeat}.callgrind"
        profile_input.callgrind(binary, files * repeat, ops, out)
        passes.append(profile_input.Profile(out))
    difference = profile_input.Difference(passes[1], passes[0])
    inputs = difference.calls(profile_input.ENTRY)
    return round(difference.inclusive(profile_input.ENTRY) / inputs) if inputs else None


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build", default="build/libfuzzer-asan",
                        help="a libFuzzer build directory (default: %(default)s)")
    parser.add_argument("--seconds", type=int, default=5,
                        help="fuzzing time per measurement (default: 5)")
    parser.add_argument("--targets", metavar="LIST",
                        help="comma-separated targets (default: all)")
    parser.add_argument("--callgrind-build", metavar="DIR",
                        help="a libFuzzer build without sanitizers: also count "
                        "instructions per input with callgrind")
    parser.add_argument("--min-ratio", type=float, metavar="R",
                        help="exit 1 when a target's exec/s at 64 operations is "
                        "below R times the trivial target's")
    parser.add_argument("--json", metavar="FILE",
                        help="also write the figures as JSON (a new file)")
    args = parser.parse_args()
    if args.seconds <= 0:
        fail("--seconds must be positive")
    targets = args.targets.split(",") if args.targets else TARGETS
    for name in targets:
        if name not in TARGETS:
            fail(f"unknown target '{name}' (known: {', '.join(TARGETS)})")
    if args.min_ratio is not None and not 0 < args.min_ratio <= 1:
        fail("--min-ratio must be in (0, 1]")
    if args.json and Path(args.json).exists():
        fail(f"{args.json} exists: not overwriting it")
    build = Path(args.build)
    binaries = build / "fuzz" / "targets"
    for name in targets + ["trivial_fuzzer"]:
        if not (binaries / name).exists():
            fail(f"{binaries / name} is missing: build the preset first")
    cg_binaries = None
    if args.callgrind_build:
        if shutil.which("valgrind") is None:
            fail("valgrind is not installed (apt-get install valgrind)")
        cg_binaries = Path(args.callgrind_build) / "fuzz" / "targets"
        for name in targets + ["trivial_fuzzer"]:
            if not (cg_binaries / name).exists():
                fail(f"{cg_binaries / name} is missing: build fuzz_targets "
                     "and trivial_fuzzer there first")

    trivial = run(binaries / "trivial_fuzzer", None, args.seconds, None)
    print(f"trivial_fuzzer: {trivial:,.0f} exec/s (same engine and sanitizers)")
    results = {"trivial_exec_per_sec": round(trivial), "targets": {}}
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        if cg_binaries is not None:
            trivial_instr = instructions_per_input(
                cg_binaries / "trivial_fuzzer", None, 64, scratch)
            results["trivial_instructions_per_input"] = trivial_instr
            print(f"trivial_fuzzer: {trivial_instr:,} instructions per input "
                  "(callgrind, no sanitizers)")
        header = "| target | " + " | ".join(f"{n} ops" for n in LENGTHS) + \
            " | ratio to trivial at 64 | goal (>= 10%) |"
        if cg_binaries is not None:
            header += " " + " | ".join(f"instr/input {n}" for n in LENGTHS) + " |"
        print()
        print(header)
        print("|---|" + "---:|" * len(LENGTHS) + "---:|---|" +
              ("---:|" * len(LENGTHS) if cg_binaries is not None else ""))
        for target in targets:
            seeds = build / "corpus" / target
            rates = {n: run(binaries / target, seeds, args.seconds, n)
                     for n in LENGTHS}
            ratio = rates[64] / trivial
            entry = {
                "exec_per_sec": {str(n): round(r) for n, r in rates.items()},
                "ratio_at_64": round(ratio, 4),
                # Cost per operation: (1/rate) / ops, in microseconds.
                "us_per_op": {str(n): round(1e6 / r / n, 3) for n, r in rates.items()},
            }
            cells = " | ".join(f"{rates[n]:,.0f}" for n in LENGTHS)
            verdict = "met" if ratio >= GOAL_RATIO_AT_64 else "not met"
            line = f"| {target} | {cells} | {ratio:.1%} | {verdict} |"
            if cg_binaries is not None:
                cg_seeds = Path(args.callgrind_build) / "corpus" / target
                if not cg_seeds.is_dir():
                    cg_seeds = seeds
                if not cg_seeds.is_dir():
                    fail(f"no seed corpus for {target} in {args.callgrind_build}"
                         f"/corpus or {build}/corpus")
                instr = {n: instructions_per_input(cg_binaries / target, cg_seeds,
                                                   n, scratch) for n in LENGTHS}
                entry["instructions_per_input"] = {str(n): v for n, v in instr.items()}
                line += " " + " | ".join(f"{instr[n]:,}" for n in LENGTHS) + " |"
            results["targets"][target] = entry
            print(line, flush=True)
    print()
    print("cost per operation (us/op), 16 / 64 / 256 ops: a flat row is "
          "linear cost")
    for target, r in results["targets"].items():
        per_op = r["us_per_op"]
        print(f"  {target}: " + " / ".join(str(per_op[str(n)]) for n in LENGTHS))
    if args.json:
        write_atomically(args.json, json.dumps(results, indent=2) + "\n")
    if args.min_ratio is not None:
        below = [t for t, r in results["targets"].items()
                 if r["ratio_at_64"] < args.min_ratio]
        if below:
            print(f"fuzz_throughput: below {args.min_ratio:.0%} of trivial at 64 "
                  f"operations: {', '.join(below)}", file=sys.stderr)
            sys.exit(1)


if __name__ == "__main__":
    main()
