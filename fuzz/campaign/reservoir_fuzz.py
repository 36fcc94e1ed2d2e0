#!/usr/bin/env python3
"""The main job: a short local fuzzing campaign over every target.

Builds the libfuzzer-asan preset and/or the afl preset (or planted
variants), runs each target for a time budget with its seed corpus and
dictionary under libFuzzer, AFL++ or both side by side, shows progress while
it runs, and ends with a summary: per target and engine executions,
coverage, new corpus entries and findings with their first report line (and
its detail line for a RESERVOIR BUG) and
reproducer (AFL++ crash files are replayed through reservoir-replay for
theirs). Everything a run writes goes under one run directory
(build/runs/<stamp> unless --out says otherwise). Ctrl-C stops every fuzzer
and still prints the summary. docs/ENGINES.md describes the AFL++ side.
"""

import argparse
import datetime
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

PROG = "reservoir fuzz"
TARGETS = [
    "page_alloc_fuzzer",
    "slab_fuzzer",
    "reserve_fuzzer",
    "swap_over_net_fuzzer",
    "estimator_fuzzer",
]
MAX_LEN = 24 + 256 * 8  # the program header and 256 operation records

# libFuzzer status lines: "#1024\tpulse  cov: 812 ft: 2301 corp: 57/3012b
# lim: 4 exec/s: 512 rss: 41Mb".
STATUS_RE = re.compile(r"^#(\d+)\s+(INITED|NEW|REDUCE|pulse|DONE|RELOAD)\b")
FIELD_RES = {
    "cov": re.compile(r"\bcov: (\d+)"),
    "ft": re.compile(r"\bft: (\d+)"),
    "corpus_size": re.compile(r"\bcorp: (\d+)/"),
    "exec_per_sec": re.compile(r"\bexec/s: (\d+)"),
}
STAT_RE = re.compile(r"^stat::(\w+):\s+(\d+)")
ARTIFACT_RE = re.compile(r"Test unit written to (\S+)")
FINDING_RES = [
    re.compile(r"^(RESERVOIR BUG: .*)$"),
    re.compile(r"^(==\d+==ERROR: \w+Sanitizer: .*)$"),
    re.compile(r"^(\S+:\d+:\d+: runtime error: .*)$"),
    re.compile(r"^(==\d+== ERROR: libFuzzer: .*)$"),
]
# A RESERVOIR BUG report's second line: the detail, numbers and all.
DETAIL_PREFIX = "RESERVOIR DETAIL: "
ENGINES = ("libfuzzer", "afl", "both")
# AFL++ crash files: id:000000,sig:06,src:000012,time:1234,execs:5678,...
AFL_CRASH_RES = {
    "signal": re.compile(r",sig:(\d+)"),
    "ms": re.compile(r",time:(\d+)"),
    "execs": re.compile(r",execs:(\d+)"),
}
AFL_SEED_CRASH_RE = re.compile(r"Test case '(.+)' results in a crash")
AFL_ABORT_RE = re.compile(r"PROGRAM ABORT : (.*)$")
# Without a tty afl-fuzz writes fuzzer_stats only once a minute; progress
# comes from its statsd metrics (once a second, UDP to a socket of ours).
STATSD_RE = re.compile(r"^fuzzing\.(\w+):([0-9.]+)\|g")


def fail(message):
    print(f"{PROG}: {message}", file=sys.stderr)
    sys.exit(2)


def say(message):
    print(f"[{PROG}] {message}", file=sys.stderr, flush=True)


def known_plants(root):
    plants = set()
    for path in (root / "allocator" / "src").glob("*.cc"):
        plants.update(re.findall(r"RESERVOIR_PLANT_(\w+)", path.read_text()))
    return sorted(plants)


def parse_args(argv, root):
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Run a short local fuzzing campaign over Reservoir's "
                    "targets and print a summary of what it found.")
    parser.add_argument("--root", default=str(root), help=argparse.SUPPRESS)
    parser.add_argument("--time", type=int, default=30, metavar="SECONDS",
                        help="fuzzing time per target (default: 30)")
    parser.add_argument("--targets", default=",".join(TARGETS),
                        help="comma-separated targets (default: all five)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 2,
                        help="fuzzer processes at once, libFuzzer jobs and "
                             "AFL++ instances alike (default: CPU count)")
    parser.add_argument("--plant", metavar="ID",
                        help="fuzz a build with one planted bug compiled in")
    parser.add_argument("--out", metavar="DIR",
                        help="run directory (default: build/runs/<stamp>)")
    parser.add_argument("--seed", type=int, default=0,
                        help="libFuzzer -seed and AFL++ -s (default 0: the "
                             "engine picks)")
    parser.add_argument("--runs", type=int, default=0, metavar="N",
                        help="stop each target after N inputs (0: by time)")
    parser.add_argument("--engine", choices=ENGINES, default="libfuzzer",
                        help="libfuzzer (default), afl (AFL++, the afl preset) "
                             "or both side by side")
    parser.add_argument("--afl-jobs", type=int, default=1, metavar="N",
                        help="AFL++ instances per target sharing one sync "
                             "directory: the first -M main, the others -S "
                             "(default: 1, a plain instance)")
    parser.add_argument("--afl-asan", action="store_true",
                        help="AFL++ on the afl-asan preset (AFL_USE_ASAN=1 "
                             "AFL_USE_UBSAN=1, afl-fuzz -m none)")
    parser.add_argument("--afl-cmplog", action="store_true",
                        help="also build afl-cmplog and give the first AFL++ "
                             "instance of each target -c (CmpLog)")
    parser.add_argument("--no-seeds", action="store_true",
                        help="start from an empty corpus instead of the seed "
                             "corpora (AFL++, which needs one input, gets the "
                             "empty program: 24 zero bytes)")
    args = parser.parse_args(argv)
    args.root = Path(args.root)
    if args.time <= 0:
        fail("--time must be a positive number of seconds")
    if args.jobs <= 0:
        fail("--jobs must be positive")
    if args.runs < 0:
        fail("--runs must not be negative")
    if args.afl_jobs <= 0:
        fail("--afl-jobs must be positive")
    args.engines = ["libfuzzer", "afl"] if args.engine == "both" \
        else [args.engine]
    if "afl" in args.engines and shutil.which("afl-fuzz") is None:
        fail("afl-fuzz not found (./reservoir setup installs afl++)")
    args.targets = [t for t in args.targets.split(",") if t]
    for target in args.targets:
        if target not in TARGETS:
            fail(f"unknown target '{target}' (known: {', '.join(TARGETS)})")
    if not args.targets:
        fail("--targets names no target")
    if args.plant is not None and args.plant not in known_plants(args.root):
        fail(f"unknown plant '{args.plant}' "
             f"(known: {', '.join(known_plants(args.root))})")
    return args


def build_preset(args, preset, targets):
    """Configures and builds targets of a preset (or of its planted variant
    in build/<preset>-plant-<id>); returns the build dir."""
    root = args.root
    build_dir = root / "build" / preset
    configure = ["cmake", "--preset", preset]
    if args.plant:
        build_dir = root / "build" / f"{preset}-plant-{args.plant}"
        configure += ["-B", str(build_dir), f"-DRESERVOIR_PLANT={args.plant}"]
    build_dir.mkdir(parents=True, exist_ok=True)
    log = build_dir / "campaign-build.log"
    say(f"building {build_dir.relative_to(root)}"
        + (f" with plant '{args.plant}'" if args.plant else ""))
    with open(log, "w") as out:
        for command in (
                configure,
                ["cmake", "--build", str(build_dir), "-j", str(os.cpu_count() or 2),
                 "--target", *targets]):
            if subprocess.call(command, cwd=root, stdout=out,
                               stderr=subprocess.STDOUT) != 0:
                sys.stderr.write(log.read_text()[-4000:])
                fail(f"build failed (log: {log})")
    return build_dir


def build(args):
    """Builds what the campaign needs; returns {name: build dir} for the
    engines' builds: libfuzzer, afl and afl-cmplog."""
    builds = {}
    common = ["seed_corpora", "reservoir-replay", *args.targets]
    if "libfuzzer" in args.engines:
        builds["libfuzzer"] = build_preset(args, "libfuzzer-asan", common)
    if "afl" in args.engines:
        builds["afl"] = build_preset(
            args, "afl-asan" if args.afl_asan else "afl", common)
        if args.afl_cmplog:
            builds["afl-cmplog"] = build_preset(args, "afl-cmplog",
                                                args.targets)
    return builds


class FuzzerProcess:
    """What every engine's run shares: one fuzzer process in a session of
    its own (so Ctrl-C is ours to forward), its output in a log file, and
    when it started and ended."""

    def __init__(self):
        self.process = None
        self.started = None
        self.ended = None
        self.interrupted = False

    def launch(self, command, env):
        self.log = open(self.log_path, "w")
        self.log.write("# " + " ".join(command) + "\n")
        self.log.flush()
        self.started = time.monotonic()
        self.process = subprocess.Popen(
            command, stdout=self.log, stderr=subprocess.STDOUT,
            start_new_session=True, env=env)

    def reap(self):
        """True once, when the process has just ended."""
        if self.process is None or self.ended is not None:
            return False
        if self.process.poll() is None:
            return False
        self.ended = time.monotonic()
        self.log.close()
        return True

    def signal_stop(self):
        try:
            os.killpg(self.process.pid, signal.SIGINT)
        except ProcessLookupError:
            pass

    def elapsed(self):
        if self.started is None:
            return 0.0
        return (self.ended or time.monotonic()) - self.started


class TargetRun(FuzzerProcess):
    """One libFuzzer process and what its log has said so far."""

    engine = "libfuzzer"
    instance = None

    def __init__(self, target, build_dir, run_dir, args):
        super().__init__()
        self.target = target
        self.label = target.replace("_fuzzer", "") + \
            ("/lf" if args.engine == "both" else "")
        self.dir = run_dir / target
        self.corpus = self.dir / "corpus"
        self.crashes = self.dir / "crashes"
        self.log_path = self.dir / "fuzz.log"
        self.seeds = build_dir / "corpus" / target
        self.replay_binary = build_dir / "fuzz" / "tools" / "reservoir-replay"
        self.binary = build_dir / "fuzz" / "targets" / target
        self.dict = args.root / "corpus" / target / f"{target}.dict"
        self.args = args
        self.execs = 0
        self.exec_per_sec = 0
        self.cov = 0
        self.ft = 0
        self.corpus_size = 0
        self.stats = {}
        self.finding = None
        self.finding_wants_detail = False
        self.reproducer = None
        self.log_offset = 0
        self.error = None

    def start(self, env):
        for path in (self.corpus, self.crashes):
            path.mkdir(parents=True, exist_ok=True)
        command = [
            str(self.binary),
            f"-max_total_time={self.args.time}",
            f"-max_len={MAX_LEN}",
            "-print_final_stats=1",
            f"-seed={self.args.seed}",
            f"-artifact_prefix={self.crashes}/",
        ]
        if self.args.runs:
            command.append(f"-runs={self.args.runs}")
        if self.dict.exists():
            command.append(f"-dict={self.dict}")
        command += [str(self.corpus)]
        if self.seeds.is_dir() and not self.args.no_seeds:
            command.append(str(self.seeds))
        self.launch(command, env)

    def poll(self):
        self.read_log()
        if self.reap():
            self.read_log()
        return self.ended is not None

    def read_log(self):
        try:
            with open(self.log_path, errors="replace") as log:
                log.seek(self.log_offset)
                text = log.read()
                self.log_offset = log.tell()
        except OSError:
            return
        for line in text.splitlines():
            self.parse(line)

    def parse(self, line):
        status = STATUS_RE.match(line)
        if status:
            self.execs = int(status.group(1))
            for field, pattern in FIELD_RES.items():
                value = pattern.search(line)
                if value:
                    setattr(self, field, int(value.group(1)))
            return
        stat = STAT_RE.match(line)
        if stat:
            self.stats[stat.group(1)] = int(stat.group(2))
            return
        artifact = ARTIFACT_RE.search(line)
        if artifact:
            self.reproducer = artifact.group(1)
            return
        if self.finding_wants_detail:
            # The line after "RESERVOIR BUG: <class>: <place>" holds the
            # numbers: "RESERVOIR DETAIL: <detail>".
            self.finding_wants_detail = False
            if line.startswith(DETAIL_PREFIX):
                self.finding += "; " + line[len(DETAIL_PREFIX):]
                return
        if self.finding is None:
            for pattern in FINDING_RES:
                found = pattern.match(line)
                if found:
                    self.finding = found.group(1)
                    self.finding_wants_detail = \
                        self.finding.startswith("RESERVOIR BUG: ")
                    self.finding_seconds = time.monotonic() - self.started
                    self.finding_execs = self.execs
                    return

    def interrupt(self):
        if self.process is not None and self.ended is None:
            self.interrupted = True
            self.signal_stop()

    def new_entries(self):
        return sum(1 for p in self.corpus.iterdir() if p.is_file()) \
            if self.corpus.exists() else 0

    def summary(self):
        execs = self.stats.get("number_of_executed_units", self.execs)
        return {
            "target": self.target,
            "engine": self.engine,
            "instance": self.instance,
            "seconds": round(self.elapsed(), 1),
            "executions": execs,
            "exec_per_second": round(execs / self.elapsed()) if self.elapsed() else 0,
            "coverage_edges": self.cov,
            "features": self.ft,
            "corpus_entries": self.corpus_size,
            "new_corpus_files": self.new_entries(),
            "interrupted": self.interrupted,
            "finding": self.finding,
            "finding_after_seconds": round(getattr(self, "finding_seconds", 0), 2)
            if self.finding else None,
            "finding_after_executions": getattr(self, "finding_execs", None)
            if self.finding else None,
            "reproducer": self.reproducer,
            "replay": f"{self.replay_binary} --target {self.target} --print "
                      f"{self.reproducer}" if self.reproducer else None,
            "error": self.error,
            "log": str(self.log_path),
        }


def first_report_line(text):
    """The first report line of `text`; for a RESERVOIR BUG report, the
    line with its place followed by "; " and the detail line."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        for pattern in FINDING_RES:
            found = pattern.match(line)
            if found:
                first = found.group(1)
                if first.startswith("RESERVOIR BUG: ") and i + 1 < len(lines) \
                        and lines[i + 1].startswith(DETAIL_PREFIX):
                    first += "; " + lines[i + 1][len(DETAIL_PREFIX):]
                return first
    return None


class AflRun(FuzzerProcess):
    """One afl-fuzz process: its statsd metrics while it runs, its
    fuzzer_stats at the end, and its crash files replayed for their report.

    The instances of one target share the sync directory <target>/afl/ (the
    -o of afl-fuzz): with --afl-jobs 1 a plain instance (default/), else
    main/ (-M) and secondary<N>/ (-S)."""

    engine = "afl"

    def __init__(self, target, builds, run_dir, args, index, count):
        super().__init__()
        self.target = target
        self.args = args
        self.index = index
        if count == 1:
            self.instance, self.role = "default", []
        elif index == 0:
            self.instance, self.role = "main", ["-M", "main"]
        else:
            self.instance = f"secondary{index}"
            self.role = ["-S", self.instance]
        build_dir = builds["afl"]
        self.binary = build_dir / "fuzz" / "targets" / target
        self.replay_binary = build_dir / "fuzz" / "tools" / "reservoir-replay"
        self.cmplog = None
        if "afl-cmplog" in builds and index == 0:
            self.cmplog = builds["afl-cmplog"] / "fuzz" / "targets" / target
        # A sanitizer report for a crash without one (AFL_USE_UBSAN traps
        # silently): the libFuzzer build of the same plant, when there.
        self.fallback_replay = None
        if "libfuzzer" in builds:
            self.fallback_replay = \
                builds["libfuzzer"] / "fuzz" / "tools" / "reservoir-replay"
        self.seeds = build_dir / "corpus" / target
        self.dict = args.root / "corpus" / target / f"{target}.dict"
        self.sync_dir = run_dir / target / "afl"
        self.dir = self.sync_dir / self.instance
        self.log_path = run_dir / target / f"afl-{self.instance}.log"
        self.empty_seeds = run_dir / target / "afl-empty-seed"
        suffix = "" if count == 1 else f":{self.instance}"
        self.label = target.replace("_fuzzer", "") + "/afl" + suffix
        self.stopped_by = None
        self.metrics = {}
        self.stats = {}
        self.finding = None
        self.reproducer = None
        self.crash_count = 0
        self.seed_crashes = []
        self.error = None
        self.socket = None

    # The progress line reads these, like a libFuzzer run's.
    @property
    def execs(self):
        return int(self.stats.get("execs_done", self.metrics.get("execs_done", 0)))

    @property
    def exec_per_sec(self):  # the average since the start, as libFuzzer's
        return round(self.execs / self.elapsed()) if self.elapsed() else 0

    @property
    def cov(self):
        return int(self.stats.get("edges_found", self.metrics.get("edges_found", 0)))

    @property
    def corpus_size(self):
        return int(self.stats.get("corpus_count", self.metrics.get("corpus_count", 0)))

    def start(self, env):
        self.sync_dir.mkdir(parents=True, exist_ok=True)
        seeds = self.seeds
        if self.args.no_seeds or not seeds.is_dir() or not any(seeds.iterdir()):
            # afl-fuzz needs one input: the empty program (an all-zero
            # header, no operations).
            self.empty_seeds.mkdir(parents=True, exist_ok=True)
            (self.empty_seeds / "empty_program").write_bytes(bytes(24))
            seeds = self.empty_seeds
        command = ["afl-fuzz", "-i", str(seeds), "-o", str(self.sync_dir),
                   "-V", str(self.args.time), *self.role]
        if self.args.runs:
            command += ["-E", str(self.args.runs)]
        if self.args.seed:
            command += ["-s", str(self.args.seed)]
        if self.dict.exists():
            command += ["-x", str(self.dict)]
        if self.cmplog is not None:
            command += ["-c", str(self.cmplog)]
        if self.args.afl_asan:
            command += ["-m", "none"]
        command += ["--", str(self.binary)]

        self.socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.socket.bind(("127.0.0.1", 0))
        self.socket.setblocking(False)
        run_env = dict(env)
        # afl-fuzz sets the sanitizer options it needs (abort_on_error=1,
        # symbolize=0) and refuses custom ones without them.
        for name in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
            run_env.pop(name, None)
        for name, value in (
                ("AFL_NO_UI", "1"),            # no tty: a plain log
                ("AFL_SKIP_CPUFREQ", "1"),     # no CPU governor to ask
                ("AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES", "1"),  # core_pattern
                ("AFL_TRY_AFFINITY", "1"),     # pin if a core is free
                ("AFL_BENCH_UNTIL_CRASH", "1")):  # stop at a finding, as libFuzzer
            run_env.setdefault(name, value)
        run_env.update({"AFL_STATSD": "1", "AFL_STATSD_HOST": "127.0.0.1",
                        "AFL_STATSD_PORT": str(self.socket.getsockname()[1])})
        self.started_wall = time.time()
        self.launch(command, run_env)

    def poll(self):
        self.read_metrics()
        if self.reap():
            self.socket.close()
            self.read_stats()
            self.read_log()
        self.check_crashes()
        return self.ended is not None

    def read_metrics(self):
        if self.socket is None or self.ended is not None:
            return
        while True:
            try:
                packet = self.socket.recv(65536)
            except (BlockingIOError, OSError):
                return
            for line in packet.decode(errors="replace").splitlines():
                metric = STATSD_RE.match(line)
                if metric:
                    self.metrics[metric.group(1)] = metric.group(2)

    def read_stats(self):
        path = self.dir / "fuzzer_stats"
        if not path.exists():
            return
        for line in path.read_text(errors="replace").splitlines():
            key, sep, value = line.partition(":")
            if sep:
                self.stats[key.strip()] = value.strip()

    def read_log(self):
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return
        for line in text.splitlines():
            seed = AFL_SEED_CRASH_RE.search(line)
            if seed and seed.group(1) not in self.seed_crashes:
                self.seed_crashes.append(seed.group(1))
            abort = AFL_ABORT_RE.search(line)
            if abort and self.process.returncode != 0:
                self.error = "afl-fuzz: " + re.sub(r"\x1b\[[0-9;]*m", "",
                                                   abort.group(1)).strip()
        if self.process.returncode not in (0, None) and self.error is None \
                and not self.interrupted and self.stopped_by is None:
            self.error = f"afl-fuzz exited with status {self.process.returncode}"

    def check_crashes(self):
        if self.finding is not None:
            return
        crashes = sorted((self.dir / "crashes").glob("id:*"))
        self.crash_count = len(crashes)
        if not crashes:
            return
        crash = crashes[0]
        self.reproducer = str(crash)
        fields = {key: pattern.search(crash.name)
                  for key, pattern in AFL_CRASH_RES.items()}
        # From the start of afl-fuzz, as for libFuzzer: the crash file's
        # time (its name's time: counts from the end of the dry run).
        try:
            self.finding_seconds = crash.stat().st_mtime - self.started_wall
        except OSError:
            self.finding_seconds = self.elapsed()
        self.finding_fuzzing_ms = int(fields["ms"].group(1)) \
            if fields["ms"] else None
        self.finding_execs = int(fields["execs"].group(1)) \
            if fields["execs"] else self.execs
        self.finding = self.replay(crash)
        if self.finding is None and self.ended is None:
            return  # perhaps still being written: again at the next poll
        if self.finding is None:
            number = int(fields["signal"].group(1)) if fields["signal"] else "?"
            self.finding = (f"crash (signal {number}) with no report line "
                            "on replay")

    def replay(self, crash):
        env = dict(os.environ)
        env.setdefault("ASAN_OPTIONS", "abort_on_error=1:symbolize=1")
        env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
        for binary in (self.replay_binary, self.fallback_replay):
            if binary is None or not binary.exists():
                continue
            try:
                result = subprocess.run(
                    [str(binary), "--target", self.target, str(crash)],
                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                    env=env, timeout=60)
            except subprocess.TimeoutExpired:
                continue
            line = first_report_line(result.stdout.decode(errors="replace"))
            if line:
                self.replay_used = binary
                return line
        return None

    def interrupt(self, by=None):
        if self.process is not None and self.ended is None:
            self.interrupted = by is None
            self.stopped_by = by
            self.signal_stop()

    def summary(self):
        execs = self.execs
        found = int(self.stats.get("corpus_found", 0))
        imported = int(self.stats.get("corpus_imported", 0))
        replay_binary = getattr(self, "replay_used", self.replay_binary)
        return {
            "target": self.target,
            "engine": self.engine,
            "instance": self.instance,
            "seconds": round(self.elapsed(), 1),
            "executions": execs,
            "exec_per_second": round(execs / self.elapsed()) if self.elapsed() else 0,
            "coverage_edges": self.cov,
            "features": None,
            "corpus_entries": self.corpus_size,
            "new_corpus_files": found,
            "imported_corpus_files": imported,
            "target_mode": self.stats.get("target_mode"),
            "stability": self.stats.get("stability"),
            "saved_crashes": int(self.stats.get("saved_crashes", self.crash_count)),
            "saved_hangs": int(self.stats.get("saved_hangs", 0)),
            "seed_crashes": self.seed_crashes,
            "interrupted": self.interrupted,
            "stopped_by": self.stopped_by,
            "finding": self.finding,
            "finding_after_seconds": round(self.finding_seconds, 2)
            if self.finding else None,
            "finding_after_executions": self.finding_execs
            if self.finding else None,
            "finding_after_fuzzing_ms": self.finding_fuzzing_ms
            if self.finding else None,
            "reproducer": self.reproducer,
            "replay": f"{replay_binary} --target {self.target} --print "
                      f"'{self.reproducer}'" if self.reproducer else None,
            "error": self.error,
            "log": str(self.log_path),
        }


def write_atomically(path, text):
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(text)
    os.replace(temporary, path)


def progress_line(runs, started):
    parts = []
    for run in runs:
        if run.started is None:
            state = "waiting"
        else:
            state = (f"{run.execs} execs {run.exec_per_sec}/s cov {run.cov} "
                     f"corp {run.corpus_size}")
            if run.finding:
                state += " FOUND"
            elif run.error:
                state += " FAILED"
            elif run.ended is not None:
                state += " done"
        parts.append(f"{run.label}: {state}")
    return f"[{time.monotonic() - started:5.0f}s] " + " | ".join(parts)


ENGINE_NAMES = {"libfuzzer": "libFuzzer", "afl": "AFL++"}


def engine_name(s):
    name = ENGINE_NAMES[s["engine"]]
    if s["instance"] not in (None, "default"):
        name += f" {s['instance']}"
    return name


def render_summary(summaries, args, run_dir, builds):
    lines = []
    title = "Reservoir fuzzing campaign"
    if args.plant:
        title += f" (plant: {args.plant})"
    lines.append(f"# {title}")
    lines.append("")
    lines.append(f"run directory: {run_dir}")
    build_dirs = ", ".join(str(builds[name]) for name in builds)
    lines.append(f"build: {build_dirs}, {args.time} s per target"
                 + (f", at most {args.runs} runs" if args.runs else "")
                 + (", no seed corpus" if args.no_seeds else ""))
    lines.append("")
    lines.append("| target | engine | seconds | executions | exec/s | coverage | "
                 "corpus (new files) | finding |")
    lines.append("|---|---|---:|---:|---:|---:|---:|---|")
    for s in summaries:
        finding = s["finding"] or s["error"] or (
            "interrupted" if s["interrupted"] else
            f"none (stopped: {s['stopped_by']} found one)"
            if s.get("stopped_by") else "none")
        lines.append(
            f"| {s['target']} | {engine_name(s)} | {s['seconds']} | "
            f"{s['executions']} | {s['exec_per_second']} | "
            f"{s['coverage_edges']} | "
            f"{s['corpus_entries']} ({s['new_corpus_files']}) | {finding} |")
    if "afl" in args.engines:
        lines.append("")
        lines.append("coverage: libFuzzer's `cov` (covered edges); AFL++'s "
                     "`edges_found` (its map entries): not comparable across "
                     "engines. AFL++ corpus: queue entries (found by itself).")
    for s in summaries:
        if s.get("seed_crashes"):
            lines.append("")
            lines.append(f"{s['target']} ({engine_name(s)}): afl-fuzz skipped "
                         f"{len(s['seed_crashes'])} seed(s) that crash: "
                         + ", ".join(Path(p).name for p in s["seed_crashes"]))
    findings = [s for s in summaries if s["finding"]]
    lines.append("")
    if not findings:
        lines.append("No findings.")
    for s in summaries:
        if s["error"]:
            lines.append(f"FAILED: {s['target']} ({engine_name(s)}): "
                         f"{s['error']} (log: {s['log']})")
    for s in findings:
        heading = s["target"]
        if args.engine != "libfuzzer":
            heading += f" ({engine_name(s)})"
        lines.append(f"## {heading}")
        lines.append("")
        lines.append(f"    {s['finding']}")
        lines.append("")
        lines.append(f"found after {s['finding_after_seconds']} s and about "
                     f"{s['finding_after_executions']} executions")
        if s["reproducer"]:
            lines.append(f"reproducer: {s['reproducer']}")
            lines.append(f"replay: {s['replay']}")
        lines.append(f"log: {s['log']}")
        lines.append("")
    return "\n".join(lines) + "\n"


def main(argv):
    root = Path(__file__).resolve().parents[2]
    args = parse_args(argv, root)
    try:
        builds = build(args)
    except KeyboardInterrupt:
        # Nothing has run yet: no summary to write, just stop.
        print(f"\n{PROG}: interrupted while building", file=sys.stderr)
        return 130

    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    if args.out:
        run_dir = Path(args.out).resolve()
        if run_dir.exists() and any(run_dir.iterdir()):
            fail(f"run directory '{run_dir}' is not empty (choose another --out)")
    else:
        suffix = f"-plant-{args.plant}" if args.plant else ""
        run_dir = root / "build" / "runs" / f"{stamp}{suffix}"
        n = 1
        while run_dir.exists():
            n += 1
            run_dir = root / "build" / "runs" / f"{stamp}{suffix}-{n}"
    run_dir.mkdir(parents=True, exist_ok=True)

    # Per target: its libFuzzer job, then its AFL++ instances, so that with
    # --engine both the two engines of a target run side by side.
    runs = []
    for t in args.targets:
        if "libfuzzer" in args.engines:
            runs.append(TargetRun(t, builds["libfuzzer"], run_dir, args))
        if "afl" in args.engines:
            runs += [AflRun(t, builds, run_dir, args, i, args.afl_jobs)
                     for i in range(args.afl_jobs)]
    env = dict(os.environ)
    env.setdefault("ASAN_OPTIONS", "abort_on_error=1:symbolize=1")
    env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
    engines = " and ".join(ENGINE_NAMES[e] for e in args.engines)
    say(f"fuzzing {len(args.targets)} targets with {engines} for {args.time} s "
        f"each, {args.jobs} jobs at a time; writing to {run_dir}")

    started = time.monotonic()
    pending = list(runs)
    active = []
    interrupted = False
    tty = sys.stderr.isatty()
    last_print = 0.0

    def on_sigterm(signum, frame):
        raise KeyboardInterrupt

    def stop_siblings(run):
        # One finding ends a target's AFL++ job, as it ends a libFuzzer one:
        # its other instances stop (and any not yet started never start).
        if run.engine != "afl" or not run.finding:
            return
        for other in runs:
            if other.engine == "afl" and other.target == run.target \
                    and other is not run and not other.finding:
                if other in pending:
                    pending.remove(other)
                elif other.stopped_by is None:
                    other.interrupt(by=run.instance)

    signal.signal(signal.SIGTERM, on_sigterm)
    try:
        while pending or active:
            while pending and len(active) < args.jobs:
                run = pending.pop(0)
                run.start(env)
                active.append(run)
            time.sleep(0.5)
            active = [run for run in active if not run.poll()]
            for run in runs:
                stop_siblings(run)
            now = time.monotonic()
            if now - last_print >= (2 if tty else 5):
                line = progress_line(runs, started)
                if tty:
                    sys.stderr.write("\r\033[K" + line[:os.get_terminal_size().columns - 1])
                else:
                    sys.stderr.write(line + "\n")
                sys.stderr.flush()
                last_print = now
    except KeyboardInterrupt:
        interrupted = True
        if tty:
            sys.stderr.write("\n")
        say("interrupted: stopping every fuzzer")
        for run in active:
            run.interrupt()
        deadline = time.monotonic() + 10
        for run in active:
            while not run.poll() and time.monotonic() < deadline:
                time.sleep(0.1)
            if run.ended is None:
                os.killpg(run.process.pid, signal.SIGKILL)
                run.process.wait()
                run.poll()
    if tty and not interrupted:
        sys.stderr.write("\n")

    summaries = [run.summary() for run in runs if run.started is not None]
    report = render_summary(summaries, args, run_dir, builds)
    write_atomically(run_dir / "summary.md", report)
    write_atomically(run_dir / "summary.json", json.dumps(
        {"plant": args.plant, "engines": args.engines,
         "time_per_target": args.time, "no_seeds": args.no_seeds,
         "interrupted": interrupted, "targets": summaries}, indent=2) + "\n")
    sys.stdout.write(report)
    say(f"summary: {run_dir / 'summary.md'} and summary.json")
    if any(s["finding"] or s["error"] for s in summaries):
        return 1
    return 130 if interrupted else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
