"""An afl-fuzz instance for one target: its statsd metrics while it runs,
its fuzzer_stats at the end, and its crash files (replayed by the
scheduler for their report).

The instances of one target share a sync directory (the -o of afl-fuzz),
<target>/afl/ for the first round of a run and <target>/afl.<n>/ for the
n-th (a resumed run starts a fresh one from the previous round's queue,
so nothing of the earlier round is touched): with --afl-jobs 1 a plain
instance (default/), else main/ (-M) and secondary<N>/ (-S). afl-fuzz keeps
fuzzing after a crash; with --stop-on-first AFL_BENCH_UNTIL_CRASH=1 stops
an instance at its first, and the scheduler stops its siblings."""

import re
import socket

from .process import FuzzerProcess
from .targets import short_name

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


def instance_name(index, count):
    if count == 1:
        return "default"
    return "main" if index == 0 else f"secondary{index}"


def sync_dir_name(round_no):
    return "afl" if round_no == 1 else f"afl.{round_no}"


class AflRun(FuzzerProcess):
    engine = "afl"

    def __init__(self, target, builds, run_dir, args, index, count, round_no=1):
        super().__init__()
        self.target = target
        self.args = args
        self.index = index
        self.round = round_no
        self.instance = instance_name(index, count)
        if count == 1:
            self.role = []
        elif index == 0:
            self.role = ["-M", "main"]
        else:
            self.role = ["-S", self.instance]
        build_dir = builds["afl"]
        self.binary = build_dir / "fuzz" / "targets" / target
        self.replay_binaries = [build_dir / "fuzz" / "tools" / "reservoir-replay"]
        # A sanitizer report for a crash without one (AFL_USE_UBSAN traps
        # silently): the libFuzzer build of the same plant, when there.
        if "libfuzzer" in builds:
            self.replay_binaries.append(
                builds["libfuzzer"] / "fuzz" / "tools" / "reservoir-replay")
        self.cmplog = None
        if "afl-cmplog" in builds and index == 0:
            self.cmplog = builds["afl-cmplog"] / "fuzz" / "targets" / target
        self.seeds = build_dir / "corpus" / target
        self.dict = args.root / "corpus" / target / f"{target}.dict"
        self.target_dir = run_dir / target
        self.sync_dir = self.target_dir / sync_dir_name(round_no)
        self.dir = self.sync_dir / self.instance
        suffix = "" if round_no == 1 else f".{round_no}"
        self.log_path = self.target_dir / f"afl-{self.instance}{suffix}.log"
        self.empty_seeds = self.target_dir / "afl-empty-seed"
        self.label = short_name(target) + "/afl" + \
            ("" if count == 1 else f":{self.instance}")
        self.metrics = {}
        self.stats = {}
        self.seed_crashes = []
        self.error = None
        self.socket = None
        # Every seed crashes (a plant the seeds already expose): afl-fuzz
        # refuses to start, so the instance starts again from the empty
        # program, in a sync directory of its own.
        self.from_empty = False

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

    def corpus_dirs(self):
        return [self.dir / "queue"]

    def input_dir(self):
        """-i: the seeds, or (a resumed run) the previous round's queue."""
        if self.round > 1:
            previous = self.target_dir / sync_dir_name(self.round - 1)
            for name in ("default", "main"):
                queue = previous / name / "queue"
                if queue.is_dir() and any(queue.iterdir()):
                    return queue
        seeds = self.seeds
        if self.args.no_seeds or self.from_empty or not seeds.is_dir() or \
                not any(seeds.iterdir()):
            # afl-fuzz needs one input: the empty program (an all-zero
            # header, no operations).
            self.empty_seeds.mkdir(parents=True, exist_ok=True)
            empty = self.empty_seeds / "empty_program"
            if not empty.exists():
                empty.write_bytes(bytes(24))
            return self.empty_seeds
        return seeds

    def start(self, env):
        self.env = env
        self.sync_dir.mkdir(parents=True, exist_ok=True)
        command = ["afl-fuzz", "-i", str(self.input_dir()), "-o", str(self.sync_dir),
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
        settings = [
            ("AFL_NO_UI", "1"),            # no tty: a plain log
            ("AFL_SKIP_CPUFREQ", "1"),     # no CPU governor to ask
            ("AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES", "1"),  # core_pattern
            ("AFL_TRY_AFFINITY", "1"),     # pin if a core is free
        ]
        if self.args.stop_on_first:
            settings.append(("AFL_BENCH_UNTIL_CRASH", "1"))
        for name, value in settings:
            run_env.setdefault(name, value)
        run_env.update({"AFL_STATSD": "1", "AFL_STATSD_HOST": "127.0.0.1",
                        "AFL_STATSD_PORT": str(self.socket.getsockname()[1])})
        self.launch(command, run_env)

    def poll(self):
        self.read_metrics()
        if self.reap():
            self.socket.close()
            self.read_stats()
            self.read_log()
            if self.error and "valid input seed" in self.error and \
                    not self.from_empty and self.seed_crashes and \
                    not self.interrupted and self.stopped_by is None:
                self.restart_from_empty()
        return self.ended is not None

    def restart_from_empty(self):
        self.from_empty = True
        self.error = None
        self.process = self.ended = None
        self.metrics, self.stats = {}, {}
        self.sync_dir = self.sync_dir.with_name(self.sync_dir.name + ".empty")
        self.dir = self.sync_dir / self.instance
        self.log_path = self.log_path.with_name(self.log_path.stem + ".empty.log")
        self.start(self.env)

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

    def crash_files(self):
        crashes = self.dir / "crashes"
        if not crashes.is_dir():
            return []
        return sorted(crashes.glob("id:*"))

    @staticmethod
    def crash_position(crash):
        """(execs, fuzzing ms, signal) from an AFL++ crash file's name."""
        fields = {key: pattern.search(crash.name)
                  for key, pattern in AFL_CRASH_RES.items()}
        return tuple(int(fields[k].group(1)) if fields[k] else None
                     for k in ("execs", "ms", "signal"))

    def summary(self):
        found = int(self.stats.get("corpus_found", 0))
        imported = int(self.stats.get("corpus_imported", 0))
        return {
            "target": self.target,
            "engine": self.engine,
            "instance": self.instance,
            "mode": "afl",
            "seconds": round(self.total_seconds(), 1),
            "round_seconds": round(self.elapsed(), 1),
            "executions": self.total_execs,
            "round_executions": self.execs,
            "exec_per_second": self.exec_per_sec,
            "coverage_edges": self.cov,
            "features": None,
            "corpus_entries": self.corpus_size,
            "new_corpus_files": found,
            "imported_corpus_files": imported,
            "target_mode": self.stats.get("target_mode"),
            "stability": self.stats.get("stability"),
            "crash_files": len(self.crash_files()),
            "saved_crashes": int(self.stats.get("saved_crashes", len(self.crash_files()))),
            "saved_hangs": int(self.stats.get("saved_hangs", 0)),
            "seed_crashes": self.seed_crashes,
            "from_empty": self.from_empty,
            "interrupted": self.interrupted,
            "stopped_by": self.stopped_by,
            "error": self.error,
            "log": str(self.log_path),
        }
