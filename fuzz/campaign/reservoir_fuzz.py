#!/usr/bin/env python3
"""The main job: a short local libFuzzer campaign over every target.

Builds the libfuzzer-asan preset (or a planted variant), runs each target
for a time budget with its seed corpus and dictionary, shows progress while
it runs, and ends with a summary: per target executions, coverage, new
corpus entries and findings with their first report line and reproducer.
Everything a run writes goes under one run directory (build/runs/<stamp>
unless --out says otherwise). Ctrl-C stops every fuzzer and still prints
the summary.
"""

import argparse
import datetime
import json
import os
import re
import signal
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
                        help="targets fuzzed at once (default: CPU count)")
    parser.add_argument("--plant", metavar="ID",
                        help="fuzz a build with one planted bug compiled in")
    parser.add_argument("--out", metavar="DIR",
                        help="run directory (default: build/runs/<stamp>)")
    parser.add_argument("--seed", type=int, default=0,
                        help="libFuzzer -seed (default 0: libFuzzer picks)")
    parser.add_argument("--runs", type=int, default=0, metavar="N",
                        help="stop each target after N inputs (0: by time)")
    args = parser.parse_args(argv)
    args.root = Path(args.root)
    if args.time <= 0:
        fail("--time must be a positive number of seconds")
    if args.jobs <= 0:
        fail("--jobs must be positive")
    if args.runs < 0:
        fail("--runs must not be negative")
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


def build(args):
    """Configures and builds what the campaign needs; returns the build dir."""
    root = args.root
    preset = "libfuzzer-asan"
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
                 "--target", "seed_corpora", "reservoir-replay", *args.targets]):
            if subprocess.call(command, cwd=root, stdout=out,
                               stderr=subprocess.STDOUT) != 0:
                sys.stderr.write(log.read_text()[-4000:])
                fail(f"build failed (log: {log})")
    return build_dir


class TargetRun:
    """One libFuzzer process and what its log has said so far."""

    def __init__(self, target, build_dir, run_dir, args):
        self.target = target
        self.dir = run_dir / target
        self.corpus = self.dir / "corpus"
        self.crashes = self.dir / "crashes"
        self.log_path = self.dir / "fuzz.log"
        self.seeds = build_dir / "corpus" / target
        self.binary = build_dir / "fuzz" / "targets" / target
        self.dict = args.root / "corpus" / target / f"{target}.dict"
        self.args = args
        self.process = None
        self.started = None
        self.ended = None
        self.execs = 0
        self.exec_per_sec = 0
        self.cov = 0
        self.ft = 0
        self.corpus_size = 0
        self.stats = {}
        self.finding = None
        self.reproducer = None
        self.log_offset = 0
        self.interrupted = False

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
        if self.seeds.is_dir():
            command.append(str(self.seeds))
        self.log = open(self.log_path, "w")
        self.log.write("# " + " ".join(command) + "\n")
        self.log.flush()
        self.started = time.monotonic()
        # A process group of its own: Ctrl-C is ours to forward.
        self.process = subprocess.Popen(
            command, stdout=self.log, stderr=subprocess.STDOUT,
            start_new_session=True, env=env)

    def poll(self):
        self.read_log()
        if self.process is not None and self.ended is None:
            if self.process.poll() is not None:
                self.ended = time.monotonic()
                self.log.close()
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
        if self.finding is None:
            for pattern in FINDING_RES:
                found = pattern.match(line)
                if found:
                    self.finding = found.group(1)
                    self.finding_seconds = time.monotonic() - self.started
                    self.finding_execs = self.execs
                    return

    def interrupt(self):
        if self.process is not None and self.ended is None:
            self.interrupted = True
            try:
                os.killpg(self.process.pid, signal.SIGINT)
            except ProcessLookupError:
                pass

    def elapsed(self):
        if self.started is None:
            return 0.0
        return (self.ended or time.monotonic()) - self.started

    def new_entries(self):
        return sum(1 for p in self.corpus.iterdir() if p.is_file()) \
            if self.corpus.exists() else 0

    def summary(self):
        execs = self.stats.get("number_of_executed_units", self.execs)
        return {
            "target": self.target,
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
            elif run.ended is not None:
                state += " done"
        parts.append(f"{run.target.replace('_fuzzer', '')}: {state}")
    return f"[{time.monotonic() - started:5.0f}s] " + " | ".join(parts)


def render_summary(summaries, args, run_dir, build_dir):
    lines = []
    title = "Reservoir fuzzing campaign"
    if args.plant:
        title += f" (plant: {args.plant})"
    lines.append(f"# {title}")
    lines.append("")
    lines.append(f"run directory: {run_dir}")
    lines.append(f"build: {build_dir}, {args.time} s per target"
                 + (f", at most {args.runs} runs" if args.runs else ""))
    lines.append("")
    lines.append("| target | seconds | executions | exec/s | coverage | "
                 "corpus (new files) | finding |")
    lines.append("|---|---:|---:|---:|---:|---:|---|")
    for s in summaries:
        finding = s["finding"] or ("interrupted" if s["interrupted"] else "none")
        lines.append(
            f"| {s['target']} | {s['seconds']} | {s['executions']} | "
            f"{s['exec_per_second']} | {s['coverage_edges']} | "
            f"{s['corpus_entries']} ({s['new_corpus_files']}) | {finding} |")
    findings = [s for s in summaries if s["finding"]]
    lines.append("")
    if not findings:
        lines.append("No findings.")
    for s in findings:
        lines.append(f"## {s['target']}")
        lines.append("")
        lines.append(f"    {s['finding']}")
        lines.append("")
        lines.append(f"found after {s['finding_after_seconds']} s and about "
                     f"{s['finding_after_executions']} executions")
        if s["reproducer"]:
            lines.append(f"reproducer: {s['reproducer']}")
            replay = build_dir / "fuzz" / "tools" / "reservoir-replay"
            lines.append(f"replay: {replay} --target {s['target']} --print "
                         f"{s['reproducer']}")
        lines.append(f"log: {s['log']}")
        lines.append("")
    return "\n".join(lines) + "\n"


def main(argv):
    root = Path(__file__).resolve().parents[2]
    args = parse_args(argv, root)
    build_dir = build(args)

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

    runs = [TargetRun(t, build_dir, run_dir, args) for t in args.targets]
    env = dict(os.environ)
    env.setdefault("ASAN_OPTIONS", "abort_on_error=1:symbolize=1")
    env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
    say(f"fuzzing {len(runs)} targets for {args.time} s each, {args.jobs} at "
        f"a time; writing to {run_dir}")

    started = time.monotonic()
    pending = list(runs)
    active = []
    interrupted = False
    tty = sys.stderr.isatty()
    last_print = 0.0

    def on_sigterm(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_sigterm)
    try:
        while pending or active:
            while pending and len(active) < args.jobs:
                run = pending.pop(0)
                run.start(env)
                active.append(run)
            time.sleep(0.5)
            active = [run for run in active if not run.poll()]
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
    report = render_summary(summaries, args, run_dir, build_dir)
    write_atomically(run_dir / "summary.md", report)
    write_atomically(run_dir / "summary.json", json.dumps(
        {"plant": args.plant, "time_per_target": args.time,
         "interrupted": interrupted, "targets": summaries}, indent=2) + "\n")
    sys.stdout.write(report)
    say(f"summary: {run_dir / 'summary.md'} and summary.json")
    if any(s["finding"] for s in summaries):
        return 1
    return 130 if interrupted else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
