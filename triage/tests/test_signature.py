#!/usr/bin/env python3
"""Signature rules beyond the golden logs: no input number in a key,
fault-induced crashes apart unless a replay without the faults shows the
same crash, version-0 keys as alternatives."""
import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from reservoir_triage.parse import parse_log  # noqa: E402
from reservoir_triage.signature import (faults_needed, program_without_faults,
                                        sign)  # noqa: E402

PROGRAM = """# reservoir program v1
config normal_pages=256 highmem_pages=0 max_order=8 min_free_kbytes=default nr_cpus=1 slab_policy=page_tag estimator=exact audit=cheap
faults mode=fail_nth seed=0 probability_ppm=0 fail_nth=3 sites=reserve_charge
reserve_create parent=0
fail_next site=reserve_charge skip=0
kmalloc size=96 gfp=KERNEL cpu=0
"""


def report(place, detail, injected, program=PROGRAM):
    faults = ("fault injection: no failure injected since reset\n"
              if not injected else
              "fault injection: 1 failure(s) injected since reset (0 oldest "
              "dropped from the log)\n  injected: fail_reserve_charge call 1 "
              "(context call 3, fail-nth): order=0 size=256 gfp=0 cache=- "
              "reserve=res-0 call_site=kmalloc_reserve\n")
    return (f"RESERVOIR BUG: slab-mixing: {place}\n"
            f"RESERVOIR DETAIL: {detail}\n{faults}"
            "fault config: seed=0\n"
            f"--- reservoir program (3 operations) ---\n{program}"
            "--- while executing operation #2: kmalloc size=96 gfp=KERNEL "
            "cpu=0 ---\nEND OF RESERVOIR BUG REPORT\n")


class SignatureTest(unittest.TestCase):
    def test_numbers_stay_out_of_the_key(self):
        a = parse_log(report("slab.take_object/cpu-freelist",
                             "cache kmalloc-64: pfn 12 (cpu 0)", False))
        b = parse_log(report("slab.take_object/cpu-freelist",
                             "cache kmalloc-8192: pfn 977 (cpu 3)", False))
        self.assertEqual(sign(a).key, sign(b).key)
        self.assertEqual(sign(a).alt_keys, sign(b).alt_keys)  # v0: N
        self.assertNotIn("12", sign(a).key)

    def test_places_tell_bugs_of_one_class_apart(self):
        a = parse_log(report("slab.take_object/cpu-freelist", "x", False))
        b = parse_log(report("slab.take_object/node-partial", "x", False))
        self.assertNotEqual(sign(a).key, sign(b).key)
        self.assertEqual(sign(a).alt_keys, sign(b).alt_keys)  # v0 merged them

    def test_program_without_faults(self):
        text = program_without_faults(PROGRAM)
        self.assertIn("faults mode=none", text)
        self.assertNotIn("fail_next", text)
        self.assertIn("kmalloc size=96", text)
        self.assertIsNone(program_without_faults(None))

    def test_incidental_faults_keep_the_fault_free_key(self):
        rec = parse_log(report("slab.take_object/cpu-freelist", "d", True))
        self.assertTrue(rec.fault_induced)
        self.assertTrue(sign(rec).key.endswith(":fault"))
        seen = []

        def replay(program):
            seen.append(program)
            return report("slab.take_object/cpu-freelist", "d2", False,
                          program)
        needed = faults_needed(rec, replay)
        self.assertIs(needed, False)
        self.assertNotIn("fail_next", seen[0])
        key = sign(rec, needed).key
        self.assertEqual(key, "v1:reservoir:slab-mixing:"
                              "slab.take_object/cpu-freelist")
        self.assertIn("incidental", sign(rec, needed).explanation)

    def test_needed_faults_keep_the_fault_key(self):
        rec = parse_log(report("slab.take_object/cpu-freelist", "d", True))
        for log in ("", report("slab.take_object/node-partial", "d", False),
                    report("slab.take_object/cpu-freelist", "d", True)):
            with self.subTest(log=log[:40]):
                needed = faults_needed(rec, lambda p: log)
                self.assertIs(needed, True)
                self.assertTrue(sign(rec, needed).key.endswith(":fault"))

    def test_not_fault_induced(self):
        rec = parse_log(report("slab.take_object/cpu-freelist", "d", False))
        self.assertIsNone(faults_needed(rec, lambda p: ""))
        self.assertFalse(sign(rec).key.endswith(":fault"))

    def test_engine_is_not_in_the_key(self):
        base = report("slab.take_object/cpu-freelist", "d", False)
        lib = parse_log("INFO: Seed: 1\n#2\tINITED cov: 1\n" + base +
                        "==1== ERROR: libFuzzer: deadly signal\n")
        rep = parse_log("== prog.txt (3 operations)\n" + base)
        self.assertEqual((lib.engine, rep.engine), ("libfuzzer", "replay"))
        self.assertEqual(sign(lib).key, sign(rep).key)


if __name__ == "__main__":
    unittest.main()
