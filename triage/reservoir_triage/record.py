"""CrashRecord: what the parser makes of one crash log.

A record is plain data (dataclasses), convertible to and from JSON with
to_json()/from_json(); the JSON form is what `parse --json` prints and what
the golden tests compare.
"""
from dataclasses import dataclass, field, asdict
from typing import List, Optional

# Where a crash was detected.
ORIGINS = (
    "reservoir",                # the model's own oracle (RESERVOIR BUG)
    "asan", "ubsan", "msan", "lsan",
    "libfuzzer-deadly-signal", "libfuzzer-timeout", "libfuzzer-oom",
    "libfuzzer-leak",
    "afl-crash",                # AFL++ reported a crash with no sanitizer text
)

# Frame kinds: who the code belongs to.
FRAME_KINDS = ("project", "runtime", "libc", "libc++", "engine", "unknown")


@dataclass
class Frame:
    """One stack frame. `function` is the demangled name without its
    parameter list (None when the frame has no symbol); `file` and `line`
    come from the symbolizer when present; `module` is the binary or
    library when printed instead of a source location."""
    index: int
    function: Optional[str] = None
    file: Optional[str] = None
    line: Optional[int] = None
    module: Optional[str] = None
    kind: str = "unknown"

    def to_json(self):
        return asdict(self)

    @classmethod
    def from_json(cls, d):
        return cls(index=int(d.get("index", 0)), function=d.get("function"),
                   file=d.get("file"), line=d.get("line"),
                   module=d.get("module"), kind=d.get("kind", "unknown"))


@dataclass
class CrashRecord:
    """A parsed crash.

    crash          False for a log with no crash in it (then most fields
                   are empty); parse_log returns None in that case.
    origin         one of ORIGINS.
    crash_type     the reservoir bug class (e.g. "slab-mixing") for origin
                   "reservoir"; otherwise a ClusterFuzz-style type
                   ("Heap-use-after-free", "Use-of-uninitialized-value",
                   "Timeout", "UBSan: signed-integer-overflow", ...).
    access         "READ"/"WRITE" (and size) for ASan memory errors.
    title          the report's first line as printed (numbers and all).
    place          reservoir only: the stable place of the broken check
                   (`slab.take_object/node-partial`); None otherwise.
    place_derived  True when `place` was guessed from an old one-line
                   report (RESERVOIR BUG: <class>: <detail>), not printed.
    detail         reservoir only: the free-form detail line.
    frames         the crash stack (up to the first stop marker such as
                   "previously allocated by"), innermost first.
    operation      the failing operation in program text, when the
                   executor's report section names it; `operation_index`
                   its index; `operation_phase` "operation", "teardown" or
                   "later".
    program        the program in text form when the report carries it.
    faults         the "injected:" lines of the fault injector's section
                   (empty when none); `faults_injected` their count as
                   printed (which may exceed the lines kept).
    fault_config   the injector's "fault config:" line, when present.
    program_faults the program's own `faults` header line when it injects
                   (mode other than none).
    dedup_token    the sanitizer's DEDUP_TOKEN line, when present.
    target         the fuzz target's name when the log names it.
    engine         "libfuzzer", "afl" or "replay" when recognisable.
    corrupted      True when the log is truncated (no END marker, no
                   stack), interleaved (two reports) or headerless;
                   `corrupted_reason` says which.
    notes          other things the parser noticed (one short line each).
    """
    crash: bool = True
    origin: Optional[str] = None
    crash_type: Optional[str] = None
    access: Optional[str] = None
    title: Optional[str] = None
    place: Optional[str] = None
    place_derived: bool = False
    detail: Optional[str] = None
    frames: List[Frame] = field(default_factory=list)
    operation: Optional[str] = None
    operation_index: Optional[int] = None
    operation_phase: Optional[str] = None
    program: Optional[str] = None
    faults: List[str] = field(default_factory=list)
    faults_injected: int = 0
    fault_config: Optional[str] = None
    program_faults: Optional[str] = None
    dedup_token: Optional[str] = None
    target: Optional[str] = None
    engine: Optional[str] = None
    corrupted: bool = False
    corrupted_reason: Optional[str] = None
    notes: List[str] = field(default_factory=list)

    @property
    def fault_induced(self):
        """True when injected faults preceded the crash: the fault
        injector's section logged at least one failure. Without that
        section (a cut log), when the program's own header arms faults."""
        if self.faults_injected > 0 or self.faults:
            return True
        if self.fault_config is not None:
            return False  # the injector's section: nothing was injected
        return self.program_faults is not None

    def project_frames(self):
        return [f for f in self.frames if f.kind == "project"]

    def to_json(self):
        d = asdict(self)
        d["frames"] = [f.to_json() for f in self.frames]
        d["fault_induced"] = self.fault_induced
        return d

    @classmethod
    def from_json(cls, d):
        rec = cls()
        for name in cls.__dataclass_fields__:
            if name in d and name != "frames":
                setattr(rec, name, d[name])
        rec.frames = [Frame.from_json(f) for f in d.get("frames", [])]
        return rec
