#!/usr/bin/env python3
"""The findings store: new/known, alt-key matching, best reproducer,
concurrent writers losing nothing, corrupt stores left alone."""
import json
import multiprocessing
import os
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from reservoir_triage.signature import Signature  # noqa: E402
from reservoir_triage.store import FindingsStore  # noqa: E402
from reservoir_triage.util import TriageError  # noqa: E402


def sig(key, alt=()):
    return Signature(key=key, explanation="test", alt_keys=list(alt))


def writer(path, prefix, n):
    for i in range(n):
        s = FindingsStore(path)
        s.record(sig(f"v1:test:{prefix}:{chr(97 + i % 26)}{i // 26}"),
                 {"target": prefix, "engine": "libfuzzer"})
        s.record(sig("v1:test:shared"), {"target": prefix})
        s.save()


class StoreTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.path = os.path.join(self.tmp.name, "sub", "findings.json")

    def tearDown(self):
        self.tmp.cleanup()

    def test_new_then_known_across_instances(self):
        s = FindingsStore(self.path)
        self.assertEqual(s.record(sig("v1:a"), {"target": "t1"}), "new")
        self.assertEqual(s.record(sig("v1:a"), {"target": "t2"}), "known")
        s.save()
        again = FindingsStore(self.path)
        self.assertEqual(again.record(sig("v1:a"), {}), "known")
        e = again.lookup("v1:a")
        self.assertEqual(e["count"], 3)
        self.assertEqual(e["targets"], ["t1", "t2"])

    def test_alt_keys_match_an_older_version(self):
        s = FindingsStore(self.path)
        old = Signature(key="v0:RESERVOIR BUG: x: N pages", version=0)
        s.record(old, {})
        s.save()
        s = FindingsStore(self.path)
        new = sig("v1:reservoir:x:page.check", alt=[old.key])
        self.assertEqual(s.record(new, {}), "known")
        e = s.lookup("v1:reservoir:x:page.check")
        self.assertEqual(e["key"], new.key)      # upgraded to v1
        self.assertIn(old.key, e["alt_keys"])    # the old key kept
        self.assertIs(s.lookup(old.key), e)
        self.assertEqual(len(s.entries()), 1)

    def test_an_old_key_does_not_merge_what_a_new_one_tells_apart(self):
        # v0 gave both slab-mixing plants one key; v1 keys differ.
        v0 = "v0:RESERVOIR BUG: slab-mixing: cache kmalloc-N: pfn N"
        s = FindingsStore(self.path)
        self.assertEqual(s.record(sig("v1:r:slab-mixing:a", [v0]), {}), "new")
        self.assertEqual(s.record(sig("v1:r:slab-mixing:b", [v0]), {}), "new")
        self.assertEqual(s.record(sig("v1:r:slab-mixing:a", [v0]), {}),
                         "known")
        self.assertEqual(len(s.entries()), 2)

    def test_an_old_one_line_log_meets_its_new_form(self):
        import glob
        from reservoir_triage.parse import parse_log
        from reservoir_triage.signature import sign
        golden = os.path.join(HERE, "golden")
        logs = [os.path.join(golden, n + ".log") for n in (
            "reservoir_old_one_line_replay",
            "reservoir_fastpath_skips_match_replay",
            "reservoir_partial_ignores_tag_replay")]
        if not all(os.path.exists(p) for p in logs):
            self.skipTest("golden logs missing")
        recs = [parse_log(open(p, encoding="utf-8", errors="replace").read())
                for p in logs]
        s = FindingsStore(self.path)
        self.assertEqual(s.record(sign(recs[0]), {}), "new")     # old, v0
        self.assertEqual(s.record(sign(recs[1]), {}), "known")   # its new form
        self.assertEqual(s.record(sign(recs[2]), {}), "new")     # another bug
        self.assertEqual(s.entries()[0]["key"], sign(recs[1]).key)

    def test_best_reproducer_is_the_smallest(self):
        big = os.path.join(self.tmp.name, "big")
        small = os.path.join(self.tmp.name, "small")
        with open(big, "wb") as f:
            f.write(b"x" * 100)
        with open(small, "wb") as f:
            f.write(b"x" * 10)
        s = FindingsStore(self.path)
        s.record(sig("v1:a"), {"reproducer": big})
        s.record(sig("v1:a"), {"reproducer": small})
        s.record(sig("v1:a"), {"reproducer": big})
        e = s.lookup("v1:a")
        self.assertEqual((e["best_reproducer"], e["best_size"]), (small, 10))

    def test_times_and_status(self):
        s = FindingsStore(self.path)
        s.record(sig("v1:a"), {"time": "2026-01-02T00:00:00Z"})
        s.record(sig("v1:a"), {"time": "2026-01-01T00:00:00Z"})
        s.record(sig("v1:a"), {"time": "2026-01-03T00:00:00Z"})
        e = s.lookup("v1:a")
        self.assertEqual(e["first_seen"], "2026-01-01T00:00:00Z")
        self.assertEqual(e["last_seen"], "2026-01-03T00:00:00Z")
        self.assertEqual(e["status"], "open")
        self.assertTrue(s.set_status("v1:a", "fixed"))
        self.assertRaises(TriageError, s.set_status, "v1:a", "bogus")
        s.save()
        self.assertEqual(FindingsStore(self.path).lookup("v1:a")["status"],
                         "fixed")

    def test_forget(self):
        s = FindingsStore(self.path)
        s.record(sig("v1:a"), {})
        s.record(sig("v1:b"), {})
        s.save()
        s = FindingsStore(self.path)
        self.assertTrue(s.forget("v1:a"))
        self.assertFalse(s.forget("v1:zzz"))
        s.save()
        self.assertEqual([e["key"] for e in FindingsStore(self.path).entries()],
                         ["v1:b"])

    def test_concurrent_writers_lose_nothing(self):
        os.makedirs(os.path.dirname(self.path))
        ctx = multiprocessing.get_context("fork")
        procs = [ctx.Process(target=writer, args=(self.path, p, 15))
                 for p in ("p", "q", "r")]
        for p in procs:
            p.start()
        for p in procs:
            p.join(60)
            self.assertEqual(p.exitcode, 0)
        s = FindingsStore(self.path)
        keys = [e["key"] for e in s.entries()]
        self.assertEqual(len(keys), 3 * 15 + 1)
        self.assertEqual(s.lookup("v1:test:shared")["count"], 45)
        self.assertEqual(s.lookup("v1:test:shared")["targets"],
                         ["p", "q", "r"])
        leftovers = [n for n in os.listdir(os.path.dirname(self.path))
                     if n.startswith(".tmp-")]
        self.assertEqual(leftovers, [])

    def test_corrupt_store_is_reported_and_kept(self):
        os.makedirs(os.path.dirname(self.path))
        for content in ("{ not json", "[]", '{"format": "other"}',
                        '{"format": "reservoir-findings", "findings": [1]}'):
            with open(self.path, "w") as f:
                f.write(content)
            with self.subTest(content=content):
                with self.assertRaises(TriageError) as cm:
                    FindingsStore(self.path)
                self.assertIn(self.path, str(cm.exception))
                with open(self.path) as f:
                    self.assertEqual(f.read(), content)

    def test_store_corrupted_meanwhile_is_not_overwritten(self):
        s = FindingsStore(self.path)
        s.record(sig("v1:a"), {})
        os.makedirs(os.path.dirname(self.path))
        with open(self.path, "w") as f:
            f.write("garbage")
        self.assertRaises(TriageError, s.save)
        with open(self.path) as f:
            self.assertEqual(f.read(), "garbage")

    def test_file_format(self):
        s = FindingsStore(self.path)
        s.record(sig("v1:a"), {"engine": "afl"})
        s.save()
        with open(self.path) as f:
            doc = json.load(f)
        self.assertEqual(doc["format"], "reservoir-findings")
        self.assertEqual(doc["version"], 1)
        self.assertEqual(doc["findings"][0]["engines"], ["afl"])


if __name__ == "__main__":
    unittest.main()
