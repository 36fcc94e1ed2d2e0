#!/usr/bin/env python3
"""Golden tests of the triage parser and signature: every log under
golden/ parses to the record and signature beside it (<name>.expected.json,
made by make_golden.py and reviewed), and the properties every golden case
must have hold: no input-derived number in a key, fault-induced crashes
keyed apart, each plant its own key, damaged logs flagged."""
import glob
import json
import os
import re
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from reservoir_triage.parse import parse_log  # noqa: E402
from reservoir_triage.record import CrashRecord  # noqa: E402
from reservoir_triage.signature import sign  # noqa: E402

GOLDEN = os.path.join(HERE, "golden")


def cases():
    return sorted(os.path.basename(p)[:-4]
                  for p in glob.glob(os.path.join(GOLDEN, "*.log")))


def load(name):
    with open(os.path.join(GOLDEN, name + ".log"), "rb") as f:
        text = f.read().decode("utf-8", errors="replace")
    with open(os.path.join(GOLDEN, name + ".expected.json")) as f:
        return text, json.load(f)


class GoldenTest(unittest.TestCase):
    def test_there_are_golden_cases(self):
        self.assertGreaterEqual(len(cases()), 20)

    def test_every_log_parses_as_expected(self):
        for name in cases():
            with self.subTest(name=name):
                text, want = load(name)
                rec = parse_log(text)
                got = rec.to_json() if rec else None
                self.assertEqual(got, want["record"])
                sig = sign(rec).to_json() if rec else None
                self.assertEqual(sig, want["signature"])

    def test_records_round_trip_through_json(self):
        for name in cases():
            rec = parse_log(load(name)[0])
            if rec is None:
                continue
            with self.subTest(name=name):
                again = CrashRecord.from_json(
                    json.loads(json.dumps(rec.to_json())))
                self.assertEqual(again.to_json(), rec.to_json())

    def test_keys_hold_no_input_number(self):
        for name in cases():
            rec = parse_log(load(name)[0])
            if rec is None:
                continue
            with self.subTest(name=name):
                key = sign(rec).key
                if rec.place_derived:  # an old one-line report: v0
                    self.assertTrue(key.startswith("v0:"), key)
                    continue
                self.assertTrue(key.startswith("v1:"), key)
                # "v1" is the version; no other digit may appear, except
                # inside names such as "t1" that the program defines.
                self.assertNotRegex(key[3:], r"0x[0-9a-f]+|(?<![a-z_])\d+")

    def test_clean_logs_have_no_crash(self):
        for name in cases():
            if name.startswith("clean_"):
                with self.subTest(name=name):
                    self.assertIsNone(parse_log(load(name)[0]))

    def test_damaged_logs_are_flagged(self):
        for name in cases():
            if not name.startswith("damaged_") or name in (
                    "damaged_empty", "damaged_garbage",
                    "damaged_asan_glued", "damaged_deadlysignal_glued"):
                continue
            with self.subTest(name=name):
                rec = parse_log(load(name)[0])
                self.assertIsNotNone(rec)
                self.assertTrue(rec.corrupted)
                kind = name.split("_")[-1]
                self.assertIn(kind, rec.corrupted_reason)

    def test_glued_headers_are_split(self):
        for name in ("damaged_asan_glued", "damaged_deadlysignal_glued"):
            if name not in cases():
                continue
            with self.subTest(name=name):
                rec = parse_log(load(name)[0])
                self.assertIsNotNone(rec)
                self.assertFalse(rec.corrupted, rec.corrupted_reason)
                base = {"damaged_asan_glued":
                        "sanitizer_asan_heap_use_after_free",
                        "damaged_deadlysignal_glued":
                        "sanitizer_asan_null_dereference"}[name]
                self.assertEqual(sign(rec).key,
                                 sign(parse_log(load(base)[0])).key)

    def test_empty_and_garbage_give_no_crash(self):
        for name in ("damaged_empty", "damaged_garbage"):
            if name in cases():
                self.assertIsNone(parse_log(load(name)[0]))

    def test_each_plant_has_its_own_key(self):
        keys = {}
        for name in cases():
            m = re.match(r"reservoir_(\w+?)_(replay|libfuzzer|afl)$", name)
            if not m or m.group(1) in ("guarantee", "old_one_line"):
                continue
            keys.setdefault(m.group(1), set()).add(
                sign(parse_log(load(name)[0])).key)
        owners = {}
        for plant, ks in keys.items():
            for k in ks:
                with self.subTest(plant=plant, key=k):
                    self.assertNotIn(k, owners, f"shared with {owners.get(k)}")
                    owners[k] = plant

    def test_replay_libfuzzer_and_afl_agree_on_each_plant(self):
        for name in cases():
            m = re.match(r"reservoir_(\w+)_replay$", name)
            if not m:
                continue
            for engine in ("libfuzzer", "afl"):
                other = f"reservoir_{m.group(1)}_{engine}"
                if other not in cases():
                    continue
                with self.subTest(plant=m.group(1), engine=engine):
                    a = sign(parse_log(load(name)[0]))
                    b = sign(parse_log(load(other)[0]))
                    self.assertEqual(a.key, b.key)

    def test_fault_induced_crash_is_keyed_apart(self):
        name = "reservoir_fault_uncharge_ksize_replay"
        if name not in cases():
            self.skipTest("no fault-induced golden log")
        rec = parse_log(load(name)[0])
        self.assertTrue(rec.fault_induced)
        self.assertTrue(sign(rec).key.endswith(":fault"))
        plain = parse_log(load("reservoir_uncharge_ksize_replay")[0])
        self.assertNotEqual(sign(rec).key, sign(plain).key)

    def test_old_one_line_report_matches_through_v0(self):
        old = parse_log(load("reservoir_old_one_line_replay")[0])
        self.assertTrue(old.place_derived)
        new = parse_log(load("reservoir_fastpath_skips_match_replay")[0])
        self.assertFalse(new.place_derived)
        # Same program, same bug: the old report's (v0) key is the new
        # report's v0 alternative, so a store finds the old finding.
        self.assertEqual(sign(old).version, 0)
        self.assertEqual([sign(old).key], sign(new).alt_keys)


if __name__ == "__main__":
    unittest.main()
