#!/usr/bin/env python3
"""Bounded AFL++ checks of the `afl` build, run by ctest (fuzz/afl/CMakeLists.txt).

  afl_check.py smoke --build DIR --target T --work DIR [--execs N]
      afl-fuzz runs T for about N executions (-E N, fixed -s seed) from the
      build's seed corpus with the target's dictionary (-x). Passes when
      afl-fuzz exits 0, fuzzer_stats says it ran in persistent mode with
      shared-memory test cases, it executed at least N inputs and saved no
      crash (a crash is replayed and its report printed), and afl-showmap
      sees more than --min-edges edges on the first seed.

  afl_check.py sync --build DIR --target T --work DIR
      One main (-M main) and one secondary (-S secondary) instance share a
      sync directory. The main starts first; once its queue holds entries of
      its own the secondary joins (AFL_IMPORT_FIRST=1: it syncs before it
      fuzzes) while the main still runs. Passes when both exit 0 and the
      secondary imported entries found by the main (queue entries named
      id:...,sync:main,..., .synced/main, corpus_imported > 0).

Nothing here reads a clock to bound the work: afl-fuzz stops after -E
executions. The time limits below only guard against a wedged process.
"""

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

GUARD_SECONDS = 240  # a wedged afl-fuzz, not the budget: -E is the budget

# Settings for a sandboxed CI: no UI (no tty), no CPU governor or
# core_pattern control, no CPU pinning (other jobs share the cores), short
# calibration. AFL_BENCH_UNTIL_CRASH stops at a first crash, which fails.
AFL_ENV = {
    "AFL_NO_UI": "1",
    "AFL_SKIP_CPUFREQ": "1",
    "AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES": "1",
    "AFL_NO_AFFINITY": "1",
    "AFL_FAST_CAL": "1",
    "AFL_BENCH_UNTIL_CRASH": "1",
    "AFL_NO_CRASH_README": "1",
}


def fail(message):
    print(f"FAIL: {message}", flush=True)
    sys.exit(1)


def afl_env(extra=None):
    env = dict(os.environ)
    # afl-fuzz sets the sanitizer options it needs (abort_on_error=1,
    # symbolize=0) and refuses custom ones without them.
    for name in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "MSAN_OPTIONS",
                 "LSAN_OPTIONS"):
        env.pop(name, None)
    env.update(AFL_ENV)
    env.update(extra or {})
    return env


class Paths:
    def __init__(self, args):
        self.build = Path(args.build).resolve()
        self.source = Path(args.source).resolve()
        self.target = args.target
        self.binary = self.build / "fuzz" / "targets" / args.target
        self.replay = self.build / "fuzz" / "tools" / "reservoir-replay"
        self.seeds = self.build / "corpus" / args.target
        self.dict = self.source / "corpus" / args.target / f"{args.target}.dict"
        self.work = Path(args.work).resolve()
        for path in (self.binary, self.seeds):
            if not path.exists():
                fail(f"{path} is missing: build the afl preset first "
                     "(cmake --preset afl && cmake --build --preset afl)")
        if self.work.exists():
            shutil.rmtree(self.work)
        self.work.mkdir(parents=True)


def afl_command(paths, out, execs, seed, instance=None):
    command = ["afl-fuzz", "-i", str(paths.seeds), "-o", str(out),
               "-s", str(seed), "-E", str(execs), "-t", "1000"]
    if instance:
        command += instance
    if paths.dict.exists():
        command += ["-x", str(paths.dict)]
    return command + ["--", str(paths.binary)]


def read_stats(instance_dir):
    path = instance_dir / "fuzzer_stats"
    if not path.exists():
        fail(f"{path} was not written")
    stats = {}
    for line in path.read_text().splitlines():
        key, sep, value = line.partition(":")
        if sep:
            stats[key.strip()] = value.strip()
    return stats


def tail(path, lines=40):
    try:
        text = Path(path).read_text(errors="replace").splitlines()
    except OSError:
        return ""
    return "\n".join(text[-lines:])


def check_instance(paths, instance_dir, log, returncode, execs):
    """Checks one finished afl-fuzz instance; returns its fuzzer_stats."""
    if returncode != 0:
        print(tail(log))
        fail(f"afl-fuzz exited with status {returncode} (log: {log})")
    stats = read_stats(instance_dir)
    mode = stats.get("target_mode", "")
    if "persistent" not in mode.split() or "shmem_testcase" not in mode.split():
        fail(f"{instance_dir.name}: target_mode is '{mode}', expected "
             "persistent mode with shared-memory test cases")
    crashes = sorted((instance_dir / "crashes").glob("id:*"))
    if int(stats.get("saved_crashes", "0")) or crashes:
        for crash in crashes[:1]:
            print(f"replaying {crash}:")
            subprocess.call([str(paths.replay), "--target", paths.target,
                             str(crash)], stderr=subprocess.STDOUT,
                            timeout=GUARD_SECONDS)
        fail(f"{instance_dir.name}: afl-fuzz saved "
             f"{stats.get('saved_crashes')} crash(es) in {instance_dir}/crashes")
    done = int(stats.get("execs_done", "0"))
    if done < execs:
        fail(f"{instance_dir.name}: {done} executions, expected at least {execs}")
    return stats


def run_smoke(args):
    paths = Paths(args)
    out = paths.work / "out"
    log = paths.work / "afl-fuzz.log"
    command = afl_command(paths, out, args.execs, seed=1)
    print("$ " + " ".join(command), flush=True)
    started = time.monotonic()
    with open(log, "w") as stream:
        returncode = subprocess.call(command, stdout=stream,
                                     stderr=subprocess.STDOUT,
                                     env=afl_env(), timeout=GUARD_SECONDS)
    seconds = time.monotonic() - started
    stats = check_instance(paths, out / "default", log, returncode, args.execs)

    seed = sorted(p for p in paths.seeds.iterdir() if p.is_file())[0]
    map_path = paths.work / "showmap.txt"
    with open(seed, "rb") as stdin:
        showmap = subprocess.run(
            ["afl-showmap", "-q", "-t", "1000", "-o", str(map_path), "--",
             str(paths.binary)], stdin=stdin, env=afl_env(),
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            timeout=GUARD_SECONDS)
    if showmap.returncode != 0:
        print(showmap.stdout.decode(errors="replace"))
        fail(f"afl-showmap exited with status {showmap.returncode} on {seed}")
    edges = len(map_path.read_text().splitlines())
    if edges <= args.min_edges:
        fail(f"afl-showmap saw {edges} edges on {seed.name}; "
             f"expected more than {args.min_edges}: is the build instrumented?")
    print(f"{paths.target}: {stats['execs_done']} executions in {seconds:.1f} s "
          f"(target_mode: {stats['target_mode']}), edges_found "
          f"{stats.get('edges_found')}, corpus {stats.get('corpus_count')}, "
          f"no crash; afl-showmap: {edges} edges on seed {seed.name}")


def own_entries(queue):
    """Queue entries the instance found itself (neither seeds nor imports)."""
    if not queue.is_dir():
        return []
    return [p for p in queue.iterdir()
            if p.name.startswith("id:") and ",orig:" not in p.name
            and ",sync:" not in p.name]


def run_sync(args):
    paths = Paths(args)
    sync = paths.work / "sync"
    main_log = paths.work / "main.log"
    secondary_log = paths.work / "secondary.log"

    main_command = afl_command(paths, sync, args.main_execs, seed=1,
                               instance=["-M", "main"])
    print("$ " + " ".join(main_command), flush=True)
    started = time.monotonic()
    with open(main_log, "w") as stream:
        main = subprocess.Popen(main_command, stdout=stream,
                                stderr=subprocess.STDOUT, env=afl_env())
    try:
        # The secondary joins once the main has entries of its own to share.
        while (len(own_entries(sync / "main" / "queue")) < args.wait_entries
               and main.poll() is None):
            if time.monotonic() - started > GUARD_SECONDS:
                fail("the main instance found no entries: wedged?")
            time.sleep(0.1)
        shared = len(own_entries(sync / "main" / "queue"))
        secondary_command = afl_command(paths, sync, args.secondary_execs,
                                        seed=2, instance=["-S", "secondary"])
        print(f"# main has {shared} entries of its own; main still running: "
              f"{main.poll() is None}", flush=True)
        print("$ AFL_IMPORT_FIRST=1 " + " ".join(secondary_command), flush=True)
        with open(secondary_log, "w") as stream:
            secondary_rc = subprocess.call(
                secondary_command, stdout=stream, stderr=subprocess.STDOUT,
                env=afl_env({"AFL_IMPORT_FIRST": "1"}), timeout=GUARD_SECONDS)
        main_rc = main.wait(timeout=GUARD_SECONDS)
    finally:
        if main.poll() is None:
            main.kill()
            main.wait()
    seconds = time.monotonic() - started

    main_stats = check_instance(paths, sync / "main", main_log, main_rc,
                                args.main_execs)
    secondary_stats = check_instance(paths, sync / "secondary", secondary_log,
                                     secondary_rc, args.secondary_execs)
    imported = sorted(p.name for p in (sync / "secondary" / "queue").iterdir()
                      if ",sync:main," in p.name)
    if not imported:
        print(tail(secondary_log))
        fail("the secondary imported nothing from the main "
             "(no queue entry named id:...,sync:main,...)")
    if not (sync / "secondary" / ".synced" / "main").exists():
        fail("the secondary has no .synced/main: it never synced with the main")
    if int(secondary_stats.get("corpus_imported", "0")) < 1:
        fail("the secondary's fuzzer_stats says corpus_imported "
             f"{secondary_stats.get('corpus_imported')}")
    print(f"main: {main_stats['execs_done']} executions, "
          f"{len(own_entries(sync / 'main' / 'queue'))} entries of its own, "
          f"{main_stats.get('corpus_imported')} imported")
    print(f"secondary: {secondary_stats['execs_done']} executions, imported "
          f"{len(imported)} entries from the main, e.g. {imported[0]}")
    print(f"both exited cleanly in {seconds:.1f} s")


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("check", choices=["smoke", "sync"])
    parser.add_argument("--build", required=True, help="the afl build directory")
    parser.add_argument("--source", default=str(Path(__file__).resolve().parents[2]))
    parser.add_argument("--target", required=True)
    parser.add_argument("--work", required=True, help="scratch directory (emptied)")
    parser.add_argument("--execs", type=int, default=2000)
    parser.add_argument("--min-edges", type=int, default=100)
    parser.add_argument("--main-execs", type=int, default=5000)
    parser.add_argument("--secondary-execs", type=int, default=1500)
    parser.add_argument("--wait-entries", type=int, default=10)
    args = parser.parse_args(argv)
    if shutil.which("afl-fuzz") is None or shutil.which("afl-showmap") is None:
        fail("afl-fuzz / afl-showmap not found (./reservoir setup installs afl++)")
    if args.check == "smoke":
        run_smoke(args)
    else:
        run_sync(args)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
