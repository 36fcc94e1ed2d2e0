"""Running crash inputs through `reservoir-replay` of a build.

    replayer = Replayer(build_dir)          # finds <build>/fuzz/tools/...
    outcome = replayer.run(path, target)     # one process, bounded
    outcome = replayer.run_text(text)        # a text program, via a temp file

Each run is one process with a timeout (the process group is killed when
it expires) and a memory limit: RLIMIT_AS in the child for builds without
a sanitizer, the sanitizer's own hard_rss_limit_mb for sanitizer builds
(their shadow memory needs terabytes of address space, so an address
space limit would kill them at start). Core dumps are off. The log
(stdout then stderr) is parsed with parse.parse_log and signed with
signature.sign.
"""
import os
import resource
import shutil
import signal
import subprocess
import tempfile
from dataclasses import dataclass
from typing import Optional

from .util import TriageError

# The fuzz targets (fuzz/targets/): reservoir-replay decodes a binary input
# as the target a path component names.
TARGETS = ("estimator_fuzzer", "page_alloc_fuzzer", "reserve_fuzzer",
           "slab_fuzzer", "swap_over_net_fuzzer")
DEFAULT_BUILD = os.path.join("build", "libfuzzer-asan")
DEFAULT_TIMEOUT = 20.0   # seconds per replay
DEFAULT_MEMORY_MB = 2048
SANITIZER_OPTIONS = {
    "ASAN_OPTIONS": "abort_on_error=1:symbolize=1:detect_leaks=1:"
                    "dedup_token_length=3",
    "MSAN_OPTIONS": "abort_on_error=1:symbolize=1:dedup_token_length=3",
    "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1:"
                     "dedup_token_length=3",
    "LSAN_OPTIONS": "",
}


def target_from_path(path):
    """The target named by a component of `path` (as reservoir-replay
    decides), or None."""
    for part in os.path.abspath(path).split(os.sep):
        if part in TARGETS:
            return part
    return None


def choose_target(path, explicit=None, data=None):
    """The target to decode `path` as: `explicit`, else the one its path
    names. A text program needs none (returns explicit or the path's, or
    None). A binary input with neither is a TriageError."""
    if explicit is not None:
        if explicit not in TARGETS:
            raise TriageError(f"unknown target '{explicit}' "
                              f"(known: {', '.join(TARGETS)})")
        return explicit
    target = target_from_path(path)
    if target is None and data is not None and \
            not data.startswith(b"# reservoir program v1"):
        raise TriageError(
            f"{path}: a binary input needs --target (no component of its "
            f"path names a target: {', '.join(TARGETS)})")
    return target


@dataclass
class Outcome:
    """One replay: `log` (stdout + stderr), `status` (exit status, or
    -signal), `timed_out`, and the parsed `record` and its `signature`
    (None when the log holds no crash)."""
    log: str
    status: int
    timed_out: bool
    record: object = None
    signature: object = None

    @property
    def crashed(self):
        return self.record is not None

    @property
    def key(self):
        return self.signature.key if self.signature is not None else None


def _limits(memory_mb, address_space):
    def apply():
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        if address_space and memory_mb:
            limit = memory_mb * 1024 * 1024
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    return apply


def _sanitizers_in(binary):
    """The sanitizer runtimes linked into `binary` ("asan", "msan",
    "ubsan"), by their init symbols' names in the file."""
    found = set()
    try:
        with open(binary, "rb") as f:
            data = f.read()
    except OSError:
        return found
    for name, marker in (("asan", b"__asan_init"), ("msan", b"__msan_init"),
                         ("ubsan", b"__ubsan_handle_")):
        if marker in data:
            found.add(name)
    return found


class Replayer:
    """reservoir-replay of one build directory, with bounded runs."""

    def __init__(self, build_dir, timeout=DEFAULT_TIMEOUT,
                 memory_mb=DEFAULT_MEMORY_MB):
        self.build_dir = build_dir
        self.binary = os.path.join(build_dir, "fuzz", "tools",
                                   "reservoir-replay")
        if not os.path.isfile(self.binary) or \
                not os.access(self.binary, os.X_OK):
            raise TriageError(
                f"{build_dir}: no reservoir-replay in this build (expected "
                f"{self.binary}; build it with `cmake --build {build_dir} "
                "--target reservoir-replay`)")
        self.timeout = timeout
        self.memory_mb = memory_mb
        self.sanitizers = _sanitizers_in(self.binary)
        self.replays = 0  # processes started so far

    def environment(self):
        env = dict(os.environ)
        rss = f":hard_rss_limit_mb={self.memory_mb}" if self.memory_mb else ""
        for name, value in SANITIZER_OPTIONS.items():
            env[name] = value + (rss if value and name != "UBSAN_OPTIONS"
                                 else "")
        symbolizer = shutil.which("llvm-symbolizer-14") or \
            shutil.which("llvm-symbolizer")
        if symbolizer:
            env.setdefault("ASAN_SYMBOLIZER_PATH", symbolizer)
            env.setdefault("MSAN_SYMBOLIZER_PATH", symbolizer)
        return env

    def run(self, path, target=None, extra=(), check_faults=True):
        """Replay the file `path` once; returns an Outcome.

        A crash after injected faults is replayed once more without them
        (signature.sign_replayed) unless `check_faults` is False, so that a
        crash the faults did not cause is not filed apart as ':fault'."""
        from .parse import parse_log
        from .signature import sign, sign_replayed
        command = [self.binary]
        if target is not None:
            command += ["--target", target]
        # An absolute path: a name starting with '-' is not an option.
        command += list(extra) + [os.path.abspath(path)]
        self.replays += 1
        try:
            proc = subprocess.Popen(
                command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                stdin=subprocess.DEVNULL, env=self.environment(),
                start_new_session=True,
                preexec_fn=_limits(self.memory_mb, not self.sanitizers))
        except OSError as e:
            raise TriageError(f"cannot run {self.binary}: {e.strerror or e}")
        timed_out = False
        try:
            out, err = proc.communicate(timeout=self.timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            out, err = proc.communicate()
        log = out.decode("utf-8", errors="replace") + \
            err.decode("utf-8", errors="replace")
        status = proc.returncode
        if status == 2 and not timed_out and "RESERVOIR BUG" not in log \
                and "Sanitizer" not in log:
            # reservoir-replay's own usage/read errors (one line).
            raise TriageError(err.decode("utf-8", errors="replace").strip()
                              or f"{self.binary} exited with status 2")
        record = parse_log(log)
        if record is None and timed_out:
            record = _timeout_record(self.timeout)
        if record is None:
            signature = None
        elif check_faults and record.fault_induced:
            signature = sign_replayed(
                record, lambda program: self.run_text(
                    program, check_faults=False).log)
        else:
            signature = sign(record)
        return Outcome(log, status, timed_out, record, signature)

    def run_text(self, text, extra=(), check_faults=True):
        """Replay a text program given as a str (via a temporary file)."""
        fd, path = tempfile.mkstemp(prefix="reservoir-triage-",
                                    suffix=".txt")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
            return self.run(path, None, extra, check_faults)
        finally:
            os.unlink(path)

    def print_program(self, path, target=None):
        """The program text reservoir-replay --print decodes `path` to
        (the same for a binary input and for a text program)."""
        outcome = self.run(path, target, ["--print"])
        lines = outcome.log.split("\n")
        text, inside = [], False
        for line in lines:
            if line.startswith("== ") and not inside:
                inside = True
                continue
            if inside:
                if line.startswith("# reservoir program") or text:
                    if not _is_program_line(line):
                        break
                    text.append(line)
        if not text:
            raise TriageError(f"{path}: reservoir-replay --print printed no "
                              "program")
        return "\n".join(text) + "\n", outcome


def _is_program_line(line):
    from . import program_text
    head = line.split(" ", 1)[0]
    return line.startswith("# reservoir program") or head in (
        "config", "faults") or head in program_text.OPS


def _timeout_record(timeout):
    """A record for a replay that hung: the parser sees no report, but a
    deterministic program that does not finish is itself a finding."""
    from .record import CrashRecord
    return CrashRecord(origin="libfuzzer-timeout", crash_type="Timeout",
                       title=f"replay did not finish within {timeout:g} s",
                       place="reservoir-replay",
                       notes=["killed by the triage timeout"])
