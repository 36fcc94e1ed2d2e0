#!/usr/bin/env python3
"""The `reservoir triage` command line: every command has --help; bad
arguments, missing and unreadable files give one line and exit 2; inputs
are never modified."""
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
TRIAGE = os.path.dirname(HERE)
SCRIPT = os.path.join(TRIAGE, "reservoir-triage")
GOLDEN = os.path.join(HERE, "golden")
sys.path.insert(0, TRIAGE)

from reservoir_triage import cli  # noqa: E402


def run(*args):
    p = subprocess.run([sys.executable, "-B", SCRIPT, *args],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True, timeout=120)
    return p.returncode, p.stdout, p.stderr


def command_names():
    import importlib
    return [importlib.import_module(f"reservoir_triage.{m}").NAME
            for m in cli.COMMAND_MODULES]


def digest(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


class CliTest(unittest.TestCase):
    def test_top_level_help(self):
        rc, out, _ = run("--help")
        self.assertEqual(rc, 0)
        for name in command_names():
            self.assertIn(name, out)

    def test_every_command_has_help(self):
        for name in command_names():
            with self.subTest(command=name):
                rc, out, err = run(name, "--help")
                self.assertEqual(rc, 0, err)
                self.assertIn("usage:", out)

    def test_unknown_command_and_option(self):
        for args in (["no-such-command"], ["parse", "--no-such-option", "x"],
                     ["signature"], ["store", "bogus"]):
            with self.subTest(args=args):
                rc, out, err = run(*args)
                self.assertEqual(rc, 2)
                self.assertEqual(len(err.strip().splitlines()), 1, err)
                self.assertTrue(err.startswith("reservoir triage: "), err)

    def test_missing_and_unreadable_logs(self):
        with tempfile.TemporaryDirectory() as tmp:
            for cmd in ("parse", "signature"):
                for path in (os.path.join(tmp, "missing.log"), tmp):
                    with self.subTest(cmd=cmd, path=path):
                        rc, _, err = run(cmd, path)
                        self.assertEqual(rc, 2)
                        self.assertEqual(len(err.strip().splitlines()), 1)
                        self.assertIn(path, err)

    def test_parse_json_and_inputs_untouched(self):
        logs = sorted(os.path.join(GOLDEN, n) for n in os.listdir(GOLDEN)
                      if n.endswith(".log"))[:12]
        if not logs:
            self.skipTest("no golden logs")
        before = [digest(p) for p in logs]
        rc, out, err = run("parse", "--json", *logs)
        self.assertEqual(rc, 0, err)
        doc = json.loads(out)
        self.assertEqual([d["log"] for d in doc], logs)
        rc, out, err = run("signature", "--json", *logs)
        self.assertEqual(rc, 0, err)
        for d in json.loads(out):
            if d["signature"] is not None:
                self.assertTrue(d["signature"]["key"].startswith("v1:"))
                self.assertTrue(d["signature"]["explanation"])
        self.assertEqual([digest(p) for p in logs], before)

    def test_clean_log_says_no_crash(self):
        with tempfile.NamedTemporaryFile("w", suffix=".log") as f:
            f.write("INFO: Seed: 1\nDone 100 runs in 0 second(s)\n")
            f.flush()
            rc, out, _ = run("parse", f.name)
            self.assertEqual(rc, 0)
            self.assertIn("no crash found", out)

    def test_store_commands(self):
        with tempfile.TemporaryDirectory() as tmp:
            store = os.path.join(tmp, "findings.json")
            rc, out, _ = run("store", "list", "--store", store)
            self.assertEqual(rc, 0)
            self.assertIn("no findings", out)
            self.assertFalse(os.path.exists(store))
            rc, _, err = run("store", "show", "v1:x", "--store", store)
            self.assertEqual(rc, 2)
            logs = [os.path.join(GOLDEN, n + ".log") for n in (
                "reservoir_fastpath_skips_match_replay",
                "reservoir_fastpath_skips_match_libfuzzer",
                "reservoir_partial_ignores_tag_replay", "clean_replay")]
            if all(os.path.exists(p) for p in logs):
                rc, out, err = run("store", "add", *logs, "--store", store,
                                   "--json")
                self.assertEqual(rc, 0, err)
                got = [d["status"] for d in json.loads(out)]
                self.assertEqual(got, ["new", "known", "new", None])
                rc, out, _ = run("store", "add", logs[0], "--store", store)
                self.assertIn("known", out)
                rc, out, _ = run("store", "list", "--json", "--store", store)
                entries = json.loads(out)
                self.assertEqual(len(entries), 2)
                self.assertEqual(sorted(e["count"] for e in entries), [1, 3])
                key = "v1:reservoir:slab-mixing:slab.take_object/node-partial"
                rc, out, _ = run("store", "mark", key, "fixed", "--store",
                                 store)
                self.assertEqual(rc, 0)
                rc, out, _ = run("store", "show", key, "--json", "--store",
                                 store)
                self.assertEqual(json.loads(out)["status"], "fixed")
                rc, out, _ = run("store", "forget", key, "--store", store)
                self.assertEqual(rc, 0)
                rc, _, err = run("store", "show", key, "--store", store)
                self.assertEqual(rc, 1)
                os.unlink(store)
            with open(store, "w") as f:
                f.write("{ not json")
            rc, _, err = run("store", "list", "--store", store)
            self.assertEqual(rc, 2)
            self.assertIn("corrupt findings store", err)
            with open(store) as f:
                self.assertEqual(f.read(), "{ not json")


if __name__ == "__main__":
    unittest.main()
