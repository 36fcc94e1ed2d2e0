"""reproduce: replay crash files N times and report how they reproduce.

The model is deterministic: a crash either reproduces on every run with
the same signature, or something in the harness is broken. So the verdict
of a crash is one of
  reproduces         every run crashed, with one signature
  not reproduced     no run crashed (wrong build, or not a crash input)
  not deterministic  some runs crashed and some did not, or the runs gave
                     different signatures: a harness bug, never "flaky"
"""
import os
import sys
from dataclasses import dataclass, field
from typing import List

from . import replay as replay_mod
from .util import TriageError, dump_json, fail

NAME = "reproduce"
HELP = "replay crash files N times; reproduction rate and signature"


@dataclass
class Reproduction:
    path: str
    target: str
    runs: int
    crashed: int = 0
    keys: List[str] = field(default_factory=list)   # one per crashing run
    outcome: object = None                          # the first crashing run
    first_outcome: object = None                    # the first run

    @property
    def rate(self):
        return self.crashed / self.runs if self.runs else 0.0

    @property
    def distinct_keys(self):
        return sorted(set(self.keys))

    @property
    def verdict(self):
        if self.crashed == 0:
            return "not reproduced"
        if self.crashed == self.runs and len(self.distinct_keys) == 1:
            return "reproduces"
        return "not deterministic"

    @property
    def deterministic(self):
        return self.verdict != "not deterministic"

    def explain(self):
        v = self.verdict
        if v == "reproduces":
            return f"reproduces {self.crashed}/{self.runs}"
        if v == "not reproduced":
            return f"not reproduced (0/{self.runs} runs crashed)"
        parts = []
        if self.crashed != self.runs:
            parts.append(f"{self.crashed}/{self.runs} runs crashed")
        if len(self.distinct_keys) > 1:
            parts.append(f"{len(self.distinct_keys)} signatures: "
                         + ", ".join(self.distinct_keys))
        return ("not deterministic: " + "; ".join(parts) +
                " (a harness bug: the model is deterministic)")

    def to_json(self):
        rec = self.outcome.record if self.outcome else None
        return {"path": self.path, "target": self.target, "runs": self.runs,
                "crashed": self.crashed, "reproduction_rate": self.rate,
                "verdict": self.verdict, "deterministic": self.deterministic,
                "explanation": self.explain(),
                "signature": self.keys[0] if self.keys else None,
                "signatures": self.distinct_keys,
                "class": rec.crash_type if rec else None,
                "first_line": rec.title if rec else None}


def reproduce(replayer, path, runs, target=None):
    """Replay `path` `runs` times through `replayer`."""
    try:
        with open(path, "rb") as f:
            data = f.read(64)
    except OSError as e:
        raise TriageError(f"{path}: cannot read: {e.strerror or e}")
    target = replay_mod.choose_target(path, target, data)
    result = Reproduction(path, target, runs)
    for _ in range(runs):
        outcome = replayer.run(path, target)
        if result.first_outcome is None:
            result.first_outcome = outcome
        if outcome.crashed:
            result.crashed += 1
            result.keys.append(outcome.key)
            if result.outcome is None:
                result.outcome = outcome
    return result


def add_replay_arguments(parser, runs_default=3):
    parser.add_argument("--build", metavar="DIR",
                        help="the build the crashes came from (default: "
                             f"{replay_mod.DEFAULT_BUILD} under the root; "
                             "an ASan, MSan, AFL++ or planted build dir)")
    parser.add_argument("--target", choices=replay_mod.TARGETS,
                        help="decode binary inputs as this target (default: "
                             "the target a path component names)")
    parser.add_argument("--timeout", type=float,
                        default=replay_mod.DEFAULT_TIMEOUT, metavar="S",
                        help="seconds per replay (default %(default)s)")
    parser.add_argument("--memory-mb", type=int,
                        default=replay_mod.DEFAULT_MEMORY_MB, metavar="MB",
                        help="memory limit per replay (default %(default)s)")


def make_replayer(args):
    build = args.build or os.path.join(args.root, replay_mod.DEFAULT_BUILD)
    if args.timeout <= 0:
        fail("--timeout must be positive")
    if args.memory_mb < 0:
        fail("--memory-mb must be 0 (no limit) or positive")
    return replay_mod.Replayer(build, args.timeout, args.memory_mb)


def add_arguments(parser):
    parser.add_argument("crashes", nargs="+", metavar="CRASH",
                        help="crash files: binary fuzz inputs or text "
                             "programs")
    parser.add_argument("--runs", type=int, default=3, metavar="N",
                        help="replays per crash (default %(default)s)")
    add_replay_arguments(parser)
    parser.add_argument("--json", action="store_true",
                        help="print one JSON document instead of text")


def main(args):
    if args.runs < 1:
        fail("--runs must be at least 1")
    for path in args.crashes:
        if not os.path.isfile(path):
            fail(f"{path}: no such file")
    replayer = make_replayer(args)
    results = []
    for path in args.crashes:
        print(f"reproduce: {path} ({args.runs} runs)", file=sys.stderr,
              flush=True)
        results.append(reproduce(replayer, path, args.runs, args.target))
    if args.json:
        sys.stdout.write(dump_json({"schema": "reservoir-triage-reproduce/1",
                                    "build": replayer.build_dir,
                                    "crashes": [r.to_json()
                                                for r in results]}))
    else:
        for r in results:
            line = f"{r.path}: {r.explain()}"
            if r.keys and r.deterministic:
                line += f"; signature {r.keys[0]}"
            print(line)
    return 0 if all(r.verdict == "reproduces" for r in results) else 1
