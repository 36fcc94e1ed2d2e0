"""The command line of ./reservoir fuzz and the run from start to end:
options (or a resumed run's), builds, the run directory, the jobs, the
scheduler, then the corpus update, the triage hand-off, the plot and the
summary."""

import argparse
import datetime
import hashlib
import json
import os
import re
import shutil
import sys
from pathlib import Path

from . import builds as builds_module
from .afl import AflRun
from .common import ROOT, fail, say, set_prog, write_atomically
from .corpus import update_corpus
from .findings import FindingStore
from .libfuzzer import LibFuzzerRun
from .plot import draw
from .scheduler import Scheduler
from .status import TimeSeries
from .summary import ENGINE_NAMES, render_summary
from .targets import TARGETS, known_plants
from . import triage as triage_module

PROG = "reservoir fuzz"
ENGINES = ("libfuzzer", "afl", "both")
# What a resumed run takes from the run itself (campaign.json); only the
# budget, the jobs and what happens at the end may change.
RUN_OPTIONS = ("targets", "engine", "plant", "seed", "afl_jobs", "afl_asan",
               "afl_cmplog", "no_seeds", "stop_on_first", "adapter",
               "adapter_define", "lockstep", "lockstep_allow")
DEFAULTS = {"time": 30, "runs": 0, "seed": 0, "engine": "libfuzzer",
            "afl_jobs": 1, "no_new_coverage": 0}


class Parser(argparse.ArgumentParser):
    def error(self, message):
        fail(f"{message} (see --help)")


def parse_args(argv, root):
    parser = Parser(
        prog=PROG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Run a local fuzzing campaign over Reservoir's targets: "
                    "it keeps going after crashes, deduplicates the findings "
                    "and ends with a summary of the bugs it found.",
        epilog="examples:\n"
               "  ./reservoir fuzz                               every target, 30 s each\n"
               "  ./reservoir fuzz --plant strict_reserve_in_min --time 60\n"
               "  ./reservoir fuzz --adapter examples/reserve2007/reserve2007.c \\\n"
               "      --adapter-define RSV2007_CHARGE_POW2 --targets reserve_fuzzer\n"
               "  ./reservoir fuzz --no-new-coverage 20 --time 600\n"
               "  ./reservoir fuzz --resume build/runs/STAMP --time 120 --update-corpus\n"
               "\nexit status: 0 nothing new found, 1 a new bug (or a fuzzer "
               "failed), 2 bad usage, 130 interrupted")
    parser.add_argument("--root", default=str(root), help=argparse.SUPPRESS)
    parser.add_argument("--time", type=int, metavar="SECONDS",
                        help="fuzzing time per target (default: 30)")
    parser.add_argument("--runs", type=int, metavar="N",
                        help="stop each target after N executions (0: by time)")
    parser.add_argument("--no-new-coverage", type=int, metavar="T",
                        help="stop a target when its coverage has not grown "
                             "for T seconds (0: never)")
    parser.add_argument("--targets", help="comma-separated targets (default: "
                                          f"all {len(TARGETS)})")
    parser.add_argument("--jobs", type=int,
                        help="fuzzer processes at once, libFuzzer jobs and "
                             "AFL++ instances alike (default: CPU count)")
    parser.add_argument("--plant", metavar="ID",
                        help="fuzz a build with one planted bug compiled in")
    parser.add_argument("--adapter", metavar="PATH",
                        help="fuzz your own reserve implementation: C/C++ "
                             "sources, a directory of them or a static "
                             "library implementing reservoir/adapter.h "
                             "(docs/ADAPTER.md); builds, replays and triages "
                             "against it")
    parser.add_argument("--adapter-define", metavar="NAME[=VALUE]",
                        action="append",
                        help="a compile definition for the --adapter sources "
                             "(repeatable)")
    parser.add_argument("--lockstep", action="store_true", default=None,
                        help="with --adapter: run the reference reserve tree "
                             "beside it and report the first divergence")
    parser.add_argument("--lockstep-allow", metavar="CHOICES",
                        help="with --lockstep: documented choices that are "
                             "not bugs (strict-limit, estimator, "
                             "kmalloc-charge, refusals; comma-separated)")
    parser.add_argument("--out", metavar="DIR",
                        help="run directory (default: build/runs/<stamp>; "
                             "must be empty)")
    parser.add_argument("--seed", type=int,
                        help="libFuzzer -seed and AFL++ -s (default 0: the "
                             "engine picks); with a seed libFuzzer also gets "
                             "-reload=0 and -rss_limit_mb=0 (no memory "
                             "limit), which it needs to repeat a run "
                             "(docs/ENGINES.md, \"What repeats\"; --time "
                             "and fork mode still part two runs)")
    parser.add_argument("--engine", choices=ENGINES,
                        help="libfuzzer (default), afl (AFL++, the afl preset) "
                             "or both side by side")
    parser.add_argument("--afl-jobs", type=int, metavar="N",
                        help="AFL++ instances per target sharing one sync "
                             "directory: the first -M main, the others -S "
                             "(default: 1, a plain instance)")
    parser.add_argument("--afl-asan", action="store_true", default=None,
                        help="AFL++ on the afl-asan preset (AFL_USE_ASAN=1 "
                             "AFL_USE_UBSAN=1, afl-fuzz -m none)")
    parser.add_argument("--afl-cmplog", action="store_true", default=None,
                        help="also build afl-cmplog and give the first AFL++ "
                             "instance of each target -c (CmpLog)")
    parser.add_argument("--no-seeds", action="store_true", default=None,
                        help="start from an empty corpus instead of the seed "
                             "corpora (AFL++, which needs one input, gets the "
                             "empty program: 24 zero bytes)")
    parser.add_argument("--stop-on-first", action="store_true", default=None,
                        help="stop a target at its first crash (the old "
                             "behaviour: plain libFuzzer, AFL_BENCH_UNTIL_CRASH)")
    parser.add_argument("--resume", metavar="RUN_DIR",
                        help="continue a run: its corpus, crash files, known "
                             "bugs and counters; only --time, --runs, "
                             "--no-new-coverage, --jobs, --update-corpus and "
                             "--store may be given anew")
    parser.add_argument("--update-corpus", action="store_true",
                        help="at the end, merge what the run found into "
                             "corpus/<target>/grown/ with the engine's merge "
                             "(libFuzzer -merge=1, afl-cmin); never deletes or "
                             "rewrites an entry")
    parser.add_argument("--corpus-dir", metavar="DIR",
                        help="the corpus tree --update-corpus writes into "
                             "(default: corpus/ of the repository)")
    parser.add_argument("--store", metavar="PATH",
                        help="the triage store of known bugs, passed to "
                             "triage/reservoir-triage (default: "
                             "build/triage/findings.json)")
    args = parser.parse_args(argv)
    args.root = Path(args.root)

    if args.resume:
        resume_dir = Path(args.resume).resolve()
        campaign = resume_dir / "campaign.json"
        if not campaign.is_file():
            fail(f"--resume: {resume_dir} is not a campaign run directory "
                 "(no campaign.json)")
        if args.out:
            fail("--resume and --out exclude each other: a resumed run "
                 "writes into its own directory")
        stored = json.loads(campaign.read_text())["options"]
        for name in RUN_OPTIONS:
            given = getattr(args, name)
            if given is not None and given != stored.get(name) and not (
                    name == "targets" and given.split(",") == stored.get(name)):
                fail(f"--{name.replace('_', '-')} cannot change on --resume "
                     f"(the run has {stored.get(name)!r})")
            setattr(args, name, stored.get(name))
        args.resume = resume_dir
        for name in ("time", "runs", "no_new_coverage"):
            if getattr(args, name) is None:
                setattr(args, name, stored.get(name, DEFAULTS[name]))
    for name, value in DEFAULTS.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    for name in ("afl_asan", "afl_cmplog", "no_seeds", "stop_on_first",
                 "lockstep"):
        setattr(args, name, bool(getattr(args, name)))
    if args.jobs is None:
        args.jobs = os.cpu_count() or 2
    if isinstance(args.targets, str) or args.targets is None:
        args.targets = [t for t in (args.targets or ",".join(TARGETS)).split(",") if t]

    if args.time <= 0:
        fail("--time must be a positive number of seconds")
    if args.jobs <= 0:
        fail("--jobs must be positive")
    if args.runs < 0:
        fail("--runs must not be negative")
    if args.no_new_coverage < 0:
        fail("--no-new-coverage must not be negative")
    if args.afl_jobs <= 0:
        fail("--afl-jobs must be positive")
    args.engines = ["libfuzzer", "afl"] if args.engine == "both" else [args.engine]
    if "afl" in args.engines and shutil.which("afl-fuzz") is None:
        fail("afl-fuzz not found (./reservoir setup installs afl++)")
    for target in args.targets:
        if target not in TARGETS:
            fail(f"unknown target '{target}' (known: {', '.join(TARGETS)})")
    if not args.targets:
        fail("--targets names no target")
    if args.plant is not None and args.plant not in known_plants(args.root):
        fail(f"unknown plant '{args.plant}' "
             f"(known: {', '.join(known_plants(args.root))})")
    check_adapter(args)
    args.corpus_dir = Path(args.corpus_dir).resolve() if args.corpus_dir \
        else args.root / "corpus"
    if args.update_corpus and args.plant:
        fail("--update-corpus grows the corpus from the bug-free build only, "
             "not with --plant")
    if args.update_corpus and args.adapter:
        fail("--update-corpus grows the corpus from the model's own build "
             "only, not with --adapter")
    if args.update_corpus and not args.corpus_dir.is_dir():
        fail(f"--corpus-dir: {args.corpus_dir} is not a directory")
    if args.store:
        args.store = Path(args.store)
    elif args.adapter:
        # An adapter's bugs are its own: they go into a store of their own.
        args.store = args.root / "build" / "triage" / \
            f"findings-adapter-{args.adapter_slug}.json"
    else:
        args.store = args.root / triage_module.DEFAULT_STORE
    return args


LOCKSTEP_CHOICES = ("strict-limit", "estimator", "kmalloc-charge", "refusals")


def check_adapter(args):
    """Validates --adapter and friends; sets args.adapter_slug (the build
    and run directory suffix) and an absolute args.adapter."""
    args.adapter_slug = None
    defines = args.adapter_define or []
    if not args.adapter:
        for given, name in ((defines, "--adapter-define"),
                            (args.lockstep, "--lockstep"),
                            (args.lockstep_allow, "--lockstep-allow")):
            if given:
                fail(f"{name} needs --adapter")
        return
    path = Path(args.adapter)
    if not path.is_absolute():
        path = (Path.cwd() / path).resolve()
    if not path.exists():
        fail(f"--adapter: {args.adapter} does not exist")
    if not (path.is_dir() or path.suffix in (".c", ".cc", ".cpp", ".cxx", ".a", ".so")):
        fail(f"--adapter: {args.adapter} is neither a source (.c .cc .cpp), "
             "a library (.a .so) nor a directory")
    args.adapter = str(path)
    for define in defines:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*(=[A-Za-z0-9_.+-]*)?", define):
            fail(f"--adapter-define: '{define}' is not NAME or NAME=VALUE")
    if args.lockstep_allow is not None:
        for choice in args.lockstep_allow.split(","):
            if choice not in LOCKSTEP_CHOICES:
                fail(f"--lockstep-allow: unknown choice '{choice}' "
                     f"(known: {', '.join(LOCKSTEP_CHOICES)})")
        if not args.lockstep:
            fail("--lockstep-allow needs --lockstep")
    key = json.dumps([args.adapter, sorted(defines), args.lockstep,
                      args.lockstep_allow or ""])
    stem = re.sub(r"[^a-z0-9]+", "-", path.stem.lower()).strip("-") or "adapter"
    args.adapter_slug = f"{stem}-{hashlib.sha256(key.encode()).hexdigest()[:8]}"


def new_run_dir(args):
    if args.out:
        run_dir = Path(args.out).resolve()
        if run_dir.exists() and any(run_dir.iterdir()):
            fail(f"run directory '{run_dir}' is not empty (choose another --out)")
        return run_dir
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    suffix = f"-plant-{args.plant}" if args.plant else ""
    if args.adapter_slug:
        suffix += f"-adapter-{args.adapter_slug}"
    base = args.root / "build" / "runs"
    run_dir = base / f"{stamp}{suffix}"
    n = 1
    while run_dir.exists():
        n += 1
        run_dir = base / f"{stamp}{suffix}-{n}"
    return run_dir


def stored_options(args):
    return {name: getattr(args, name) for name in
            (*RUN_OPTIONS, "time", "runs", "no_new_coverage")}


def make_runs(args, builds, run_dir, round_no, previous):
    """Per target its libFuzzer job, then its AFL++ instances (with
    --engine both the two engines of a target run side by side); a resumed
    run's jobs carry their earlier counters."""
    runs = []
    for t in args.targets:
        if "libfuzzer" in args.engines:
            runs.append(LibFuzzerRun(t, builds["libfuzzer"], run_dir, args))
        if "afl" in args.engines:
            runs += [AflRun(t, builds, run_dir, args, i, args.afl_jobs, round_no)
                     for i in range(args.afl_jobs)]
    for run in runs:
        run.round = round_no
        before = previous.get((run.target, run.engine, run.instance))
        if before:
            run.prior_executions = before["executions"]
            run.prior_seconds = before["seconds"]
    return runs


def main(argv):
    set_prog(PROG)
    args = parse_args(argv, ROOT)
    root = args.root
    try:
        builds = builds_module.build(args)
    except KeyboardInterrupt:
        # Nothing has run yet: no summary to write, just stop.
        print(f"\n{PROG}: interrupted while building", file=sys.stderr)
        return 130

    history = []
    previous = {}
    if args.resume:
        run_dir = args.resume
        summary_path = run_dir / "summary.json"
        if summary_path.exists():
            old = json.loads(summary_path.read_text())
            history = old.get("rounds", [])
            previous = {(s["target"], s["engine"], s.get("instance")): s
                        for s in old.get("targets", [])}
        round_no = len(history) + 1
    else:
        run_dir = new_run_dir(args)
        run_dir.mkdir(parents=True, exist_ok=True)
        round_no = 1
        write_atomically(run_dir / "campaign.json", json.dumps(
            {"schema": "reservoir-campaign/1", "options": stored_options(args)},
            indent=2) + "\n")

    runs = make_runs(args, builds, run_dir, round_no, previous)
    # A planted campaign runs the runtime-plant build with the plant on.
    env = builds_module.plant_env(os.environ, args.plant)
    env.setdefault("ASAN_OPTIONS", "abort_on_error=1:symbolize=1")
    env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
    store = FindingStore(run_dir / "findings.json")
    known_before = len(store.records())
    series = TimeSeries(run_dir)
    engines = " and ".join(ENGINE_NAMES[e] for e in args.engines)
    say(("resuming (round %d) " % round_no if round_no > 1 else "")
        + f"fuzzing {len(args.targets)} targets with {engines} for {args.time} s "
        f"each, {args.jobs} jobs at a time"
        + (", stopping at the first crash" if args.stop_on_first else "")
        + f"; writing to {run_dir}")
    round_start = datetime.datetime.now(datetime.timezone.utc)
    scheduler = Scheduler(args, runs, run_dir, store, series, env)
    interrupted = scheduler.run()

    for run in runs:
        run.bugs = len(getattr(run, "crash_keys", ()))
    summaries = [dict(run.summary(), bugs=run.bugs,
                      first_crash=getattr(run, "first_crash", None))
                 for run in runs if run.started is not None]

    corpus_update = None
    if args.update_corpus:
        if interrupted:
            say("interrupted: no corpus update")
        else:
            say(f"merging the run's corpus into {args.corpus_dir}")
            corpus_update = update_corpus(runs, args.corpus_dir, run_dir, env)
            for u in corpus_update:
                say(f"{u['target']} ({ENGINE_NAMES[u['engine']]}): "
                    + (f"FAILED: {u['error']}" if u["error"]
                       else f"{u['added']} new corpus entries in {u['grown']}"))

    triage = None
    if triage_module.triage_tool(root) is not None and store.records():
        if interrupted:
            triage = {"error": "not run (interrupted)", "bugs": None}
        else:
            say("handing the crashes to triage/reservoir-triage")
            log = run_dir / ("triage.log" if round_no == 1 else f"triage.{round_no}.log")
            # Every engine's inputs replay on the libFuzzer build (one
            # format); an AFL++-only campaign replays on its AFL++ build.
            replay_build = builds.get("libfuzzer") or builds.get("afl")
            bugs, problem, out = triage_module.run_triage(
                root, run_dir, args.store, round_no, log, replay_build, env)
            triage = {"error": problem, "bugs": bugs, "out": str(out),
                      "store": str(args.store)}

    plot = None
    if draw(series.json_path, run_dir / "progress.png",
            f"{run_dir.name}: coverage and bugs over time"):
        plot = "progress.png"

    round_record = {
        "round": round_no,
        "started": round_start.isoformat(timespec="seconds"),
        "interrupted": interrupted,
        "time": args.time, "runs": args.runs,
        "no_new_coverage": args.no_new_coverage,
        "executions": sum(s["round_executions"] for s in summaries),
        "seconds": round(max((s["round_seconds"] for s in summaries), default=0), 1),
        "new_bugs": store.new_keys,
        "known_bugs_before": known_before,
    }
    report = {
        "schema": "reservoir-campaign-summary/2",
        "run_dir": str(run_dir),
        "plant": args.plant, "engines": args.engines,
        "adapter": args.adapter and {
            "path": args.adapter, "defines": args.adapter_define or [],
            "lockstep": args.lockstep,
            "lockstep_allow": args.lockstep_allow or ""},
        "time_per_target": args.time, "no_seeds": args.no_seeds,
        "options": stored_options(args),
        "builds": {name: str(path) for name, path in builds.items()},
        "interrupted": interrupted,
        "targets": summaries,
        "bugs": store.records(),
        "triage": triage,
        "plot": plot,
        "timeseries": "timeseries.csv",
        "corpus_update": corpus_update,
        "rounds": history + [round_record],
    }
    markdown = render_summary(dict(report, _args=args))
    write_atomically(run_dir / "summary.md", markdown)
    write_atomically(run_dir / "summary.json", json.dumps(report, indent=2) + "\n")
    sys.stdout.write(markdown)
    say(f"summary: {run_dir / 'summary.md'} and summary.json")
    if store.new_keys or any(s["error"] for s in summaries):
        return 1
    return 130 if interrupted else 0
