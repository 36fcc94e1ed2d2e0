"""One benchmark cell: a plant, a configuration and a trial (the trial
number is the engine's seed), run until the first finding or the budget,
then its finding replayed once by triage for its signature and class.

A cell's record (the JSON it is written as) says: status (found,
not-found, n/a, error), seconds and executions to exposure (for a cell
that found nothing: what it ran), why it stopped, the crash file, the
triage signature, class and first line, and whether the class is the
plant's expected one."""

import argparse
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

from ..afl import AFL_SEED_CRASH_RE, AflRun
from ..builds import plant_env
from ..libfuzzer import LibFuzzerRun
from ..targets import short_name
from .plants import CLEAN
from .systematic import sweep

POLL_SECONDS = 0.1
# The wall-clock budget is enforced by the engines (-max_total_time, -V);
# this much later the cell stops them itself.
GRACE_SECONDS = 30
# Set on Ctrl-C: running cells stop their engine; their records are not
# written (the cell runs again on --resume).
STOP = threading.Event()


def engine_args(root, config, trial, budget, max_execs):
    """The options a campaign job (LibFuzzerRun, AflRun) reads."""
    return argparse.Namespace(
        root=Path(root), engine=config.engine, stop_on_first=True,
        time=int(budget), runs=max_execs or 0, seed=trial,
        no_seeds=not config.seeds, afl_asan=False)


def cell_env(base_env, plant, config):
    env = plant_env(base_env, None if plant.id == CLEAN else plant.id)
    env.pop("RESERVOIR_FAULT_MODE", None)
    if config.fault_mode:
        env["RESERVOIR_FAULT_MODE"] = config.fault_mode
    env.setdefault("ASAN_OPTIONS", "abort_on_error=1:symbolize=1")
    env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
    return env


def wait(job, budget, on_poll=None):
    """Polls a campaign job until it ends; stops it past the budget."""
    while not job.poll():
        if on_poll is not None and on_poll():
            job.interrupt(by="finding")
        if STOP.is_set() and job.stopped_by is None:
            job.interrupt(by="interrupted")
        if job.elapsed() > budget + GRACE_SECONDS and job.stopped_by is None:
            job.interrupt(by="budget")
        if job.overdue():
            job.kill()
        time.sleep(POLL_SECONDS)


def run_libfuzzer(plant, config, trial, builds, work, budget, max_execs, env):
    args = engine_args(builds["root"], config, trial, budget, max_execs)
    job = LibFuzzerRun(plant.target, builds["libfuzzer"], work, args)
    job.start(env)
    wait(job, budget)
    crashes = job.crash_files()
    record = {"seconds": round(job.elapsed(), 3),
              "executions": job.stats.get("number_of_executed_units",
                                          job.execs),
              "log": str(job.log_path)}
    if crashes:
        record.update(found=True, crash=str(crashes[0]), stopped_by="crash")
    else:
        record.update(found=False, error=job.error,
                      stopped_by=job.stopped_by or stop_reason(
                          record["executions"], max_execs))
    return record


def run_afl(plant, config, trial, builds, work, budget, max_execs, env):
    args = engine_args(builds["root"], config, trial, budget, max_execs)
    afl_builds = {"afl": builds["afl"]}
    if config.cmplog:
        afl_builds["afl-cmplog"] = builds["afl-cmplog"]
    job = AflRun(plant.target, afl_builds, work, args, 0, 1)
    seeds = sorted(p.name for p in job.seeds.iterdir()) \
        if config.seeds and job.seeds.is_dir() else []
    seed_crash = {}

    def seed_crashed():
        # A crashing seed is skipped by afl-fuzz's dry run (or, when every
        # seed crashes, stops it): exposure by the seed corpus itself.
        try:
            text = Path(job.log_path).read_text(errors="replace")
        except OSError:
            return False
        match = AFL_SEED_CRASH_RE.search(text)
        if match and not seed_crash:
            name = Path(match.group(1)).name
            # afl-fuzz may name the seed by its queue copy: id:N,orig:NAME.
            name = name.split("orig:", 1)[-1]
            seed_crash.update(name=name, seconds=job.elapsed())
        return bool(seed_crash)

    job.start(env)
    wait(job, budget, on_poll=seed_crashed)
    seed_crashed()
    record = {"log": str(job.log_path)}
    if seed_crash:
        name = seed_crash["name"]
        position = seeds.index(name) + 1 if name in seeds else len(seeds)
        record.update(found=True, crash=str(job.seeds / name),
                      seconds=round(seed_crash["seconds"], 3),
                      executions=position, stopped_by="crash",
                      note="a seed crashed in afl-fuzz's dry run")
        return record
    crashes = job.crash_files()
    if crashes:
        execs, ms, _ = AflRun.crash_position(crashes[0])
        record.update(found=True, crash=str(crashes[0]), stopped_by="crash",
                      seconds=round((ms or 0) / 1000, 3)
                      if ms is not None else round(job.elapsed(), 3),
                      executions=execs if execs is not None else job.execs)
    else:
        record.update(found=False, seconds=round(job.elapsed(), 3),
                      executions=job.execs, error=job.error,
                      stopped_by=job.stopped_by or stop_reason(job.execs,
                                                               max_execs))
    return record


def stop_reason(executions, max_execs):
    return "max-execs" if max_execs and executions >= max_execs else "budget"


def run_systematic(plant, config, trial, builds, work, budget, max_execs,
                   env):
    replay = builds["libfuzzer"] / "fuzz" / "tools" / "reservoir-replay"
    seeds = builds["libfuzzer"] / "corpus" / plant.target
    return sweep(replay, plant.target, seeds, work, env, budget, max_execs)


RUNNERS = {"libfuzzer": run_libfuzzer, "afl": run_afl,
           "systematic": run_systematic}


def classify(root, crash, target, replay_build, env):
    """Triage's signature, class and first line of one crash (one replay
    on the build the cell ran, with its plant on)."""
    tool = Path(root) / "triage" / "reservoir-triage"
    command = [sys.executable, str(tool), "reproduce", str(crash),
               "--build", str(replay_build), "--target", target,
               "--runs", "1", "--json"]
    result = subprocess.run(command, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env, cwd=root)
    try:
        data = json.loads(result.stdout)
    except json.JSONDecodeError:
        return {"triage_error": (result.stderr.decode(errors="replace")
                                 .strip()[-300:] or "no JSON")}
    entries = data if isinstance(data, list) else data.get("crashes", [data])
    entry = entries[0] if entries else {}
    return {"signature": entry.get("signature"),
            "class": entry.get("class"),
            "first_line": entry.get("first_line"),
            "reproduction_rate": entry.get("reproduction_rate")}


def run_cell(plant, config, trial, builds, work, budget, max_execs, base_env):
    """Runs one cell in the fresh directory `work`; returns its record."""
    record = {"plant": plant.id, "config": config.name, "trial": trial,
              "target": plant.target, "budget_seconds": budget,
              "max_execs": max_execs, "expected_class": plant.expect_class}
    if not config.applies_to(plant.target):
        record.update(status="n/a", found=False,
                      note=f"{short_name(plant.target)} runs without faults")
        return record
    env = cell_env(base_env, plant, config)
    work.mkdir(parents=True, exist_ok=False)
    result = RUNNERS[config.engine](plant, config, trial, builds, work,
                                    budget, max_execs, env)
    record.update(result)
    if record.get("found"):
        record["status"] = "found"
        record.update(classify(builds["root"], record["crash"], plant.target,
                               builds["libfuzzer"], env))
        record["class_matches"] = (plant.expect_class is not None and
                                   record.get("class") == plant.expect_class)
    else:
        record["status"] = "error" if record.get("error") else "not-found"
    return record
