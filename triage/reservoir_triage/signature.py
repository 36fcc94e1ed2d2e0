"""signature: a versioned, explained dedup key for a CrashRecord.

Version 1 (the current one; docs/TRIAGE.md "Signature" explains why):
  reservoir report   v1:reservoir:<class>:<place>
  sanitizer report   v1:<asan|msan|ubsan|leak>:<crash type>:<f1>|<f2>|<f3>
                     (top three project frames by function name)
  fatal signal       v1:signal:<crash type>:<f1>|<f2>|<f3>
  timeout, OOM       v1:<timeout|oom>:<target>
and ":fault" at the end when injected faults preceded the crash, so a
fault-induced crash never merges with one that needs no fault; unless a
replay without the faults (faults_needed()) shows the same crash, which
makes them incidental and the key the fault-free one. No number
from the input, no address, no line number, no engine goes into a key.

Version 0 (the form before the place existed): the first report line
(for the model, "RESERVOIR BUG: <class>: <detail>") with every number and
address replaced by N. Every
Signature lists its record's keys under the older versions in alt_keys,
and the findings store matches on any of them.
"""
import re
from dataclasses import dataclass, field
from typing import List

from .parse import parse_log
from .util import dump_json, read_text

NAME = "signature"
HELP = "print the signature (dedup key) of crash logs, with its explanation"
VERSION = 1

# Frames that never count, though classified as project code: the
# model's report machinery (every reservoir abort goes through it) and
# the sanitizer glue of the model.
IGNORED_FUNCTIONS = re.compile(
    r"^(reservoir::ReportBug|reservoir::\(anonymous namespace\)::Report|"
    r"reservoir::PoisonMemory|reservoir::UnpoisonFor\w*|abort|raise|"
    r"__cxa_\w+|operator new|operator delete|malloc|free|calloc|realloc)\b")
TARGET_ENTRY = "LLVMFuzzerTestOneInput"
NUMBER_RE = re.compile(r"0x[0-9a-fA-F]+|\d+")

# Origins folded into one key kind: the engine is not part of the key.
KIND_OF_ORIGIN = {
    "reservoir": "reservoir",
    "asan": "asan", "hwasan": "asan", "msan": "msan", "ubsan": "ubsan",
    "lsan": "leak", "libfuzzer-leak": "leak",
    "libfuzzer-deadly-signal": "signal", "afl-crash": "signal",
    "libfuzzer-timeout": "timeout", "libfuzzer-oom": "oom",
}


@dataclass
class Signature:
    """The dedup key of one crash.

    key          the key under the current algorithm (starts "v1:")
    version      the algorithm version of `key`
    explanation  what went into the key and why, for a triager to read
    alt_keys     the keys of the same record under every older version
                 (v0 ...), so a store filed under an older algorithm still
                 matches
    """
    key: str
    version: int = VERSION
    explanation: str = ""
    alt_keys: List[str] = field(default_factory=list)

    def all_keys(self):
        """key followed by alt_keys."""
        return [self.key] + [k for k in self.alt_keys if k != self.key]

    def to_json(self):
        return {"key": self.key, "version": self.version,
                "explanation": self.explanation,
                "alt_keys": list(self.alt_keys)}

    @classmethod
    def from_json(cls, d):
        return cls(key=d["key"], version=int(d.get("version", VERSION)),
                   explanation=d.get("explanation", ""),
                   alt_keys=list(d.get("alt_keys", [])))


def normalise_function(name):
    """A frame's function name for a key: template arguments and the
    (anonymous namespace) marker kept as written, but any number (an
    array size, a lambda's index) replaced by N."""
    name = name.strip()
    return NUMBER_RE.sub("N", name)


def key_frames(record):
    """Up to three function names for the key and a note on how they were
    chosen."""
    frames = [f for f in record.frames if f.function and
              not IGNORED_FUNCTIONS.match(f.function)]
    project = [f for f in frames if f.kind == "project"]
    note = "the top three project frames"
    chosen = project
    if not chosen:
        chosen = [f for f in frames if f.kind not in ("runtime", "engine")]
        note = "no project frame: the top three non-runtime frames"
    names = [normalise_function(f.function) for f in chosen]
    # Nothing below the target's entry point belongs to the crash.
    if TARGET_ENTRY in names:
        names = names[:names.index(TARGET_ENTRY) + 1]
    if record.crash_type == "Stack-overflow":
        # A recursion: the top of the stack can be anywhere in the cycle;
        # the functions that repeat, sorted, do not depend on where.
        seen = {}
        for n in names[:64]:
            seen[n] = seen.get(n, 0) + 1
        cycle = sorted(n for n, c in seen.items() if c >= 2)
        if cycle:
            return cycle[:3], "the functions of the recursion cycle, sorted"
    # Consecutive repeats (inlined copies, recursion) count once.
    out = []
    for n in names:
        if not out or out[-1] != n:
            out.append(n)
        if len(out) == 3:
            break
    if not out:
        return ["NULL"], "no symbolised frame (the key says NULL)"
    return out, note


def v0_key(record):
    """The version-0 key: the first report line with numbers and
    addresses replaced by N (what a human grouped by before places
    existed; for the model the old one-line form, rebuilt from class and
    detail)."""
    if record.origin == "reservoir":
        first = f"RESERVOIR BUG: {record.crash_type}: {record.detail or ''}"
    else:
        first = record.title or ""
        first = re.sub(r"^==\d+==", "", first)
    first = NUMBER_RE.sub("N", first.strip())[:160]
    return f"v0:{first}"


NO_FAULTS_LINE = "faults mode=none seed=0 probability_ppm=0 fail_nth=1 sites=none"


def program_without_faults(program_text):
    """`program_text` (a text program) with every injected fault removed:
    its `faults` header line set to mode=none and its fail_next operations
    dropped (they add no live handle, so the other operations' indices
    keep their meaning). None when there is no program text."""
    if not program_text:
        return None
    out = []
    for line in program_text.splitlines():
        if line.startswith("faults "):
            out.append(NO_FAULTS_LINE)
        elif line.split(" ", 1)[0] == "fail_next":
            continue
        else:
            out.append(line)
    return "\n".join(out) + "\n"


def faults_needed(record, replay):
    """Whether the injected faults before a crash were needed for it.

    `replay(program_text) -> log text` runs a program through the build
    the crash came from (reservoir-replay). The record's program is
    replayed without its faults (program_without_faults): when the same
    crash (the same key without ":fault") comes back and the replay
    injected nothing, the faults were incidental and False is returned;
    otherwise True. None when the record is not fault-induced or carries
    no program to replay."""
    if not record.fault_induced:
        return None
    program = program_without_faults(record.program)
    if program is None:
        return None
    rec = parse_log(replay(program))
    if rec is None or rec.fault_induced:
        return True
    return sign(rec).key != sign(record, faults_needed=False).key


def sign(record, faults_needed=None):
    """The Signature of a CrashRecord (never None; never raises for any
    record parse_log returns).

    A record after injected faults gets ":fault" unless `faults_needed`
    is False: a replay without the faults (see faults_needed()) showed the
    same crash, so it is the same bug as the fault-free one."""
    kind = KIND_OF_ORIGIN.get(record.origin or "", record.origin or "unknown")
    why = []
    if kind == "reservoir":
        place = record.place or "unknown"
        key = f"v1:reservoir:{record.crash_type}:{place}"
        why.append(f"the model's oracle reported class '{record.crash_type}' "
                   f"at place '{place}' (the check that failed"
                   + (" and the allocator path that broke the invariant"
                      if "/" in place else "") + ")")
        why.append("the detail's numbers (pfns, sizes, CPUs, counts) are "
                   "left out")
    elif kind in ("timeout", "oom"):
        target = record.target or "unknown-target"
        key = f"v1:{kind}:{target}"
        why.append(f"a libFuzzer {'timeout' if kind == 'timeout' else 'out-of-memory'} "
                   f"is keyed on the target ('{target}') alone: its stack "
                   "is wherever the time or memory ran out")
    else:
        names, note = key_frames(record)
        key = f"v1:{kind}:{record.crash_type}:{'|'.join(names)}"
        why.append(f"a '{record.crash_type}' crash ({record.origin}) keyed on {note} "
                   f"by function name ({', '.join(names)}); line numbers "
                   "and addresses are left out")
        if TARGET_ENTRY in names:
            why.append(f"{TARGET_ENTRY} stands for the fuzz target")
    if record.fault_induced and faults_needed is False:
        why.append("injected faults preceded the crash, but a replay "
                   "without them gave the same crash: they were incidental, "
                   "so no ':fault'")
    elif record.fault_induced:
        key += ":fault"
        why.append("':fault' because injected faults preceded the crash "
                   "(never merged with a crash that needs none"
                   + (", and a replay without them did not reproduce it"
                      if faults_needed else "") + ")")
    if record.corrupted:
        why.append(f"the log is corrupted ({record.corrupted_reason}), so "
                   "the key may be incomplete")
    why.append("the engine that found it is not part of the key")
    explanation = "; ".join(why) + "."
    explanation = explanation[0].upper() + explanation[1:]
    if kind == "reservoir" and record.place_derived:
        # An old one-line report has no place: version 1 cannot key it, so
        # its key is the version-0 one, which a store matches against the
        # v0 alternative of every newer filing of the same crash.
        old = v0_key(record) + (":fault" if record.fault_induced and
                                faults_needed is not False else "")
        return Signature(key=old, version=0, explanation=(
            "An old one-line report (no place in it): keyed by the version-0 "
            "rule, the first line with its numbers replaced by N; a store "
            "matches it with the newer filings of the same crash through "
            "their v0 alternative keys."), alt_keys=[])
    return Signature(key=key, version=VERSION, explanation=explanation,
                     alt_keys=[v0_key(record) + (
                         ":fault" if key.endswith(":fault") else "")])


def sign_replayed(record, replay):
    """sign(record, faults_needed(record, replay)): the key with ':fault'
    only when a replay without the injected faults does not show the same
    crash. `replay(program_text) -> log text` runs a text program on the
    build the crash came from."""
    return sign(record, faults_needed(record, replay))


def add_arguments(parser):
    parser.add_argument("logs", nargs="+", metavar="LOG",
                        help="crash log files")
    parser.add_argument("--json", action="store_true",
                        help="print a JSON list of {log, signature}")


def main(args):
    out = []
    for path in args.logs:
        rec = parse_log(read_text(path))
        sig = sign(rec) if rec is not None else None
        out.append({"log": path, "signature": sig.to_json() if sig else None})
        if not args.json:
            if sig is None:
                print(f"{path}: no crash found")
                continue
            print(f"{path}: {sig.key}")
            print(f"  why: {sig.explanation}")
            for k in sig.alt_keys:
                print(f"  also: {k}")
    if args.json:
        import sys
        sys.stdout.write(dump_json(out))
    return 0
