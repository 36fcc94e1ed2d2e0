"""trace, report, sarif and run: the trace reader, the bug pages, the
SARIF structure, and `run` end to end on a directory of crashes
(RESERVOIR_REPLAY: a build's reservoir-replay; the end-to-end tests are
skipped without it)."""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
ROOT = os.path.dirname(os.path.dirname(HERE))

from reservoir_triage import report, sarif, trace  # noqa: E402
from reservoir_triage import run as run_mod  # noqa: E402
from reservoir_triage.record import CrashRecord, Frame  # noqa: E402
from reservoir_triage.signature import Signature  # noqa: E402

TRACE = """== x.txt (3 operations)
#0 reserve_create parent=0 -> ok (injected so far: 0)
   @zone name=Normal free=256 min=32 low=40 high=48 strict=0 pfmemalloc=0
   @reserve index=0 parent=-1 pages=0 limit=0 usage=0
   @reserve index=1 parent=0 pages=0 limit=0 usage=0
#1 pressure pages=300 gfp=0 cpu=0 -> failed (injected so far: 1)
   @zone name=Normal free=30 min=32 low=40 high=48 strict=2 pfmemalloc=0
   @zone name=HighMem free=0 min=1 low=2 high=3 strict=0 pfmemalloc=0
   @reserve index=0 parent=-1 pages=2 limit=8192 usage=4096
RESERVOIR BUG: slab-mixing: slab.take_object/cpu-freelist
"""


def sample_bug():
    record = CrashRecord(origin="reservoir", crash_type="slab-mixing",
                         title="RESERVOIR BUG: slab-mixing: "
                               "slab.take_object/cpu-freelist",
                         place="slab.take_object/cpu-freelist",
                         detail="cache kmalloc-8k: <b>unentitled</b>",
                         operation="kmalloc size=8192 gfp=0 cpu=0",
                         operation_index=2)
    steps = [s.to_json() for s in trace.parse_trace(TRACE)]
    sig = Signature("v1:reservoir:slab-mixing:slab.take_object/cpu-freelist",
                    1, "class and place", ["v0:slab-mixing"])
    return report.bug_data(sig, record, "# reservoir program v1\n", steps,
                           [{"path": "a/slab_fuzzer/crashes/crash-1",
                             "target": "slab_fuzzer",
                             "engine": "libfuzzer"},
                            {"path": "b/id:000001", "target": "slab_fuzzer",
                             "engine": "afl"}], 1.0, "new", 12, 5)


class TraceTest(unittest.TestCase):
    def test_steps_and_levels(self):
        steps = trace.parse_trace(TRACE)
        self.assertEqual([s.index for s in steps], [0, 1])
        self.assertEqual(steps[1].outcome, "failed")
        self.assertEqual(steps[1].injected, 1)
        self.assertEqual(steps[1].zones[0], {
            "name": "Normal", "free": 30, "min": 32, "low": 40, "high": 48,
            "strict": 2, "pfmemalloc": 0})
        self.assertEqual(len(steps[1].zones), 2)
        self.assertEqual(steps[0].reserves[1]["parent"], 0)
        self.assertEqual(steps[1].reserves[0]["usage"], 4096)

    def test_garbage_gives_no_steps(self):
        self.assertEqual(trace.parse_trace("\x00#x -> ok\n   @zone a=b"), [])


class PagesTest(unittest.TestCase):
    def test_markdown(self):
        md = report.render_markdown(sample_bug())
        self.assertIn("`v1:reservoir:slab-mixing:slab.take_object/"
                      "cpu-freelist` (new)", md)
        self.assertIn("| 1 | `pressure pages=300 gfp=0 cpu=0` | failed | "
                      "Normal: 30 free (min 32 / low 40 / high 48, strict 2)",
                      md)
        self.assertIn("**bug reported**", md)
        self.assertIn("engine afl", md)
        self.assertIn("12 -> 5", md)

    def test_html_is_self_contained_and_escaped(self):
        page = report.render_html(sample_bug())
        self.assertIn("<svg", page)
        self.assertIn("&lt;b&gt;unentitled&lt;/b&gt;", page)
        self.assertNotIn("<b>unentitled</b>", page)
        # Nothing is loaded from anywhere: no src/href attributes, no
        # url(), no scheme other than the SVG namespace.
        self.assertNotRegex(page, r"\b(src|href)\s*=")
        self.assertNotIn("url(", page)
        schemes = re.findall(r"https?://[^\s\"'<]+", page)
        self.assertEqual(set(schemes), {"http://www.w3.org/2000/svg"})

    def test_json_round_trips(self):
        d = sample_bug()
        self.assertEqual(json.loads(json.dumps(d)), d)
        self.assertEqual(d["targets"], ["slab_fuzzer"])
        self.assertEqual(d["engines"], ["afl", "libfuzzer"])


class DefaultBuildTest(unittest.TestCase):
    """A planted run is replayed on the shared runtime-plant build with its
    plant switched on, else on an old one-plant build, else the default."""

    def setUp(self):
        self.root = tempfile.mkdtemp()
        self.run_dir = os.path.join(self.root, "run")
        os.makedirs(self.run_dir)

    def tearDown(self):
        shutil.rmtree(self.root)

    def build(self, name):
        path = os.path.join(self.root, "build", name)
        os.makedirs(path)
        return path

    def summary(self, data):
        with open(os.path.join(self.run_dir, "summary.json"), "w") as f:
            json.dump(data, f)

    def test_unplanted_run_uses_the_default_build(self):
        self.summary({"plant": None})
        build, plant = run_mod.default_build(self.root, self.run_dir)
        self.assertEqual(build, os.path.join(self.root, "build",
                                             "libfuzzer-asan"))
        self.assertIsNone(plant)

    def test_planted_run_prefers_the_runtime_build_with_its_plant(self):
        self.summary({"plant": "wrong_buddy"})
        legacy = self.build("libfuzzer-asan-plant-wrong_buddy")
        self.assertEqual(run_mod.default_build(self.root, self.run_dir),
                         (legacy, None))
        runtime = self.build("libfuzzer-asan-plant-runtime")
        self.assertEqual(run_mod.default_build(self.root, self.run_dir),
                         (runtime, "wrong_buddy"))

    def test_damaged_summary_is_no_plant(self):
        with open(os.path.join(self.run_dir, "summary.json"), "wb") as f:
            f.write(b"\xff{not json")
        self.build("libfuzzer-asan-plant-runtime")
        self.assertIsNone(run_mod.default_build(self.root, self.run_dir)[1])


class SarifTest(unittest.TestCase):
    def bugs(self):
        d = sample_bug()
        asan = dict(d, **{"class": "Heap-use-after-free", "origin": "asan",
                          "signature": "v1:asan:uaf:Foo", "alt_keys": [],
                          "place": None, "frames": [
                              Frame(0, "__interceptor_free",
                                    "/usr/lib/llvm-14/compiler-rt/asan.cc",
                                    10, kind="runtime").to_json(),
                              Frame(1, "reservoir::Foo",
                                    os.path.join(ROOT, "allocator", "src",
                                                 "model.cc"), 42,
                                    kind="project").to_json()]})
        return [d, asan]

    def test_structure_and_locations(self):
        doc = sarif.build_sarif(ROOT, self.bugs())
        self.assertEqual(sarif.check_sarif(doc), [])
        results = doc["runs"][0]["results"]
        self.assertEqual([r["ruleId"] for r in results],
                         ["slab-mixing", "Heap-use-after-free"])
        loc = results[0]["locations"][0]["physicalLocation"]
        path = os.path.join(ROOT, loc["artifactLocation"]["uri"])
        with open(path) as f:
            line = f.read().split("\n")[loc["region"]["startLine"] - 1]
        self.assertIn("ReportBug(", line)
        loc = results[1]["locations"][0]["physicalLocation"]
        self.assertEqual(loc["artifactLocation"]["uri"],
                         "allocator/src/model.cc")
        self.assertEqual(loc["region"]["startLine"], 42)
        self.assertEqual(results[0]["partialFingerprints"]
                         ["reservoirSignature/v1"], self.bugs()[0]["signature"])

    def test_golden_sanitizer_logs_point_at_project_lines(self):
        from reservoir_triage.parse import parse_log
        from reservoir_triage.signature import sign
        golden = os.path.join(HERE, "golden")
        bugs = []
        for name in ("sanitizer_asan_heap_use_after_free",
                     "sanitizer_ubsan_signed_overflow",
                     "reservoir_wrong_buddy_replay"):
            with open(os.path.join(golden, name + ".log"),
                      errors="replace") as f:
                record = parse_log(f.read())
            sig = sign(record)
            bugs.append({"signature": sig.key, "alt_keys": sig.alt_keys,
                         "class": record.crash_type, "origin": record.origin,
                         "place": record.place, "first_line": record.title,
                         "status": "new", "explanation": sig.explanation,
                         "frames": [f.to_json() for f in record.frames]})
        doc = sarif.build_sarif(ROOT, bugs)
        self.assertEqual(sarif.check_sarif(doc), [])
        where = [(r["locations"][0]["physicalLocation"]["artifactLocation"]
                  ["uri"], r["locations"][0]["physicalLocation"]["region"]
                  ["startLine"]) for r in doc["runs"][0]["results"]]
        self.assertEqual(where[0], ("triage/tests/golden/src/crashers.cc",
                                    24))
        self.assertEqual(where[1][0], "triage/tests/golden/src/crashers.cc")
        self.assertTrue(where[2][0].startswith("allocator/src/"))

    def test_checker_finds_problems(self):
        doc = sarif.build_sarif(ROOT, self.bugs())
        bad = json.loads(json.dumps(doc))
        bad["version"] = "2.0"
        del bad["runs"][0]["results"][0]["message"]
        bad["runs"][0]["results"][1]["locations"][0]["physicalLocation"][
            "artifactLocation"]["uri"] = "/usr/lib/compiler-rt/x.cc"
        problems = sarif.check_sarif(bad)
        self.assertEqual(len(problems), 3, problems)
        self.assertEqual(sarif.check_sarif([]), ["the log is not an object"])


class CollectTest(unittest.TestCase):
    def test_run_directory_layouts(self):
        tmp = tempfile.mkdtemp(prefix="triage-collect-")
        try:
            paths = ["slab_fuzzer/crashes/crash-aa",
                     "slab_fuzzer/afl/main/crashes/id:000000,sig:06",
                     "slab_fuzzer/afl/main/crashes/README.txt",
                     "slab_fuzzer/corpus/abc", "slab_fuzzer/fuzz.log",
                     "summary.json", "triage/bugs.json"]
            for p in paths:
                os.makedirs(os.path.dirname(os.path.join(tmp, p)) or tmp,
                            exist_ok=True)
                with open(os.path.join(tmp, p), "w") as f:
                    f.write("x")
            found = run_mod.collect_crashes(tmp, os.path.join(tmp, "triage"))
            self.assertEqual([os.path.relpath(p, tmp) for p in found], [
                "slab_fuzzer/afl/main/crashes/id:000000,sig:06",
                "slab_fuzzer/crashes/crash-aa"])
            self.assertEqual([run_mod.engine_of(p) for p in found],
                             ["afl", "libfuzzer"])
            flat = tempfile.mkdtemp(dir=tmp)
            for name in ("b.txt", "a", "notes.md"):
                with open(os.path.join(flat, name), "w") as f:
                    f.write("x")
            self.assertEqual([os.path.basename(p) for p in
                              run_mod.collect_crashes(flat)], ["a", "b.txt"])
        finally:
            shutil.rmtree(tmp)


REPLAY = os.environ.get("RESERVOIR_REPLAY")


@unittest.skipUnless(REPLAY, "RESERVOIR_REPLAY is not set")
class RealTraceTest(unittest.TestCase):
    def test_replay_trace_has_levels_after_every_step(self):
        fd, program = tempfile.mkstemp(suffix=".txt")
        with os.fdopen(fd, "w") as f:
            f.write("# reservoir program v1\n"
                    "config normal_pages=256 highmem_pages=0 max_order=8 "
                    "min_free_kbytes=default nr_cpus=1 slab_policy=page_tag "
                    "estimator=exact audit=full\n"
                    "faults mode=none seed=0 probability_ppm=0 fail_nth=1 "
                    "sites=none\n"
                    "reserve_create parent=0\nreserve_create parent=1\n"
                    "reserve_set_pages res=2 pages=2\n"
                    "reserve_charge res=2 bytes=4096\n"
                    "reserve_uncharge charge=0\naudit\n")
        try:
            out = subprocess.run([REPLAY, "--trace", program],
                                 capture_output=True, text=True, check=True)
        finally:
            os.unlink(program)
        steps = trace.parse_trace(out.stdout)
        self.assertEqual([s.index for s in steps], list(range(len(steps))))
        self.assertGreaterEqual(len(steps), 5)
        for s in steps:
            self.assertEqual([z["name"] for z in s.zones], ["Normal"])
            z = s.zones[0]
            self.assertLessEqual(z["min"], z["low"])
            self.assertLessEqual(z["low"], z["high"])
            self.assertEqual(s.reserves[0]["index"], 0)
            self.assertEqual(s.reserves[0]["parent"], -1)
        # reserve_set_pages res=2 pages=2 (step 2): the strict reserve and
        # the chain up to the root carry the two pages.
        self.assertEqual(steps[2].zones[0]["strict"], 2)
        self.assertEqual([r["pages"] for r in steps[2].reserves], [2, 2, 2])
        self.assertEqual([r["parent"] for r in steps[2].reserves],
                         [-1, 0, 1])


@unittest.skipUnless(REPLAY, "RESERVOIR_REPLAY is not set")
class RunEndToEndTest(unittest.TestCase):
    """`run` on a flat directory: two copies of a program that crashes on
    the default build (one bug), the plant triggers (clean there)."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="triage-run-test-")
        self.crashes = os.path.join(self.tmp, "crashes")
        os.makedirs(self.crashes)
        example = os.path.join(ROOT, "docs", "examples",
                               "estimator-2n-plus-m.txt")
        shutil.copy(example, os.path.join(self.crashes, "first.txt"))
        with open(example) as f:
            text = f.read()
        with open(os.path.join(self.crashes, "second.txt"), "w") as f:
            f.write(text.replace("\n", "\n# a comment\n", 3) + "audit\n")
        shutil.copy(os.path.join(ROOT, "corpus", "plants", "wrong_buddy.txt"),
                    self.crashes)
        self.build = os.path.dirname(os.path.dirname(os.path.dirname(REPLAY)))
        self.store = os.path.join(self.tmp, "store.json")

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def run_triage(self, out):
        return subprocess.run(
            [sys.executable, os.path.join(ROOT, "triage", "reservoir-triage"),
             "run", self.crashes, "--build", self.build, "--store",
             self.store, "--out", out, "--max-replays", "300"],
            capture_output=True, text=True)

    def test_groups_minimises_remembers(self):
        before = sorted(os.listdir(self.crashes))
        p = self.run_triage(os.path.join(self.tmp, "out1"))
        self.assertEqual(p.returncode, 0, p.stderr)
        with open(os.path.join(self.tmp, "out1", "bugs.json")) as f:
            doc = json.load(f)
        self.assertEqual(doc["schema"], "reservoir-triage-run/1")
        self.assertEqual(len(doc["bugs"]), 1)
        bug = doc["bugs"][0]
        self.assertEqual(set(bug), {
            "signature", "alt_keys", "class", "origin", "status",
            "fault_induced", "crashes", "targets", "engines",
            "reproduction_rate", "minimised", "ops_before", "ops_after",
            "html", "markdown", "first_line", "explanation"})
        self.assertEqual(bug["status"], "new")
        self.assertEqual(bug["class"], "guarantee-violation")
        self.assertEqual(len(bug["crashes"]), 2)
        self.assertEqual(bug["reproduction_rate"], 1.0)
        self.assertLessEqual(bug["ops_after"], bug["ops_before"])
        self.assertEqual([os.path.basename(p) for p in doc["no_crash"]],
                         ["wrong_buddy.txt"])
        for key in ("html", "markdown", "minimised"):
            self.assertTrue(os.path.isfile(bug[key]), key)
        with open(os.path.join(self.tmp, "out1", "results.sarif")) as f:
            self.assertEqual(sarif.check_sarif(json.load(f)), [])
        self.assertIn("1 bugs (1 new, 0 known)", p.stdout)
        self.assertEqual(sorted(os.listdir(self.crashes)), before)
        # Again with the same store: known, not new.
        p = self.run_triage(os.path.join(self.tmp, "out2"))
        self.assertEqual(p.returncode, 0, p.stderr)
        with open(os.path.join(self.tmp, "out2", "bugs.json")) as f:
            self.assertEqual(json.load(f)["bugs"][0]["status"], "known")
        # A used output directory is refused with one line.
        p = self.run_triage(os.path.join(self.tmp, "out2"))
        self.assertEqual(p.returncode, 2)
        self.assertEqual(len(p.stderr.strip().split("\n")), 1)


if __name__ == "__main__":
    unittest.main()
