"""regress: the regression case it writes (header, expect line, program),
names, never overwriting, the GoogleTest source. No build needed; the
plant round trip is triage.regress_plants (label plants)."""
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
ROOT = os.path.dirname(os.path.dirname(HERE))

from reservoir_triage import program_text as pt  # noqa: E402
from reservoir_triage import regress  # noqa: E402

MINIMISED = """# reservoir program v1
# minimised by reservoir triage from /somewhere/slab_fuzzer/crashes/crash-abc
# signature: v1:reservoir:slab-mixing:slab.take_object/cpu-freelist
# first line: RESERVOIR BUG: slab-mixing: slab.take_object/cpu-freelist
# ops: 25 -> 3
config normal_pages=256 highmem_pages=0 max_order=8 min_free_kbytes=default nr_cpus=1 slab_policy=page_tag estimator=exact audit=cheap
faults mode=none seed=0 probability_ppm=0 fail_nth=1 sites=none
pressure pages=256 gfp=0 cpu=0
set_pf_memalloc
kmalloc size=8192 gfp=0 cpu=0
"""


class RegressTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="triage-regress-test-")
        self.minimised = os.path.join(self.tmp, "minimised.txt")
        with open(self.minimised, "w") as f:
            f.write(MINIMISED)
        self.root = os.path.join(self.tmp, "root")
        os.makedirs(self.root)

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def regress(self, *args):
        return subprocess.run(
            [sys.executable, os.path.join(ROOT, "triage", "reservoir-triage"),
             "--root", self.root, "regress", self.minimised, *args],
            capture_output=True, text=True)

    def test_reads_what_minimise_wrote(self):
        program, info = regress.read_minimised(self.minimised)
        self.assertEqual(len(program.ops), 3)
        self.assertEqual(info["signature"],
                         "v1:reservoir:slab-mixing:slab.take_object/"
                         "cpu-freelist")
        self.assertEqual(regress.case_name(info["first_line"]),
                         "slab_mixing_slab_take_object_cpu_freelist")

    def test_writes_a_case_and_never_overwrites(self):
        p = self.regress("--target", "slab_fuzzer", "--gtest")
        self.assertEqual(p.returncode, 0, p.stderr)
        case, gtest = p.stdout.split("\n")[:2]
        self.assertEqual(os.path.dirname(case), os.path.join(
            self.root, "corpus", "slab_fuzzer", "regression"))
        with open(case) as f:
            text = f.read()
        lines = text.split("\n")
        self.assertEqual(lines[0], "# reservoir program v1")
        self.assertEqual(lines[1], "# expect: RESERVOIR BUG: slab-mixing: "
                                   "slab.take_object/cpu-freelist")
        self.assertIn("# signature: v1:reservoir:slab-mixing:", text)
        self.assertIn("origin: crash-abc", text)
        self.assertNotIn("/somewhere", text)   # no paths of this machine
        self.assertEqual(pt.parse(text), pt.parse(MINIMISED))
        self.assertTrue(all(len(l) <= 80 for l in lines if l.startswith("#")))
        self.assertNotIn("regression" + os.sep, gtest)
        with open(gtest) as f:
            source = f.read()
        self.assertIn("TEST(TriageRegression, SlabMixingSlabTakeObject"
                      "CpuFreelist)", source)
        self.assertIn('"kmalloc size=8192 gfp=0 cpu=0\\n"', source)
        # Again: refused, the file is untouched.
        p = self.regress("--target", "slab_fuzzer")
        self.assertEqual(p.returncode, 2)
        self.assertIn("already exists", p.stderr)
        with open(case) as f:
            self.assertEqual(f.read(), text)
        p = self.regress("--target", "slab_fuzzer", "--name", "other")
        self.assertEqual(p.returncode, 0, p.stderr)

    def test_bad_input_is_one_line(self):
        with open(self.minimised, "wb") as f:
            f.write(b"\x00\x01binary")
        p = self.regress("--target", "slab_fuzzer")
        self.assertEqual(p.returncode, 2)
        self.assertIn("not a text program", p.stderr)
        self.assertEqual(len(p.stderr.strip().split("\n")), 1)
        p = self.regress("--target", "nope")
        self.assertEqual(p.returncode, 2)


if __name__ == "__main__":
    unittest.main()
