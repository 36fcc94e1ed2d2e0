#!/usr/bin/env python3
"""The regression cases `regress` generates catch their bug (ctest label
`plants`).

For each plant given: on the one runtime-plant build every plant test
shares (build/libfuzzer-asan-plant-runtime: every plant compiled in,
RESERVOIR_PLANT=<id> turns one on; its reservoir-replay is built here when
out of date), minimise the plant's trigger (corpus/plants/<id>.txt) with
the plant on, turn the
result into a regression case with `regress` (into a scratch root, never
the source tree), then check that the case
  - crashes on the planted build with the signature it was minimised to
    and the report its `# expect:` line names, and
  - replays clean on the build without the plant (the ctest build).
Exits 1 with one line per failure; prints the figures (build time,
minimised size, replays) on stdout.

    regress_plants_test.py --source ROOT --fixed-replay PATH --work DIR
                           [--plant-build DIR] PLANT...
"""
import argparse
import os
import shutil
import subprocess
import sys
import time


def run(command, plant=None, **kw):
    """Runs `command` with RESERVOIR_PLANT=`plant` (None: unset)."""
    env = dict(os.environ)
    env.pop("RESERVOIR_PLANT", None)
    if plant:
        env["RESERVOIR_PLANT"] = plant
    return subprocess.run(command, capture_output=True, text=True, env=env,
                          **kw)


def build_runtime(source, build):
    """Configures (as ./reservoir fuzz and bench do: the libfuzzer-asan
    preset, -DRESERVOIR_PLANT=runtime) and brings reservoir-replay up to
    date; returns (replay path, seconds)."""
    replay = os.path.join(build, "fuzz", "tools", "reservoir-replay")
    start = time.monotonic()
    if not os.path.isfile(os.path.join(build, "CMakeCache.txt")):
        p = run(["cmake", "--preset", "libfuzzer-asan", "-B", build,
                 "-DRESERVOIR_PLANT=runtime"], cwd=source)
        if p.returncode != 0:
            raise RuntimeError(f"configure failed: {p.stdout[-400:]}"
                               f"{p.stderr[-400:]}")
    p = run(["cmake", "--build", build, "--target", "reservoir-replay",
             "-j", "2"])
    if p.returncode != 0:
        raise RuntimeError(f"build failed: {p.stdout[-600:]}")
    return replay, time.monotonic() - start


def target_of(trigger):
    with open(trigger) as f:
        for line in f:
            words = line.strip("# \n").split()
            if len(words) == 2 and words[1] == "prologue":
                return words[0]
    return "slab_fuzzer"


def check_runs(args, triage, plants, build):
    """`run` on a directory of every plant trigger, once per plant build,
    all into one findings store: one bug per plant, no two plants with
    one signature, and a second run of the first plant says `known`."""
    import json
    failures = []
    crashes = os.path.join(args.work, "all-triggers")
    shutil.rmtree(crashes, ignore_errors=True)
    shutil.copytree(os.path.join(args.source, "corpus", "plants"), crashes,
                    ignore=shutil.ignore_patterns("*.md"))
    store = os.path.join(args.work, "store.json")
    if os.path.exists(store):
        os.unlink(store)
    seen = {}
    for n, plant in enumerate(plants + plants[:1]):
        out = os.path.join(args.work, f"run-{n}-{plant}")
        shutil.rmtree(out, ignore_errors=True)
        p = run(triage + ["run", crashes, "--build", build,
                          "--store", store, "--out", out], plant=plant)
        if p.returncode != 0:
            failures.append(f"{plant}: run failed: {p.stderr.strip()[-300:]}")
            continue
        with open(os.path.join(out, "bugs.json")) as f:
            bugs = json.load(f)["bugs"]
        want = "known" if n == len(plants) else "new"
        trigger = os.path.join(crashes, f"{plant}.txt")
        mine = [b for b in bugs if trigger in b["crashes"]]
        if len(mine) != 1 or mine[0]["status"] != want:
            failures.append(f"{plant}: run gave {[(b['signature'], b['status']) for b in mine]}"
                            f" for its trigger, expected one {want} bug")
            continue
        key = mine[0]["signature"]
        if n < len(plants) and key in seen.values():
            failures.append(f"{plant}: shares signature {key} with another "
                            "plant")
        seen[plant] = key
        print(f"{plant}: run -> {len(bugs)} bug(s), its own {key} "
              f"({mine[0]['status']})")
    return failures


def main(argv):
    parser = argparse.ArgumentParser()
    parser.add_argument("--source", required=True)
    parser.add_argument("--fixed-replay", required=True)
    parser.add_argument("--work", required=True)
    parser.add_argument("--plant-build",
                        help="the runtime-plant build (default: "
                             "SOURCE/build/libfuzzer-asan-plant-runtime)")
    parser.add_argument("plants", nargs="+")
    args = parser.parse_args(argv)
    triage = [sys.executable, os.path.join(args.source, "triage",
                                           "reservoir-triage")]
    fixed_build = os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(args.fixed_replay))))
    os.makedirs(args.work, exist_ok=True)
    failures = []
    build = os.path.abspath(args.plant_build or os.path.join(
        args.source, "build", "libfuzzer-asan-plant-runtime"))
    try:
        replay, seconds = build_runtime(args.source, build)
    except RuntimeError as e:
        print(f"FAIL runtime-plant build: {e}")
        return 1
    print(f"runtime-plant build {build}: reservoir-replay up to date in "
          f"{seconds:.0f} s")
    for plant in args.plants:
        trigger = os.path.join(args.source, "corpus", "plants",
                               f"{plant}.txt")
        target = target_of(trigger)
        scratch = os.path.join(args.work, f"case-{plant}")
        shutil.rmtree(scratch, ignore_errors=True)   # our own scratch only
        os.makedirs(scratch)
        out = os.path.join(scratch, "minimised")
        p = run(triage + ["minimise", trigger, "--build", build,
                          "--out", out], plant=plant)
        if p.returncode != 0:
            failures.append(f"{plant}: minimise failed: {p.stderr.strip()}")
            continue
        figures = p.stdout.split("\n")[1].strip()
        root = os.path.join(scratch, "root")
        os.makedirs(root)
        p = run(triage + ["--root", root, "regress",
                          os.path.join(out, "minimised.txt"),
                          "--target", target, "--bug-build", build,
                          "--fixed-build", fixed_build], plant=plant)
        if p.returncode != 0:
            failures.append(f"{plant}: regress failed: {p.stderr.strip()}")
            continue
        case = p.stdout.split("\n")[0]
        with open(case) as f:
            text = f.read()
        expect = [l[len("# expect: "):] for l in text.split("\n")
                  if l.startswith("# expect: ")]
        signature = [l[len("# signature: "):] for l in text.split("\n")
                     if l.startswith("# signature: ")]
        # With the bug: the expect line is printed, the signature matches.
        p = run([replay, "--target", target, case], plant=plant)
        log = p.stdout + p.stderr
        if p.returncode == 0 or not expect or expect[0] not in log:
            failures.append(f"{plant}: the case does not fail on the planted "
                            f"build with '{expect[0] if expect else '?'}'")
            continue
        p = run(triage + ["reproduce", case, "--build", build, "--runs", "1",
                          "--json"], plant=plant)
        if not signature or signature[0] not in p.stdout:
            failures.append(f"{plant}: the case's signature changed on the "
                            "planted build")
            continue
        # Without it: the regression directory replays clean.
        p = run([args.fixed_replay, "--target", target,
                 os.path.dirname(case)])
        if p.returncode != 0:
            failures.append(f"{plant}: the case fails without the plant: "
                            f"{(p.stdout + p.stderr).strip()[-300:]}")
            continue
        print(f"{plant}: ok ({target}; {figures})")
    failures += check_runs(args, triage, [p for p in args.plants
                                          if not any(f.startswith(p + ":")
                                                     for f in failures)],
                           build)
    for failure in failures:
        print(f"FAIL {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
