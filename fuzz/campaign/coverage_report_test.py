#!/usr/bin/env python3
"""Tests of coverage_report.py (./reservoir coverage) on a tiny input set.

  coverage_report_test.py --build-dir DIR [unittest options]

DIR is where the coverage preset is built (a cold build takes well under a
minute with two jobs; later runs are incremental). The report replays two
text programs through the estimator target: one runs clean, one (the
historical 2N + m estimator) finds a guarantee-violation, so the run also
shows that a failing input is named and left out, not fatal.
"""

import json
import shutil
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
SCRIPT = HERE / "coverage_report.py"
EXAMPLES = ROOT / "docs" / "examples"
BUILD_DIR = None  # set from --build-dir


def run(*args):
    return subprocess.run([sys.executable, str(SCRIPT), *args],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True)


class BadArguments(unittest.TestCase):
    """Bad usage: one line on stderr, exit status 2, nothing built."""

    def check(self, args, message):
        result = run(*args)
        self.assertEqual(result.returncode, 2, result.stderr)
        self.assertEqual(result.stdout, "")
        lines = result.stderr.splitlines()
        self.assertEqual(len(lines), 1, result.stderr)
        self.assertTrue(lines[0].startswith("reservoir coverage: "), lines[0])
        self.assertIn(message, lines[0])

    def test_unknown_option(self):
        self.check(["--frobnicate"], "unrecognized arguments: --frobnicate")

    def test_unknown_target(self):
        self.check(["--targets", "nope"], "unknown target 'nope'")

    def test_run_is_not_a_campaign(self):
        with tempfile.TemporaryDirectory() as empty:
            self.check(["--run", empty], "has no TARGET/corpus directory")

    def test_corpus_without_target(self):
        with tempfile.TemporaryDirectory() as empty:
            self.check(["--corpus", empty], "no target in the path")

    def test_existing_report_is_not_overwritten(self):
        with tempfile.TemporaryDirectory() as out:
            (Path(out) / "keep").write_text("x")
            self.check(["--out", out], "exists and is not empty")
            self.assertEqual((Path(out) / "keep").read_text(), "x")


class TinyReport(unittest.TestCase):
    """The whole pipeline on two inputs: build, replay, merge, report."""

    @classmethod
    def setUpClass(cls):
        cls.scratch = Path(tempfile.mkdtemp(prefix="coverage-report-test-"))
        corpus = cls.scratch / "estimator_fuzzer"
        corpus.mkdir()
        for name in ("estimator-exact.txt", "estimator-2n-plus-m.txt"):
            shutil.copy(EXAMPLES / name, corpus / name)
        cls.out = cls.scratch / "report"
        cls.result = run("--build-dir", str(BUILD_DIR), "--jobs", "2",
                         "--targets", "estimator_fuzzer", "--no-seeds",
                         "--no-regression", "--corpus", str(corpus),
                         "--out", str(cls.out))

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.scratch, ignore_errors=True)

    def test_exit_status_reports_the_failing_input(self):
        self.assertEqual(self.result.returncode, 1, self.result.stderr[-3000:])

    def test_html_report(self):
        index = self.out / "html" / "index.html"
        self.assertTrue(index.is_file())
        html = index.read_text()
        self.assertIn("allocator/src/estimator.cc", html)
        self.assertNotIn("/tests/", html)
        self.assertNotIn("/usr/include", html)

    def test_text_report_has_branches(self):
        report = (self.out / "report.txt").read_text()
        self.assertIn("Branches", report.splitlines()[0])
        self.assertIn("allocator/src/estimator.cc", report)
        self.assertTrue(report.rstrip().splitlines()[-1].startswith("TOTAL"))

    def test_json_export(self):
        export = json.loads((self.out / "coverage.json").read_text())
        self.assertEqual(export["type"], "llvm.coverage.json.export")
        files = [f["filename"] for f in export["data"][0]["files"]]
        self.assertTrue(files)
        for name in files:
            self.assertTrue(name.startswith(str(ROOT) + "/"), name)
            part = Path(name).relative_to(ROOT).parts
            self.assertIn(part[0], ("allocator", "injectors", "fuzz"), name)
            self.assertNotIn("tests", part, name)

    def test_summary_names_least_covered_and_never_executed(self):
        summary = (self.out / "summary.md").read_text()
        for heading in ("## Totals",
                        "## Least-covered files in allocator/",
                        "## Least-covered files in injectors/",
                        "## Functions never executed in allocator/",
                        "## Functions never executed in injectors/"):
            self.assertIn(heading, summary)
        self.assertIn("| allocator/ |", summary)
        data = json.loads((self.out / "summary.json").read_text())
        self.assertEqual(len(data["least_covered"]["allocator"]), 5)
        self.assertTrue(data["never_executed"]["injectors"])
        # The summary is also what the run prints last.
        self.assertIn("## Functions never executed in injectors/",
                      self.result.stdout)

    def test_failing_input_is_named_and_left_out(self):
        data = json.loads((self.out / "summary.json").read_text())
        self.assertEqual(len(data["failures"]), 1)
        failure = data["failures"][0]
        self.assertTrue(failure["input"].endswith("estimator-2n-plus-m.txt"))
        self.assertTrue(failure["finding"].startswith(
            "RESERVOIR BUG: guarantee-violation"), failure["finding"])
        self.assertEqual(data["inputs"]["estimator_fuzzer"]["corpus"], 2)
        # The clean input's profile is in: the exact estimator ran.
        lines = {f["file"]: f["lines"] for f in data["files"]}
        self.assertGreater(lines["allocator/src/estimator.cc"][0], 0)
        self.assertFalse((self.out / "profiles").exists())
        self.assertTrue((self.out / "coverage.profdata").is_file())


if __name__ == "__main__":
    if "--build-dir" in sys.argv:
        i = sys.argv.index("--build-dir")
        BUILD_DIR = Path(sys.argv[i + 1]).resolve()
        del sys.argv[i:i + 2]
    else:
        BUILD_DIR = Path(tempfile.gettempdir()) / "reservoir-coverage-test-build"
    unittest.main(verbosity=2)
