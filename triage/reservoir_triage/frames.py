"""Stack frames of sanitizer and libFuzzer reports: parsing one frame line
and telling whose code a frame is in (project, sanitizer runtime, libc,
the C++ library, or the fuzzing engine)."""
import re

from .record import Frame

# "    #3 0x55d0c0de in reservoir::Foo(int) /src/x/allocator/src/a.cc:12:7"
# "    #4 0x55d0c0de in main (/path/to/binary+0x1234) (BuildId: ab12)"
# "    #5 0x7f00 (/lib/x86_64-linux-gnu/libc.so.6+0x271ca) (BuildId: 12)"
FRAME_RE = re.compile(
    r"^\s*#(?P<index>\d+)\s+(?P<pc>0x[0-9a-fA-F]+)?\s*"
    r"(?:in\s+(?P<rest>.*?))?"
    r"(?:\s*\((?P<module>[^()\s]+?)\+0x[0-9a-fA-F]+\))?"
    r"(?:\s*\(BuildId: [0-9a-fA-F]+\))?\s*$")

LOCATION_RE = re.compile(r"^(?P<file>\S.*?):(?P<line>\d+)(?::\d+)?$")

# ClusterFuzz-like stop markers: the crash stack ends where one begins.
STOP_MARKERS = (
    "previously allocated by",
    "freed by thread",
    "allocated by thread",
    "Uninitialized value was stored to memory at",
    "Uninitialized value was created by",
    "Memory was marked as uninitialized",
    "is located in stack of thread",
    "is located",
    "Address 0x",
    "Thread T",
    "SUMMARY:",
    "Shadow bytes around",
    "HINT:",
    "DEDUP_TOKEN:",
)

RUNTIME_FUNC = re.compile(
    r"^(___?interceptor_|__interceptor_|__asan|__msan|__ubsan|__lsan|"
    r"__sanitizer|__sancov|__tsan|__hwasan|__dfsan|__cxa_throw$|"
    r"(?:__)?sanitizer::|__asan::|__msan::|__ubsan::|__lsan::)")
RUNTIME_FILE = re.compile(
    r"(compiler-rt/|/sanitizer_common/|/asan/|/msan/|/ubsan/|/lsan/|"
    r"libclang_rt\.|asan_[a-z_]+\.(cpp|cc|h)|msan_[a-z_]+\.(cpp|cc|h))")
ENGINE_FUNC = re.compile(r"^(fuzzer::|__afl_|afl_|LLVMFuzzerRunDriver)")
ENGINE_FILE = re.compile(r"(/libfuzzer/|/fuzzer/Fuzzer[A-Za-z]*\.cpp|"
                         r"Fuzzer[A-Z][A-Za-z]*\.cpp|afl-compiler-rt|"
                         r"/afl(\+\+)?/|afl-llvm-rt)")
LIBC_FUNC = re.compile(
    r"^(__libc_start_main|__libc_start_call_main|_start$|__GI_|raise$|"
    r"abort$|__pthread_kill|pthread_kill|__restore_rt|gsignal$|"
    r"__assert_fail|__libc_|malloc$|free$|calloc$|realloc$|memcpy$|"
    r"memmove$|memset$|strlen$|__memcpy|__memmove|__memset)")
LIBC_FILE = re.compile(r"(/sysdeps/|/csu/|/stdlib/|/nptl/|/signal/|"
                       r"libc\.so|libc-start|libpthread|ld-linux|"
                       r"/glibc|libm\.so)")
LIBCXX_FUNC = re.compile(r"^(std::|__gnu_cxx::|__cxxabiv1::|__cxa_|"
                         r"operator new|operator delete|__gxx_)")
LIBCXX_FILE = re.compile(r"(/c\+\+/|libstdc\+\+|libc\+\+|/include/c\+\+|"
                         r"/libcxx/|/libcxxabi/)")
PROJECT_FILE = re.compile(
    r"(^|/)(allocator|injectors|fuzz|bench|corpus|triage)/[^ ]*\.(cc|h|cpp)$")
PROJECT_FUNC = re.compile(r"^(reservoir::|\(anonymous namespace\)::|"
                          r"LLVMFuzzerTestOneInput$)")


def strip_params(name):
    """`ns::f(int, char*) const` -> `ns::f`; template arguments are kept.
    Parentheses inside `(anonymous namespace)` survive."""
    name = name.strip()
    name = name.replace("(anonymous namespace)", "\0anon\0")
    # Operators whose names hold brackets: kept whole.
    ops = ("operator()", "operator<<=", "operator>>=", "operator<<",
           "operator>>", "operator<=>", "operator<=", "operator>=",
           "operator->*", "operator->", "operator<", "operator>")
    for i, op in enumerate(ops):
        name = name.replace(op, f"\0op{i}\0")
    depth = 0
    for i, ch in enumerate(name):
        if ch == "<":
            depth += 1
        elif ch == ">":
            depth = max(0, depth - 1)
        elif ch == "(" and depth == 0 and i > 0:
            name = name[:i]
            break
    for i, op in enumerate(ops):
        name = name.replace(f"\0op{i}\0", op)
    return name.replace("\0anon\0", "(anonymous namespace)").strip()


def classify(function, file, module):
    """The kind of a frame: project, runtime, engine, libc, libc++ or
    unknown. A file path decides first, the function's name next, the
    module last."""
    f = function or ""
    path = file or ""
    if path:
        if RUNTIME_FILE.search(path):
            return "runtime"
        if ENGINE_FILE.search(path):
            return "engine"
        if LIBCXX_FILE.search(path):
            return "libc++"
        if LIBC_FILE.search(path):
            return "libc"
    if f:
        if RUNTIME_FUNC.search(f):
            return "runtime"
        if ENGINE_FUNC.search(f):
            return "engine"
        if LIBCXX_FUNC.search(f) and not PROJECT_FILE.search(path):
            return "libc++"
        if LIBC_FUNC.search(f) and not PROJECT_FILE.search(path):
            return "libc"
    if path and PROJECT_FILE.search(path):
        return "project"
    if f and PROJECT_FUNC.search(f):
        return "project"
    mod = module or ""
    if mod:
        if "libc.so" in mod or "ld-linux" in mod or "libpthread" in mod:
            return "libc"
        if "libstdc++" in mod or "libc++" in mod:
            return "libc++"
        if "libclang_rt" in mod:
            return "runtime"
    if path and not path.startswith("/usr/"):
        return "project"
    return "unknown"


def parse_frame(line):
    """A Frame for one `#N 0x... in func file:line` line, or None when the
    line is not a frame."""
    m = FRAME_RE.match(line)
    if m is None:
        return None
    index = int(m.group("index"))
    if index > 100000:
        return None
    rest = (m.group("rest") or "").strip()
    module = m.group("module")
    function = None
    file = None
    lineno = None
    if rest:
        # The location is the last space-separated word when it looks like
        # path:line[:col]; everything before it is the function.
        head, _, last = rest.rpartition(" ")
        loc = LOCATION_RE.match(last) if head else None
        if loc is not None and ("/" in last or "." in last):
            function = head
            file = loc.group("file")
            lineno = int(loc.group("line"))
        elif head and last.startswith("/") and ":" not in last:
            function, file = head, last
        else:
            function = rest
        function = strip_params(function) or None
    if function is None and module is None and m.group("pc") is None:
        return None
    return Frame(index=index, function=function, file=file, line=lineno,
                 module=module, kind=classify(function, file, module))


def is_stop_marker(line):
    s = line.strip()
    return any(s.startswith(mk) or mk in s[:80] for mk in STOP_MARKERS[:6]) \
        or any(s.startswith(mk) for mk in STOP_MARKERS[6:])
