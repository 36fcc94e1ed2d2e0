"""One fuzzer process: its own process group (so Ctrl-C is ours to forward), its
output in a log file, when it started and ended, and the counters of
earlier rounds of a resumed run."""

import os
import signal
import subprocess
import time


class FuzzerProcess:
    def __init__(self):
        self.process = None
        self.started = None
        self.started_wall = None
        self.ended = None
        self.interrupted = False
        self.stopped_by = None
        # Earlier rounds of this job (a resumed run): added to the
        # counters, so that they continue.
        self.prior_executions = 0
        self.prior_seconds = 0.0
        self.round = 1

    def launch(self, command, env):
        self.log = open(self.log_path, "w")
        self.log.write("# " + " ".join(command) + "\n")
        self.log.flush()
        self.started = time.monotonic()
        self.started_wall = time.time()
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

    # The signal that stops the fuzzer cleanly (a libFuzzer fork parent
    # waits for its job inside system(), which ignores SIGINT: it gets
    # SIGTERM, which libFuzzer handles the same way).
    stop_signal = signal.SIGINT
    # Seconds a stopped fuzzer gets before it is killed.
    STOP_GRACE = 10

    def signal_stop(self):
        self.stop_requested = time.monotonic()
        try:
            os.killpg(self.process.pid, self.stop_signal)
        except ProcessLookupError:
            pass

    def overdue(self):
        """Asked to stop more than STOP_GRACE seconds ago and still running."""
        requested = getattr(self, "stop_requested", None)
        return requested is not None and self.running() and \
            time.monotonic() - requested > self.STOP_GRACE

    def kill(self):
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait()

    def interrupt(self, by=None):
        """Stops the process: by Ctrl-C (by=None) or by a stop condition or
        a sibling's finding (by names it)."""
        if self.process is not None and self.ended is None:
            self.interrupted = by is None
            self.stopped_by = by
            self.signal_stop()

    def running(self):
        return self.process is not None and self.ended is None

    def elapsed(self):
        """Seconds of this round."""
        if self.started is None:
            return 0.0
        return (self.ended or time.monotonic()) - self.started

    def total_seconds(self):
        return self.prior_seconds + self.elapsed()

    @property
    def total_execs(self):
        return self.prior_executions + self.execs
