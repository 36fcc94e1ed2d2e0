"""Runs a campaign's jobs: at most --jobs fuzzer processes at once; polls
them; replays each new crash file for its report and files it in the
findings store; applies the stop conditions (the engines' own --time and
--runs, and --no-new-coverage here); prints one combined status line;
samples the time series. Ctrl-C (or SIGTERM) stops every fuzzer, and the
crash files and corpus entries they wrote stay where they are."""

import os
import signal
import subprocess
import sys
import time

from .common import say
from .findings import report_of

POLL_SECONDS = 0.25
REPLAYS_PER_POLL = 8
# A crash file younger than this may still be being written.
SETTLE_SECONDS = 0.2


def replay_crash(run, crash, env):
    """(first line, detail, replay binary) of a crash file, trying the
    run's replay tools in turn; (None, None, None) without a report."""
    for binary in run.replay_binaries:
        if binary is None or not binary.exists():
            continue
        try:
            result = subprocess.run(
                [str(binary), "--target", run.target, str(crash)],
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                env=env, timeout=60)
        except subprocess.TimeoutExpired:
            continue
        first, detail = report_of(result.stdout.decode(errors="replace"))
        if first:
            return first, detail, binary
    return None, None, None


class Scheduler:
    def __init__(self, args, runs, run_dir, store, series, env):
        self.args = args
        self.runs = runs
        self.run_dir = run_dir
        self.store = store
        self.series = series
        self.env = env
        self.pending = list(runs)
        self.active = []
        self.interrupted = False
        self.started = None
        self.coverage_seen = {}   # run -> (coverage, when it last grew)
        self.retry = {}           # crash name -> first time without a report
        self.tty = sys.stderr.isatty()
        self.status_shown = False

    # -- crash files ---------------------------------------------------
    def process_crashes(self, final=False):
        budget = None if final else REPLAYS_PER_POLL
        changed = False
        for run in self.runs:
            if run.started is None:
                continue
            for crash in run.crash_files():
                name = os.path.relpath(crash, self.run_dir)
                if self.store.seen(name):
                    continue
                try:
                    age = time.time() - crash.stat().st_mtime
                except OSError:
                    continue
                if age < SETTLE_SECONDS and not final:
                    continue
                if budget is not None:
                    if budget == 0:
                        return changed
                    budget -= 1
                first, detail, binary = replay_crash(run, crash, self.env)
                if first is None and not final:
                    # Give a crash without a report a few seconds: it may
                    # have been caught half-written.
                    since = self.retry.setdefault(name, time.monotonic())
                    if time.monotonic() - since < 3:
                        continue
                self.file_crash(run, crash, name, first, detail, binary)
                changed = True
        return changed

    def file_crash(self, run, crash, name, first, detail, binary):
        seconds = None
        executions = run.total_execs
        if run.engine == "afl":
            execs, _, number = run.crash_position(crash)
            if execs is not None:
                executions = run.prior_executions + execs
            if first is None:
                first = f"crash (signal {number if number is not None else '?'}) " \
                        "with no report line on replay"
        elif first is None:
            first = "crash with no report line on replay"
        try:
            seconds = run.prior_seconds + max(
                0.0, crash.stat().st_mtime - run.started_wall)
        except OSError:
            seconds = run.total_seconds()
        replay_binary = binary or run.replay_binaries[0]
        new = self.store.add(name, first, detail, {
            "target": run.target, "engine": run.engine,
            "instance": run.instance, "round": run.round,
            "seconds": round(seconds, 2), "executions": executions,
            "reproducer": str(crash),
            "replay": f"{replay_binary} --target {run.target} --print '{crash}'",
        })
        run.crash_keys = getattr(run, "crash_keys", set())
        run.crash_keys.add(self.store.crashes[name])
        if getattr(run, "first_crash", None) is None:
            # This job's first crash of this round: its time and
            # executions to exposure.
            run.first_crash = {"seconds": round(seconds - run.prior_seconds, 2),
                               "executions": executions - run.prior_executions,
                               "key": self.store.crashes[name]}
        if new:
            self.line_break()
            say(f"new bug from {run.label} after {seconds:.1f} s: {first}")
            if self.args.stop_on_first:
                self.stop_target(run)

    def stop_target(self, run):
        """--stop-on-first: one finding ends the target's job: its other
        AFL++ instances stop, those not started never start."""
        for other in self.runs:
            if other is run or other.target != run.target or other.engine != run.engine:
                continue
            if other in self.pending:
                self.pending.remove(other)
            elif other.running():
                other.interrupt(by=f"{run.instance or run.label} found one")

    # -- stop conditions -------------------------------------------------
    def check_coverage(self):
        limit = self.args.no_new_coverage
        if not limit:
            return
        now = time.monotonic()
        for run in self.active:
            if not run.running():
                continue
            cov, since = self.coverage_seen.get(run, (None, run.started))
            if cov is None or run.cov > cov:
                self.coverage_seen[run] = (run.cov, now)
            elif now - since >= limit and run.stopped_by is None:
                run.interrupt(by=f"no new coverage for {limit} s")

    # -- status ----------------------------------------------------------
    def line_break(self):
        if self.tty and self.status_shown:
            sys.stderr.write("\n")
            self.status_shown = False

    def show_status(self):
        from .status import status_line
        elapsed = time.monotonic() - self.started
        if self.tty:
            width = os.get_terminal_size(sys.stderr.fileno()).columns - 1
            sys.stderr.write("\r\033[K" + status_line(self.runs, elapsed, self.store, width))
            self.status_shown = True
        else:
            sys.stderr.write(status_line(self.runs, elapsed, self.store) + "\n")
        sys.stderr.flush()

    # -- the loop --------------------------------------------------------
    def run(self):
        self.started = time.monotonic()
        last_status = last_sample = last_write = 0.0
        status_every = 1.0 if self.tty else 5.0

        def on_sigterm(signum, frame):
            raise KeyboardInterrupt

        previous = signal.signal(signal.SIGTERM, on_sigterm)
        try:
            while self.pending or self.active:
                while self.pending and len(self.active) < self.args.jobs:
                    run = self.pending.pop(0)
                    run.start(self.env)
                    self.active.append(run)
                time.sleep(POLL_SECONDS)
                self.active = [run for run in self.active if not run.poll()]
                for run in self.active:
                    if run.overdue():
                        run.kill()
                if self.process_crashes():
                    self.store.save()
                self.check_coverage()
                now = time.monotonic()
                if now - last_sample >= 1.0:
                    self.series.sample(self.runs, now - self.started, self.store)
                    last_sample = now
                if now - last_write >= 10.0:
                    self.series.write()
                    last_write = now
                if now - last_status >= status_every:
                    self.show_status()
                    last_status = now
        except KeyboardInterrupt:
            self.interrupted = True
            self.line_break()
            say("interrupted: stopping every fuzzer (crash files and corpus "
                "entries stay)")
            self.stop_all()
        finally:
            signal.signal(signal.SIGTERM, previous)
        self.line_break()
        # Whatever the fuzzers wrote last: every crash file is filed.
        try:
            self.process_crashes(final=True)
        except KeyboardInterrupt:
            self.interrupted = True
        self.store.save()
        self.series.sample(self.runs, time.monotonic() - self.started, self.store)
        self.series.write()
        return self.interrupted

    def stop_all(self):
        for run in self.active:
            run.interrupt()
        deadline = time.monotonic() + 10
        for run in self.active:
            while not run.poll() and time.monotonic() < deadline:
                time.sleep(0.1)
            if run.ended is None:
                run.kill()
                run.poll()
        self.pending = []
