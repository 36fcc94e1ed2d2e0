#!/usr/bin/env python3
"""Reports what the seed corpora cover, per target: which of the operation
kinds the target can express appear in its seeds (the target's kinds are
asked of the built reservoir-seed, as in make_dicts.py), and which fault
modes, slab policies, estimators, zone counts and CPU counts the seeds'
headers use. Exits 1 if a target's seeds miss a kind it can express.

Usage: corpus/seed_coverage.py [--seed-tool PATH]

Only the seed bodies are read (the prologue's operations do not count).
Python 3 standard library only.
"""

import argparse
import glob
import os
import shutil
import sys
import tempfile

import make_dicts


def header_fields(text):
    fields = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if line.startswith("config ") or line.startswith("faults "):
            for item in line.split()[1:]:
                key, _, value = item.partition("=")
                fields[key] = value
    return fields


def body_kinds(text):
    kinds = []
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith(("config ", "faults ")):
            continue
        kinds.append(line.split()[0])
    return kinds


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed-tool")
    args = parser.parse_args()
    tool = make_dicts.find_seed_tool(args.seed_tool)
    workdir = tempfile.mkdtemp(prefix="seed_coverage.")
    missing_any = False
    try:
        compiler = make_dicts.Compiler(tool, workdir)
        for target in make_dicts.TARGETS:
            expressible = [k for k, line in make_dicts.KIND_PROBES.items()
                           if compiler.try_records(target, [line]) is not None]
            seeds = sorted(glob.glob(os.path.join(
                make_dicts.CORPUS, target, "seeds", "*.txt")))
            used = {}
            headers = {"mode": set(), "slab_policy": set(), "estimator": set(),
                       "zones": set(), "nr_cpus": set()}
            for seed in seeds:
                with open(seed) as f:
                    text = f.read()
                for kind in body_kinds(text):
                    used[kind] = used.get(kind, 0) + 1
                h = header_fields(text)
                headers["mode"].add(h.get("mode"))
                headers["slab_policy"].add(h.get("slab_policy"))
                headers["estimator"].add(h.get("estimator"))
                headers["zones"].add("1" if h.get("highmem_pages") == "0"
                                     else "2")
                headers["nr_cpus"].add(h.get("nr_cpus"))
            missing = [k for k in expressible if k not in used]
            print("%s: %d seeds, %d/%d kinds" % (
                target, len(seeds), len(expressible) - len(missing),
                len(expressible)))
            for kind in expressible:
                print("  %-22s %s" % (kind, used.get(kind, "MISSING")))
            for key, values in headers.items():
                print("  header %-12s %s" % (key, ", ".join(sorted(
                    v for v in values if v is not None))))
            if missing:
                missing_any = True
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 1 if missing_any else 0


if __name__ == "__main__":
    sys.exit(main())
