#!/usr/bin/env bash
# What the fault sites cost: runs fault_site_bench (sites compiled in) and
# fault_site_bench_nofaults (RESERVOIR_NO_FAULT_SITES) with JSON output and
# prints each benchmark's time divided by the compiled-out baseline of the
# same operation. Nothing is asserted; the numbers are for reading.
#
# Usage: bench/compare_fault_sites.sh [BENCH_DIR] [benchmark flags...]
#   BENCH_DIR defaults to build/release/bench (the `release` preset).
#   Flags go to both binaries, e.g.
#   bench/compare_fault_sites.sh build/release/bench \
#       --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
set -euo pipefail

bench_dir="build/release/bench"
if [[ $# -gt 0 && "$1" != --* ]]; then
  bench_dir="$1"
  shift
fi
with_sites="$bench_dir/fault_site_bench"
without_sites="$bench_dir/fault_site_bench_nofaults"
for binary in "$with_sites" "$without_sites"; do
  if [[ ! -x "$binary" ]]; then
    echo "compare_fault_sites: $binary not found; build the release preset" \
         "(cmake --preset release && cmake --build --preset release)" >&2
    exit 2
  fi
done

workdir="$(mktemp -d)"
trap 'rm -rf "$workdir"' EXIT

# stdout carries the JSON; the programs' own ratio summary goes to stderr.
"$with_sites" --benchmark_format=json "$@" >"$workdir/with.json" \
    2>"$workdir/with.err"
"$without_sites" --benchmark_format=json "$@" >"$workdir/without.json" \
    2>"$workdir/without.err"

python3 - "$workdir/with.json" "$workdir/without.json" <<'EOF'
import json
import statistics
import sys

SCALE = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}


def times(path):
    """name -> (real, cpu) ns per iteration: the median aggregate when
    present, else the median of the iteration runs."""
    with open(path) as f:
        data = json.load(f)
    runs, medians = {}, {}
    for b in data["benchmarks"]:
        if b.get("error_occurred"):
            continue
        name = b.get("run_name", b["name"])
        scale = SCALE[b.get("time_unit", "ns")]
        ns = (b["real_time"] * scale, b["cpu_time"] * scale)
        if b.get("run_type") == "aggregate":
            if b.get("aggregate_name") == "median":
                medians[name] = ns
        else:
            runs.setdefault(name, []).append(ns)
    result = {name: (statistics.median(r for r, _ in v),
                     statistics.median(c for _, c in v))
              for name, v in runs.items()}
    result.update(medians)
    return result, data["context"].get("fault_sites", "?")


with_sites, with_label = times(sys.argv[1])
without_sites, without_label = times(sys.argv[2])


def baseline_name(name):
    # fault_sites/<op>/<arg>/<hook> -> the same op with no hook
    return name.rsplit("/", 1)[0] + "/no_hook"


print(f"fault sites {with_label} vs {without_label}")
print("ns per alloc+free pair, real and CPU time; ratio: over the same "
      "operation with the sites\ncompiled out (the CPU ratio is steadier "
      "when other jobs share the cores)")
print(f"{'benchmark':<56} {'real':>7} {'no sites':>8} {'ratio':>7} "
      f"{'cpu':>7} {'no sites':>8} {'ratio':>7}")
for name, (real, cpu) in with_sites.items():
    base = without_sites.get(baseline_name(name))
    if base is None:
        print(f"{name:<56} {real:7.2f} {'-':>8} {'-':>7} {cpu:7.2f} "
              f"{'-':>8} {'-':>7}")
        continue
    print(f"{name:<56} {real:7.2f} {base[0]:8.2f} {real / base[0]:6.3f}x "
          f"{cpu:7.2f} {base[1]:8.2f} {cpu / base[1]:6.3f}x")
EOF
