"""The deterministic, non-fuzzing configuration: syzkaller's fault-call
mode over a target's seed corpus. For each seed (in name order), replay it
failing its 1st, 2nd, 3rd, ... eligible call (fault mode fail_nth at every
site) until a replay injects nothing, which means the seed has no further
eligible call; the first replay that reports a finding ends the sweep. The
executions are the replays the sweep needed.

The seeds are binary inputs; each is turned into its text program once
(reservoir-replay --print, on the correct model), whose `faults` line is
then rewritten per replay. The replays of one seed run in batches of
BATCH programs in one reservoir-replay process (a finding aborts it; its
"== FILE" line names the program)."""

import re
import subprocess
import time
from pathlib import Path

from ..builds import plant_env


class _Stop:
    """cells.STOP, looked up late (cells imports this module)."""
    @staticmethod
    def is_set():
        from .cells import STOP as stop
        return stop.is_set()


STOP = _Stop()

BATCH = 32
HEADER_RE = re.compile(r"^== (.+) \(\d+ operations\)$")
OK_RE = re.compile(r"^   ok: .* (\d+) injected$")
FAULTS_RE = re.compile(r"^faults .*$", re.M)
MAX_NTH = 65536   # the program header's largest fail_nth


def seed_text(replay, target, seed, env):
    """The seed's whole program in text form, or None."""
    result = subprocess.run([str(replay), "--target", target, "--print",
                             str(seed)], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL,
                            env=plant_env(env, None), timeout=60)
    lines = result.stdout.decode(errors="replace").split("\n")
    body = []
    for line in lines[1:]:
        if OK_RE.match(line):
            break
        body.append(line)
    text = "\n".join(body).rstrip("\n") + "\n"
    return text if FAULTS_RE.search(text) else None


def with_fail_nth(text, nth):
    return FAULTS_RE.sub(
        f"faults mode=fail_nth seed=0 probability_ppm=0 fail_nth={nth} "
        "sites=all", text, count=1)


def run_batch(replay, files, env, timeout):
    """[(file, injected or None)] for the files that ran, and the output
    of a finding (or None)."""
    result = subprocess.run([str(replay), *map(str, files)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            env=env, timeout=timeout)
    out = result.stdout.decode(errors="replace")
    ran, current = [], None
    for line in out.split("\n"):
        header = HEADER_RE.match(line)
        if header:
            current = header.group(1)
            continue
        ok = OK_RE.match(line)
        if ok and current is not None:
            ran.append((current, int(ok.group(1))))
            current = None
    if result.returncode != 0:
        return ran, current, out
    return ran, None, None


def sweep(replay, target, seeds_dir, work, env, budget, max_execs):
    """The sweep's cell record (found, seconds, executions, ...)."""
    start = time.monotonic()
    seeds = sorted(p for p in Path(seeds_dir).iterdir() if p.is_file()) \
        if Path(seeds_dir).is_dir() else []
    programs = work / "programs"
    programs.mkdir()
    executions = 0
    swept = 0
    for index, seed in enumerate(seeds):
        text = seed_text(replay, target, seed, env)
        if text is None:
            continue
        nth = 1
        done = False
        while not done:
            files = []
            for k in range(nth, min(nth + BATCH, MAX_NTH + 1)):
                path = programs / f"{index:04d}-{seed.name[:16]}-nth{k}.txt"
                path.write_text(with_fail_nth(text, k))
                files.append(path)
            if not files:
                break
            ran, crashed, output = run_batch(replay, files, env, 600)
            for name, injected in ran:
                executions += 1
                if injected == 0:
                    done = True
                    break
            if crashed is not None and not done:
                executions += 1
                (work / "finding.log").write_text(output)
                return {"found": True, "crash": crashed,
                        "seconds": round(time.monotonic() - start, 3),
                        "executions": executions, "stopped_by": "crash",
                        "seeds_swept": swept}
            nth += len(files)
            elapsed = time.monotonic() - start
            if STOP.is_set():
                return {"found": False, "seconds": round(elapsed, 3),
                        "executions": executions, "stopped_by": "interrupted"}
            if elapsed > budget or (max_execs and executions >= max_execs):
                return {"found": False, "seconds": round(elapsed, 3),
                        "executions": executions, "seeds_swept": swept,
                        "stopped_by": "budget" if elapsed > budget
                        else "max-execs"}
            if nth > MAX_NTH:
                done = True
        swept += 1
    return {"found": False, "seconds": round(time.monotonic() - start, 3),
            "executions": executions, "seeds_swept": swept,
            "stopped_by": "exhausted"}
