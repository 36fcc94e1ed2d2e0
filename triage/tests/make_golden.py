#!/usr/bin/env python3
"""Regenerates the triage parser's golden test data (triage/tests/golden/).

Not run by CI: it needs builds that take minutes. Run it by hand after a
change to what the builds print, review `git diff triage/tests/golden`, and
commit. Each case is a log `<name>.log` and its expected parse
`<name>.expected.json` ({"record": ..., "signature": ...}; record null for a
clean log). test_golden.py parses every log and compares.

  make_golden.py logs     [--only NAME...]   run the builds, write logs and
                                             their expected JSON
  make_golden.py expect   [--only NAME...]   rewrite the expected JSON from
                                             the logs there (after a parser
                                             change; review the diff!)

Where the logs come from (each source is skipped, with a note, when its
build is missing):
  sanitizer_*, libfuzzer_*  golden/src/crashers.cc, a tiny libFuzzer target
                    built here with the project's sanitizer flags; its first
                    input byte picks the crash; golden/src/leak_main.cc for
                    LeakSanitizer without an engine
  reservoir_<plant>_replay  reservoir-replay of corpus/plants/<plant>.txt on
                    that plant's build (build/libfuzzer-asan-plant-<plant>,
                    as `./reservoir fuzz --plant` makes it, or
                    build/t1-plant-<plant>)
  reservoir_<plant>_libfuzzer  the plant trigger as a binary input of its
                    target (reservoir-seed) run by the planted fuzz target
  reservoir_<plant>_afl  the same input, named like an AFL++ crash file,
                    run by the planted afl build's target (build/afl-plant-
                    <plant>, as `./reservoir fuzz --engine afl --plant` makes it)
  reservoir_guarantee_replay  docs/examples/estimator-2n-plus-m.txt on the
                    default libfuzzer-asan build
  reservoir_fault_*  the uncharge_ksize trigger with the first fail_nth
                    fault (all sites) that still ends in the bug
  msan_uninit_read  fuzz/msan/uninit_read.txt on the msan plant build, when
                    build/libfuzzer-msan-plant-msan_uninit_read exists
  damaged_*         hand-damaged copies of the above (truncated,
                    interleaved, headerless, glued, empty, garbage)
Paths of the machine are rewritten: the repository root becomes
/src/reservoir and temporary directories /tmp/golden.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
GOLDEN = os.path.join(HERE, "golden")
sys.path.insert(0, os.path.dirname(HERE))

from reservoir_triage.parse import parse_log  # noqa: E402
from reservoir_triage.signature import sign  # noqa: E402

SAN_FLAGS = ["-g", "-O1", "-fno-omit-frame-pointer",
             "-fsanitize=fuzzer,address,undefined",
             "-fno-sanitize-recover=undefined"]
ENV = {"ASAN_OPTIONS": "abort_on_error=1:symbolize=1",
       "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1"}
PLANT_TARGET = {
    "fastpath_skips_match": "slab_fuzzer",
    "partial_ignores_tag": "slab_fuzzer",
    "stale_pfmemalloc": "page_alloc_fuzzer",
    "pfmemalloc_every_entitled": "page_alloc_fuzzer",
    "uncharge_ksize": "slab_fuzzer",
    "connect_drops_usage": "reserve_fuzzer",
    "wrong_buddy": "page_alloc_fuzzer",
}


def note(msg):
    print(f"[make_golden] {msg}", file=sys.stderr, flush=True)


def scrub(text, tmp):
    text = text.replace(ROOT, "/src/reservoir")
    text = text.replace(os.path.realpath(ROOT), "/src/reservoir")
    if tmp:
        text = text.replace(tmp, "/tmp/golden")
    home = os.path.expanduser("~")
    if home not in ("", "/"):
        text = text.replace(home, "/home/user")
    return text


def run(cmd, tmp, env=None, timeout=120, cwd=None):
    e = dict(os.environ)
    e.update(ENV)
    e.update(env or {})
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, env=e, timeout=timeout,
                           cwd=cwd)
        out = p.stdout
    except subprocess.TimeoutExpired as t:
        out = t.stdout or b""
    return scrub(out.decode("utf-8", errors="replace"), tmp)


def expected(text):
    rec = parse_log(text)
    return {"record": rec.to_json() if rec else None,
            "signature": sign(rec).to_json() if rec else None}


def write_case(name, text):
    path = os.path.join(GOLDEN, name + ".log")
    with open(path, "w", encoding="utf-8", errors="replace") as f:
        f.write(text)
    write_expected(name)


def write_expected(name):
    with open(os.path.join(GOLDEN, name + ".log"), "rb") as f:
        text = f.read().decode("utf-8", errors="replace")
    with open(os.path.join(GOLDEN, name + ".expected.json"), "w") as f:
        f.write(json.dumps(expected(text), indent=2, sort_keys=True) + "\n")


def plant_build(plant, preset="libfuzzer-asan"):
    for d in (f"build/{preset}-plant-{plant}", f"build/t1-plant-{plant}",
              f"build/t2-plant-{plant}"):
        path = os.path.join(ROOT, d)
        if os.path.exists(os.path.join(path, "fuzz", "tools",
                                       "reservoir-replay")):
            return path
    return None


def sanitizer_logs(tmp, cases):
    src = os.path.join(GOLDEN, "src")
    fuzzer = os.path.join(tmp, "golden_fuzzer")
    leaker = os.path.join(tmp, "golden_leak")
    subprocess.run(["clang++-14", *SAN_FLAGS, os.path.join(src, "crashers.cc"),
                    "-o", fuzzer], check=True)
    subprocess.run(["clang++-14", "-g", "-O1", "-fno-omit-frame-pointer",
                    "-fsanitize=address", os.path.join(src, "leak_main.cc"),
                    "-o", leaker], check=True)
    inputs = os.path.join(tmp, "in")
    os.makedirs(inputs, exist_ok=True)
    modes = {"h": ("sanitizer_asan_heap_buffer_overflow", []),
             "f": ("sanitizer_asan_heap_use_after_free", []),
             "d": ("sanitizer_asan_double_free", []),
             "n": ("sanitizer_asan_null_dereference", []),
             "s": ("sanitizer_asan_stack_overflow", []),
             "u": ("sanitizer_ubsan_signed_overflow", []),
             "a": ("libfuzzer_deadly_signal", []),
             "t": ("libfuzzer_timeout", ["-timeout=1"]),
             "o": ("libfuzzer_oom", ["-rss_limit_mb=128"])}
    for mode, (name, flags) in modes.items():
        path = os.path.join(inputs, mode)
        with open(path, "w") as f:
            f.write(mode)
        cases[name] = run([fuzzer, *flags, path], tmp)
    corpus = os.path.join(tmp, "leak-corpus")
    os.makedirs(corpus, exist_ok=True)
    with open(os.path.join(corpus, "l"), "w") as f:
        f.write("l")
    cases["libfuzzer_leak"] = run(
        [fuzzer, "-runs=5", "-seed=1", f"-artifact_prefix={tmp}/", corpus],
        tmp)
    cases["sanitizer_lsan_standalone"] = run([leaker], tmp)
    # With OSS-Fuzz's dedup_token_length=3 the runtime prints DEDUP_TOKEN.
    cases["sanitizer_asan_use_after_free_dedup_token"] = run(
        [fuzzer, os.path.join(inputs, "f")], tmp,
        env={"ASAN_OPTIONS": "abort_on_error=1:symbolize=1:"
                             "dedup_token_length=3"})
    # AFL++: the target built with afl-clang-fast++ (no sanitizer) replaying
    # a crash file, as a harness records it: the command, then the output
    # (nothing: a plain SIGSEGV prints no report), then how it ended.
    afl_bin = os.path.join(tmp, "golden_afl_fuzzer")
    if shutil.which("afl-clang-fast++") and subprocess.run(
            ["afl-clang-fast++", "-g", "-O1", "-fsanitize=fuzzer",
             os.path.join(src, "crashers.cc"), "-o", afl_bin],
            env=dict(os.environ, AFL_QUIET="1")).returncode == 0:
        crash_dir = os.path.join(tmp, "crashes")
        os.makedirs(crash_dir, exist_ok=True)
        crash = os.path.join(crash_dir,
                             "id:000000,sig:11,src:000000,time:120,"
                             "execs:345,op:havoc,rep:2")
        with open(crash, "w") as f:
            f.write("n")
        p = subprocess.run([afl_bin, crash], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT)
        status = (f"killed by signal {-p.returncode}" if p.returncode < 0
                  else f"exit status {p.returncode}")
        cases["afl_crash_replay_no_report"] = scrub(
            f"$ {afl_bin} {crash}\n"
            + p.stdout.decode("utf-8", errors="replace")
            + f"{status}\n", tmp)
    else:
        note("no afl-clang-fast++: afl_crash_replay_no_report skipped")
    # A run that finds nothing.
    clean = os.path.join(inputs, "clean")
    with open(clean, "w") as f:
        f.write("x")
    cases["clean_libfuzzer_run"] = run([fuzzer, clean], tmp)


def reservoir_logs(tmp, cases):
    for plant, target in sorted(PLANT_TARGET.items()):
        build = plant_build(plant)
        if build is None:
            note(f"no build of plant {plant}: skipped")
            continue
        trigger = os.path.join(ROOT, "corpus", "plants", plant + ".txt")
        replay = os.path.join(build, "fuzz", "tools", "reservoir-replay")
        cases[f"reservoir_{plant}_replay"] = run(
            [replay, "--target", target, trigger], tmp)
        seed_tool = os.path.join(build, "fuzz", "tools", "reservoir-seed")
        binary = os.path.join(build, "fuzz", "targets", target)
        if os.path.exists(seed_tool) and os.path.exists(binary):
            out = os.path.join(tmp, "seed-" + plant)
            # reservoir-seed takes a body: the header, then what follows
            # "# body" (the target adds its own prologue).
            with open(trigger) as f:
                lines = f.read().splitlines()
            head = [l for l in lines if l.startswith(("# reservoir program",
                                                      "config ", "faults "))]
            body = lines[lines.index("# body") + 1:] if "# body" in lines \
                else []
            seed_src = os.path.join(tmp, plant + "-body.txt")
            with open(seed_src, "w") as f:
                f.write("\n".join(head + body) + "\n")
            subprocess.run([seed_tool, "--target", target, "--out", out,
                            seed_src], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
            files = sorted(os.listdir(out)) if os.path.isdir(out) else []
            if files:
                cases[f"reservoir_{plant}_libfuzzer"] = run(
                    [binary, os.path.join(out, files[0])], tmp)
        # AFL++'s side: the afl build's target run on the same input, as
        # AFL++ replays a crash file (no sanitizer, no stack: the report
        # and the abort).
        afl = os.path.join(ROOT, "build", f"afl-plant-{plant}")
        afl_binary = os.path.join(afl, "fuzz", "targets", target)
        if os.path.exists(afl_binary) and os.path.exists(seed_tool):
            out = os.path.join(tmp, "seed-" + plant)
            files = sorted(os.listdir(out)) if os.path.isdir(out) else []
            if files:
                crash = os.path.join(
                    tmp, "id:000000,sig:06,src:000000,time:1,execs:1,"
                         "op:havoc,rep:2")
                shutil.copy(os.path.join(out, files[0]), crash)
                cases[f"reservoir_{plant}_afl"] = run([afl_binary, crash], tmp)
    default = os.path.join(ROOT, "build", "libfuzzer-asan", "fuzz", "tools",
                           "reservoir-replay")
    if os.path.exists(default):
        example = os.path.join(ROOT, "docs", "examples",
                               "estimator-2n-plus-m.txt")
        cases["reservoir_guarantee_replay"] = run([default, example], tmp)
        clean = os.path.join(ROOT, "corpus", "plants",
                             "connect_drops_usage.txt")
        cases["clean_replay"] = run([default, clean], tmp)
    # A plant with an injected fault before the bug: the trigger of
    # uncharge_ksize with failslab failing a kmalloc first (the program's
    # own header asks for it; the injector logs it).
    build = plant_build("uncharge_ksize")
    if build is not None:
        trigger = os.path.join(ROOT, "corpus", "plants", "uncharge_ksize.txt")
        with open(trigger) as f:
            lines = f.read().splitlines()
        # The first fail_nth that still ends in the bug.
        for nth in range(1, 12):
            body = []
            for line in lines:
                if line.startswith("faults "):
                    line = (f"faults mode=fail_nth seed=0 probability_ppm=0 "
                            f"fail_nth={nth} sites=all")
                body.append(line)
            path = os.path.join(tmp, "uncharge_ksize_fault.txt")
            with open(path, "w") as f:
                f.write("\n".join(body) + "\n")
            log = run([os.path.join(build, "fuzz", "tools", "reservoir-replay"),
                       "--target", "slab_fuzzer", path], tmp)
            if "RESERVOIR BUG: " in log and "injected: " in log:
                cases["reservoir_fault_uncharge_ksize_replay"] = log
                break
        else:
            note("no fail_nth keeps the uncharge_ksize bug: skipped")
    msan = os.path.join(ROOT, "build", "libfuzzer-msan-plant-msan_uninit_read")
    for d in (msan, os.path.join(ROOT, "build", "t1-msan-plant")):
        replay = os.path.join(d, "fuzz", "tools", "reservoir-replay")
        if os.path.exists(replay):
            symbolizer = shutil.which("llvm-symbolizer-14") or \
                shutil.which("llvm-symbolizer") or ""
            cases["msan_uninit_read"] = run(
                [replay, os.path.join(ROOT, "fuzz", "msan", "uninit_read.txt")],
                tmp, env={"MSAN_SYMBOLIZER_PATH": symbolizer})
            break
    else:
        note("no msan plant build: msan_uninit_read skipped")


def damaged(cases, have):
    """Hand-damaged logs, made from the logs there are."""
    def get(name):
        if name in cases:
            return cases[name]
        path = os.path.join(GOLDEN, name + ".log")
        if os.path.exists(path):
            with open(path, encoding="utf-8", errors="replace") as f:
                return f.read()
        return None
    res = get("reservoir_fastpath_skips_match_libfuzzer") or \
        get("reservoir_fastpath_skips_match_replay")
    asan = get("sanitizer_asan_heap_use_after_free")
    other = get("reservoir_uncharge_ksize_replay")
    if res:
        cut = res.index("--- reservoir program") if "--- reservoir program" \
            in res else len(res) // 2
        cases["damaged_reservoir_truncated"] = res[:cut]
        lines = res.splitlines(keepends=True)
        cases["damaged_reservoir_headerless"] = "".join(
            l for l in lines if not l.startswith("RESERVOIR BUG: "))
    if res and other:
        a = res.splitlines(keepends=True)
        b = other.splitlines(keepends=True)
        mixed = []
        for i in range(max(len(a), len(b))):
            if i < len(a):
                mixed.append(a[i])
            if i < len(b):
                mixed.append(b[i])
        cases["damaged_reservoir_interleaved"] = "".join(mixed)
    if asan:
        lines = asan.splitlines(keepends=True)
        head = next(i for i, l in enumerate(lines) if "ERROR: Address" in l)
        cases["damaged_asan_truncated"] = "".join(lines[:head + 2])
        cases["damaged_asan_headerless"] = "".join(lines[head + 1:])
        other_asan = get("sanitizer_asan_heap_buffer_overflow") or ""
        cases["damaged_asan_interleaved"] = "".join(
            lines[:head + 4]) + other_asan + "".join(lines[head + 4:])
        # The header glued to the end of an engine line, as when two
        # writers share a terminal.
        cases["damaged_asan_glued"] = "".join(
            lines[:head - 1]) + "#2\tINITED cov: 3 ft: 3 corp: 1/1b " + \
            "".join(lines[head:])
    deadly = get("sanitizer_asan_null_dereference")
    if deadly:
        lines = deadly.splitlines(keepends=True)
        for i, l in enumerate(lines):
            if "DEADLYSIGNAL" in l and i + 1 < len(lines):
                lines[i] = l.rstrip("\n") + lines[i + 1]
                del lines[i + 1]
                break
        cases["damaged_deadlysignal_glued"] = "".join(lines)
    cases["damaged_empty"] = ""
    cases["damaged_garbage"] = bytes(
        (i * 131 + 7) % 256 for i in range(2048)).decode(
            "utf-8", errors="replace")
    old = os.path.join(GOLDEN, "reservoir_old_one_line_replay.log")
    if not os.path.exists(old):
        note("reservoir_old_one_line_replay.log is missing (it was recorded "
             "once, from a build before the two-line report)")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("what", choices=["logs", "expect"])
    p.add_argument("--only", nargs="*", default=None, metavar="NAME")
    args = p.parse_args()
    os.makedirs(GOLDEN, exist_ok=True)
    if args.what == "expect":
        for name in sorted(os.listdir(GOLDEN)):
            if name.endswith(".log"):
                stem = name[:-4]
                if args.only is None or stem in args.only:
                    write_expected(stem)
                    note(f"expected: {stem}")
        return 0
    tmp = tempfile.mkdtemp(prefix="golden-")
    cases = {}
    try:
        sanitizer_logs(tmp, cases)
        reservoir_logs(tmp, cases)
        damaged(cases, set(cases))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    for name in sorted(cases):
        if args.only is None or name in args.only:
            write_case(name, cases[name])
            note(f"wrote {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
