"""parse: crash logs -> CrashRecord.

A log is whatever a run printed: a fuzz target under libFuzzer, the
`reservoir-replay` tool, AFL++'s replay of a crash file, an MSan build.
parse_log(text) finds the crash in it and returns a CrashRecord, or None
when there is none. It never raises, whatever the text (binary garbage
decoded with errors='replace' included).

What it recognises, in order of precedence (the first report in the log
wins; a second, different one makes the record `corrupted`, "interleaved"):
  RESERVOIR BUG: <class>: <place>     the model's oracle (the new two-line
  RESERVOIR DETAIL: <detail>          form; the old one-line form
                                      "RESERVOIR BUG: <class>: <detail>"
                                      parses too, with place_derived set)
  ==N==ERROR: AddressSanitizer: ...   ASan (and LeakSanitizer's leaks)
  ==N==WARNING: MemorySanitizer: ...  MSan
  file:line:col: runtime error: ...   UBSan
  ==N== ERROR: libFuzzer: ...         deadly signal, timeout, OOM, ...
The reservoir report's sections (the fault injector's and the executor's)
give the injected faults, the program and the failing operation.
"""
import re
import sys

from .frames import is_stop_marker, parse_frame
from .record import CrashRecord
from .util import dump_json, read_text

NAME = "parse"
HELP = "parse crash logs into structured records (text, or --json)"

ANSI_RE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
# "==12==ERROR: AddressSanitizer: ..." glued to the end of another line.
GLUED_RE = re.compile(r"(?<=.)(?===\d+==\s*(?:ERROR|WARNING|\w+Sanitizer))")
GLUED_RESERVOIR_RE = re.compile(r"(?<=.)(?=RESERVOIR BUG: )")

RESERVOIR_RE = re.compile(r"^RESERVOIR BUG: ([a-z0-9-]+): ?(.*)$")
DETAIL_PREFIX = "RESERVOIR DETAIL: "
END_MARKER = "END OF RESERVOIR BUG REPORT"
PLACE_RE = re.compile(r"^[a-z0-9_-]+(\.[a-z0-9_-]+)+(/[a-z0-9_.-]+)?$")

SAN_HEADER_RE = re.compile(
    r"^==(?P<pid>\d+)==\s*(?P<level>ERROR|WARNING): "
    r"(?P<tool>AddressSanitizer|LeakSanitizer|MemorySanitizer|"
    r"UndefinedBehaviorSanitizer|ThreadSanitizer|HWAddressSanitizer)"
    r"\s*:?\s*(?P<what>.*)$")
LIBFUZZER_RE = re.compile(r"^==(?P<pid>\d+)==\s*ERROR: libFuzzer: (?P<what>.*)$")
UBSAN_RE = re.compile(
    r"^(?P<loc>\S+?:\d+(?::\d+)?): runtime error: (?P<what>.*)$")
DEADLY_RE = re.compile(r"^==\d+==\s*\w+Sanitizer:DEADLYSIGNAL\s*$")
SUMMARY_RE = re.compile(r"^SUMMARY: (?P<tool>\w+): (?P<what>.*)$")
DEDUP_RE = re.compile(r"^DEDUP_TOKEN: (?P<token>.*)$")
ACCESS_RE = re.compile(r"^(READ|WRITE) of size (\d+) at ")
SIGNAL_CAUSE_RE = re.compile(r"The signal is caused by a (READ|WRITE) "
                             r"memory access")
ADDRESS_RE = re.compile(r" on (?:unknown )?address (0x[0-9a-fA-F]+)")
LEAK_RE = re.compile(r"^(Direct|Indirect) leak of \d+ byte")
RUNNING_RE = re.compile(r"^Running: (\S+)")
FAULTS_RE = re.compile(r"^fault injection: (\d+) failure\(s\) injected")
PROGRAM_RE = re.compile(r"^--- reservoir program \((\d+) operations?\) ---$")
OPERATION_RE = re.compile(
    r"^--- while executing operation #(\d+): (.*) ---$")
AFTER_RE = re.compile(r"^--- after the last operation, during (.*) ---$")
AFL_RE = re.compile(r"(\bafl-fuzz\b|\bAFL\+\+|__AFL_|\+\+\+ .* \+\+\+|"
                    r"\bafl-showmap\b|sig:\d+,src:|"
                    r"^Reading \d+ bytes from |^Running LLVMFuzzerInitialize)")
LIBFUZZER_CONTEXT_RE = re.compile(
    r"^(INFO: (Seed|Running with|Loaded \d+ modules?)|#\d+\s+(INITED|NEW|"
    r"pulse|REDUCE|DONE)|MS: \d+ |artifact_prefix=|Test unit written to|"
    r"Base64: )")
REPLAY_RE = re.compile(r"^== .+ \(\d+ operations?\)$|^reservoir-replay: ")

# ASan's bug names -> ClusterFuzz-style crash types.
ASAN_TYPES = {
    "heap-use-after-free": "Heap-use-after-free",
    "heap-buffer-overflow": "Heap-buffer-overflow",
    "stack-buffer-overflow": "Stack-buffer-overflow",
    "stack-buffer-underflow": "Stack-buffer-underflow",
    "global-buffer-overflow": "Global-buffer-overflow",
    "stack-use-after-return": "Stack-use-after-return",
    "stack-use-after-scope": "Stack-use-after-scope",
    "container-overflow": "Container-overflow",
    "dynamic-stack-buffer-overflow": "Dynamic-stack-buffer-overflow",
    "use-after-poison": "Use-after-poison",
    "memcpy-param-overlap": "Memcpy-param-overlap",
    "stack-overflow": "Stack-overflow",
    "calloc-overflow": "Calloc-overflow",
    "allocation-size-too-big": "Allocation-size-too-big",
    "alloc-dealloc-mismatch": "Alloc-dealloc-mismatch",
    "new-delete-type-mismatch": "New-delete-type-mismatch",
    "unknown-crash": "UNKNOWN",
    "out-of-memory": "Out-of-memory",
}

# UBSan runtime-error texts -> the check's name (as -fsanitize= spells it).
UBSAN_CHECKS = (
    ("signed integer overflow", "signed-integer-overflow"),
    ("unsigned integer overflow", "unsigned-integer-overflow"),
    ("negation of", "signed-integer-overflow"),
    ("division by zero", "integer-divide-by-zero"),
    ("shift exponent", "shift-exponent"),
    ("left shift of", "shift-base"),
    ("index ", "bounds"),
    ("out of bounds for type", "bounds"),
    ("load of misaligned address", "alignment"),
    ("store to misaligned address", "alignment"),
    ("member access within misaligned", "alignment"),
    ("reference binding to misaligned", "alignment"),
    ("null pointer", "null"),
    ("load of value", "invalid-value"),
    ("is outside the range of representable values", "float-cast-overflow"),
    ("implicit conversion", "implicit-conversion"),
    ("applying non-zero offset", "pointer-overflow"),
    ("applying zero offset", "pointer-overflow"),
    ("pointer index expression", "pointer-overflow"),
    ("addition of unsigned offset", "pointer-overflow"),
    ("subtraction of unsigned offset", "pointer-overflow"),
    ("execution reached an unreachable program point", "unreachable"),
    ("execution reached the end of a value-returning function", "return"),
    ("call to function", "function"),
    ("downcast of", "vptr"),
    ("member call on", "vptr"),
    ("control flow integrity", "cfi"),
    ("variable length array bound", "vla-bound"),
    ("passing zero to", "builtin"),
    ("null pointer passed as argument", "nonnull-attribute"),
)


def ubsan_check(text):
    for needle, name in UBSAN_CHECKS:
        if needle in text:
            return name
    return "undefined-behavior"


def prepare_lines(text):
    """Lines of `text` with ANSI colours removed, CRs dropped and reports
    glued to the end of another line split off."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    text = ANSI_RE.sub("", text)
    lines = []
    for line in text.split("\n"):
        if "==" in line and not line.startswith("=="):
            line = GLUED_RE.sub("\n", line)
        if "RESERVOIR BUG: " in line and not line.startswith("RESERVOIR BUG: "):
            line = GLUED_RESERVOIR_RE.sub("\n", line)
        lines.extend(line.split("\n"))
    return lines


class Header:
    """One report header found in the log."""

    def __init__(self, index, kind, match, line):
        self.index = index
        self.kind = kind        # reservoir, sanitizer, ubsan, libfuzzer
        self.match = match
        self.line = line

    def identity(self):
        """What makes two headers the same report (a libFuzzer deadly
        signal after a reservoir abort, or a repeated line, is not a
        second report)."""
        if self.kind == "sanitizer":
            return ("sanitizer", self.match.group("tool"),
                    self.match.group("what").split(" on ")[0].split(" (")[0])
        return (self.kind, self.line.strip())


def find_headers(lines):
    headers = []
    for i, line in enumerate(lines):
        if line.startswith("RESERVOIR BUG: "):
            m = RESERVOIR_RE.match(line)
            if m:
                headers.append(Header(i, "reservoir", m, line))
            continue
        if line.startswith("=="):
            m = SAN_HEADER_RE.match(line)
            if m:
                headers.append(Header(i, "sanitizer", m, line))
                continue
            m = LIBFUZZER_RE.match(line)
            if m:
                headers.append(Header(i, "libfuzzer", m, line))
                continue
        if "runtime error: " in line:
            m = UBSAN_RE.match(line.strip())
            if m:
                headers.append(Header(i, "ubsan", m, line))
    return headers


def collect_frames(lines, start, limit=None):
    """The first stack at or after lines[start]: frames #0, #1, ... up to
    the first line that is not a frame (a stop marker, a blank line, the
    next section). Returns (frames, index after the stack)."""
    frames = []
    i = start
    end = len(lines) if limit is None else min(limit, len(lines))
    # Find the stack's first frame.
    while i < end:
        line = lines[i]
        if frames == [] and is_stop_marker(line) and i > start:
            return frames, i
        f = parse_frame(line)
        if f is not None and f.index == 0:
            break
        i += 1
    while i < end:
        f = parse_frame(lines[i])
        if f is None:
            break
        if frames and f.index == 0:
            break  # the next stack
        if f.function == "main" and f.kind == "unknown" and frames and \
                frames[-1].kind == "engine":
            f.kind = "engine"  # libFuzzer's main
        frames.append(f)
        i += 1
    return frames, i


def detect_engine(lines, rec):
    joined_head = lines[:400]
    text_tail = lines[-400:] if len(lines) > 400 else []
    engine = None
    for line in joined_head + text_tail:
        if LIBFUZZER_CONTEXT_RE.match(line) or LIBFUZZER_RE.match(line):
            engine = "libfuzzer"
            break
    if engine is None:
        for line in joined_head + text_tail:
            if AFL_RE.search(line):
                engine = "afl"
                break
    if engine is None:
        for line in joined_head:
            if REPLAY_RE.match(line):
                engine = "replay"
                break
    rec.engine = engine


TARGET_FILE_RE = re.compile(r"fuzz/targets/(?:src/)?(\w+_fuzzer)\b|"
                            r"/(\w+_fuzzer)(?:\+0x|\b)")


def detect_target(lines, rec):
    """The fuzz target's name: from a `--target NAME` or a binary path
    ending in *_fuzzer in the log."""
    for line in lines[:200]:
        m = re.search(r"--target[= ](\w+)", line)
        if m:
            rec.target = m.group(1)
            return
    for f in rec.frames:
        for s in (f.module or "", f.file or ""):
            m = re.search(r"(\w+_fuzzer)(?:\.cc)?$", s)
            if m:
                rec.target = m.group(1)
                return
    for line in lines[:400]:
        m = re.search(r"(?:^|[/ ])(\w+_fuzzer)\b", line)
        if m and "fuzzer::" not in line:
            rec.target = m.group(1)
            return


def parse_reservoir_sections(lines, start, end, rec):
    """The sections between the report's first lines and its END marker:
    fault injection, the program, the failing operation."""
    i = start
    program_lines = None
    while i < end:
        line = lines[i]
        m = FAULTS_RE.match(line)
        if m:
            rec.faults_injected = int(m.group(1))
        elif line.startswith("  injected: "):
            rec.faults.append(line[len("  injected: "):].strip())
        elif line.startswith("fault config: "):
            rec.fault_config = line[len("fault config: "):].strip()
        elif PROGRAM_RE.match(line):
            program_lines = []
        elif OPERATION_RE.match(line):
            m = OPERATION_RE.match(line)
            rec.operation_index = int(m.group(1))
            rec.operation = m.group(2)
            rec.operation_phase = "operation"
            if program_lines is not None:
                rec.program = "\n".join(program_lines) + "\n"
                program_lines = None
        elif AFTER_RE.match(line):
            during = AFTER_RE.match(line).group(1)
            rec.operation_phase = "teardown" if during == "teardown" \
                else "later"
            if program_lines is not None:
                rec.program = "\n".join(program_lines) + "\n"
                program_lines = None
        elif program_lines is not None:
            program_lines.append(line)
            if line.startswith("faults ") and "mode=none" not in line:
                rec.program_faults = line.strip()
        i += 1
    if program_lines is not None:
        # The section was cut: keep what there is.
        rec.program = "\n".join(program_lines) + ("\n" if program_lines else "")
        rec.notes.append("the program section has no end line")


def derive_old_place(crash_type, detail):
    """A best-effort place for an old one-line report: the class plus the
    detail's words with every number, address, quoted name and
    parenthesised aside removed."""
    s = re.sub(r"\([^()]*\)", " ", detail)
    s = re.sub(r"'[^']*'", " ", s)
    s = re.sub(r"0x[0-9a-fA-F]+|#?\d+", " ", s)
    s = re.sub(r"\bcache \S+|\bzone \S+", " ", s)
    words = re.findall(r"[a-z][a-z_-]*", s.lower())
    stop = {"a", "an", "the", "of", "to", "is", "but", "and", "its", "it",
            "on", "in", "for", "from", "with", "by", "says", "pfn", "order",
            "bytes", "pages", "page"}
    words = [w for w in words if w not in stop][:6]
    return f"{crash_type}.old-" + ("_".join(words) or "unknown")


def parse_reservoir(lines, header, headers, rec):
    m = header.match
    rec.origin = "reservoir"
    rec.crash_type = m.group(1)
    rec.title = header.line.strip()
    rest = m.group(2).strip()
    i = header.index
    nxt = lines[i + 1] if i + 1 < len(lines) else ""
    if nxt.startswith(DETAIL_PREFIX):
        rec.place = rest if PLACE_RE.match(rest) else None
        if rec.place is None:
            rec.notes.append(f"malformed place {rest[:60]!r}")
            rec.place = derive_old_place(rec.crash_type, rest)
            rec.place_derived = True
        rec.detail = nxt[len(DETAIL_PREFIX):].strip()
        body_start = i + 2
    elif PLACE_RE.match(rest) and "." in rest and " " not in rest:
        # A new-form first line whose detail line is missing.
        rec.place = rest
        body_start = i + 1
        rec.corrupted = True
        rec.corrupted_reason = "truncated: no RESERVOIR DETAIL line"
    else:
        rec.detail = rest
        rec.place = derive_old_place(rec.crash_type, rest)
        rec.place_derived = True
        rec.notes.append("old one-line report: place derived from the detail")
        body_start = i + 1
    end = None
    for j in range(body_start, len(lines)):
        if lines[j].startswith(END_MARKER):
            end = j
            break
        if lines[j].startswith("RESERVOIR BUG: "):
            break
    limit = end if end is not None else len(lines)
    parse_reservoir_sections(lines, body_start, limit, rec)
    if end is None and not rec.corrupted:
        rec.corrupted = True
        rec.corrupted_reason = f"truncated: no '{END_MARKER}' line"
    # The stack of the abort (a libFuzzer deadly signal, or ASan's), when
    # the log has one after the report.
    frames, _ = collect_frames(lines, limit)
    rec.frames = frames


def parse_sanitizer(lines, header, rec):
    m = header.match
    tool = m.group("tool")
    what = m.group("what").strip()
    rec.title = header.line.strip()
    i = header.index
    if tool == "LeakSanitizer" or what.startswith("detected memory leaks"):
        rec.origin = "lsan"
        # Prefer a direct leak's stack over an indirect one's.
        kinds = []
        for j in range(i + 1, len(lines)):
            lm = LEAK_RE.match(lines[j])
            if lm:
                kinds.append((lm.group(1), j))
        chosen = next((k for k in kinds if k[0] == "Direct"),
                      kinds[0] if kinds else None)
        if chosen is None:
            rec.crash_type = "Direct-leak"
            rec.corrupted = True
            rec.corrupted_reason = "truncated: a leak report without leaks"
            return
        rec.crash_type = f"{chosen[0]}-leak"
        rec.frames, _ = collect_frames(lines, chosen[1] + 1)
    elif tool == "MemorySanitizer":
        rec.origin = "msan"
        rec.crash_type = "Use-of-uninitialized-value" \
            if "use-of-uninitialized-value" in what else \
            "MSan: " + (what.split()[0] if what else "unknown")
        rec.frames, _ = collect_frames(lines, i + 1)
    elif tool == "UndefinedBehaviorSanitizer":
        rec.origin = "ubsan"
        rec.crash_type = "UBSan: " + (
            "SEGV" if what.startswith("SEGV") else ubsan_check(what))
        rec.frames, _ = collect_frames(lines, i + 1)
    else:
        rec.origin = "asan" if tool != "HWAddressSanitizer" else "hwasan"
        kind = what.split(" ")[0] if what else ""
        rec.frames, _ = collect_frames(lines, i + 1)
        cause = None
        for j in range(i + 1, min(len(lines), i + 8)):
            am = ACCESS_RE.match(lines[j])
            if am:
                rec.access = f"{am.group(1)} {am.group(2)}"
                cause = am.group(1)
                break
            sm = SIGNAL_CAUSE_RE.search(lines[j])
            if sm:
                cause = sm.group(1)
                rec.access = cause
                break
        if kind == "attempting" and "double-free" in what:
            rec.crash_type = "Heap-double-free"
        elif kind == "attempting" and "free on address" in what:
            rec.crash_type = "Bad-free"
        elif kind in ("SEGV", "BUS", "FPE", "ILL", "ABRT", "TRAP") or \
                what.startswith("SEGV"):
            am = ADDRESS_RE.search(what)
            addr = int(am.group(1), 16) if am else None
            if kind == "SEGV" and addr is not None and addr < 0x1000:
                rec.crash_type = "Null-dereference"
            elif kind == "SEGV":
                rec.crash_type = f"UNKNOWN {cause}" if cause else "UNKNOWN"
            elif kind == "ABRT":
                rec.crash_type = "Abrt"
            elif kind == "FPE":
                rec.crash_type = "Floating-point-exception"
            else:
                rec.crash_type = kind.capitalize() if kind else "UNKNOWN"
        elif kind in ASAN_TYPES:
            rec.crash_type = ASAN_TYPES[kind]
            if kind == "unknown-crash" and cause:
                rec.crash_type = f"UNKNOWN {cause}"
        else:
            rec.crash_type = kind or "UNKNOWN"
    if not rec.frames:
        rec.corrupted = True
        rec.corrupted_reason = "truncated: no stack"


def parse_ubsan(lines, header, rec):
    m = header.match
    rec.origin = "ubsan"
    what = m.group("what")
    rec.crash_type = "UBSan: " + ubsan_check(what)
    rec.title = header.line.strip()
    rec.detail = what.strip()
    loc = m.group("loc")
    rec.frames, _ = collect_frames(lines, header.index + 1,
                                   header.index + 3 + 200)
    if not rec.frames:
        # UBSan without print_stacktrace: the location is the only frame.
        f = parse_frame(f"    #0 0x0 in <ubsan> {loc}")
        if f is not None:
            f.function = None
            rec.frames = [f]
            rec.notes.append("no stack: the runtime error's location only")


def parse_libfuzzer(lines, header, rec):
    what = header.match.group("what").strip()
    rec.title = header.line.strip()
    i = header.index
    if what.startswith("deadly signal"):
        rec.origin = "libfuzzer-deadly-signal"
        rec.crash_type = "Fatal-signal"
    elif what.startswith("timeout"):
        rec.origin = "libfuzzer-timeout"
        rec.crash_type = "Timeout"
    elif what.startswith("out-of-memory"):
        rec.origin = "libfuzzer-oom"
        rec.crash_type = "Out-of-memory"
    elif what.startswith("fuzz target exited"):
        rec.origin = "libfuzzer-deadly-signal"
        rec.crash_type = "Unexpected-exit"
    elif "overwrites its const input" in what:
        rec.origin = "libfuzzer-deadly-signal"
        rec.crash_type = "Overwrites-const-input"
    elif "malloc limit" in what or "malloc(" in what:
        rec.origin = "libfuzzer-oom"
        rec.crash_type = "Out-of-memory"
    else:
        rec.origin = "libfuzzer-deadly-signal"
        rec.crash_type = "Fatal-signal"
    rec.detail = what
    rec.frames, _ = collect_frames(lines, i + 1)
    if not rec.frames and rec.crash_type == "Fatal-signal":
        rec.corrupted = True
        rec.corrupted_reason = "truncated: no stack"


def parse_headerless(lines):
    """A log with crash residue but no header (cut at the top): a stack,
    a SUMMARY line, an END marker or a RESERVOIR DETAIL line."""
    summary = None
    for line in lines:
        m = SUMMARY_RE.match(line)
        if m:
            summary = m
            break
    has_end = any(l.startswith(END_MARKER) for l in lines)
    detail = next((l for l in lines if l.startswith(DETAIL_PREFIX)), None)
    frames, _ = collect_frames(lines, 0)
    if summary is None and not has_end and detail is None and not frames:
        return None
    rec = CrashRecord(corrupted=True, corrupted_reason="headerless")
    if detail is not None or has_end:
        rec.origin = "reservoir"
        rec.crash_type = "unknown"
        if detail is not None:
            rec.detail = detail[len(DETAIL_PREFIX):].strip()
        parse_reservoir_sections(lines, 0, len(lines), rec)
    elif summary is not None:
        tool = summary.group("tool")
        what = summary.group("what")
        kind = what.split(" ")[0]
        rec.origin = {"AddressSanitizer": "asan", "MemorySanitizer": "msan",
                      "LeakSanitizer": "lsan",
                      "UndefinedBehaviorSanitizer": "ubsan"}.get(tool, "asan")
        if rec.origin == "msan":
            rec.crash_type = "Use-of-uninitialized-value"
        elif rec.origin == "ubsan":
            rec.crash_type = "UBSan: " + ubsan_check(what)
        elif rec.origin == "lsan":
            rec.crash_type = "Direct-leak"
        else:
            rec.crash_type = ASAN_TYPES.get(kind, kind or "UNKNOWN")
        rec.title = summary.group(0)
    else:
        rec.origin = "unknown"
        rec.crash_type = "UNKNOWN"
    rec.frames = frames
    return rec


def finish(lines, rec, headers):
    for line in lines:
        m = DEDUP_RE.match(line)
        if m:
            rec.dedup_token = m.group("token").strip()
            break
    detect_engine(lines, rec)
    detect_target(lines, rec)
    # AFL++: a crash replayed without any sanitizer or oracle text.
    if rec.origin == "unknown" and rec.engine == "afl":
        rec.origin = "afl-crash"
        rec.crash_type = "Fatal-signal"
    return rec


def parse_log(text):
    """Parse one crash log. `text` is a str (bytes are decoded as UTF-8
    with errors='replace'). Returns a CrashRecord (crash=True) or None
    when the log holds no crash. Never raises: an internal error becomes a
    record with corrupted=True and corrupted_reason "parser error: ..."
    when the log looked like a crash, else None."""
    try:
        return _parse_log(text)
    except Exception as e:  # the contract: never raise on any text
        rec = CrashRecord(origin="unknown", crash_type="UNKNOWN",
                          corrupted=True,
                          corrupted_reason=f"parser error: {type(e).__name__}")
        return rec


def _parse_log(text):
    if isinstance(text, (bytes, bytearray, memoryview)):
        text = bytes(text).decode("utf-8", errors="replace")
    elif not isinstance(text, str):
        text = str(text)
    lines = prepare_lines(text)
    headers = find_headers(lines)
    if not headers:
        rec = parse_headerless(lines)
        if rec is None:
            # AFL++ crash replays print nothing recognisable beyond the
            # engine's own lines: a crash only when the log says so.
            afl = [l for l in lines if re.search(
                r"results in a crash|Crash found|sig:\d+", l)]
            if afl:
                rec = CrashRecord(origin="afl-crash", crash_type="Fatal-signal",
                                  title=afl[0].strip(), corrupted=True,
                                  corrupted_reason="no report: only the "
                                  "engine's crash notice")
                return finish(lines, rec, headers)
            return None
        return finish(lines, rec, headers)

    # The primary report: a reservoir report wins over the abort it causes
    # (libFuzzer's deadly signal, ASan's ABRT); otherwise the first header.
    primary = next((h for h in headers if h.kind == "reservoir"), None)
    if primary is None:
        sanitizers = [h for h in headers if h.kind in ("sanitizer", "ubsan")]
        primary = sanitizers[0] if sanitizers else headers[0]
        # libFuzzer's "deadly signal" after ASan's DEADLYSIGNAL SEGV report
        # is the same crash: the sanitizer's header is the primary one.
    rec = CrashRecord()
    if primary.kind == "reservoir":
        parse_reservoir(lines, primary, headers, rec)
    elif primary.kind == "sanitizer":
        parse_sanitizer(lines, primary, rec)
    elif primary.kind == "ubsan":
        parse_ubsan(lines, primary, rec)
    else:
        parse_libfuzzer(lines, primary, rec)

    # A leak found by libFuzzer's -detect_leaks is libFuzzer's finding.
    if rec.origin == "lsan" and any(
            "INFO: to ignore leaks on libFuzzer side" in l or
            LIBFUZZER_CONTEXT_RE.match(l) for l in lines):
        rec.origin = "libfuzzer-leak"

    # Interleaving: a second, different report of the same kind (two
    # reservoir reports, two sanitizer reports of different bugs or pids).
    others = [h for h in headers if h is not primary and
              h.kind == primary.kind and h.identity() != primary.identity()]
    if primary.kind == "reservoir":
        others = [h for h in headers if h is not primary and
                  h.kind == "reservoir"]
    elif primary.kind == "sanitizer":
        pid = primary.match.group("pid")
        others += [h for h in headers if h.kind == "sanitizer" and
                   h.match.group("pid") != pid and h not in others]
    if others:
        rec.corrupted = True
        reason = f"interleaved: {len(others) + 1} reports in one log"
        rec.corrupted_reason = reason if not rec.corrupted_reason else \
            f"{reason}; {rec.corrupted_reason}"
    return finish(lines, rec, headers)


def summary_line(rec):
    """One line a triager reads: origin, type, place or top frame."""
    where = rec.place
    if where is None:
        proj = rec.project_frames()
        where = proj[0].function if proj else None
    s = f"{rec.origin} {rec.crash_type}"
    if where:
        s += f" at {where}"
    if rec.fault_induced:
        s += " (after injected faults)"
    if rec.corrupted:
        s += f" [corrupted: {rec.corrupted_reason}]"
    return s


def add_arguments(parser):
    parser.add_argument("logs", nargs="+", metavar="LOG",
                        help="crash log files (any bytes)")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON list of {log, record} "
                             "(record null for a clean log)")


def main(args):
    out = []
    for path in args.logs:
        rec = parse_log(read_text(path))
        out.append({"log": path, "record": rec.to_json() if rec else None})
        if not args.json:
            print(f"{path}: {summary_line(rec) if rec else 'no crash found'}")
            if rec is not None:
                if rec.detail:
                    print(f"  detail: {rec.detail}")
                if rec.operation:
                    print(f"  operation #{rec.operation_index}: "
                          f"{rec.operation}")
                for fault in rec.faults:
                    print(f"  injected: {fault}")
                for f in rec.project_frames()[:5]:
                    loc = (f"{f.file}:{f.line}" if f.line is not None
                           else f.file) if f.file else (f.module or "")
                    print(f"  frame #{f.index} {f.function} {loc}")
    if args.json:
        sys.stdout.write(dump_json(out))
    return 0
