#!/usr/bin/env python3
"""The plant experiment: do the crashes of one planted bug collapse to one
signature, and do different plants keep different ones?

For each plant and seed it runs a short campaign (`./reservoir fuzz`'s
script: --plant P --time T --jobs 1 --seed S, all five targets), then
signs every finding twice: from the fuzz target's own log (libFuzzer, or
AFL++'s replayed crash) and from a replay of the reproducer through the
planted build's reservoir-replay. A crash after injected faults is
replayed once more without them (signature.faults_needed): when the same
crash comes back, the faults were incidental and it keeps the fault-free
key; otherwise its key ends in ":fault". It prints a Markdown table (plant ->
signatures, with how many crashes, which targets and engines) and writes
experiment.json into --out. Not run by CI: a plant costs a build (minutes)
and about T seconds per target and seed.

  plant_experiment.py --out build/t1-plant-experiment [--plants a,b]
                      [--seeds 1,2] [--time 20] [--engine libfuzzer|both]
"""
import argparse
import json
import os
import subprocess
import sys
from collections import defaultdict

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.dirname(HERE))

from reservoir_triage.parse import parse_log  # noqa: E402
from reservoir_triage.signature import faults_needed, sign  # noqa: E402

PLANTS = ["fastpath_skips_match", "partial_ignores_tag", "stale_pfmemalloc",
          "pfmemalloc_every_entitled", "uncharge_ksize", "connect_drops_usage",
          "wrong_buddy"]


def say(msg):
    print(f"[plant-experiment] {msg}", file=sys.stderr, flush=True)


def read(path):
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", errors="replace")
    except OSError:
        return ""


def replay_log(build, target, reproducer):
    replay = os.path.join(build, "fuzz", "tools", "reservoir-replay")
    if not os.path.exists(replay) or not reproducer or \
            not os.path.exists(reproducer):
        return None
    p = subprocess.run([replay, "--target", target, reproducer],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=120)
    return p.stdout.decode("utf-8", errors="replace")


def replay_text(build, program):
    """reservoir-replay of a text program on `build`: its log."""
    import tempfile
    replay = os.path.join(build, "fuzz", "tools", "reservoir-replay")
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
        f.write(program)
    try:
        p = subprocess.run([replay, f.name], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=120)
        return p.stdout.decode("utf-8", errors="replace")
    finally:
        os.unlink(f.name)


def campaign(args, plant, seed, out):
    cmd = [sys.executable, os.path.join(ROOT, "fuzz", "campaign",
                                        "reservoir_fuzz.py"),
           "--root", ROOT, "--plant", plant, "--time", str(args.time),
           "--jobs", "1", "--seed", str(seed), "--out", out,
           "--engine", args.engine]
    say(" ".join(cmd[1:]))
    subprocess.run(cmd, stdout=subprocess.DEVNULL)
    try:
        with open(os.path.join(out, "summary.json")) as f:
            return json.load(f)
    except (OSError, json.JSONDecodeError):
        say(f"{plant} seed {seed}: no summary")
        return None


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True)
    p.add_argument("--plants", default=",".join(PLANTS))
    p.add_argument("--seeds", default="1,2")
    p.add_argument("--time", type=int, default=20)
    p.add_argument("--engine", default="libfuzzer",
                   choices=["libfuzzer", "afl", "both"])
    args = p.parse_args()
    os.makedirs(args.out, exist_ok=True)
    rows = []
    for plant in args.plants.split(","):
        build = os.path.join(ROOT, "build", f"libfuzzer-asan-plant-{plant}")
        for seed in [int(s) for s in args.seeds.split(",")]:
            out = os.path.join(args.out, f"{plant}-seed{seed}")
            if os.path.exists(os.path.join(out, "summary.json")):
                with open(os.path.join(out, "summary.json")) as f:
                    summary = json.load(f)
            else:
                summary = campaign(args, plant, seed, out)
            if summary is None:
                continue
            for t in summary.get("targets", []):
                if not t.get("finding"):
                    rows.append({"plant": plant, "seed": seed,
                                 "target": t.get("target"),
                                 "engine": t.get("engine", "libfuzzer"),
                                 "source": "none", "key": None})
                    continue
                engine = t.get("engine") or "libfuzzer"
                sources = []
                if engine == "libfuzzer" and t.get("log"):
                    sources.append(("fuzzer-log", read(t["log"])))
                repro = t.get("reproducer")
                rlog = replay_log(build if engine == "libfuzzer" else
                                  os.path.join(ROOT, "build",
                                               f"afl-plant-{plant}"),
                                  t.get("target"), repro)
                if rlog is not None:
                    sources.append((f"{engine}-replay", rlog))
                for source, text in sources:
                    rec = parse_log(text)
                    needed = None
                    if rec is not None and rec.fault_induced:
                        needed = faults_needed(
                            rec, lambda prog: replay_text(build, prog))
                    rows.append({
                        "plant": plant, "seed": seed,
                        "target": t.get("target"), "engine": engine,
                        "source": source,
                        "raw_key": sign(rec).key if rec else None,
                        "key": sign(rec, needed).key if rec else None,
                        "after_faults": bool(rec and rec.fault_induced),
                        "faults_needed": needed,
                        "corrupted": rec.corrupted if rec else None})
    with open(os.path.join(args.out, "experiment.json"), "w") as f:
        json.dump(rows, f, indent=2, sort_keys=True)
        f.write("\n")
    # The table: per plant, each key with its count, targets and sources.
    by_plant = defaultdict(lambda: defaultdict(list))
    for r in rows:
        if r["key"]:
            by_plant[r["plant"]][r["key"]].append(r)
    owners = defaultdict(set)
    print("| plant | signature | crashes | after faults (needed) | targets "
          "| seeds | from |")
    print("|---|---|---|---|---|---|---|")
    for plant in args.plants.split(","):
        misses = [r for r in rows if r["plant"] == plant and not r["key"]]
        for key, rs in sorted(by_plant[plant].items()):
            owners[key].add(plant)
            after = sum(1 for r in rs if r.get("after_faults"))
            needed = sum(1 for r in rs if r.get("faults_needed"))
            print(f"| {plant} | `{key}` | {len(rs)} | {after} ({needed}) | "
                  f"{', '.join(sorted({r['target'] for r in rs}))} | "
                  f"{', '.join(str(s) for s in sorted({r['seed'] for r in rs}))} | "
                  f"{', '.join(sorted({r['source'] for r in rs}))} |")
        if misses:
            print(f"| {plant} | (no finding) | {len(misses)} | - | "
                  f"{', '.join(sorted({str(r['target']) for r in misses}))} | "
                  f"{', '.join(str(s) for s in sorted({r['seed'] for r in misses}))} | - |")
    shared = {k: v for k, v in owners.items() if len(v) > 1}
    print()
    print(f"signatures per plant: " + ", ".join(
        f"{p} {len(by_plant[p])}" for p in args.plants.split(",")))
    print(f"signatures shared by two plants: {len(shared)}"
          + "".join(f"\n  {k}: {', '.join(sorted(v))}" for k, v in shared.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
