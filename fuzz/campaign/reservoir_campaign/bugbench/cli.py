"""./reservoir bench bugs: options, the builds, the cells (each written
atomically to cells/<plant>/<config>/trial-<n>.json as it finishes, so
--resume DIR skips what is done), the progress line, and the outputs:
bench-bugs.json, bench-bugs.md and survival-<config>.png."""

import argparse
import concurrent.futures
import datetime
import json
import os
import threading
import time
from pathlib import Path

from .. import builds as builds_module
from ..common import ROOT, fail, say, set_prog, write_atomically
from ..targets import TARGETS
from . import configs as configs_module
from . import cells as cells_module
from .cells import run_cell
from .plants import CLEAN, all_plants, clean_plant
from .report import document, render_markdown, summarise
from .survival import draw

PROG = "reservoir bench bugs"
OPTIONS_FILE = "bench.json"


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog=PROG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="The bug benchmark: every plant x configuration x trial "
                    "runs until its first finding or the budget; records "
                    "time and executions to exposure and triage's class of "
                    "the finding (docs/BUGBENCH.md).",
        epilog="configurations: " + ", ".join(c.name for c in configs_module.CONFIGS)
               + "\n\nexamples:\n"
               "  ./reservoir bench bugs --trials 5 --budget 300 --jobs 1 --clean\n"
               "  ./reservoir bench bugs --plants wrong_buddy,uncharge_ksize "
               "--configs lf-seeds --max-execs 20000\n"
               "  ./reservoir bench bugs --resume build/bench/<stamp>\n\n"
               "Exit status: 0 when every plant cell that found something found "
               "its expected class and the clean cells found nothing, 1 "
               "otherwise, 2 on bad usage.")
    parser.add_argument("--root", type=Path, default=ROOT, help=argparse.SUPPRESS)
    parser.add_argument("--plants", default="all", metavar="IDS",
                        help="comma-separated plant ids, or 'all' (default)")
    parser.add_argument("--configs", default="main", metavar="NAMES",
                        help="comma-separated configurations, or 'main' "
                             "(default: all of them)")
    parser.add_argument("--trials", type=int, default=5, metavar="N",
                        help="trials per cell; trial k runs with engine seed k (default 5)")
    parser.add_argument("--budget", type=float, default=300, metavar="S",
                        help="wall-clock seconds per cell (default 300)")
    parser.add_argument("--max-execs", type=int, default=0, metavar="N",
                        help="executions per cell (-runs / afl-fuzz -E; 0 = no limit)")
    parser.add_argument("--jobs", type=int, default=1, metavar="N",
                        help="cells run at a time (default 1)")
    parser.add_argument("--clean", action="store_true",
                        help="also run every configuration on the correct "
                             "build (the clean pseudo-plant: must find nothing)")
    parser.add_argument("--clean-only", action="store_true",
                        help="run only the clean pseudo-plant (on the targets "
                             "of the --plants given), e.g. as a second run "
                             "with fewer trials beside the plants' run")
    parser.add_argument("--out", metavar="DIR",
                        help="a fresh output directory (default build/bench/<stamp>)")
    parser.add_argument("--resume", metavar="DIR",
                        help="continue a run: its options, skipping finished cells")
    parser.add_argument("--clean-build", metavar="DIR", type=Path,
                        help="an up-to-date libfuzzer-asan build to use as the "
                             "clean build instead of building build/libfuzzer-asan")
    parser.add_argument("--give-up-after", type=int, default=0, metavar="K",
                        help="after K trials of a plant and configuration all "
                             "ran out of budget without a finding, record the "
                             "rest as 'skipped' instead of running them "
                             "(0 = never; the table shows them)")
    parser.add_argument("--clean-afl-runtime", action="store_true",
                        help="run the clean AFL++ cells on the runtime-plant "
                             "AFL++ builds with no plant selected, instead of "
                             "building the plain afl and afl-cmplog presets")
    parser.add_argument("--no-build", action="store_true",
                        help="use the builds as they are (they must exist)")
    args = parser.parse_args(argv)
    for name in ("trials", "jobs"):
        if getattr(args, name) < 1:
            fail(f"--{name} must be at least 1")
    if args.budget <= 0:
        fail("--budget must be positive")
    if args.max_execs < 0:
        fail("--max-execs must not be negative")
    if args.resume and args.out:
        fail("--resume and --out exclude each other")
    return args


def select(args):
    """(plants, config names) the options name; usage errors exit 2."""
    plants = all_plants(args.root)
    by_id = {p.id: p for p in plants}
    if args.plants != "all":
        wanted = [p for p in args.plants.split(",") if p]
        unknown = [p for p in wanted if p not in by_id]
        if unknown or not wanted:
            fail(f"unknown plant '{','.join(unknown) or args.plants}' "
                 f"(known: {', '.join(by_id)})")
        plants = [by_id[p] for p in wanted]
    chosen = plants
    if args.clean_only:
        plants = []
    if args.configs == "main":
        names = list(configs_module.MAIN)
    else:
        names = [c for c in args.configs.split(",") if c]
        unknown = [c for c in names if c not in configs_module.BY_NAME]
        if unknown or not names:
            fail(f"unknown configuration '{','.join(unknown) or args.configs}' "
                 f"(known: {', '.join(configs_module.BY_NAME)})")
    if args.clean or args.clean_only:
        # The clean pseudo-plant runs on every target the plants use.
        targets = sorted({p.target for p in chosen}, key=TARGETS.index)
        plants = plants + [clean_plant(t) for t in targets]
    return plants, names


def needed_builds(args, plants, names):
    configs = [configs_module.BY_NAME[n] for n in names]
    engines = {c.engine for c in configs}
    cmplog = any(c.cmplog for c in configs)
    real = [p for p in plants if p.id != CLEAN]
    clean = [p for p in plants if p.id == CLEAN]
    targets = sorted({p.target for p in plants}, key=TARGETS.index)
    common = ["seed_corpora", "reservoir-replay", *targets]
    root = args.root
    runtime, clean_mode = builds_module.RUNTIME, None
    builds = {"root": root}

    def get(preset, what, mode):
        if args.no_build:
            path = builds_module.build_dir_of(root, preset, mode)
            if not path.is_dir():
                fail(f"--no-build: {path} does not exist")
            return path
        return builds_module.build_preset(root, preset, what, mode)

    plan = {}
    if real:
        # The libFuzzer runtime build replays every finding (and runs the
        # fail_nth sweep), whatever engine found it.
        plan["plant"] = {"libfuzzer": get("libfuzzer-asan", common, runtime)}
        if "afl" in engines:
            plan["plant"]["afl"] = get("afl", common, runtime)
        if cmplog:
            plan["plant"]["afl-cmplog"] = get("afl-cmplog", targets, runtime)
    if clean:
        plan["clean"] = {}
        if args.clean_build:
            plan["clean"]["libfuzzer"] = args.clean_build.resolve()
        else:
            plan["clean"]["libfuzzer"] = get("libfuzzer-asan", common, clean_mode)
        afl_mode = runtime if args.clean_afl_runtime else clean_mode
        if "afl" in engines:
            plan["clean"]["afl"] = get("afl", common, afl_mode)
        if cmplog:
            plan["clean"]["afl-cmplog"] = get("afl-cmplog", targets, afl_mode)
    for kind in plan.values():
        kind["root"] = root
    return plan


def new_out_dir(args):
    if args.out:
        out = Path(args.out).resolve()
        if out.exists() and any(out.iterdir()):
            fail(f"output directory '{out}' is not empty (choose another --out)")
        return out
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    base = args.root / "build" / "bench"
    out = base / stamp
    n = 1
    while out.exists():
        n += 1
        out = base / f"{stamp}-{n}"
    return out


def resume_args(args):
    out = Path(args.resume).resolve()
    try:
        stored = json.loads((out / OPTIONS_FILE).read_text())["options"]
    except (OSError, ValueError, KeyError):
        fail(f"--resume: {out} is not a bench run (no readable {OPTIONS_FILE})")
    for name, value in stored.items():
        setattr(args, name, value)
    return out


def cell_key(plant):
    """The directory name of a plant's cells: the clean pseudo-plant runs
    once per target, so its cells are kept per target."""
    return f"{CLEAN}-{plant.target}" if plant.id == CLEAN else plant.id


def cell_path(out, plant, config, trial):
    return out / "cells" / cell_key(plant) / config / f"trial-{trial}.json"


def work_dir(out, plant, config, trial):
    """A fresh work directory (a cell interrupted earlier keeps its own)."""
    base = out / "work" / cell_key(plant) / config / f"trial-{trial}"
    path, n = base, 1
    while path.exists():
        n += 1
        path = base.with_name(f"{base.name}.{n}")
    return path


def cell_plan(plants, names, trials):
    cells = []
    for config in names:
        deterministic = configs_module.BY_NAME[config].engine == "systematic"
        for plant in plants:
            for trial in range(1, (1 if deterministic else trials) + 1):
                cells.append((plant, configs_module.BY_NAME[config], trial))
    return cells


class Progress:
    def __init__(self, total):
        self.total = total
        self.done = 0
        self.found = 0
        self.start = time.monotonic()
        self.lock = threading.Lock()

    def report(self, record, skipped=False):
        with self.lock:
            self.done += 1
            self.found += bool(record.get("found"))
            elapsed = time.monotonic() - self.start
            what = "known" if skipped else record["status"]
            detail = ""
            if record.get("found"):
                detail = (f" in {record.get('executions')} execs, "
                          f"{record.get('seconds')} s: {record.get('class')}"
                          + ("" if record["plant"] == CLEAN or
                             record.get("class_matches") else " (UNEXPECTED)"))
            say(f"[{self.done}/{self.total} cells, {self.found} found, "
                f"{elapsed:.0f} s] {record['plant']} x {record['config']} "
                f"trial {record['trial']}: {what}{detail}")


def load_records(out):
    records = []
    for path in sorted((out / "cells").rglob("trial-*.json")):
        try:
            records.append(json.loads(path.read_text()))
        except ValueError:
            continue
    return records


def write_outputs(out, args, plants, names, records):
    aggs = summarise(records)
    plots = []
    for config in names:
        times = {}
        budget = args.budget
        for plant in plants:
            cells = [r for r in records if r["plant"] == plant.id and
                     r["config"] == config and r["status"] not in ("n/a", "skipped")]
            if not cells or plant.id == CLEAN:
                continue
            times[plant.id] = {"trials": len(cells),
                               "times": [r["seconds"] for r in cells
                                         if r.get("found")]}
        name = f"survival-{config}.png"
        if draw({"title": f"{config}: plants still unfound over time",
                 "budget": budget, "plants": times}, out / name):
            plots.append(name)
    meta = {"run_dir_name": out.name, "budget": args.budget,
            "max_execs": args.max_execs, "trials": args.trials,
            "jobs": args.jobs, "plots": plots,
            "finished": datetime.datetime.now(datetime.timezone.utc)
            .isoformat(timespec="seconds")}
    write_atomically(out / "bench-bugs.json", json.dumps(
        document(meta, plants, names, records, aggs), indent=2) + "\n")
    markdown = render_markdown(meta, plants, names, aggs)
    write_atomically(out / "bench-bugs.md", markdown + "\n")
    return aggs, markdown


def verdict(records):
    """Problems: a plant finding of the wrong class, a clean finding, an
    engine error."""
    problems = []
    for r in records:
        if r["status"] == "error":
            problems.append(f"{r['plant']} x {r['config']} trial {r['trial']}: "
                            f"error: {r.get('error')}")
        elif r.get("found") and r["plant"] == CLEAN:
            problems.append(f"clean x {r['config']} trial {r['trial']}: a "
                            f"finding on the correct build ({r.get('class')}, "
                            f"{r.get('crash')})")
        elif r.get("found") and not r.get("class_matches"):
            problems.append(f"{r['plant']} x {r['config']} trial {r['trial']}: "
                            f"class {r.get('class')}, expected "
                            f"{r.get('expected_class')} ({r.get('crash')})")
    return problems


def main(argv):
    set_prog(PROG)
    args = parse_args(argv)
    if args.resume:
        out = resume_args(args)
    else:
        out = new_out_dir(args)
    plants, names = select(args)
    plan = needed_builds(args, plants, names)
    if not args.resume:
        out.mkdir(parents=True, exist_ok=True)
        stored = {k: getattr(args, k) for k in
                  ("plants", "configs", "trials", "budget", "max_execs",
                   "jobs", "clean", "clean_only", "give_up_after",
                   "clean_afl_runtime")}
        stored["clean_build"] = str(args.clean_build) if args.clean_build else None
        write_atomically(out / OPTIONS_FILE, json.dumps(
            {"schema": "reservoir-bench-run/1", "options": stored}, indent=2) + "\n")
    if isinstance(args.clean_build, str):
        args.clean_build = Path(args.clean_build)
    cells = cell_plan(plants, names, args.trials)
    progress = Progress(len(cells))
    say(f"{len(cells)} cells ({len(plants)} plants x {len(names)} "
        f"configurations, {args.trials} trials), {args.jobs} at a time, "
        f"budget {args.budget:g} s"
        + (f" / {args.max_execs} executions" if args.max_execs else "")
        + f" per cell; writing to {out}")
    base_env = dict(os.environ)
    interrupted = False
    # Set on Ctrl-C: cells not started yet are not started (the one running
    # gets the SIGINT with its process group's terminal and ends).
    stop = threading.Event()

    def one(cell):
        plant, config, trial = cell
        if stop.is_set():
            return
        path = cell_path(out, plant, config.name, trial)
        if path.exists():
            record = json.loads(path.read_text())
            progress.report(record, skipped=True)
            return
        if args.give_up_after and trial > args.give_up_after:
            earlier = [cell_path(out, plant, config.name, t)
                       for t in range(1, trial)]
            earlier = [json.loads(p.read_text()) for p in earlier if p.exists()]
            if len(earlier) >= args.give_up_after and all(
                    r["status"] == "not-found" and r.get("stopped_by") == "budget"
                    for r in earlier[:args.give_up_after]):
                record = {"plant": plant.id, "config": config.name,
                          "trial": trial, "target": plant.target,
                          "status": "skipped", "found": False,
                          "budget_seconds": args.budget,
                          "expected_class": plant.expect_class,
                          "note": f"not run: trials 1-{args.give_up_after} "
                                  "found nothing within the budget"}
                path.parent.mkdir(parents=True, exist_ok=True)
                write_atomically(path, json.dumps(record, indent=2) + "\n")
                progress.report(record)
                return
        builds = plan["clean" if plant.id == CLEAN else "plant"]
        record = run_cell(plant, config, trial, builds,
                          work_dir(out, plant, config.name, trial),
                          args.budget, args.max_execs, base_env)
        if cells_module.STOP.is_set():
            return   # interrupted: not a result; --resume runs it again
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(path, json.dumps(record, indent=2) + "\n")
        progress.report(record)

    pool = concurrent.futures.ThreadPoolExecutor(args.jobs)
    futures = [pool.submit(one, c) for c in cells]
    try:
        for future in futures:
            future.result()
    except KeyboardInterrupt:
        interrupted = True
        stop.set()
        cells_module.STOP.set()
        say("interrupted: the finished cells are kept; --resume continues")
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    records = load_records(out)
    _, markdown = write_outputs(out, args, plants, names, records)
    print(markdown)
    problems = verdict(records)
    for problem in problems:
        say(problem)
    say(f"wrote {out / 'bench-bugs.md'} and bench-bugs.json")
    return 1 if problems or interrupted else 0
