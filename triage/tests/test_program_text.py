"""program_text: the Python reader/writer of the text program form.

Properties (Hypothesis, derandomized and bounded by examples):
  - any text either parses or raises ProgramTextError, nothing else;
  - a parsed program prints canonically and reparses to itself;
  - a program built from the table prints, parses back and prints the
    same text.
Against the C++ side: every seed in corpus/*/seeds/ and every plant
trigger prints exactly as `reservoir-replay --print` prints it
(RESERVOIR_REPLAY names the binary; without it that test is skipped).
"""
import glob
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# Hypothesis keeps a cache; keep it out of the source tree.
os.environ.setdefault("HYPOTHESIS_STORAGE_DIRECTORY", os.path.join(
    os.environ.get("TMPDIR", "/tmp"), "reservoir-triage-hypothesis"))

from hypothesis import given, settings, strategies as st  # noqa: E402

from reservoir_triage import program_text as pt  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
BOUNDED = settings(derandomize=True, max_examples=400, deadline=None,
                   database=None)

EXAMPLE = """# reservoir program v1
config normal_pages=256 highmem_pages=0 max_order=8 min_free_kbytes=default nr_cpus=1 slab_policy=page_tag estimator=exact audit=cheap
faults mode=none seed=0 probability_ppm=0 fail_nth=1 sites=none
kmalloc size=100 gfp=KERNEL|ZERO cpu=1
kfree obj=0
"""


def header_strategy():
    def build(normal, high, order_choice, min_free, cpus, policy, est,
              audit, mode, seed, ppm, nth, sites):
        largest = pt.max_order_for(normal, high)
        return {"normal_pages": normal, "highmem_pages": high,
                "max_order": pt.MIN_MAX_ORDER
                + order_choice % (largest - pt.MIN_MAX_ORDER + 1),
                "min_free_kbytes": min_free, "nr_cpus": cpus,
                "slab_policy": policy, "estimator": est, "audit": audit,
                "mode": mode, "seed": seed, "probability_ppm": ppm,
                "fail_nth": nth, "sites": sites}
    return st.builds(
        build, st.sampled_from(pt.NORMAL_PAGES),
        st.sampled_from(pt.HIGHMEM_PAGES), st.integers(0, 10),
        st.sampled_from(pt.MIN_FREE_KBYTES), st.integers(1, 4),
        st.sampled_from(pt.SLAB_POLICIES), st.sampled_from(pt.ESTIMATORS),
        st.sampled_from(pt.AUDITS), st.sampled_from(pt.FAULT_MODES),
        st.integers(0, 2**32 - 1), st.sampled_from(pt.PROBABILITY_PPM),
        st.integers(1, pt.MAX_FAIL_NTH), st.integers(0, pt.ALL_SITES_MASK))


def arg_strategy(kind):
    if kind == "align":
        return st.sampled_from([1, 2, 4, 8, 16, 32, 64, 128])
    lo, hi = pt.ARG_RANGES[kind]
    return st.integers(lo, hi)


@st.composite
def op_strategy(draw):
    name = draw(st.sampled_from(sorted(pt.OPS)))
    return pt.Op(name, {key: draw(arg_strategy(kind))
                        for key, kind in pt.OPS[name]})


program_strategy = st.builds(
    lambda h, ops: pt.Program(h, ops), header_strategy(),
    st.lists(op_strategy(), max_size=20))

# Text made of the format's own words, so that mutations get deep into
# the parser rather than stopping at line 1.
WORDS = ["config", "faults", "kmalloc", "kfree", "audit", "nop",
         "alloc_pages", "fail_next", "#", "# reservoir program v1",
         "# reservoir program v2", "normal_pages=256", "highmem_pages=0",
         "max_order=8", "min_free_kbytes=default", "nr_cpus=1",
         "slab_policy=page_tag", "estimator=exact", "audit=cheap",
         "mode=none", "seed=0", "probability_ppm=0", "fail_nth=1",
         "sites=none", "size=100", "gfp=KERNEL|ZERO", "cpu=1", "obj=0",
         "order=11", "gfp=", "=", "0x10", "site=page_alloc", "skip=3",
         "\n", "\t", " ", "\r", "size=0x", "cpu=-1", "sites=all|x"]
word_text = st.lists(st.sampled_from(WORDS), max_size=40).map(" ".join)


class PropertyTest(unittest.TestCase):
    @BOUNDED
    @given(st.text(max_size=300))
    def test_any_text_parses_or_is_a_text_error(self, text):
        self._parse_or_error(text)

    @BOUNDED
    @given(word_text)
    def test_format_words_parse_or_are_a_text_error(self, text):
        self._parse_or_error(text)

    @BOUNDED
    @given(program_strategy, st.integers(0, 2000), st.text(max_size=8))
    def test_mutated_canonical_text_parses_or_fails_cleanly(
            self, program, where, insert):
        text = program.to_text()
        where %= len(text) + 1
        self._parse_or_error(text[:where] + insert + text[where:])

    def _parse_or_error(self, text):
        try:
            program = pt.parse(text)
        except pt.ProgramTextError as e:
            self.assertGreaterEqual(e.line, 1)
            self.assertTrue(str(e).startswith(f"line {e.line}: "))
            self.assertNotIn("\n", str(e))
            return
        canonical = program.to_text()
        self.assertEqual(pt.parse(canonical), program)
        self.assertEqual(pt.parse(canonical).to_text(), canonical)

    @BOUNDED
    @given(program_strategy)
    def test_programs_round_trip(self, program):
        text = program.to_text()
        again = pt.parse(text)
        self.assertEqual(again, program)
        self.assertEqual(again.to_text(), text)


class ExampleTest(unittest.TestCase):
    def test_example_is_canonical(self):
        program = pt.parse(EXAMPLE)
        self.assertEqual(program.to_text(), EXAMPLE)
        self.assertEqual([op.name for op in program.ops], ["kmalloc", "kfree"])
        self.assertEqual(program.ops[0].args,
                         {"size": 100, "gfp": 8 | 64, "cpu": 1})
        self.assertEqual(program.op_lines, [4, 5])

    def test_aliases_print_canonically(self):
        text = EXAMPLE.replace("gfp=KERNEL|ZERO", "gfp=ZERO|DIRECT_RECLAIM|0x4") \
                      .replace("size=100", "size=0x64")
        self.assertIn("kmalloc size=100 gfp=KERNEL|HIGH|ZERO cpu=1",
                      pt.parse(text).to_text())

    def test_documented_errors(self):
        cases = {
            "kmaloc size=1": "line 4: unknown op 'kmaloc'",
            "kmalloc size=1 gfp=0": "line 4: kmalloc: missing field 'cpu'",
            "kmalloc size gfp=0 cpu=0":
                "line 4: kmalloc: bad field 'size' (expected key=value)",
            "kfree page=0": "line 4: kfree: unknown field 'page'",
            "alloc_pages order=11 gfp=0 cpu=0":
                "line 4: alloc_pages: order=11 out of range (0..10)",
            "kfree obj=x1":
                "line 4: kfree: bad value 'x1' for 'obj' (expected a number)",
        }
        head = "\n".join(EXAMPLE.split("\n")[:3]) + "\n"
        for line, message in cases.items():
            with self.assertRaises(pt.ProgramTextError) as caught:
                pt.parse(head + line + "\n")
            self.assertEqual(str(caught.exception), message)
        with self.assertRaises(pt.ProgramTextError) as caught:
            pt.parse(EXAMPLE.replace("max_order=8", "max_order=10"))
        self.assertEqual(str(caught.exception),
                         "line 2: config: max_order=10 out of range (4..8)")
        with self.assertRaises(pt.ProgramTextError) as caught:
            pt.parse("\n".join(EXAMPLE.split("\n")[:2]) + "\n\n\n")
        self.assertEqual(str(caught.exception),
                         "line 5: missing 'faults' line")
        with self.assertRaises(pt.ProgramTextError) as caught:
            pt.parse(EXAMPLE.replace("v1", "v2"))
        self.assertEqual(caught.exception.line, 1)

    def test_remote_free_cpu_is_optional(self):
        head = "\n".join(EXAMPLE.split("\n")[:3]) + "\n"
        program = pt.parse(head + "kfree obj=1\ncache_free obj=0 cpu=own\n"
                           "kfree_reserve grant=2 cpu=3\n"
                           "cache_free_reserve grant=0 cpu=0\n")
        self.assertEqual([op.args["cpu"] for op in program.ops], [0, 0, 4, 1])
        self.assertEqual(program.to_text(), head + "kfree obj=1\n"
                         "cache_free obj=0\nkfree_reserve grant=2 cpu=3\n"
                         "cache_free_reserve grant=0 cpu=0\n")
        cases = {
            "kfree obj=0 cpu=4": "line 4: kfree: cpu=4 out of range (own, 0..3)",
            "cache_free obj=0 cpu=x":
                "line 4: cache_free: bad value 'x' for 'cpu' (expected own, 0..3)",
            "free_pages page=0 cpu=1": "line 4: free_pages: unknown field 'cpu'",
            "kfree cpu=1": "line 4: kfree: missing field 'obj'",
        }
        for line, message in cases.items():
            with self.assertRaises(pt.ProgramTextError) as caught:
                pt.parse(head + line + "\n")
            self.assertEqual(str(caught.exception), message)

    def test_too_many_operations(self):
        with self.assertRaises(pt.ProgramTextError) as caught:
            pt.parse(EXAMPLE + "nop\n" * 255)
        self.assertEqual(caught.exception.line, 4 + 256)
        self.assertIn("too many operations", str(caught.exception))

    def test_non_text_is_an_error(self):
        with self.assertRaises(pt.ProgramTextError):
            pt.parse(b"# reservoir program v1")


def replay_binary():
    return os.environ.get("RESERVOIR_REPLAY")


def printed_programs(replay, paths):
    """{path: the program text reservoir-replay --print printed}."""
    out = subprocess.run([replay, "--print", *paths], capture_output=True,
                         text=True, check=True).stdout
    programs, current, path = {}, [], None
    for line in out.split("\n"):
        if line.startswith("== "):
            path = line[3:].rsplit(" (", 1)[0]
            current = []
        elif line.startswith("   ok: ") and path is not None:
            programs[path] = "".join(current)
            path = None
        elif path is not None:
            current.append(line + "\n")
    return programs


@unittest.skipUnless(replay_binary(), "RESERVOIR_REPLAY is not set")
class AgainstReplayTest(unittest.TestCase):
    def test_seeds_print_as_replay_prints_them(self):
        seeds = sorted(glob.glob(os.path.join(ROOT, "corpus", "*", "seeds",
                                              "*")))
        self.assertGreater(len(seeds), 10)
        printed = printed_programs(replay_binary(), seeds)
        self.assertEqual(sorted(printed), seeds)
        for path in seeds:
            with open(path, "rb") as f:
                data = f.read()
            self.assertTrue(pt.is_text_program(data), path)
            program = pt.parse(data.decode())
            self.assertEqual(program.to_text(), printed[path], path)
            self.assertEqual(pt.parse(printed[path]), program, path)


if __name__ == "__main__":
    unittest.main()
