#!/usr/bin/python3
"""Instructions per alloc+free pair of alloc_bench, counted by callgrind.

Runs one alloc_bench benchmark at a time under valgrind --tool=callgrind
and divides the inclusive cost of the pair's two entry points by the
number of calls to them (the first call, which builds the slab, is one of
a few thousand): Model::Kmalloc + Model::Kfree, Model::AllocPages +
Model::FreePages, glibc's malloc + free. Instruction counts do not depend
on the machine's load, unlike the benchmark's own times.

    bench/alloc_pair_cost.py build/release/bench/alloc_bench [--json FILE]

Prints a table, and with --json writes the same figures (temp file, then
rename). Exit 2 on bad arguments, 1 when valgrind or a benchmark fails.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

PAIRS = [
    # (name, benchmark filter, entry points)
    *[(f"kmalloc/kfree {s} audit-{a}", f"kmalloc_kfree/{s}/audit_{a}$",
       ("reservoir::Model::Kmalloc(", "reservoir::Model::Kfree("))
      for a in ("off", "cheap") for s in (8, 64, 96, 512, 4096, 16384)],
    *[(f"alloc/free_pages order {o} audit-{a}",
       f"alloc_free_pages/order:{o}/audit_{a}$",
       ("reservoir::Model::AllocPages(", "reservoir::Model::FreePages("))
      for a in ("off", "cheap") for o in (0, 1, 3, 5)],
    # The block's buddy held: no split, no merge (the calls' fixed cost).
    *[(f"alloc/free_pages order {o} buddy in use audit-{a}",
       f"alloc_free_pages/order:{o}/audit_{a}/buddy_in_use$",
       ("reservoir::Model::AllocPages(", "reservoir::Model::FreePages("))
      for a in ("off", "cheap") for o in (0, 3)],
    *[(f"glibc malloc/free {b}", f"glibc_malloc_free/{b}$", ("malloc", "free"))
      for b in (8, 64, 96, 512, 4096, 16384)],
]


def call_costs(path):
    """Inclusive cost and calls per called function of a callgrind file."""
    names, calls, cost = {}, {}, {}
    target, pending = None, None
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            m = re.match(r"^(c?fn)=\((\d+)\)(?: (.*))?$", line.rstrip("\n"))
            if m:
                if m.group(3):
                    names[m.group(2)] = m.group(3)
                if m.group(1) == "cfn":
                    target = names.get(m.group(2))
                continue
            m = re.match(r"^calls=(\d+)", line)
            if m:
                pending = int(m.group(1))
                continue
            if pending is not None:
                parts = line.split()
                calls[target] = calls.get(target, 0) + pending
                cost[target] = cost.get(target, 0) + (
                    int(parts[1]) if len(parts) > 1 else 0)
                pending = None
    return calls, cost


def pair_cost(bench, bench_filter, entries, workdir):
    out = os.path.join(workdir, "pair.cg")
    run = subprocess.run(
        ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", bench,
         f"--benchmark_filter={bench_filter}", "--benchmark_min_time=0.01"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    if run.returncode != 0 or not os.path.exists(out):
        return None
    calls, cost = call_costs(out)
    os.unlink(out)
    total = 0.0
    for entry in entries:
        hits = [n for n in calls if n == entry or n.startswith(entry)]
        if not hits or sum(calls[n] for n in hits) == 0:
            return None
        total += sum(cost[n] for n in hits) / sum(calls[n] for n in hits)
    return total


def main():
    parser = argparse.ArgumentParser(
        description="instructions per alloc+free pair of alloc_bench "
                    "(callgrind)")
    parser.add_argument("bench", help="the alloc_bench binary (Release build)")
    parser.add_argument("--filter", default="",
                        help="only pairs whose name contains this text")
    parser.add_argument("--json", metavar="FILE",
                        help="also write the figures here (must not exist)")
    args = parser.parse_args()
    if not os.access(args.bench, os.X_OK):
        parser.error(f"{args.bench}: not an executable")
    if args.json and os.path.exists(args.json):
        parser.error(f"{args.json}: exists (nothing is overwritten)")
    results = {}
    with tempfile.TemporaryDirectory() as workdir:
        pairs = [p for p in PAIRS if args.filter in p[0]]
        for i, (name, bench_filter, entries) in enumerate(pairs, 1):
            print(f"[alloc_pair_cost] {i}/{len(pairs)} {name}",
                  file=sys.stderr)
            cost = pair_cost(args.bench, bench_filter, entries, workdir)
            if cost is None:
                print(f"alloc_pair_cost: {name}: callgrind run failed",
                      file=sys.stderr)
                return 1
            results[name] = round(cost, 1)
    print("| pair | instructions |\n|---|---:|")
    for name, cost in results.items():
        print(f"| {name} | {cost:,.1f} |")
    if args.json:
        directory = os.path.dirname(os.path.abspath(args.json))
        fd, tmp = tempfile.mkstemp(dir=directory, suffix=".tmp")
        with os.fdopen(fd, "w") as f:
            json.dump({"instructions_per_pair": results}, f, indent=2)
            f.write("\n")
        os.rename(tmp, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
