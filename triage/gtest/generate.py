#!/usr/bin/env python3
"""Write the GoogleTest source `reservoir triage regress --gtest` would write
for a regression program, to OUT (atomically), so the build can prove the
generated code compiles and passes.

  generate.py PROGRAM.txt TARGET OUT.cc
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                ".."))
from reservoir_triage import program_text as pt  # noqa: E402
from reservoir_triage.regress import gtest_text  # noqa: E402
from reservoir_triage.util import write_atomically  # noqa: E402


def main(argv):
    if len(argv) != 4:
        print("usage: generate.py PROGRAM.txt TARGET OUT.cc", file=sys.stderr)
        return 2
    source, target, out = argv[1:]
    with open(source, encoding="utf-8", errors="replace") as f:
        text = f.read()
    program = pt.parse(text)
    name = os.path.splitext(os.path.basename(source))[0]
    write_atomically(out, gtest_text(name, target, program.to_text()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
