"""run: triage a whole directory of crashes.

For a `./reservoir fuzz` run directory (<run>/<target>/crashes/*,
<run>/<target>/afl/*/crashes/id:*) or any directory of crash files (a flat
copy from CI, text programs): reproduce and sign every crash, group the
crashes by signature, minimise one reproducer per signature (the
smallest), record each bug in the findings store (new or known), and
write into a fresh output directory (default <DIR>/triage/):
  bugs.json        the machine-readable result (schema below)
  summary.md       the human summary (also printed on stdout)
  results.sarif    SARIF 2.1.0, one result per bug
  bugs/<n>-<class>/  bug.md, bug.html, bug.json, minimised.txt,
                   minimise.json and any slipped-*.txt
bugs.json: {"schema": "reservoir-triage-run/1", "bugs": [{"signature",
"alt_keys", "class", "origin", "status": "new"|"known", "fault_induced",
"crashes": [paths], "targets", "engines", "reproduction_rate",
"minimised": path, "ops_before", "ops_after", "html", "markdown",
"first_line", "explanation"}], "unreproduced": [{"path", "reason"}],
"no_crash": [paths]}. `no_crash` lists inputs that replay clean on the
build; `unreproduced` those whose replays disagree (a harness bug) or
could not run.
"""
import json
import os
import sys
import time

from . import minimise as minimise_mod
from . import replay as replay_mod
from . import report as report_mod
from . import sarif as sarif_mod
from .reproduce import add_replay_arguments, make_replayer, reproduce
from .util import TriageError, dump_json, fail, fresh_directory, \
    write_atomically

NAME = "run"
HELP = ("triage a directory of crashes: reproduce, sign, group, minimise, "
        "remember, report (bugs.json, summary.md, results.sarif, pages)")
SCHEMA = "reservoir-triage-run/1"
SKIP_NAMES = ("README", "README.txt", ".state")
SKIP_EXTS = (".log", ".json", ".md", ".sarif", ".html")


def engine_of(path):
    parts = os.path.abspath(path).split(os.sep)
    name = os.path.basename(path)
    if "afl" in parts or name.startswith("id:"):
        return "afl"
    if name.split("-", 1)[0] in ("crash", "leak", "timeout", "oom",
                                 "slow-unit", "minimized"):
        return "libfuzzer"
    return None


def collect_crashes(directory, skip_dir=None):
    """Crash files under `directory`, sorted: files in a `crashes`
    directory at any depth, or when there is none, every regular file of
    the directory itself (a flat copy). Logs, summaries and the output
    directory are skipped."""
    found, flat = [], []
    for top, dirs, files in os.walk(directory):
        dirs[:] = sorted(d for d in dirs
                         if os.path.join(top, d) != skip_dir
                         and not d.startswith("."))
        for name in sorted(files):
            if name in SKIP_NAMES or name.startswith(".") or \
                    name.endswith(SKIP_EXTS):
                continue
            path = os.path.join(top, name)
            if not os.path.isfile(path):
                continue
            if os.path.basename(top) == "crashes":
                found.append(path)
            elif top == directory:
                flat.append(path)
    return sorted(found) if found else sorted(flat)


def default_build(root, directory):
    """The build a run directory came from, and the plant to switch on in
    it: for a planted run (its summary.json names a plant) the shared
    runtime-plant build with RESERVOIR_PLANT=<plant>, or an old
    one-plant build; else build/libfuzzer-asan and no plant."""
    try:
        with open(os.path.join(directory, "summary.json")) as f:
            plant = json.load(f).get("plant")
    except (OSError, ValueError, AttributeError):
        plant = None
    if plant:
        runtime = os.path.join(root, "build", "libfuzzer-asan-plant-runtime")
        if os.path.isdir(runtime):
            return runtime, plant
        legacy = os.path.join(root, "build", f"libfuzzer-asan-plant-{plant}")
        if os.path.isdir(legacy):
            return legacy, None
    return os.path.join(root, replay_mod.DEFAULT_BUILD), None


def _slug(text):
    return "".join(c if c.isalnum() or c in "-_" else "-"
                   for c in (text or "bug")).strip("-")[:40] or "bug"


def _show(path):
    """`path` relative to the current directory when it lies below it."""
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return path
    return path if rel.startswith("..") else rel


def render_summary(directory, build, bugs, unreproduced, no_crash, crashes,
                   seconds):
    lines = [f"# Triage of {_show(directory)}", "",
             f"{len(crashes)} crash files -> {len(bugs)} bugs "
             f"({sum(b['status'] == 'new' for b in bugs)} new, "
             f"{sum(b['status'] == 'known' for b in bugs)} known); "
             f"build {_show(build)}; {seconds:.0f} s.", ""]
    for n, b in enumerate(bugs, 1):
        lines.append(f"{n}. **{b['status'].upper()}** `{b['class']}` "
                     f"{'(fault-induced) ' if b['fault_induced'] else ''}"
                     f"-- `{b['first_line']}`")
        lines.append(f"   - signature `{b['signature']}`")
        lines.append(f"   - {len(b['crashes'])} crash files, targets "
                     f"{', '.join(b['targets']) or '-'}, engines "
                     f"{', '.join(b['engines']) or '-'}; reproduces "
                     f"{b['reproduction_rate']:.0%}")
        lines.append(f"   - minimised {b['ops_before']} -> {b['ops_after']} "
                     f"ops: {_show(b['minimised'])}")
        lines.append(f"   - page: {_show(b['html'])}")
    if unreproduced:
        lines += ["", "Not reproduced deterministically (harness bugs):"]
        lines += [f"- {_show(u['path'])}: {u['reason']}"
                  for u in unreproduced]
    if no_crash:
        lines += ["", f"{len(no_crash)} inputs replay clean on this build:"]
        lines += [f"- {_show(p)}" for p in no_crash]
    return "\n".join(lines) + "\n"


def triage_directory(root, directory, replayer, out_dir, store_path,
                     runs=2, max_replays=minimise_mod.DEFAULT_MAX_REPLAYS,
                     progress=print, target=None):
    """Does the whole job; returns the bugs.json document."""
    from .store import FindingsStore
    start = time.monotonic()
    crashes = collect_crashes(directory, skip_dir=out_dir)
    if not crashes:
        raise TriageError(f"{directory}: no crash files found")
    fresh_directory(out_dir)
    groups, unreproduced, no_crash = {}, [], []
    for i, path in enumerate(crashes, 1):
        progress(f"[{i}/{len(crashes)}] reproduce {path}")
        try:
            rep = reproduce(replayer, path, runs, target)
        except TriageError as e:
            unreproduced.append({"path": path, "reason": str(e)})
            continue
        if rep.verdict == "not reproduced":
            no_crash.append(path)
            continue
        if rep.verdict != "reproduces":
            unreproduced.append({"path": path, "reason": rep.explain()})
            continue
        groups.setdefault(rep.keys[0], []).append(rep)
    store = FindingsStore(store_path)
    bugs = []
    for n, key in enumerate(sorted(groups), 1):
        reps = groups[key]
        best = min(reps, key=lambda r: (os.path.getsize(r.path), r.path))
        record = best.outcome.record
        bug_dir = os.path.join(out_dir, "bugs",
                               f"{n}-{_slug(record.crash_type)}")
        os.makedirs(os.path.dirname(bug_dir), exist_ok=True)
        fresh_directory(bug_dir)
        progress(f"bug {n}/{len(groups)}: minimise {best.path} ({key})")
        try:
            result = minimise_mod.minimise_crash(
                replayer, best.path, best.target, max_replays,
                expected_key=key)
            minimised = minimise_mod.write_result(result, bug_dir)
            text, ops_before, ops_after = (result.text, result.ops_before,
                                           result.ops_after)
            slipped = [{"signature": k,
                        "path": os.path.join(bug_dir, f"slipped-{i}.txt")}
                       for i, k in enumerate(sorted(result.slipped), 1)]
        except TriageError as e:
            progress(f"  minimise failed: {e}")
            text, _ = replayer.print_program(best.path, best.target)
            minimised = os.path.join(bug_dir, "program.txt")
            write_atomically(minimised, text)
            ops_before = ops_after = None
            slipped = []
        steps, traced = report_mod.trace_program(replayer, text)
        page_record = traced.record if traced.key == key else record
        signature = best.outcome.signature
        crash_list = [{"path": r.path, "target": r.target,
                       "engine": engine_of(r.path)} for r in reps]
        # One filing per crash (the store counts them); the minimised
        # program stands for the crash it came from as its reproducer (the
        # store keeps the smallest). The status is the first filing's.
        statuses = [store.record(signature, {
            "reproducer": minimised if r is best else r.path,
            "target": r.target, "engine": engine_of(r.path),
            "record": record}) for r in reps]
        status = statuses[0]
        rate = sum(r.crashed for r in reps) / sum(r.runs for r in reps)
        d = report_mod.bug_data(signature, page_record, text, steps,
                                crash_list, rate, status, ops_before,
                                ops_after, minimised, slipped)
        d["first_line"] = record.title
        markdown, html_path, _ = report_mod.write_pages(d, bug_dir, "bug")
        bugs.append({
            "signature": key, "alt_keys": list(signature.alt_keys),
            "class": record.crash_type, "origin": record.origin,
            "status": status, "fault_induced": record.fault_induced,
            "crashes": [r.path for r in reps],
            "targets": d["targets"], "engines": d["engines"],
            "reproduction_rate": rate, "minimised": minimised,
            "ops_before": ops_before, "ops_after": ops_after,
            "html": html_path, "markdown": markdown,
            "first_line": record.title,
            "explanation": signature.explanation,
            # for SARIF only (not part of bugs.json):
            "_place": record.place, "_frames": d["frames"]})
    store.save()
    doc = {"schema": SCHEMA,
           "bugs": [{k: v for k, v in b.items() if not k.startswith("_")}
                    for b in bugs],
           "unreproduced": unreproduced, "no_crash": no_crash}
    sarif = sarif_mod.build_sarif(root, [dict(b, place=b["_place"],
                                              frames=b["_frames"])
                                         for b in bugs])
    write_atomically(os.path.join(out_dir, "results.sarif"),
                     dump_json(sarif))
    write_atomically(os.path.join(out_dir, "bugs.json"), dump_json(doc))
    summary = render_summary(directory, replayer.build_dir, doc["bugs"],
                             unreproduced, no_crash, crashes,
                             time.monotonic() - start)
    write_atomically(os.path.join(out_dir, "summary.md"), summary)
    return doc, summary


def add_arguments(parser):
    parser.add_argument("directory", metavar="DIR",
                        help="a ./reservoir fuzz run directory or any "
                             "directory of crash files")
    parser.add_argument("--store", metavar="PATH",
                        help="findings store (default: "
                             "build/triage/findings.json under the root)")
    parser.add_argument("--out", metavar="DIR",
                        help="fresh output directory (default: DIR/triage)")
    parser.add_argument("--runs", type=int, default=2, metavar="N",
                        help="replays per crash (default %(default)s)")
    parser.add_argument("--max-replays", type=int,
                        default=minimise_mod.DEFAULT_MAX_REPLAYS,
                        metavar="N", help="minimiser budget per bug")
    add_replay_arguments(parser)


def main(args):
    directory = os.path.abspath(args.directory)
    if not os.path.isdir(directory):
        fail(f"{args.directory}: no such directory")
    if args.runs < 1 or args.max_replays < 1:
        fail("--runs and --max-replays must be at least 1")
    out_dir = os.path.abspath(args.out or os.path.join(directory, "triage"))
    if os.path.exists(out_dir) and (not os.path.isdir(out_dir)
                                    or os.listdir(out_dir)):
        fail(f"{out_dir}: exists and is not empty (choose another --out)")
    if args.build is None:
        args.build, plant = default_build(args.root, directory)
        if plant and not os.environ.get("RESERVOIR_PLANT"):
            # Every replay inherits it (the runtime build reads it once).
            os.environ["RESERVOIR_PLANT"] = plant
            print(f"triage: replaying with RESERVOIR_PLANT={plant} (the run's "
                  f"plant) on {args.build}", file=sys.stderr)
    replayer = make_replayer(args)
    store = args.store or os.path.join(args.root, "build", "triage",
                                       "findings.json")

    def progress(message):
        print(f"triage: {message}", file=sys.stderr, flush=True)
    doc, summary = triage_directory(args.root, directory, replayer, out_dir,
                                    store, args.runs, args.max_replays,
                                    progress, args.target)
    sys.stdout.write(summary)
    progress(f"wrote {out_dir}/bugs.json, summary.md, results.sarif")
    return 0
