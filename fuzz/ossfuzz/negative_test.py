#!/usr/bin/env python3
"""Negative tests of ossfuzz_check.py: its checks reject what OSS-Fuzz would
reject, each with the reason named (docs/CONTINUOUS.md).

Cheap on purpose: no project build. It compiles one small generated fuzz
target (600 functions with loads and signed arithmetic, so the ASan and
UBSan call counts cross OSS-Fuzz's thresholds the way a real target's do)
with clang++-14 in four ways and runs the checker's own check functions on
a scratch $OUT:

  good          -fsanitize=address,fuzzer          every check passes (the control)
  uninstrumented  compiled without fuzzer-no-link  runs: "not instrumented"
  mixed         -fsanitize=address,undefined       sanitizer-calls: "UBSan mixed into the address build"
  no header     a .options file without [libfuzzer]  options: "no section header"
  bad dict      a dict line that is not "value"    dict: "malformed dict"; libFuzzer refuses it too

Exit 0 when every expectation held, 1 otherwise. Usage: negative_test.py [--work DIR]
"""

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.dont_write_bytecode = True
sys.path.insert(0, str(Path(__file__).resolve().parent))
import ossfuzz_check as oc  # noqa: E402

CXX = "clang++-14"
FUNCTIONS = 600
TARGET = "page_alloc_fuzzer"  # any target name: the checks look files up by it


def generate_source(path):
    lines = ["#include <cstddef>", "#include <cstdint>", ""]
    for i in range(FUNCTIONS):
        lines.append(f"__attribute__((noinline)) int f{i}(const int* p, int n) "
                     f"{{ if (n > {i % 97}) return p[n & 3] * (n + {i}); "
                     f"return p[(n + 1) & 3] + n * {i + 1}; }}")
    lines.append("using Fn = int (*)(const int*, int);")
    lines.append("Fn table[] = {" + ", ".join(f"f{i}" for i in range(FUNCTIONS)) + "};")
    lines.append('extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {')
    lines.append("  int values[4] = {1, 2, 3, 4};")
    lines.append("  int sum = 0;")
    lines.append(f"  for (size_t i = 0; i < size; ++i) sum += table[data[i] % {FUNCTIONS}](values, data[i]);")
    lines.append("  return sum == 123456789 ? 1 : 0;")
    lines.append("}")
    path.write_text("\n".join(lines) + "\n")


def compile_target(source, output, compile_flags, link_flags):
    obj = output.with_suffix(".o")
    base = oc.BASE_CFLAGS.split()
    subprocess.run([CXX] + base + compile_flags + ["-c", str(source), "-o", str(obj)], check=True)
    subprocess.run([CXX] + link_flags + [str(obj), "-o", str(output)], check=True)


def make_out(work, name, binary, options, dictionary):
    out = work / name
    out.mkdir()
    shutil.copy2(binary, out / TARGET)
    (out / f"{TARGET}.options").write_text(options)
    (out / f"{TARGET}.dict").write_text(dictionary)
    return out


GOOD_OPTIONS = f"[libfuzzer]\nmax_len = 64\ndict = {TARGET}.dict\n"
GOOD_DICT = '# a dictionary\nab="ab"\n"\\x00\\x01"\n'


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", help="scratch directory (default: a temporary one, removed)")
    args = parser.parse_args()
    work = Path(args.work or tempfile.mkdtemp(prefix="ossfuzz-negative."))
    work.mkdir(parents=True, exist_ok=True)
    failures = 0

    def expect(label, results, check, ok, words=""):
        nonlocal failures
        entry = [c for c in results.checks if c["check"] == check][-1]
        good = entry["ok"] == ok and words in entry["detail"]
        verdict = "accepted" if entry["ok"] else "rejected"
        print(f"{'PASS' if good else 'FAIL'} negative {label}: {check} {verdict}: {entry['detail']}",
              flush=True)
        failures += 0 if good else 1

    try:
        source = work / "tiny.cc"
        generate_source(source)
        good = work / "good"
        compile_target(source, good, ["-fsanitize=address", "-fsanitize=fuzzer-no-link"],
                       ["-fsanitize=address,fuzzer"])
        plain = work / "uninstrumented"
        compile_target(source, plain, ["-fsanitize=address"], ["-fsanitize=address,fuzzer"])
        mixed = work / "mixed"
        compile_target(source, mixed,
                       ["-fsanitize=address,undefined", "-fsanitize=fuzzer-no-link"],
                       ["-fsanitize=address,undefined,fuzzer"])
        scratch = work / "scratch"
        scratch.mkdir()

        # The control: a correct address build passes every check we use.
        out = make_out(work, "out-good", good, GOOD_OPTIONS, GOOD_DICT)
        results = oc.Results("libfuzzer", "address", echo=False)
        oc.check_dict(results, out, TARGET)
        expect("control", results, "dict", True)
        _, arguments = oc.check_options(results, out, TARGET)
        expect("control", results, "options", True)
        oc.check_sanitizer_calls(results, out / TARGET, TARGET, "address")
        expect("control", results, "sanitizer-calls", True)
        oc.check_runs(results, out / TARGET, TARGET, arguments, scratch)
        expect("control", results, "runs", True)
        expect("control", results, "counters", True)
        oc.check_elf(results, out / TARGET, TARGET)
        expect("control", results, "x86-64", True)

        # 1. Built without the engine's instrumentation.
        out = make_out(work, "out-plain", plain, GOOD_OPTIONS, GOOD_DICT)
        results = oc.Results("libfuzzer", "address", echo=False)
        _, arguments = oc.check_options(results, out, TARGET)
        oc.check_runs(results, out / TARGET, TARGET, arguments, scratch)
        expect("uninstrumented", results, "runs", False, "not instrumented")
        expect("uninstrumented", results, "counters", False, "not instrumented")

        # 2. UBSan mixed into the address build.
        out = make_out(work, "out-mixed", mixed, GOOD_OPTIONS, GOOD_DICT)
        results = oc.Results("libfuzzer", "address", echo=False)
        oc.check_sanitizer_calls(results, out / TARGET, TARGET, "address")
        expect("ubsan-in-address", results, "sanitizer-calls", False,
               "UBSan mixed into the address build")
        #    ... which the undefined check would accept: the counts are real.
        results = oc.Results("libfuzzer", "undefined", echo=False)
        oc.check_sanitizer_calls(results, out / TARGET, TARGET, "undefined")
        expect("ubsan-in-address (as undefined)", results, "sanitizer-calls", False,
               "__asan/__msan calls in an undefined build")

        # 3. An options file without a section header.
        out = make_out(work, "out-noheader", good, f"max_len = 64\ndict = {TARGET}.dict\n", GOOD_DICT)
        results = oc.Results("libfuzzer", "address", echo=False)
        oc.check_options(results, out, TARGET)
        expect("options-without-section", results, "options", False, "no section header")

        # 4. A malformed dict: rejected by our parser and by libFuzzer itself.
        out = make_out(work, "out-baddict", good, GOOD_OPTIONS, 'ab="ab"\nkmalloc=\\x00\\x60\n')
        results = oc.Results("libfuzzer", "address", echo=False)
        oc.check_dict(results, out, TARGET)
        expect("malformed-dict", results, "dict", False, "malformed dict")
        _, arguments = oc.check_options(results, out, TARGET)
        oc.check_runs(results, out / TARGET, TARGET, arguments, scratch)
        expect("malformed-dict (libFuzzer)", results, "runs", False, "ParseDictionaryFile")
        #    ... and a bad escape inside quotes.
        out = make_out(work, "out-badescape", good, GOOD_OPTIONS, 'x="\\q"\n')
        results = oc.Results("libfuzzer", "address", echo=False)
        oc.check_dict(results, out, TARGET)
        expect("malformed-dict (escape)", results, "dict", False, "bad escape")
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)
    print(f"{'PASS' if not failures else 'FAIL'} negative: {failures} unexpected result(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
