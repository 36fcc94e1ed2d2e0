"""replay and reproduce: target choice, timeouts, memory limit, and the
three verdicts, against stand-in reservoir-replay scripts (a build
directory whose fuzz/tools/reservoir-replay is a small shell script)."""
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
ROOT = os.path.dirname(os.path.dirname(HERE))

from reservoir_triage import replay  # noqa: E402
from reservoir_triage.reproduce import reproduce  # noqa: E402
from reservoir_triage.util import TriageError  # noqa: E402

REPORT = ("echo 'RESERVOIR BUG: slab-mixing: slab.take_object/%s' >&2; "
          "echo 'RESERVOIR DETAIL: cache kmalloc-8: pfn 12' >&2; "
          "echo 'END OF RESERVOIR BUG REPORT' >&2; kill -ABRT $$")

SCRIPTS = {
    # Always the same bug.
    "steady": REPORT % "cpu-freelist",
    # Crashes on every second run only (a counter file beside it).
    "flaky": 'n=$(cat "$0.count" 2>/dev/null || echo 0); '
             'echo $((n + 1)) > "$0.count"; '
             'if [ $((n % 2)) -eq 0 ]; then ' + REPORT % "cpu-freelist" +
             '; fi; echo "1 inputs ran clean"',
    # Crashes every time, at a different place each time.
    "drifting": 'n=$(cat "$0.count" 2>/dev/null || echo 0); '
                'echo $((n + 1)) > "$0.count"; '
                'if [ $n -eq 0 ]; then ' + REPORT % "cpu-freelist" +
                '; else ' + REPORT % "node-partial" + '; fi',
    "clean": 'echo "1 inputs ran clean"',
    "hangs": "sleep 30",
    "usage": "echo \"reservoir-replay: cannot read 'x'\" >&2; exit 2",
    # Reports the address space limit it runs under (ulimit -v, KiB).
    "limits": 'echo "limit $(ulimit -v)"',
}


class ReplayTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="triage-replay-test-")
        self.input = os.path.join(self.tmp, "slab_fuzzer", "crashes",
                                  "crash-1")
        os.makedirs(os.path.dirname(self.input))
        with open(self.input, "wb") as f:
            f.write(b"\x01\x02binary")

    def tearDown(self):
        shutil.rmtree(self.tmp)

    def replayer(self, name, **kw):
        build = os.path.join(self.tmp, "build-" + name)
        tools = os.path.join(build, "fuzz", "tools")
        os.makedirs(tools)
        path = os.path.join(tools, "reservoir-replay")
        with open(path, "w") as f:
            f.write("#!/bin/sh\n" + SCRIPTS[name] + "\n")
        os.chmod(path, 0o755)
        return replay.Replayer(build, **kw)

    def test_target_from_path_or_option(self):
        self.assertEqual(replay.choose_target(self.input), "slab_fuzzer")
        self.assertEqual(replay.choose_target(self.input, "reserve_fuzzer"),
                         "reserve_fuzzer")
        with self.assertRaises(TriageError):
            replay.choose_target(self.input, "no_such_fuzzer")
        flat = os.path.join(self.tmp, "crash-2")
        with self.assertRaises(TriageError) as caught:
            replay.choose_target(flat, None, b"\x00binary")
        self.assertIn("needs --target", str(caught.exception))
        self.assertIsNone(replay.choose_target(
            flat, None, b"# reservoir program v1\n"))

    def test_steady_crash_reproduces(self):
        r = reproduce(self.replayer("steady"), self.input, 3)
        self.assertEqual(r.verdict, "reproduces")
        self.assertEqual(r.rate, 1.0)
        self.assertEqual(r.distinct_keys, [r.keys[0]])
        self.assertIn("slab.take_object/cpu-freelist", r.keys[0])
        self.assertNotIn("12", r.keys[0])

    def test_partial_rate_is_a_harness_bug(self):
        r = reproduce(self.replayer("flaky"), self.input, 4)
        self.assertEqual((r.crashed, r.runs), (2, 4))
        self.assertEqual(r.verdict, "not deterministic")
        self.assertTrue(r.explain().startswith("not deterministic: 2/4"))
        self.assertIn("harness bug", r.explain())

    def test_changing_signature_is_a_harness_bug(self):
        r = reproduce(self.replayer("drifting"), self.input, 3)
        self.assertEqual(r.crashed, 3)
        self.assertEqual(len(r.distinct_keys), 2)
        self.assertEqual(r.verdict, "not deterministic")

    def test_clean_is_not_reproduced(self):
        r = reproduce(self.replayer("clean"), self.input, 2)
        self.assertEqual(r.verdict, "not reproduced")
        self.assertEqual(r.rate, 0.0)

    def test_timeout_kills_and_reports(self):
        rep = self.replayer("hangs", timeout=0.5)
        outcome = rep.run(self.input, "slab_fuzzer")
        self.assertTrue(outcome.timed_out)
        self.assertEqual(outcome.record.crash_type, "Timeout")

    def test_replay_usage_error_is_a_triage_error(self):
        with self.assertRaises(TriageError) as caught:
            self.replayer("usage").run(self.input)
        self.assertIn("cannot read", str(caught.exception))

    def test_memory_limit_applies_without_sanitizers(self):
        outcome = self.replayer("limits", memory_mb=512).run(self.input)
        self.assertIn(f"limit {512 * 1024}", outcome.log)

    def test_missing_build_is_one_clear_error(self):
        with self.assertRaises(TriageError) as caught:
            replay.Replayer(os.path.join(self.tmp, "nowhere"))
        self.assertIn("no reservoir-replay", str(caught.exception))

    def test_cli_rejects_bad_arguments(self):
        cli = [sys.executable, os.path.join(ROOT, "triage",
                                            "reservoir-triage")]
        for args in (["reproduce"], ["reproduce", "/no/such/file"],
                     ["reproduce", self.input, "--runs", "0"],
                     ["minimise", self.input, "--max-replays", "x"],
                     ["run", "/no/such/dir"], ["regress", self.input],
                     ["report", self.input]):
            p = subprocess.run(cli + args, capture_output=True, text=True)
            self.assertEqual(p.returncode, 2, args)
            self.assertEqual(len(p.stderr.strip().split("\n")), 1,
                             (args, p.stderr))
        for command in ("reproduce", "minimise", "report", "regress", "run"):
            p = subprocess.run(cli + [command, "--help"],
                               capture_output=True, text=True)
            self.assertEqual(p.returncode, 0, command)
            self.assertIn("usage:", p.stdout)


if __name__ == "__main__":
    unittest.main()
