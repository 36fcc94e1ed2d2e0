#!/usr/bin/env python3
"""ossfuzz_check.py: builds Reservoir through .clusterfuzzlite/build.sh with
OSS-Fuzz's environment for one configuration and checks the result the way
OSS-Fuzz's build check does, plus what it does not (docs/CONTINUOUS.md).

  ossfuzz_check.py [--engine libfuzzer|afl] [--sanitizer address|undefined|memory|coverage]
                   [--keep DIR] [--json FILE] [--root DIR]
  ossfuzz_check.py --check-out DIR --sanitizer S [--engine E] [--json FILE]
      (only the checks, on an existing $OUT: what the negative tests use)

One line per check and target ("PASS address slab_fuzzer runs ..."), a JSON
result file, exit status 0 when everything passed, 1 when a check failed,
2 on bad usage or a setup problem.
"""

import argparse
import configparser
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

PROG = "ossfuzz-check"
TARGETS = ["page_alloc_fuzzer", "slab_fuzzer", "reserve_fuzzer",
           "swap_over_net_fuzzer", "estimator_fuzzer"]
ENGINES = ["libfuzzer", "afl"]
SANITIZERS = ["address", "undefined", "memory", "coverage"]

# OSS-Fuzz's environment (infra/base-images/base-builder).
BASE_CFLAGS = ("-O1 -fno-omit-frame-pointer -gline-tables-only "
               "-DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION")
UBSAN_CHECKS = ("array-bounds,bool,builtin,enum,function,integer-divide-by-zero,"
                "null,object-size,return,returns-nonnull-attribute,shift,"
                "signed-integer-overflow,unsigned-integer-overflow,unreachable,"
                "vla-bound,vptr")
UBSAN_NO_RECOVER = UBSAN_CHECKS.replace("unsigned-integer-overflow,", "")
SANITIZER_FLAGS = {
    "address": "-fsanitize=address -fsanitize-address-use-after-scope",
    "undefined": f"-fsanitize={UBSAN_CHECKS} -fno-sanitize-recover={UBSAN_NO_RECOVER}",
    "memory": "-fsanitize=memory -fsanitize-memory-track-origins",
    "coverage": "-fprofile-instr-generate -fcoverage-mapping",
}
AFL_DRIVER = "/usr/lib/afl/libAFLDriver.a"
LLVM = "/usr/lib/llvm-14"
CLANG_RESOURCE = f"{LLVM}/lib/clang/14.0.6"

# Thresholds of OSS-Fuzz's sanitizer check (bad_build_check).
MIN_ASAN_CALLS = 1000
MAX_UBSAN_CALLS_IN_ASAN = 200
MAX_OTHER_CALLS = 3
MIN_MSAN_CALLS = 1000
MIN_UBSAN_CALLS = 168
MIN_COUNTERS = 100
AFL_READY_SECONDS = 35
GUARD_SECONDS = 300  # a wedged process, not a budget: every run is bounded by -runs

# The runner's sanitizer settings (a finding must crash, leaks are findings).
RUN_ENV = {
    "ASAN_OPTIONS": "abort_on_error=1:detect_leaks=1:allocator_may_return_null=1:symbolize=1",
    "UBSAN_OPTIONS": "halt_on_error=1:print_stacktrace=1:silence_unsigned_overflow=1",
    "MSAN_OPTIONS": "halt_on_error=1:symbolize=1",
}
AFL_ENV = {
    "AFL_NO_UI": "1", "AFL_SKIP_CPUFREQ": "1", "AFL_NO_AFFINITY": "1",
    "AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES": "1", "AFL_FAST_CAL": "1",
    "AFL_NO_CRASH_README": "1",
}
# What we place beside afl-fuzz in $OUT, as OSS-Fuzz's AFL step does: the
# runner's afl-fuzz settings, one KEY=VALUE per line.
AFL_OPTIONS = ("AFL_SKIP_CPUFREQ=1\nAFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1\n"
               "AFL_FAST_CAL=1\nAFL_NO_AFFINITY=1\n")
SYSTEM_LIBRARIES = re.compile(
    r"^(linux-vdso|libc|libm|libdl|librt|libpthread|libgcc_s|libutil|ld-linux-x86-64)\.so")


def die(message):
    print(f"{PROG}: {message}", file=sys.stderr)
    sys.exit(2)


def say(message):
    print(f"[{PROG}] {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------
# Results

class Results:
    def __init__(self, engine, sanitizer, echo=True):
        self.echo = echo
        self.engine = engine
        self.sanitizer = sanitizer
        self.checks = []
        self.timings = {}
        self.figures = {}

    def add(self, check, target, ok, detail):
        self.checks.append({"check": check, "target": target, "ok": bool(ok),
                            "detail": detail})
        word = "PASS" if ok else "FAIL"
        if self.echo:
            print(f"{word} {self.sanitizer} {target} {check} {detail}", flush=True)
        return ok

    @property
    def failures(self):
        return [c for c in self.checks if not c["ok"]]

    def write(self, path):
        if path is None:
            return
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        data = {"engine": self.engine, "sanitizer": self.sanitizer,
                "passed": not self.failures, "checks": self.checks,
                "timings_seconds": self.timings, "figures": self.figures}
        temporary = path.with_name(path.name + ".tmp")
        temporary.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
        os.replace(temporary, path)
        say(f"results: {path}")


# ---------------------------------------------------------------------------
# The environment: a private toolchain directory playing OSS-Fuzz's clang.

def msan_prefix(root):
    script = root / "fuzz" / "msan" / "build_msan_deps.sh"
    subprocess.run(["bash", str(script), "--quiet"], check=False)
    out = subprocess.run(["bash", str(script), "--print-prefix"],
                         capture_output=True, text=True)
    prefix = Path(out.stdout.strip())
    if out.returncode != 0 or not (prefix / ".complete").exists():
        die("the MemorySanitizer dependency cache is not complete "
            "(fuzz/msan/build_msan_deps.sh)")
    return prefix


def write_script(path, text):
    path.write_text(text)
    path.chmod(0o755)


def make_toolchain(tools, sanitizer, engine, prefix):
    """tools/bin: clang, clang++ (and afl-clang-fast, afl-clang-fast++),
    behaving as OSS-Fuzz's compiler does where Debian's differs:
      - its libFuzzer needs no C++ library (Debian's needs libstdc++, which
        -stdlib=libc++ leaves out): a resource directory whose libFuzzer
        archives are the ones built against a private libc++;
      - libc++ is linked statically (the runner has no libc++.so);
      - for memory, the MemorySanitizer-built libc++ (headers and archive).
    Everything else is Debian's clang-14, unchanged."""
    resource = tools / "resource"
    (resource / "lib" / "linux").mkdir(parents=True)
    for entry in Path(CLANG_RESOURCE).iterdir():
        if entry.name != "lib":
            (resource / entry.name).symlink_to(entry)
    fuzzer_libs = {"libclang_rt.fuzzer-x86_64.a", "libclang_rt.fuzzer_no_main-x86_64.a"}
    for entry in (Path(CLANG_RESOURCE) / "lib" / "linux").iterdir():
        source = entry
        if entry.name in fuzzer_libs:
            source = prefix / "lib" / "libfuzzer" / entry.name
        (resource / "lib" / "linux" / entry.name).symlink_to(source)
    bin_dir = tools / "bin"
    bin_dir.mkdir()
    compile_only = 'case " $* " in *" -c "*|*" -S "*|*" -E "*) link=0 ;; *) link=1 ;; esac\n'
    cxx_compile = cxx_link = ""
    if sanitizer == "memory":
        cxx_compile = f"-nostdinc++ -isystem {prefix}/include/c++/v1"
        cxx_link = f"-L{prefix}/lib"
    write_script(bin_dir / "clang",
                 f"#!/bin/sh\nexec {LLVM}/bin/clang -resource-dir={resource} \"$@\"\n")
    write_script(bin_dir / "clang++",
                 "#!/bin/sh\n" + compile_only +
                 f"if [ $link = 1 ]; then\n"
                 f"  exec {LLVM}/bin/clang++ -resource-dir={resource} {cxx_compile} {cxx_link} "
                 "\"$@\" -static-libstdc++ -Wno-unused-command-line-argument\n"
                 "fi\n"
                 f"exec {LLVM}/bin/clang++ -resource-dir={resource} {cxx_compile} \"$@\"\n")
    if engine == "afl":
        write_script(bin_dir / "afl-clang-fast",
                     "#!/bin/sh\nexec /usr/bin/afl-clang-fast \"$@\"\n")
        write_script(bin_dir / "afl-clang-fast++",
                     "#!/bin/sh\n" + compile_only +
                     "if [ $link = 1 ]; then\n"
                     "  exec /usr/bin/afl-clang-fast++ \"$@\" -static-libstdc++\n"
                     "fi\nexec /usr/bin/afl-clang-fast++ \"$@\"\n")
    return bin_dir


def build_environment(engine, sanitizer, top, bin_dir):
    cflags = f"{BASE_CFLAGS} {SANITIZER_FLAGS[sanitizer]}"
    if engine == "libfuzzer":
        cc, cxx = "clang", "clang++"
        if sanitizer != "coverage":
            cflags += " -fsanitize=fuzzer-no-link"
        engine_lib = "-fsanitize=fuzzer"
    else:
        cc, cxx = "afl-clang-fast", "afl-clang-fast++"
        engine_lib = AFL_DRIVER
    env = {
        "PATH": f"{bin_dir}:/usr/local/bin:/usr/bin:/bin",
        "HOME": os.environ.get("HOME", "/root"),
        "LANG": "C.UTF-8",
        "TMPDIR": str(top / "tmp"),
        "CC": cc, "CXX": cxx,
        "CFLAGS": cflags, "CXXFLAGS": f"{cflags} -stdlib=libc++",
        "LIB_FUZZING_ENGINE": engine_lib,
        "SANITIZER": sanitizer, "FUZZING_ENGINE": engine,
        "ARCHITECTURE": "x86_64", "FUZZING_LANGUAGE": "c++",
        "SRC": str(top / "src"), "OUT": str(top / "out"), "WORK": str(top / "work"),
    }
    return env


# ---------------------------------------------------------------------------
# Abseil's source: on OSS-Fuzz the Dockerfile clones it into $SRC; here it
# is Debian's source package (the one build_msan_deps.sh downloads),
# unpacked once with Debian's patches into the cache, outside the tree.

def abseil_source(prefix):
    cache = prefix.parent
    downloads = cache / "downloads"
    dscs = sorted(downloads.glob("abseil_*.dsc"))
    if not dscs:
        die(f"no Abseil source package in {downloads} (fuzz/msan/build_msan_deps.sh --rebuild)")
    dsc = dscs[-1]
    version = dsc.name[len("abseil_"):-len(".dsc")]
    target = cache / f"abseil-src-{version}"
    if (target / ".complete").exists():
        return target
    files = [line.split()[2] for line in dsc.read_text().splitlines()
             if line.startswith(" ") and len(line.split()) == 3]
    orig = next((downloads / f for f in files if ".orig.tar." in f), None)
    debian = next((downloads / f for f in files if ".debian.tar." in f), None)
    if orig is None or debian is None:
        die(f"{dsc}: no orig or debian tarball listed")
    say(f"unpacking Abseil {version} with Debian's patches into {target}")
    staging = Path(tempfile.mkdtemp(prefix="abseil-src.", dir=cache))
    try:
        (staging / "src").mkdir()
        subprocess.run(["tar", "-xf", str(orig), "-C", str(staging / "src"),
                        "--strip-components=1"], check=True)
        subprocess.run(["tar", "-xf", str(debian), "-C", str(staging)], check=True)
        series = staging / "debian" / "patches" / "series"
        for line in series.read_text().splitlines() if series.exists() else []:
            name = line.split("#")[0].strip().split(" ")[0]
            if name:
                subprocess.run(["patch", "-d", str(staging / "src"), "-p1", "-f", "-s",
                                "-i", str(staging / "debian" / "patches" / name)],
                               check=True, stdout=subprocess.DEVNULL)
        (staging / "src" / ".complete").write_text(f"{version}\n")
        try:
            os.rename(staging / "src", target)
        except OSError:
            if not (target / ".complete").exists():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


# ---------------------------------------------------------------------------
# The source tree must be the same before and after.

def tree_fingerprint(root):
    """git's view (status and the diff) plus every file's size and mtime,
    outside .git, build/ and runs/ (the git-ignored output trees, which concurrent tests write)
    and __pycache__: {path: (size, mtime)}."""
    state = {}
    for args in (["status", "--porcelain=v1", "--untracked-files=all"], ["diff", "HEAD"]):
        out = subprocess.run(["git", "-C", str(root)] + args, capture_output=True)
        state["git " + args[0]] = hashlib.sha256(out.stdout).hexdigest()
    for directory, subdirs, files in os.walk(root):
        rel = os.path.relpath(directory, root)
        subdirs[:] = sorted(d for d in subdirs
                            if not (rel == "." and d in (".git", "build", "runs"))
                            and d != "__pycache__")
        for name in files:
            path = os.path.join(directory, name)
            try:
                st = os.lstat(path)
            except OSError:
                continue
            state[os.path.relpath(path, root)] = (st.st_size, st.st_mtime_ns)
    return state


def tree_changes(before, after):
    return sorted(p for p in set(before) | set(after) if before.get(p) != after.get(p))


# ---------------------------------------------------------------------------
# Checks on one $OUT (each returns True when it passed).

def run(command, env=None, cwd=None, timeout=GUARD_SECONDS):
    try:
        proc = subprocess.run(command, env=env, cwd=cwd, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, timeout=timeout)
        return proc.returncode, proc.stdout.decode(errors="replace")
    except subprocess.TimeoutExpired as error:
        return -1, (error.stdout or b"").decode(errors="replace") + "\n(timed out)"


def last_lines(text, count=6):
    lines = [line for line in text.splitlines() if line.strip()]
    return " | ".join(lines[-count:])


def runtime_env(extra=None):
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": os.environ.get("HOME", "/root"),
           "LANG": "C.UTF-8"}
    symbolizer = f"{LLVM}/bin/llvm-symbolizer"
    if os.path.exists(symbolizer):
        for name in ("ASAN_SYMBOLIZER_PATH", "MSAN_SYMBOLIZER_PATH"):
            env[name] = symbolizer
    env.update(RUN_ENV)
    env.update(extra or {})
    return env


def parse_options(path):
    """T.options as the runner reads it: an INI file whose [libfuzzer]
    section becomes -key=value arguments. Returns (arguments, error)."""
    parser = configparser.ConfigParser(interpolation=None)
    try:
        text = path.read_text()
        parser.read_string(text, source=str(path))
    except configparser.MissingSectionHeaderError:
        return None, "no section header (the file must start with [libfuzzer] or another section)"
    except (configparser.Error, OSError, UnicodeDecodeError) as error:
        return None, f"does not parse: {str(error).splitlines()[0]}"
    if not parser.sections():
        return None, "no section"
    unknown = [s for s in parser.sections() if s not in ("libfuzzer", "asan", "msan", "ubsan", "afl")]
    if unknown:
        return None, f"unknown section [{unknown[0]}]"
    arguments = []
    if parser.has_section("libfuzzer"):
        for key, value in parser.items("libfuzzer"):
            if key == "dict":
                if not (path.parent / value).is_file():
                    return None, f"dict = {value} names no file beside it"
                value = str(path.parent / value)
            arguments.append(f"-{key}={value}")
    return arguments, None


DICT_LINE = re.compile(r'^\s*(?:[A-Za-z0-9_]+\s*=\s*)?"((?:[^"\\]|\\.)*)"\s*$')


def parse_dict(path):
    """libFuzzer/AFL dictionary grammar: comments, blank lines and
    [name=]"value" with \\\\, \\" and \\xHH escapes. Returns (entries, error)."""
    try:
        lines = path.read_text().splitlines()
    except (OSError, UnicodeDecodeError) as error:
        return None, f"cannot read: {error}"
    entries = 0
    for number, line in enumerate(lines, 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        match = DICT_LINE.match(line)
        if not match:
            return None, f"line {number} is not [name=]\"value\": {stripped[:60]}"
        value = match.group(1)
        i = 0
        while i < len(value):
            if value[i] == "\\":
                nxt = value[i + 1:i + 2]
                if nxt in ("\\", '"'):
                    i += 2
                    continue
                if nxt == "x" and re.match(r"[0-9A-Fa-f]{2}", value[i + 2:i + 4]):
                    i += 4
                    continue
                return None, f"line {number}: bad escape in {stripped[:60]}"
            i += 1
        entries += 1
    if entries == 0:
        return None, "no entries"
    return entries, None


def check_dict(results, out, target):
    path = out / f"{target}.dict"
    if not path.is_file():
        return results.add("dict", target, False, f"{path.name} is missing")
    entries, error = parse_dict(path)
    if error:
        return results.add("dict", target, False, f"malformed dict {path.name}: {error}")
    return results.add("dict", target, True, f"{entries} entries")


def check_options(results, out, target):
    path = out / f"{target}.options"
    if not path.is_file():
        return results.add("options", target, False, f"{path.name} is missing"), []
    arguments, error = parse_options(path)
    if error:
        return results.add("options", target, False, f"{path.name}: {error}"), []
    return results.add("options", target, True, " ".join(a.replace(str(out) + "/", "")
                                                          for a in arguments)), arguments


def check_elf(results, binary, target):
    try:
        header = binary.read_bytes()[:20]
    except OSError as error:
        return results.add("x86-64", target, False, f"cannot read: {error}")
    if header[:4] != b"\x7fELF":
        return results.add("x86-64", target, False, "not an ELF file")
    elf_class, machine = header[4], int.from_bytes(header[18:20], "little")
    ok = elf_class == 2 and machine == 0x3E
    return results.add("x86-64", target, ok,
                       f"ELF class {elf_class}, machine 0x{machine:x}"
                       + ("" if ok else " (expected 64-bit x86-64, 0x3e)"))


CALL_RE = re.compile(r"\bcall[q]?\s+[0-9a-f]+\s+<(__(?:asan|ubsan|msan|dfsan)_[^>@+]*)")


def sanitizer_calls(binary):
    """Call instructions into each sanitizer's runtime, as OSS-Fuzz counts them."""
    counts = {"asan": 0, "ubsan": 0, "msan": 0, "dfsan": 0}
    proc = subprocess.Popen(["objdump", "-d", "--no-show-raw-insn", str(binary)],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    for line in proc.stdout:
        if "call" not in line:
            continue
        match = CALL_RE.search(line)
        if match:
            kind = match.group(1)[2:].split("_")[0]
            counts[kind] += 1
    proc.wait()
    return counts


def check_sanitizer_calls(results, binary, target, sanitizer):
    counts = sanitizer_calls(binary)
    detail = f"asan={counts['asan']} ubsan={counts['ubsan']} msan={counts['msan']}"
    results.figures.setdefault("sanitizer_calls", {})[target] = counts
    problems = []
    if sanitizer == "address":
        if counts["asan"] < MIN_ASAN_CALLS:
            problems.append(f"fewer than {MIN_ASAN_CALLS} __asan calls: not an ASan build")
        if counts["ubsan"] > MAX_UBSAN_CALLS_IN_ASAN:
            problems.append(f"more than {MAX_UBSAN_CALLS_IN_ASAN} __ubsan calls: "
                            "UBSan mixed into the address build")
        if counts["msan"] > MAX_OTHER_CALLS or counts["dfsan"] > MAX_OTHER_CALLS:
            problems.append("__msan/__dfsan calls in an address build")
    elif sanitizer == "memory":
        if counts["msan"] < MIN_MSAN_CALLS:
            problems.append(f"fewer than {MIN_MSAN_CALLS} __msan calls: not an MSan build")
        if counts["asan"] > 0:
            problems.append("__asan calls in a memory build")
        if counts["dfsan"] > MAX_OTHER_CALLS:
            problems.append("__dfsan calls in a memory build")
    elif sanitizer == "undefined":
        if counts["ubsan"] < MIN_UBSAN_CALLS:
            problems.append(f"fewer than {MIN_UBSAN_CALLS} __ubsan calls: not a UBSan build")
        if counts["asan"] > MAX_OTHER_CALLS or counts["msan"] > MAX_OTHER_CALLS:
            problems.append("__asan/__msan calls in an undefined build")
    return results.add("sanitizer-calls", target, not problems,
                       detail + ("" if not problems else ": " + "; ".join(problems)))


COUNTERS_RE = re.compile(r"INFO: Loaded \d+ modules?\s+\((\d+) inline 8-bit counters\)")


def libfuzzer_run(binary, arguments, cwd, env_extra=None):
    corpus = Path(tempfile.mkdtemp(prefix="empty-corpus.", dir=cwd))
    try:
        return run([str(binary), "-seed=1337", "-runs=4"] + arguments + [str(corpus)],
                   env=runtime_env(env_extra), cwd=cwd)
    finally:
        shutil.rmtree(corpus, ignore_errors=True)


def check_runs(results, binary, target, arguments, scratch):
    code, output = libfuzzer_run(binary, arguments, scratch)
    if "Is the code instrumented" in output:
        ok, detail = False, "not instrumented: libFuzzer says 'Is the code instrumented for coverage?'"
    elif code != 0 or "Done 4 runs" not in output:
        ok, detail = False, f"exit {code}, no 'Done 4 runs': {last_lines(output)}"
    else:
        ok, detail = True, "Done 4 runs (-seed=1337, empty corpus, options and dict)"
    results.add("runs", target, ok, detail)
    match = COUNTERS_RE.search(output)
    counters = int(match.group(1)) if match else 0
    results.figures.setdefault("counters", {})[target] = counters
    results.add("counters", target, counters >= MIN_COUNTERS,
                f"{counters} inline 8-bit counters" +
                ("" if counters >= MIN_COUNTERS else f" (fewer than {MIN_COUNTERS}: not instrumented)"))
    return ok


def check_seeds(results, out, binary, target, arguments, scratch):
    archive = out / f"{target}_seed_corpus.zip"
    if not archive.is_file():
        return results.add("seeds", target, False, f"{archive.name} is missing")
    seeds = Path(tempfile.mkdtemp(prefix=f"{target}-seeds.", dir=scratch))
    try:
        with zipfile.ZipFile(archive) as zipped:
            names = zipped.namelist()
            if any("/" in n for n in names):
                return results.add("seeds", target, False, "the archive is not flat")
            zipped.extractall(seeds)
        regression = sum(1 for n in names if n.startswith("regression-"))
        if len(names) - regression == 0:
            return results.add("seeds", target, False, "no seeds in the archive")
        code, output = run([str(binary), "-runs=0"] + arguments + [str(seeds)],
                           env=runtime_env(), cwd=scratch)
        ok = code == 0 and not REPORT_RE.search(output)
        detail = (f"{len(names) - regression} seeds + {regression} regression entries ran clean (-runs=0)"
                  if ok else f"exit {code}: {last_lines(output)}")
        return results.add("seeds", target, ok, detail)
    finally:
        shutil.rmtree(seeds, ignore_errors=True)


def contains_entry_point(path):
    try:
        with open(path, "rb") as stream:
            return b"LLVMFuzzerTestOneInput" in stream.read()
    except OSError:
        return False


def check_executables(results, out):
    found = sorted(p.name for p in out.iterdir()
                   if p.is_file() and os.access(p, os.X_OK) and contains_entry_point(p))
    extra = [name for name in found if name not in TARGETS]
    missing = [name for name in TARGETS if name not in found]
    ok = not extra and not missing
    detail = f"{len(found)} executables with LLVMFuzzerTestOneInput"
    if extra:
        detail += ": extra " + ", ".join(extra)
    if missing:
        detail += ": missing " + ", ".join(missing)
    return results.add("executables", "all", ok, detail)


def check_runtime_libraries(results, binary, target):
    code, output = run(["ldd", str(binary)])
    libraries = [line.split()[0] for line in output.splitlines() if line.strip()]
    foreign = [lib for lib in libraries if not SYSTEM_LIBRARIES.match(os.path.basename(lib))]
    ok = code == 0 and not foreign
    return results.add("runtime-libs", target, ok,
                       "only the C library's" if ok else
                       f"needs {', '.join(foreign) or output.strip()} at run time (not in $OUT)")


def check_moved(results, out, target, arguments, scratch):
    """The runner moves $OUT and unsets OUT: the target must not care."""
    moved = Path(tempfile.mkdtemp(prefix="moved-out.", dir=scratch)) / "elsewhere"
    os.rename(out, moved)
    try:
        moved_arguments = [a.replace(str(out), str(moved)) for a in arguments]
        code, output = libfuzzer_run(moved / target, moved_arguments, scratch)
        ok = code == 0 and "Done 4 runs" in output
        return results.add("moved", target, ok,
                           "runs after $OUT moved and OUT unset" if ok else
                           f"exit {code}: {last_lines(output)}")
    finally:
        os.rename(moved, out)


def check_afl(results, out, target, scratch):
    """afl-fuzz from $OUT reaches 'All set and ready to roll' within 35 s
    and the target neither crashes nor is killed on startup."""
    afl_fuzz = out / "afl-fuzz"
    if not afl_fuzz.exists() or not (out / "afl_options.txt").exists():
        return results.add("afl-startup", target, False, "afl-fuzz or afl_options.txt missing from $OUT")
    work = Path(tempfile.mkdtemp(prefix=f"afl-{target}.", dir=scratch))
    (work / "in").mkdir()
    (work / "in" / "input").write_bytes(b"\0" * 32)
    env = {k: v for k, v in runtime_env().items() if not k.endswith("_OPTIONS")}
    env.update(AFL_ENV)
    for line in (out / "afl_options.txt").read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep:
            env[key.strip()] = value.strip()
    command = [str(afl_fuzz), "-i", str(work / "in"), "-o", str(work / "out"),
               "-m", "none", "-t", "1000+", "-s", "1"]
    if (out / f"{target}.dict").exists():
        command += ["-x", str(out / f"{target}.dict")]
    command += ["--", str(out / target)]
    started = time.monotonic()
    proc = subprocess.Popen(command, env=env, cwd=work, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)
    output = []
    ready = False
    try:
        os.set_blocking(proc.stdout.fileno(), False)
        buffer = b""
        while time.monotonic() - started < AFL_READY_SECONDS:
            chunk = proc.stdout.read()
            if chunk:
                buffer += chunk
                if b"All set and ready to roll" in buffer:
                    ready = True
                    break
            elif proc.poll() is not None:
                break
            else:
                time.sleep(0.1)
        seconds = time.monotonic() - started
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGINT)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        rest = proc.stdout.read() if proc.stdout else b""
        buffer += rest or b""
    text = buffer.decode(errors="replace")
    crashed = re.search(r"PROGRAM ABORT|target binary crashed|Fork server crashed|"
                        r"timed out|terminated", text)
    ok = ready and not crashed
    shutil.rmtree(work, ignore_errors=True)
    if ok:
        detail = f"'All set and ready to roll' after {seconds:.1f} s"
    elif not ready:
        detail = f"no 'All set and ready to roll' within {AFL_READY_SECONDS} s: {last_lines(text)}"
    else:
        detail = f"crashed on startup: {crashed.group(0)}"
    return results.add("afl-startup", target, ok, detail)


def unzip_seeds(out, target, scratch):
    seeds = Path(tempfile.mkdtemp(prefix=f"{target}-seeds.", dir=scratch))
    with zipfile.ZipFile(out / f"{target}_seed_corpus.zip") as zipped:
        zipped.extractall(seeds)
    return seeds


REPORT_RE = re.compile(r"ERROR: (Address|Memory|Undefined|Leak)Sanitizer|runtime error|"
                       r"RESERVOIR BUG|deadly signal")


def check_afl_replay(results, out, target, scratch):
    """The AFL++ driver runs the inputs given as arguments, one by one:
    every seed and regression entry must run clean, and again after $OUT
    has moved and OUT is unset."""
    archive = out / f"{target}_seed_corpus.zip"
    if not archive.is_file():
        results.add("seeds", target, False, f"{archive.name} is missing")
        return
    seeds = unzip_seeds(out, target, scratch)
    try:
        inputs = sorted(str(p) for p in seeds.iterdir())
        code, output = run([str(out / target)] + inputs, env=runtime_env(), cwd=scratch)
        ok = code == 0 and bool(inputs) and not REPORT_RE.search(output)
        results.add("seeds", target, ok,
                    f"{len(inputs)} seeds and regression entries ran clean (AFL++ driver, one by one)"
                    if ok else f"exit {code}: {last_lines(output)}")
        moved = Path(tempfile.mkdtemp(prefix="moved-out.", dir=scratch)) / "elsewhere"
        os.rename(out, moved)
        try:
            code, output = run([str(moved / target)] + inputs[:1], env=runtime_env(), cwd=scratch)
        finally:
            os.rename(moved, out)
        ok = code == 0 and not REPORT_RE.search(output)
        results.add("moved", target, ok, "runs after $OUT moved and OUT unset" if ok
                    else f"exit {code}: {last_lines(output)}")
        # Coverage instrumentation: the edges afl-showmap sees on one seed.
        showmap = shutil.which("afl-showmap", path="/usr/bin:/usr/local/bin")
        map_file = scratch / f"{target}.map"
        env = {k: v for k, v in runtime_env().items() if not k.endswith("_OPTIONS")}
        env.update(AFL_ENV)
        code, output = run([showmap, "-q", "-m", "none", "-t", "5000", "-o", str(map_file),
                            "--", str(out / target), inputs[0]], env=env, cwd=scratch)
        edges = len(map_file.read_text().splitlines()) if map_file.exists() else 0
        results.figures.setdefault("edges", {})[target] = edges
        results.add("counters", target, edges >= MIN_COUNTERS,
                    f"afl-showmap: {edges} edges on one seed" +
                    ("" if edges >= MIN_COUNTERS else f" (fewer than {MIN_COUNTERS}: not instrumented)"))
    finally:
        shutil.rmtree(seeds, ignore_errors=True)


def check_out(results, out, scratch, sanitizer, engine):
    """Every check of one $OUT (the build is done)."""
    check_executables(results, out)
    for target in TARGETS:
        binary = out / target
        if not binary.exists():
            results.add("present", target, False, f"{target} is not in $OUT")
            continue
        check_elf(results, binary, target)
        check_dict(results, out, target)
        _, arguments = check_options(results, out, target)
        check_runtime_libraries(results, binary, target)
        if sanitizer != "coverage":
            check_sanitizer_calls(results, binary, target, sanitizer)
        if engine == "libfuzzer" and sanitizer != "coverage":
            check_runs(results, binary, target, arguments, scratch)
            check_seeds(results, out, binary, target, arguments, scratch)
            check_moved(results, out, target, arguments, scratch)
        elif engine == "afl":
            check_afl(results, out, target, scratch)
            check_afl_replay(results, out, target, scratch)


# ---------------------------------------------------------------------------
# Coverage, the OSS-Fuzz way.

def coverage_report(results, out, scratch, root):
    profiles = scratch / "profiles"
    profiles.mkdir()
    objects = []
    for target in TARGETS:
        binary = out / target
        seeds = Path(tempfile.mkdtemp(prefix=f"{target}-seeds.", dir=scratch))
        with zipfile.ZipFile(out / f"{target}_seed_corpus.zip") as zipped:
            zipped.extractall(seeds)
        merged = Path(tempfile.mkdtemp(prefix=f"{target}-merge.", dir=scratch))
        code, output = run([str(binary), "-merge=1", "-timeout=100", str(merged), str(seeds)],
                           env=runtime_env({"LLVM_PROFILE_FILE": str(profiles / f"{target}.%1m.profraw")}),
                           cwd=scratch)
        raws = list(profiles.glob(f"{target}.*.profraw"))
        results.add("coverage-run", target, code == 0 and bool(raws),
                    f"{len(list(seeds.iterdir()))} inputs, {len(raws)} profile(s)" if code == 0 and raws
                    else f"exit {code}: {last_lines(output)}")
        objects.append(binary)
    profdata = scratch / "merged.profdata"
    raws = sorted(str(p) for p in profiles.glob("*.profraw"))
    code, output = run([f"{LLVM}/bin/llvm-profdata", "merge", "-sparse", "-o", str(profdata)] + raws)
    if code != 0:
        return results.add("coverage", "all", False, f"llvm-profdata: {last_lines(output)}")
    command = [f"{LLVM}/bin/llvm-cov", "export", "-summary-only", f"-instr-profile={profdata}",
               str(objects[0])]
    for obj in objects[1:]:
        command += ["-object", str(obj)]
    proc = subprocess.run(command, capture_output=True)
    if proc.returncode != 0:
        return results.add("coverage", "all", False, f"llvm-cov: {proc.stderr.decode()[:200]}")
    data = json.loads(proc.stdout)
    summary = {"allocator": [0, 0], "injectors": [0, 0], "fuzz": [0, 0], "total": [0, 0]}
    for entry in data["data"][0]["files"]:
        name = entry["filename"]
        lines = entry["summary"]["lines"]
        for component in ("allocator", "injectors", "fuzz"):
            if f"/reservoir/{component}/" in name:
                summary[component][0] += lines["covered"]
                summary[component][1] += lines["count"]
        if "/reservoir/" in name:
            summary["total"][0] += lines["covered"]
            summary["total"][1] += lines["count"]
    figures = {}
    for component, (covered, count) in summary.items():
        percent = 100.0 * covered / count if count else 0.0
        figures[component] = {"covered": covered, "lines": count, "percent": round(percent, 2)}
        print(f"coverage {component}: {covered}/{count} lines ({percent:.1f}%)")
    results.figures["line_coverage"] = figures
    allocator = figures["allocator"]
    return results.add("coverage", "all", allocator["covered"] > 0,
                       f"allocator line coverage {allocator['percent']}% "
                       f"({allocator['covered']}/{allocator['lines']}) from the seed corpora")


# ---------------------------------------------------------------------------

def abseil_cache_entry(prefix, root, env):
    """Where this configuration's Abseil build is cached: keyed on the
    compiler, the flags, the Abseil source and build.sh (whose recipe it is)."""
    key = hashlib.sha256()
    for name in ("CC", "CXX", "CFLAGS", "CXXFLAGS", "SANITIZER", "FUZZING_ENGINE"):
        key.update(f"{name}={env[name]}\n".encode())
    key.update((root / ".clusterfuzzlite" / "build.sh").read_bytes())
    key.update(str(abseil_source(prefix)).encode())
    return prefix.parent / "ossfuzz-abseil" / f"{env['FUZZING_ENGINE']}-{env['SANITIZER']}-{key.hexdigest()[:16]}"


def store_in_cache(source, entry):
    if entry.exists():
        return
    entry.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=entry.name + ".", dir=entry.parent))
    try:
        shutil.copytree(source, staging / "prefix", symlinks=True)
        os.rename(staging / "prefix", entry)
    except OSError:
        pass  # another run stored it first
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def build(root, engine, sanitizer, top, results):
    prefix = msan_prefix(root)
    for sub in ("src", "out", "work", "tmp", "tools", "scratch"):
        (top / sub).mkdir(parents=True)
    bin_dir = make_toolchain(top / "tools", sanitizer, engine, prefix)
    env = build_environment(engine, sanitizer, top, bin_dir)
    src = top / "src"
    # $SRC as the Dockerfile lays it out: the project, Abseil, build.sh.
    (src / "reservoir").symlink_to(root)
    (src / "abseil-cpp").symlink_to(abseil_source(prefix))
    shutil.copy2(root / ".clusterfuzzlite" / "build.sh", src / "build.sh")
    # Abseil from the cache when this configuration built it before
    # (build.sh checks its stamp and rebuilds it if anything differs).
    cache_entry = abseil_cache_entry(prefix, root, env)
    abseil_prefix = Path(env["WORK"]) / "abseil"
    if (cache_entry / ".reservoir-stamp").exists():
        shutil.copytree(cache_entry, abseil_prefix, symlinks=True)
    log = top / "build.log"
    say(f"building: {engine} + {sanitizer} (log: {log})")
    started = time.monotonic()
    with open(log, "w") as stream:
        code = subprocess.call(["bash", "-eux", str(src / "build.sh")], env=env,
                               cwd=src / "reservoir", stdout=stream, stderr=subprocess.STDOUT)
    seconds = time.monotonic() - started
    results.timings["build"] = round(seconds, 1)
    if code != 0:
        results.add("build", "all", False, f"build.sh exited {code} after {seconds:.0f} s: "
                    f"{last_lines(log.read_text(errors='replace'), 3)} (log: {log})")
        return None
    rebuilt = "abseil-build" in log.read_text(errors="replace")
    results.figures["abseil"] = "built" if rebuilt else "cached"
    results.add("build", "all", True, f"build.sh ({engine} + {sanitizer}) in {seconds:.0f} s, "
                f"Abseil {'built' if rebuilt else 'from the cache'}")
    if rebuilt and (abseil_prefix / ".reservoir-stamp").exists():
        store_in_cache(abseil_prefix, cache_entry)
    out = Path(env["OUT"])
    if engine == "afl":
        # OSS-Fuzz's AFL step: afl-fuzz and its options file into $OUT.
        shutil.copy2(shutil.which("afl-fuzz", path="/usr/bin:/usr/local/bin"), out / "afl-fuzz")
        (out / "afl_options.txt").write_text(AFL_OPTIONS)
    return out


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="./reservoir ossfuzz-check",
        description="Builds Reservoir through .clusterfuzzlite/build.sh with OSS-Fuzz's "
                    "environment for one configuration, in a fresh temporary SRC/OUT/WORK, "
                    "and checks the result as OSS-Fuzz's build check does (each target runs "
                    "-runs=4 on an empty corpus with its options and dict, instrumented, "
                    "x86-64, sanitizer-call counts; AFL++ starts), plus: the targets run "
                    "after $OUT moves, every seed and regression entry runs clean, at least "
                    "100 coverage counters, options and dicts parse, no extra executable "
                    "with LLVMFuzzerTestOneInput, static C++ runtime, source tree unchanged. "
                    "--sanitizer coverage builds the coverage configuration and reports the "
                    "line coverage of the seed corpora instead. See docs/CONTINUOUS.md.")
    # Bad usage: one line, exit status 2.
    parser.error = lambda message: parser.exit(2, f"{PROG}: {message} (see --help)\n")
    parser.add_argument("--engine", default="libfuzzer", help="libfuzzer (default) or afl")
    parser.add_argument("--sanitizer", default="address",
                        help="address (default), undefined, memory or coverage")
    parser.add_argument("--keep", metavar="DIR",
                        help="build in DIR (must not exist) and keep it: src/ out/ work/ build.log")
    parser.add_argument("--json", metavar="FILE",
                        help="results file (default: build/ossfuzz-check/<time>-<engine>-<sanitizer>.json)")
    parser.add_argument("--root", default=str(Path(__file__).resolve().parents[2]),
                        help=argparse.SUPPRESS)
    parser.add_argument("--check-out", metavar="DIR",
                        help="only run the checks on an existing $OUT (no build)")
    args = parser.parse_args(argv)
    if args.engine not in ENGINES:
        parser.exit(2, f"{PROG}: --engine must be libfuzzer or afl, not '{args.engine}'\n")
    if args.sanitizer not in SANITIZERS:
        parser.exit(2, f"{PROG}: --sanitizer must be address, undefined, memory or coverage, "
                       f"not '{args.sanitizer}'\n")
    if args.engine == "afl" and args.sanitizer != "address":
        parser.exit(2, f"{PROG}: AFL++ is checked with --sanitizer address only (as OSS-Fuzz builds it)\n")
    if args.keep and os.path.lexists(args.keep):
        parser.exit(2, f"{PROG}: --keep {args.keep}: already exists (give a fresh directory)\n")
    return args


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    root = Path(args.root).resolve()
    results = Results(args.engine, args.sanitizer)
    json_path = args.json
    if args.check_out:
        out = Path(args.check_out).resolve()
        if not out.is_dir():
            die(f"--check-out {out}: not a directory")
        scratch = Path(tempfile.mkdtemp(prefix="ossfuzz-check-scratch."))
        try:
            check_out(results, out, scratch, args.sanitizer, args.engine)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        results.write(json_path)
        return 1 if results.failures else 0

    if json_path is None:
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
        json_path = root / "build" / "ossfuzz-check" / f"{stamp}-{args.engine}-{args.sanitizer}.json"
    for tool in ("objdump", "ldd", "git", "zip", "bash", "cmake"):
        if shutil.which(tool) is None:
            die(f"'{tool}' is not installed (run ./reservoir setup)")
    if args.keep:
        top = Path(args.keep).resolve()
        top.mkdir(parents=True)
    else:
        top = Path(tempfile.mkdtemp(prefix=f"ossfuzz-{args.engine}-{args.sanitizer}."))
    started = time.monotonic()
    before = tree_fingerprint(root)
    try:
        out = build(root, args.engine, args.sanitizer, top, results)
        if out is not None:
            checks_started = time.monotonic()
            if args.sanitizer == "coverage":
                check_executables(results, out)
                coverage_report(results, out, top / "scratch", root)
            else:
                check_out(results, out, top / "scratch", args.sanitizer, args.engine)
            results.timings["checks"] = round(time.monotonic() - checks_started, 1)
        changed = tree_changes(before, tree_fingerprint(root))
        results.add("source-tree", "all", not changed,
                    "unchanged (git status, diff, every file's size and mtime)" if not changed
                    else f"changed during the check: {', '.join(changed[:5])}"
                         + (f" and {len(changed) - 5} more" if len(changed) > 5 else ""))
    finally:
        results.timings["total"] = round(time.monotonic() - started, 1)
        if not args.keep:
            shutil.rmtree(top, ignore_errors=True)
    failures = results.failures
    say(f"{args.engine} + {args.sanitizer}: {len(results.checks) - len(failures)} passed, "
        f"{len(failures)} failed in {results.timings['total']:.0f} s "
        f"(build {results.timings.get('build', 0):.0f} s)")
    results.write(json_path)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
