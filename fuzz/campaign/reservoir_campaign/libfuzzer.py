"""A libFuzzer job for one target.

By default it keeps going after a crash: -fork=1 -ignore_crashes=1 (the
parent process runs the fuzzing in child jobs, merges what they find into
the corpus and starts the next job when one crashes); each crash leaves its
crash-<sha1> file in <target>/crashes/. The parent honours -runs and
-max_total_time itself, at the end of a job (so a budget overshoots by up
to one job, whose length grows 1, 2, 3, ... seconds). It is stopped early
(Ctrl-C, --no-new-coverage) by SIGTERM: SIGINT would be ignored while it
waits for its job inside system(); the inputs of the job in flight, which
the parent had not merged yet, are lost; crash files are kept (the child
writes them itself). With --stop-on-first it runs as a plain libFuzzer
process, which stops at its first crash."""

import re
import signal

from .process import FuzzerProcess
from .targets import MAX_LEN, short_name

# Plain mode: "#1024\tpulse  cov: 812 ft: 2301 corp: 57/3012b lim: 4
# exec/s: 512 rss: 41Mb".
STATUS_RE = re.compile(r"^#(\d+)\s+(INITED|NEW|REDUCE|pulse|DONE|RELOAD)\b")
FIELD_RES = {
    "cov": re.compile(r"\bcov: (\d+)"),
    "ft": re.compile(r"\bft: (\d+)"),
    "corpus_size": re.compile(r"\bcorp: (\d+)/"),
    "exec_per_sec": re.compile(r"\bexec/s: (\d+)"),
}
# Fork mode (the parent): "#7219: cov: 3401 ft: 4862 corp: 291 exec/s 611
# oom/timeout/crash: 0/0/2 time: 26s job: 5 dft_time: 0".
FORK_STATUS_RE = re.compile(
    r"^#(\d+): cov: (\d+) ft: (\d+) corp: (\d+) exec/s (\d+) "
    r"oom/timeout/crash: (\d+)/(\d+)/(\d+) time: (\d+)s job: (\d+)")
STAT_RE = re.compile(r"^stat::(\w+):\s+(\d+)")
ARTIFACT_RE = re.compile(r"Test unit written to (\S+)")
CRASH_PREFIXES = ("crash-", "leak-", "timeout-", "oom-", "slow-unit-")


class LibFuzzerRun(FuzzerProcess):
    engine = "libfuzzer"
    instance = None

    def __init__(self, target, build_dir, run_dir, args):
        super().__init__()
        self.target = target
        self.label = short_name(target) + ("/lf" if args.engine == "both" else "")
        self.dir = run_dir / target
        self.corpus = self.dir / "corpus"
        self.crashes = self.dir / "crashes"
        self.seeds = build_dir / "corpus" / target
        self.replay_binaries = [build_dir / "fuzz" / "tools" / "reservoir-replay"]
        self.binary = build_dir / "fuzz" / "targets" / target
        self.dict = args.root / "corpus" / target / f"{target}.dict"
        self.args = args
        self.fork = not args.stop_on_first
        if self.fork:
            self.stop_signal = signal.SIGTERM
        self.execs = 0
        self.exec_per_sec = 0
        self.cov = 0
        self.ft = 0
        self.corpus_size = 0
        self.crash_count = 0
        self.stats = {}
        self.log_offset = 0
        self.error = None
        self.seed_crashes = []

    @property
    def log_path(self):
        name = "fuzz.log" if self.round == 1 else f"fuzz.{self.round}.log"
        return self.dir / name

    def corpus_dirs(self):
        return [self.corpus]

    def start(self, env):
        for path in (self.corpus, self.crashes):
            path.mkdir(parents=True, exist_ok=True)
        self.launch(self.command(), env)

    def command(self):
        """The libFuzzer command line of this job."""
        command = [
            str(self.binary),
            f"-max_total_time={self.args.time}",
            f"-max_len={MAX_LEN}",
            "-print_final_stats=1",
            f"-seed={self.args.seed}",
            f"-artifact_prefix={self.crashes}/",
        ]
        if self.args.seed:
            # A seed asks for a run that repeats: libFuzzer needs these two
            # besides -seed (no corpus re-reads on a timer, no RSS-watching
            # thread; docs/ENGINES.md, "What repeats").
            command += ["-reload=0", "-rss_limit_mb=0"]
        if self.fork:
            command += ["-fork=1", "-ignore_crashes=1"]
        if self.args.runs:
            command.append(f"-runs={self.args.runs}")
        if self.dict.exists():
            command.append(f"-dict={self.dict}")
        command += [str(self.corpus)]
        if self.seeds.is_dir() and not self.args.no_seeds:
            command.append(str(self.seeds))
        return command

    def poll(self):
        self.read_log()
        if self.reap():
            self.read_log()
            if self.process.returncode not in (0, None) and not self.fork \
                    and not self.crash_files() and not self.interrupted \
                    and self.stopped_by is None:
                self.error = f"libFuzzer exited with status {self.process.returncode}"
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
        fork = FORK_STATUS_RE.match(line)
        if fork:
            (self.execs, self.cov, self.ft, self.corpus_size,
             self.exec_per_sec) = (int(fork.group(i)) for i in range(1, 6))
            self.crash_count = int(fork.group(8))
            return
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
            if stat.group(1) == "number_of_executed_units" and not self.fork:
                self.execs = int(stat.group(2))

    def crash_files(self):
        """Every crash file of the target (all rounds), oldest first."""
        if not self.crashes.is_dir():
            return []
        files = [p for p in self.crashes.iterdir()
                 if p.is_file() and p.name.startswith(CRASH_PREFIXES)]
        return sorted(files, key=lambda p: (p.stat().st_mtime, p.name))

    def new_entries(self):
        return sum(1 for p in self.corpus.iterdir() if p.is_file()) \
            if self.corpus.exists() else 0

    def summary(self):
        execs = self.total_execs
        seconds = self.total_seconds()
        return {
            "target": self.target,
            "engine": self.engine,
            "instance": self.instance,
            "mode": "fork" if self.fork else "plain",
            "seconds": round(seconds, 1),
            "round_seconds": round(self.elapsed(), 1),
            "executions": execs,
            "round_executions": self.execs,
            "exec_per_second": round(self.execs / self.elapsed()) if self.elapsed() else 0,
            "coverage_edges": self.cov,
            "features": self.ft,
            "corpus_entries": self.corpus_size,
            "new_corpus_files": self.new_entries(),
            "crash_files": len(self.crash_files()),
            "interrupted": self.interrupted,
            "stopped_by": self.stopped_by,
            "error": self.error,
            "log": str(self.log_path),
        }
