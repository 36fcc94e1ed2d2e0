#!/usr/bin/env python3
"""Unit tests of the campaign package (fuzz/campaign/reservoir_campaign):
the target list, report lines and keys, the findings store, the status
line and time series, the summary (with a hand-written triage bugs.json),
the corpus writer, the engines' output parsing and the command line's
usage errors. No build needed; ctest runs it as campaign.unit."""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from reservoir_campaign import corpus, findings, status, summary, targets, triage  # noqa: E402
from reservoir_campaign.afl import AflRun  # noqa: E402
from reservoir_campaign.libfuzzer import LibFuzzerRun  # noqa: E402
from reservoir_campaign.plot import draw, interpreter  # noqa: E402

ROOT = HERE.parents[1]
SCRIPT = HERE / "reservoir_fuzz.py"


class TargetListTest(unittest.TestCase):
    def test_one_list_matches_cmake(self):
        names = targets.fuzz_targets(ROOT)
        self.assertEqual(names[0], "page_alloc_fuzzer")
        self.assertEqual(len(names), len(set(names)))
        # CMake reads the same file with file(STRINGS ... REGEX): the lines
        # that match its pattern must be exactly the Python list.
        lines = (ROOT / targets.TARGETS_FILE).read_text().splitlines()
        cmake = [l for l in lines if re.fullmatch(r"[a-z][a-z0-9_]*", l)]
        self.assertEqual(cmake, names)
        self.assertIn("targets.txt", (ROOT / "fuzz/targets/CMakeLists.txt").read_text())

    def test_bad_line_is_rejected(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / targets.TARGETS_FILE
            path.parent.mkdir(parents=True)
            path.write_text("# comment\nslab_fuzzer\nnot a name\n")
            with self.assertRaises(ValueError):
                targets.fuzz_targets(tmp)

    def test_no_other_copy_of_the_list(self):
        for script in ("fuzz/campaign/coverage_report.py", "bench/fuzz_throughput.py",
                       "corpus/make_dicts.py"):
            text = (ROOT / script).read_text()
            self.assertNotIn('"swap_over_net_fuzzer"', text, script)

    def test_plants(self):
        plants = targets.known_plants(ROOT)
        for plant in ("wrong_buddy", "strict_reserve_in_min", "error_path_skips_uncharge"):
            self.assertIn(plant, plants)


class FindingKeyTest(unittest.TestCase):
    ONE_LINE_A = ("RESERVOIR BUG: slab-mixing: cache kmalloc-64: an object of reserve "
                  "slab pfn 212 went to a caller without reserve access (cpu 1, gfp 0x8, "
                  "policy page-tag)")
    ONE_LINE_B = ("RESERVOIR BUG: slab-mixing: cache kmalloc-64: an object of reserve "
                  "slab pfn 17 went to a caller without reserve access (cpu 0, gfp 0x20, "
                  "policy no-mixing)")

    def test_numbers_and_context_stripped(self):
        self.assertEqual(findings.finding_key(self.ONE_LINE_A),
                         findings.finding_key(self.ONE_LINE_B))
        self.assertEqual(findings.finding_key(self.ONE_LINE_A),
                         "slab-mixing: cache kmalloc-N: an object of reserve slab pfn N "
                         "went to a caller without reserve access")

    def test_classes_differ(self):
        other = "RESERVOIR BUG: reserve-leak: 3 pages still allocated"
        self.assertNotEqual(findings.finding_key(self.ONE_LINE_A), findings.finding_key(other))
        self.assertEqual(findings.finding_class(other), "reserve-leak")

    def test_two_line_form(self):
        text = ("noise\nRESERVOIR BUG: accounting-imbalance: Model::KfreeReserve\n"
                "RESERVOIR DETAIL: node 'r1' usage 32 != ledger 0\nmore\n")
        first, detail = findings.report_of(text)
        self.assertEqual(first, "RESERVOIR BUG: accounting-imbalance: Model::KfreeReserve")
        self.assertEqual(detail, "node 'r1' usage 32 != ledger 0")
        self.assertEqual(findings.finding_key(first),
                         "accounting-imbalance: Model::KfreeReserve")
        first, detail = findings.report_of(self.ONE_LINE_A + "\nfault injection: none\n")
        self.assertIsNone(detail)

    def test_sanitizer_and_none(self):
        asan = ("==1234==ERROR: AddressSanitizer: heap-use-after-free on address "
                "0x602000000010 at pc 0x55")
        self.assertEqual(findings.finding_key(asan), "AddressSanitizer: heap-use-after-free")
        self.assertEqual(findings.finding_key(asan.replace("1234", "99")),
                         findings.finding_key(asan))
        self.assertEqual(findings.report_of("nothing here\n"), (None, None))
        self.assertEqual(findings.finding_key(None), findings.NO_REPORT)


def context(target="slab_fuzzer", round=1, seconds=1.0):
    return {"target": target, "engine": "libfuzzer", "instance": None,
            "round": round, "seconds": seconds, "executions": 10,
            "reproducer": "r", "replay": "replay r"}


class FindingStoreTest(unittest.TestCase):
    def test_dedup_persist_and_resume(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "findings.json"
            store = findings.FindingStore(path)
            self.assertTrue(store.add("t/crashes/crash-1", FindingKeyTest.ONE_LINE_A, None, context()))
            self.assertFalse(store.add("t/crashes/crash-2", FindingKeyTest.ONE_LINE_B, None,
                                       context("reserve_fuzzer")))
            self.assertTrue(store.add("t/crashes/crash-3", "RESERVOIR BUG: reserve-leak: x", None,
                                      context()))
            self.assertEqual(len(store.records()), 2)
            self.assertEqual(store.records()[0]["crash_count"], 2)
            self.assertEqual(store.records()[0]["targets"], ["slab_fuzzer", "reserve_fuzzer"])
            store.save()
            again = findings.FindingStore(path)
            self.assertTrue(again.seen("t/crashes/crash-1"))
            self.assertFalse(again.seen("t/crashes/crash-9"))
            # Known keys stay known in a resumed round: nothing new twice.
            self.assertFalse(again.add("t/crashes/crash-9", FindingKeyTest.ONE_LINE_B, None,
                                       context(round=2)))
            self.assertEqual(again.new_keys, [])
            self.assertEqual(again.records()[0]["crash_count"], 3)
            self.assertEqual(again.records()[0]["round"], 1)


class FakeRun:
    def __init__(self, execs, rate, cov, corp, running=True):
        self.total_execs, self.exec_per_sec, self.cov, self.corpus_size = execs, rate, cov, corp
        self.started = 0.0
        self._running = running

    def running(self):
        return self._running


class StatusTest(unittest.TestCase):
    def test_combined_line(self):
        with tempfile.TemporaryDirectory() as tmp:
            store = findings.FindingStore(Path(tmp) / "f.json")
            store.add("a", FindingKeyTest.ONE_LINE_A, None, context())
            store.add("b", FindingKeyTest.ONE_LINE_B, None, context())
            runs = [FakeRun(1500, 700, 100, 10), FakeRun(2500, 300, 50, 5, running=False)]
            line = status.status_line(runs, 12.3, store)
            self.assertIn("1/2 running", line)
            self.assertIn("4.0k execs 700/s", line)
            self.assertIn("cov 150", line)
            self.assertIn("corp 15", line)
            self.assertIn("crashes 2", line)
            self.assertIn("bugs 1: slab-mixing", line)
            self.assertIn("x2", line)
            self.assertLessEqual(len(status.status_line(runs, 1, store, width=40)), 40)

    def test_time_series_continues(self):
        with tempfile.TemporaryDirectory() as tmp:
            store = findings.FindingStore(Path(tmp) / "f.json")
            series = status.TimeSeries(tmp)
            series.sample([FakeRun(10, 1, 5, 1)], 1.0, store)
            series.sample([FakeRun(20, 1, 6, 1)], 2.0, store)
            series.write()
            rows = (Path(tmp) / "timeseries.csv").read_text().splitlines()
            self.assertEqual(rows[0], ",".join(status.FIELDS))
            self.assertEqual(len(rows), 3)
            resumed = status.TimeSeries(tmp)
            resumed.sample([FakeRun(30, 1, 7, 1)], 0.5, store)
            self.assertEqual(resumed.samples[-1]["seconds"], 2.5)
            self.assertEqual(len(resumed.samples), 3)


def report(bugs=None, triage_data=None, rounds=1):
    args = argparse.Namespace(time=30, runs=0, no_new_coverage=0, no_seeds=False,
                              stop_on_first=False, engines=["libfuzzer"])
    job = {"target": "slab_fuzzer", "engine": "libfuzzer", "instance": None,
           "seconds": 30.0, "executions": 1000, "exec_per_second": 33,
           "coverage_edges": 12, "corpus_entries": 3, "new_corpus_files": 4,
           "crash_files": 3, "bugs": 1, "interrupted": False, "stopped_by": None,
           "error": None, "log": "l"}
    return {"run_dir": "RUN", "_args": args, "plant": None, "builds": {"libfuzzer": "B"},
            "targets": [job], "bugs": bugs or [], "triage": triage_data,
            "plot": "progress.png", "timeseries": "timeseries.csv",
            "corpus_update": None, "rounds": [{}] * rounds}


class SummaryTest(unittest.TestCase):
    def test_own_keys(self):
        with tempfile.TemporaryDirectory() as tmp:
            store = findings.FindingStore(Path(tmp) / "f.json")
            store.add("a", FindingKeyTest.ONE_LINE_A, None, context())
            store.add("b", "RESERVOIR BUG: reserve-leak: p", "detail text", context(round=2))
            text = summary.render_summary(report(store.records(), rounds=2))
            self.assertIn("| slab_fuzzer | libFuzzer | 30.0 | 1000 |", text)
            self.assertIn("## Bugs (2, by first report line", text)
            self.assertIn("(known: found in round 1)", text)
            self.assertIn("RESERVOIR DETAIL: detail text", text)
            self.assertIn("![coverage and bugs over time](progress.png)", text)
            self.assertNotIn("No findings.", text)
        self.assertIn("No findings.", summary.render_summary(report()))

    def test_triage_bugs_json(self):
        data = triage.load_bugs(HERE / "testdata" / "bugs.json")
        text = summary.render_summary(report(
            [{"key": "k"}], {"error": None, "bugs": data}))
        self.assertIn("## Bugs (2 by triage signature: 1 new, 1 known)", text)
        self.assertIn("| `slab-mixing:slab_alloc_once:fastpath` | slab-mixing | new | 3 | "
                      "slab_fuzzer, reserve_fuzzer | libfuzzer | 100% | 41 -> 6 | "
                      "[html](triage/bugs/1/index.html) |", text)
        self.assertIn("| known (fault-induced) | 1 |", text)
        self.assertIn("minimised program: triage/bugs/1/minimised.txt", text)
        self.assertIn("An unentitled caller took an object", text)
        self.assertIn("1 crash file(s) did not reproduce", text)
        self.assertNotIn("by first report line", text)

    def test_bad_bugs_json(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "bugs.json"
            path.write_text(json.dumps({"schema": "other", "bugs": []}))
            with self.assertRaises(ValueError):
                triage.load_bugs(path)
            path.write_text(json.dumps({"schema": triage.SCHEMA,
                                        "bugs": [{"signature": "s", "class": "c",
                                                  "status": "maybe", "crashes": []}]}))
            with self.assertRaises(ValueError):
                triage.load_bugs(path)


class NoNewCoverageTest(unittest.TestCase):
    """--no-new-coverage T: a job whose coverage has not grown for T
    seconds is stopped; one whose coverage grows is not."""

    class Job:
        def __init__(self):
            self.cov, self.started, self.stopped_by = 10, 0.0, None

        def running(self):
            return self.stopped_by is None

        def interrupt(self, by=None):
            self.stopped_by = by

    def test_stall_stops_growth_does_not(self):
        from reservoir_campaign.scheduler import Scheduler
        stalled, growing = self.Job(), self.Job()
        args = argparse.Namespace(no_new_coverage=5)
        scheduler = Scheduler(args, [stalled, growing], Path("."), None, None, {})
        scheduler.active = [stalled, growing]
        scheduler.check_coverage()          # first look: both recorded
        self.assertIsNone(stalled.stopped_by)
        # Pretend the last growth of both was 6 s ago; only one grows now.
        for job in (stalled, growing):
            cov, since = scheduler.coverage_seen[job]
            scheduler.coverage_seen[job] = (cov, since - 6)
        growing.cov = 11
        scheduler.check_coverage()
        self.assertEqual(stalled.stopped_by, "no new coverage for 5 s")
        self.assertIsNone(growing.stopped_by)


class TriageHandOffTest(unittest.TestCase):
    """The campaign's side of the hand-off: when triage/reservoir-triage
    exists it is called as `run <run_dir> --store <store> --out <out>` and
    its bugs.json is read back. The tool here only records its arguments
    and writes the fixture: it tests the call, not triage."""

    def test_call_and_read_back(self):
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp) / "root"
            (root / "triage").mkdir(parents=True)
            self.assertIsNone(triage.triage_tool(root))
            tool = root / "triage" / "reservoir-triage"
            tool.write_text(
                "import json, pathlib, shutil, sys\n"
                "args = sys.argv[1:]\n"
                "out = pathlib.Path(args[args.index('--out') + 1])\n"
                "out.mkdir(parents=True)\n"
                f"shutil.copy({str(HERE / 'testdata' / 'bugs.json')!r}, out / 'bugs.json')\n"
                "(out / 'argv.json').write_text(json.dumps(args))\n")
            self.assertEqual(triage.triage_tool(root), tool)
            run_dir = Path(tmp) / "run"
            run_dir.mkdir()
            store = Path(tmp) / "store.json"
            data, problem, out = triage.run_triage(root, run_dir, store, 1,
                                                   run_dir / "triage.log")
            self.assertIsNone(problem)
            self.assertEqual(out, run_dir / "triage")
            self.assertEqual(len(data["bugs"]), 2)
            argv = json.loads((out / "argv.json").read_text())
            self.assertEqual(argv, ["run", str(run_dir), "--store", str(store),
                                    "--out", str(run_dir / "triage")])
            # A second round writes a fresh directory, never the first.
            _, problem, out2 = triage.run_triage(root, run_dir, store, 2,
                                                 run_dir / "triage.2.log")
            self.assertIsNone(problem)
            self.assertEqual(out2, run_dir / "triage.2")
            tool.write_text("import sys\nsys.exit(3)\n")
            _, problem, _ = triage.run_triage(root, run_dir, store, 3,
                                              run_dir / "triage.3.log")
            self.assertIn("status 3", problem)


class EngineOutputTest(unittest.TestCase):
    def make_libfuzzer(self):
        args = argparse.Namespace(engine="libfuzzer", root=ROOT, stop_on_first=False)
        return LibFuzzerRun("slab_fuzzer", Path("/nonexistent"), Path("/nonexistent"), args)

    @staticmethod
    def libfuzzer_command(seed, runs):
        args = argparse.Namespace(engine="libfuzzer", root=ROOT, stop_on_first=True,
                                  time=30, runs=runs, seed=seed, no_seeds=True)
        return LibFuzzerRun("slab_fuzzer", Path("/nonexistent"),
                            Path("/nonexistent"), args).command()

    def test_seed_adds_the_options_that_repeat(self):
        command = self.libfuzzer_command(seed=7, runs=5000)
        self.assertIn("-seed=7", command)
        self.assertIn("-reload=0", command)
        self.assertIn("-rss_limit_mb=0", command)
        self.assertIn("-runs=5000", command)
        # Options before the corpus directory, which comes last here.
        self.assertTrue(all(a.startswith("-") for a in command[1:-1]))
        self.assertFalse(command[-1].startswith("-"))

    def test_no_seed_keeps_the_defaults(self):
        command = self.libfuzzer_command(seed=0, runs=0)
        self.assertIn("-seed=0", command)
        self.assertFalse([a for a in command
                          if a.startswith(("-reload", "-rss_limit_mb"))])

    def test_fork_status(self):
        run = self.make_libfuzzer()
        run.parse("#7219: cov: 3401 ft: 4862 corp: 291 exec/s 611 oom/timeout/crash: "
                  "0/0/2 time: 26s job: 5 dft_time: 0")
        self.assertEqual((run.execs, run.cov, run.ft, run.corpus_size, run.exec_per_sec,
                          run.crash_count), (7219, 3401, 4862, 291, 611, 2))

    def test_plain_status(self):
        run = self.make_libfuzzer()
        run.parse("#1024\tpulse  cov: 812 ft: 2301 corp: 57/3012b lim: 4 exec/s: 512 rss: 41Mb")
        self.assertEqual((run.execs, run.cov, run.corpus_size, run.exec_per_sec),
                         (1024, 812, 57, 512))

    def test_afl_crash_name(self):
        crash = Path("id:000003,sig:06,src:000012,time:1234,execs:5678,op:havoc,rep:2")
        self.assertEqual(AflRun.crash_position(crash), (5678, 1234, 6))
        self.assertEqual(AflRun.crash_position(Path("id:000000,orig:x")), (None, None, None))


class CorpusWriterTest(unittest.TestCase):
    def test_never_overwrites(self):
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            grown = tmp / "grown"
            (tmp / "a").write_bytes(b"one")
            (tmp / "b").write_bytes(b"two")
            first = corpus._store_new([tmp / "a"], grown)
            self.assertEqual(len(first), 1)
            existing = grown / first[0]
            stat = existing.stat()
            again = corpus._store_new([tmp / "a", tmp / "b"], grown)
            self.assertEqual(len(again), 1)
            self.assertEqual(existing.stat().st_mtime_ns, stat.st_mtime_ns)
            self.assertEqual(sorted(p.read_bytes() for p in grown.iterdir()), [b"one", b"two"])


class PlotTest(unittest.TestCase):
    def test_png(self):
        if interpreter() is None:
            self.skipTest("python3-matplotlib is not installed")
        with tempfile.TemporaryDirectory() as tmp:
            series = Path(tmp) / "timeseries.json"
            samples = [{"seconds": s, "executions": 100 * s, "exec_per_second": 100,
                        "coverage": 10 + s, "corpus": s, "crash_files": s // 2,
                        "bugs": min(s // 3, 2)} for s in range(10)]
            series.write_text(json.dumps({"samples": samples}))
            out = Path(tmp) / "progress.png"
            self.assertTrue(draw(series, out, "test"))
            self.assertEqual(out.read_bytes()[:8], b"\x89PNG\r\n\x1a\n")


class CommandLineTest(unittest.TestCase):
    def usage_error(self, *argv):
        result = subprocess.run([sys.executable, str(SCRIPT), "--root", str(ROOT), *argv],
                                capture_output=True, text=True)
        self.assertEqual(result.returncode, 2, result.stderr)
        self.assertEqual(len(result.stderr.strip().splitlines()), 1, result.stderr)
        self.assertTrue(result.stderr.startswith("reservoir fuzz: "), result.stderr)
        return result.stderr

    def test_usage_errors(self):
        self.usage_error("--time", "0")
        self.usage_error("--runs", "-1")
        self.usage_error("--no-new-coverage", "-5")
        self.assertIn("unknown target", self.usage_error("--targets", "nope_fuzzer"))
        self.assertIn("unknown plant", self.usage_error("--plant", "nope"))
        self.usage_error("--bogus")
        self.assertIn("--plant", self.usage_error("--update-corpus", "--plant", "wrong_buddy"))
        with tempfile.TemporaryDirectory() as tmp:
            self.assertIn("campaign.json", self.usage_error("--resume", tmp))
            (Path(tmp) / "campaign.json").write_text(json.dumps(
                {"options": {"targets": ["slab_fuzzer"], "engine": "libfuzzer"}}))
            self.assertIn("cannot change", self.usage_error("--resume", tmp, "--engine", "afl"))

    def test_adapter_usage_errors(self):
        example = str(ROOT / "examples/reserve2007/reserve2007.c")
        self.assertIn("needs --adapter", self.usage_error("--adapter-define", "X"))
        self.assertIn("needs --adapter", self.usage_error("--lockstep"))
        self.assertIn("does not exist", self.usage_error("--adapter", "/nonexistent.c"))
        self.assertIn("neither", self.usage_error("--adapter", str(ROOT / "README.md")))
        self.assertIn("NAME or NAME=VALUE",
                      self.usage_error("--adapter", example, "--adapter-define", "A B"))
        self.assertIn("unknown choice", self.usage_error(
            "--adapter", example, "--lockstep", "--lockstep-allow", "bogus"))
        self.assertIn("needs --lockstep", self.usage_error(
            "--adapter", example, "--lockstep-allow", "estimator"))
        self.assertIn("--adapter", self.usage_error("--adapter", example,
                                                    "--update-corpus"))

    def test_adapter_build_dir_and_store(self):
        from reservoir_campaign import builds, cli
        example = str(ROOT / "examples/reserve2007/reserve2007.c")
        one = cli.parse_args(["--adapter", example, "--adapter-define",
                              "RSV2007_CHARGE_POW2"], ROOT)
        same = cli.parse_args(["--adapter", example, "--adapter-define",
                               "RSV2007_CHARGE_POW2"], ROOT)
        other = cli.parse_args(["--adapter", example], ROOT)
        self.assertEqual(one.adapter_slug, same.adapter_slug)
        self.assertNotEqual(one.adapter_slug, other.adapter_slug)
        self.assertTrue(one.adapter_slug.startswith("reserve2007-"))
        self.assertIn(one.adapter_slug, str(one.store))
        directory = builds.build_dir_of(ROOT, "libfuzzer-asan", None,
                                        builds.adapter_of(one))
        self.assertEqual(directory.name, f"libfuzzer-asan-adapter-{one.adapter_slug}")

    def test_help(self):
        result = subprocess.run([sys.executable, str(SCRIPT), "--help"],
                                capture_output=True, text=True)
        self.assertEqual(result.returncode, 0)
        for flag in ("--stop-on-first", "--no-new-coverage", "--resume", "--update-corpus",
                     "--store", "--adapter", "--adapter-define", "--lockstep"):
            self.assertIn(flag, result.stdout)


if __name__ == "__main__":
    unittest.main()
