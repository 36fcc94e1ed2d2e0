#!/usr/bin/env python3
"""End-to-end checks of ./reservoir fuzz (reservoir_fuzz.py), each bounded
by a number of executions, never by a clock (the time limits given to the
campaign only catch a wedged run):

  keep-going --plant ID --target T --runs N
      a planted build: the campaign goes on after the first crash, keeps
      several crash files and reports fewer bugs (by key) than crashes;
      then --resume: the counters continue, nothing of the first round
      is deleted, and no bug is found twice
  resume --target T --runs N
      the bug-free build: a run and its resumed round; counters, time
      series and summary history continue, nothing is deleted
  sigint --target T
      SIGINT once the fuzzer has executed inputs: exit 130, the summary is
      written, every corpus entry seen before the signal is still there
  update-corpus --target T --runs N
      --update-corpus into a temporary copy of corpus/<T>: new entries
      appear in grown/, the copied files are untouched, the real corpus too

Exit status 0 when every check holds; a failed check prints FAIL and its
reason and exits 1."""

import argparse
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
SCRIPT = HERE / "reservoir_fuzz.py"
GUARD_SECONDS = 900


def fail(message):
    print(f"FAIL: {message}", flush=True)
    sys.exit(1)


def check(condition, message):
    if not condition:
        fail(message)
    print(f"ok: {message}", flush=True)


def campaign(*argv, expect=None):
    command = [sys.executable, str(SCRIPT), "--root", str(ROOT), "--jobs", "1",
               "--seed", "1", *argv]
    print("$ " + " ".join(command), flush=True)
    result = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, timeout=GUARD_SECONDS)
    print(result.stdout[-6000:], flush=True)
    if expect is not None and result.returncode not in expect:
        fail(f"the campaign exited with {result.returncode}, expected {expect}")
    return result.returncode


def files(directory):
    directory = Path(directory)
    if not directory.is_dir():
        return {}
    return {p.relative_to(directory).as_posix(): hashlib.sha1(p.read_bytes()).hexdigest()
            for p in directory.rglob("*") if p.is_file()}


def summary_of(run_dir):
    return json.loads((run_dir / "summary.json").read_text())


def keep_going(args, work):
    run_dir = work / "run"
    campaign("--plant", args.plant, "--targets", args.target, "--runs", str(args.runs),
             "--time", "300", "--out", str(run_dir), expect=(1,))
    first = summary_of(run_dir)
    job = first["targets"][0]
    bugs = first["bugs"]
    crashes = files(run_dir / args.target / "crashes")
    check(len(crashes) >= 2, f"kept going: {len(crashes)} crash files (>= 2)")
    check(job["crash_files"] == len(crashes), "the summary counts every crash file")
    check(1 <= len(bugs) < len(crashes),
          f"{len(bugs)} bug(s) by key for {len(crashes)} crashes")
    check(sum(b["crash_count"] for b in bugs) == len(crashes),
          "every crash file is filed under a key")
    check(job["executions"] > min(b["executions"] for b in bugs),
          f"executions went on after the first bug ({job['executions']} > "
          f"{min(b['executions'] for b in bugs)})")
    keys = sorted(b["key"] for b in bugs)
    # The hand-off: triage replays the crashes on the planted build the
    # campaign fuzzed, so every crash reproduces and maps to a bug.
    triaged = json.loads((run_dir / "triage" / "bugs.json").read_text())
    check(triaged["bugs"] and not triaged["no_crash"] and not triaged["unreproduced"],
          f"triage filed every crash under a bug ({len(triaged['bugs'])} bug(s), "
          f"{len(triaged['no_crash'])} replayed clean, "
          f"{len(triaged['unreproduced'])} unreproduced)")

    campaign("--resume", str(run_dir), "--runs", str(args.runs), "--time", "300",
             expect=(0, 1))
    second = summary_of(run_dir)
    check(len(second["rounds"]) == 2, "the summary keeps both rounds")
    check(not set(second["rounds"][1]["new_bugs"]) & set(keys),
          f"the resumed round reports none of the first round's bugs as "
          f"new (new now: {second['rounds'][1]['new_bugs']})")
    check(set(keys) <= {b["key"] for b in second["bugs"]}, "the known bugs stay known")
    all_crashes = files(run_dir / args.target / "crashes")
    check(sum(b["crash_count"] for b in second["bugs"]) == len(all_crashes),
          f"each of the {len(all_crashes)} crash files is filed once (none replayed "
          "twice)")
    check(second["targets"][0]["executions"] > job["executions"],
          f"executions continue ({job['executions']} -> "
          f"{second['targets'][0]['executions']})")
    after = files(run_dir / args.target / "crashes")
    check(all(after.get(name) == digest for name, digest in crashes.items()),
          "every crash file of the first round is still there, unchanged")


def resume(args, work):
    run_dir = work / "run"
    campaign("--targets", args.target, "--runs", str(args.runs), "--time", "300",
             "--out", str(run_dir), expect=(0,))
    first = summary_of(run_dir)
    corpus = files(run_dir / args.target / "corpus")
    series = json.loads((run_dir / "timeseries.json").read_text())["samples"]
    check(len(corpus) > 0, f"the first round grew a corpus ({len(corpus)} files)")
    campaign("--resume", str(run_dir), "--runs", str(args.runs), "--time", "300",
             expect=(0,))
    second = summary_of(run_dir)
    before, now = first["targets"][0], second["targets"][0]
    check(len(second["rounds"]) == 2 and second["rounds"][0] == first["rounds"][0],
          "summary.json keeps the first round's record")
    check(now["executions"] == before["executions"] + now["round_executions"],
          f"executions continue: {before['executions']} + {now['round_executions']}")
    check(now["seconds"] >= before["seconds"], "elapsed time continues")
    check((run_dir / args.target / "fuzz.2.log").exists() and
          (run_dir / args.target / "fuzz.log").exists(),
          "the second round has its own log; the first one's stays")
    later = json.loads((run_dir / "timeseries.json").read_text())["samples"]
    check(later[:len(series)] == series and later[-1]["seconds"] >= series[-1]["seconds"],
          "the time series continues the first round's")
    after = files(run_dir / args.target / "corpus")
    check(set(corpus) <= set(after), "no corpus entry of the first round is gone")


def sigint(args, work):
    run_dir = work / "run"
    command = [sys.executable, str(SCRIPT), "--root", str(ROOT), "--jobs", "1",
               "--seed", "1", "--targets", args.target, "--runs", "100000000",
               "--time", "600", "--out", str(run_dir)]
    print("$ " + " ".join(command), flush=True)
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True)
    # Wait until the fuzzer has run inputs and written corpus entries (a
    # guard, not a measure of speed).
    deadline = time.monotonic() + GUARD_SECONDS
    corpus_dir = run_dir / args.target / "corpus"
    while time.monotonic() < deadline:
        series = run_dir / "timeseries.json"
        if series.exists() and len(files(corpus_dir)) >= 5:
            samples = json.loads(series.read_text())["samples"]
            if samples and samples[-1]["executions"] > 0:
                break
        if process.poll() is not None:
            fail("the campaign ended before it was interrupted")
        time.sleep(0.5)
    else:
        fail("the campaign never got going")
    before = files(corpus_dir)
    process.send_signal(signal.SIGINT)
    output, _ = process.communicate(timeout=120)
    print(output[-4000:], flush=True)
    check(process.returncode == 130, f"exit status 130 after SIGINT ({process.returncode})")
    summary = summary_of(run_dir)
    check(summary["interrupted"] is True, "summary.json says interrupted")
    check((run_dir / "summary.md").exists(), "summary.md is written")
    after = files(corpus_dir)
    check(all(after.get(name) == digest for name, digest in before.items()),
          f"all {len(before)} corpus entries written before the signal are intact")
    check(summary["targets"][0]["executions"] > 0, "the executions are counted")


def update_corpus(args, work):
    corpus_copy = work / "corpus"
    shutil.copytree(ROOT / "corpus" / args.target, corpus_copy / args.target)
    copied = files(corpus_copy / args.target)
    real = files(ROOT / "corpus" / args.target)
    run_dir = work / "run"
    campaign("--targets", args.target, "--runs", str(args.runs), "--time", "300",
             "--out", str(run_dir), "--update-corpus", "--corpus-dir", str(corpus_copy),
             expect=(0,))
    update = summary_of(run_dir)["corpus_update"]
    check(update and update[0]["error"] is None, f"the merge ran: {update}")
    grown = files(corpus_copy / args.target / "grown")
    check(update[0]["added"] == len(grown) and len(grown) >= 1,
          f"{len(grown)} new entries in grown/, as reported")
    check(all(hashlib.sha1((corpus_copy / args.target / "grown" / n).read_bytes())
              .hexdigest() == n for n in grown), "grown entries are named by their SHA-1")
    now = files(corpus_copy / args.target)
    check(all(now.get(name) == digest for name, digest in copied.items()),
          "every file of the copied corpus is untouched")
    check(files(ROOT / "corpus" / args.target) == real, "the real corpus is untouched")
    # Again: what is already there is not added twice.
    run2 = work / "run2"
    campaign("--targets", args.target, "--runs", str(args.runs), "--time", "300",
             "--out", str(run2), "--update-corpus", "--corpus-dir", str(corpus_copy),
             expect=(0,))
    again = files(corpus_copy / args.target / "grown")
    check(all(again.get(n) == d for n, d in grown.items()),
          "a second update keeps the first one's entries")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("check", choices=["keep-going", "resume", "sigint", "update-corpus"])
    parser.add_argument("--target", default="page_alloc_fuzzer")
    parser.add_argument("--plant")
    parser.add_argument("--runs", type=int, default=3000)
    parser.add_argument("--work", help="work directory (default: a temporary one)")
    args = parser.parse_args()
    if args.check == "keep-going" and not args.plant:
        parser.error("keep-going needs --plant")
    if args.work:
        work = Path(args.work)
        if work.exists():
            shutil.rmtree(work)
        work.mkdir(parents=True)
        context = None
    else:
        context = tempfile.TemporaryDirectory()
        work = Path(context.name)
    {"keep-going": keep_going, "resume": resume, "sigint": sigint,
     "update-corpus": update_corpus}[args.check](args, work)
    print("PASS", flush=True)


if __name__ == "__main__":
    main()
