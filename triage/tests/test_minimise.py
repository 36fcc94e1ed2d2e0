"""minimise: delta debugging against a scripted replayer (the logic), and
against the real reservoir-replay (RESERVOIR_REPLAY) on a program that
crashes on the default build."""
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
ROOT = os.path.dirname(os.path.dirname(HERE))

from reservoir_triage import minimise as mn  # noqa: E402
from reservoir_triage import program_text as pt  # noqa: E402
from reservoir_triage.replay import Outcome  # noqa: E402
from reservoir_triage.signature import Signature  # noqa: E402

HEAD = """# reservoir program v1
config normal_pages=1024 highmem_pages=256 max_order=8 min_free_kbytes=64 nr_cpus=4 slab_policy=page_tag estimator=exact audit=full
faults mode=random seed=7 probability_ppm=1000 fail_nth=3 sites=page_alloc
"""


class ScriptedReplayer:
    """Crashes as `KEY` when the program has a kmalloc of size >= 100
    followed later by a kfree; as `OTHER` when it has a kfree but no such
    kmalloc before it."""
    KEY, OTHER = "v1:test:a", "v1:test:b"

    def __init__(self):
        self.calls = 0

    def run_text(self, text):
        self.calls += 1
        program = pt.parse(text)
        seen_big = False
        key = None
        for op in program.ops:
            if op.name == "kmalloc" and op.args["size"] >= 100:
                seen_big = True
            if op.name == "kfree":
                key = self.KEY if seen_big else self.OTHER
                break
        sig = Signature(key) if key else None
        return Outcome("", 0 if key is None else -6, False,
                       object() if key else None, sig)


def program_with_noise():
    ops = []
    for i in range(30):
        ops.append(f"alloc_pages order={i % 4} gfp=KERNEL|ZERO cpu={i % 4}")
    ops.append("kmalloc size=3000 gfp=KERNEL|NOWARN cpu=2")
    ops += ["audit", "nop"] * 10
    ops.append("kfree obj=7")
    ops += ["release_pressure"] * 5
    return pt.parse(HEAD + "\n".join(ops) + "\n")


class ScriptedTest(unittest.TestCase):
    def test_reduces_to_the_two_needed_operations(self):
        replayer = ScriptedReplayer()
        m = mn.Minimiser(replayer, ScriptedReplayer.KEY)
        best, exhausted = m.run(program_with_noise())
        self.assertFalse(exhausted)
        self.assertEqual([op.to_text() for op in best.ops],
                         ["kmalloc size=100 gfp=0 cpu=0", "kfree obj=0"])
        # Header fields back to their defaults, faults dropped.
        self.assertEqual(best.header, pt.default_header())
        self.assertEqual(m.replays, replayer.calls)

    def test_keeps_what_slipped_and_never_follows_it(self):
        m = mn.Minimiser(ScriptedReplayer(), ScriptedReplayer.KEY)
        best, _ = m.run(program_with_noise())
        self.assertIn(ScriptedReplayer.OTHER, m.slipped)
        self.assertEqual(mn.Minimiser(ScriptedReplayer(),
                                      ScriptedReplayer.KEY).test(best), True)
        slipped = pt.parse(m.slipped[ScriptedReplayer.OTHER])
        self.assertNotIn("kmalloc", [op.name for op in slipped.ops
                                     if op.args.get("size", 0) >= 100])

    def test_deterministic(self):
        a, _ = mn.Minimiser(ScriptedReplayer(), ScriptedReplayer.KEY).run(
            program_with_noise())
        b, _ = mn.Minimiser(ScriptedReplayer(), ScriptedReplayer.KEY).run(
            program_with_noise())
        self.assertEqual(a.to_text(), b.to_text())

    def test_parallel_replays_give_the_same_program(self):
        one, _ = mn.Minimiser(ScriptedReplayer(), ScriptedReplayer.KEY).run(
            program_with_noise())
        two, _ = mn.Minimiser(ScriptedReplayer(), ScriptedReplayer.KEY,
                              jobs=2).run(program_with_noise())
        self.assertEqual(one.to_text(), two.to_text())

    def test_budget_keeps_the_best_so_far(self):
        m = mn.Minimiser(ScriptedReplayer(), ScriptedReplayer.KEY,
                         max_replays=5)
        best, exhausted = m.run(program_with_noise())
        self.assertTrue(exhausted)
        self.assertEqual(m.replays, 5)
        self.assertTrue(mn.Minimiser(ScriptedReplayer(),
                                     ScriptedReplayer.KEY).test(best))

    def test_annotate_keeps_the_version_line_first(self):
        text = mn.annotate(HEAD, ["a", "b"])
        self.assertTrue(text.startswith("# reservoir program v1\n# a\n# b\n"))
        self.assertEqual(pt.parse(text), pt.parse(HEAD))


REPLAY = os.environ.get("RESERVOIR_REPLAY")
EXAMPLE = os.path.join(ROOT, "docs", "examples", "estimator-2n-plus-m.txt")


@unittest.skipUnless(REPLAY, "RESERVOIR_REPLAY is not set")
class RealReplayTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="triage-minimise-test-")

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def triage(self, *args):
        build = os.path.dirname(os.path.dirname(os.path.dirname(REPLAY)))
        return subprocess.run(
            [sys.executable, os.path.join(ROOT, "triage", "reservoir-triage"),
             *args[:1], "--build", build, *args[1:]],
            capture_output=True, text=True)

    def test_minimises_and_still_reproduces_deterministically(self):
        with open(EXAMPLE, "rb") as f:
            before = f.read()
        outs = []
        for n in range(2):
            out = os.path.join(self.tmp, f"out{n}")
            p = self.triage("minimise", EXAMPLE, "--out", out)
            self.assertEqual(p.returncode, 0, p.stderr)
            with open(os.path.join(out, "minimised.txt")) as f:
                outs.append(f.read())
        self.assertEqual(outs[0], outs[1])
        with open(EXAMPLE, "rb") as f:
            self.assertEqual(f.read(), before)   # input untouched
        program = pt.parse(outs[0])
        original = pt.parse(before.decode())
        self.assertLess(len(program.ops), len(original.ops))
        p = self.triage("reproduce", os.path.join(self.tmp, "out0",
                                                  "minimised.txt"))
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("reproduces 3/3", p.stdout)
        self.assertIn("guarantee-violation", p.stdout)
        # The output directory is never reused.
        p = self.triage("minimise", EXAMPLE, "--out",
                        os.path.join(self.tmp, "out0"))
        self.assertEqual(p.returncode, 2)
        self.assertEqual(len(p.stderr.strip().split("\n")), 1)

    def test_a_clean_program_is_refused(self):
        clean = os.path.join(ROOT, "docs", "examples", "estimator-exact.txt")
        p = self.triage("minimise", clean, "--out",
                        os.path.join(self.tmp, "x"))
        self.assertEqual(p.returncode, 2)
        self.assertIn("does not crash", p.stderr)


if __name__ == "__main__":
    unittest.main()
