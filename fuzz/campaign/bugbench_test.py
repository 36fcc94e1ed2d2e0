#!/usr/bin/env python3
"""ctest bugbench.ci: the bug benchmark at CI size, bounded by executions
(libFuzzer -runs), never by a clock (--budget is only a guard).

Every plant x lf-seeds x 1 trial on the shared runtime-plant build
(build/libfuzzer-asan-plant-runtime, brought up to date by the benchmark),
then the clean pseudo-plant on the ctest build itself (--clean-build).
Passes when at least MIN_FOUND plants are found with their trigger's
class and the clean build finds nothing; prints the table, and a WARN line
for each finding of another class. Prints PASS or FAIL: lines.

    bugbench_test.py --root ROOT --clean-build DIR --work DIR [--max-execs N]
"""
import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

MIN_FOUND = 5
HERE = Path(__file__).resolve().parent


def main(argv):
    parser = argparse.ArgumentParser()
    parser.add_argument("--root", required=True, type=Path)
    parser.add_argument("--clean-build", required=True, type=Path)
    parser.add_argument("--work", required=True, type=Path)
    parser.add_argument("--max-execs", type=int, default=3000)
    args = parser.parse_args(argv)
    out = args.work / "run"
    if args.work.exists():
        shutil.rmtree(args.work)   # this test's own scratch directory
    args.work.mkdir(parents=True)
    command = [sys.executable, str(HERE / "reservoir_bench.py"),
               "--root", str(args.root), "--configs", "lf-seeds",
               "--trials", "1", "--max-execs", str(args.max_execs),
               "--budget", "600", "--clean",
               "--clean-build", str(args.clean_build), "--out", str(out)]
    result = subprocess.run(command, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    print(result.stdout[-6000:])
    if result.returncode not in (0, 1):
        print(f"FAIL: the benchmark exited with {result.returncode}")
        return 1
    data = json.loads((out / "bench-bugs.json").read_text())
    cells = data["cells"]
    right = sorted({c["plant"] for c in cells if c["plant"] != "clean"
                    and c.get("found") and c.get("class_matches")})
    wrong = [c for c in cells if c["plant"] != "clean" and c.get("found")
             and not c.get("class_matches")]
    clean = [c for c in cells if c["plant"] == "clean"]
    clean_found = [c for c in clean if c.get("found")]
    errors = [c for c in cells if c["status"] == "error"]
    for c in wrong:
        print(f"WARN: {c['plant']}: found as {c.get('class')}, expected "
              f"{c.get('expected_class')} ({c.get('crash')})")
    failures = []
    if len(right) < MIN_FOUND:
        failures.append(f"{len(right)} plants found with their class "
                        f"({', '.join(right)}), expected at least {MIN_FOUND}")
    if not clean or len(clean) != len({c['target'] for c in clean}):
        failures.append("the clean build did not run once per target")
    for c in clean_found:
        failures.append(f"the clean build found {c.get('class')} on "
                        f"{c['target']} ({c.get('crash')})")
    for c in errors:
        failures.append(f"{c['plant']} x {c['config']}: {c.get('error')}")
    for failure in failures:
        print(f"FAIL: {failure}")
    if failures:
        return 1
    print(f"PASS: {len(right)} plants found with their class "
          f"({', '.join(right)}); the clean build ran {len(clean)} targets x "
          f"{args.max_execs} executions and found nothing")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
