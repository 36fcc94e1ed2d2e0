"""minimise: operation-level delta debugging of a crashing program.

The crash is decoded to its text program (reservoir-replay --print), then
shrunk in passes, each candidate replayed once and accepted only when its
whole signature equals the original's:
  1. ops: ddmin (drop chunks of operations, halving the chunk size, down
     to single operations);
  2. args: every argument toward its smallest or canonical value (index
     arguments to 0, cpu to 0, sizes and counts by halving toward the
     minimum, gfp flags one at a time);
  3. faults: the fault policy to `none`, then its fields to defaults;
  4. header: each config feature to its default (audit, nr_cpus, the high
     zone, zone size, min_free_kbytes, policy, estimator, max_order);
repeated while a round changes something and the replay budget lasts.
A candidate that crashes with another signature is never followed; it is
kept as a new crash ("slipped to <signature>"), the smallest per
signature. Candidates are tried in a fixed order and replays are cached
by text, so the same input gives the same minimised program.
"""
import os
import sys
import time
from dataclasses import dataclass, field
from typing import Dict, Optional

from . import program_text as pt
from . import replay as replay_mod
from .reproduce import add_replay_arguments, make_replayer
from .util import TriageError, dump_json, fail, fresh_directory, \
    write_atomically

NAME = "minimise"
HELP = ("shrink a crash to a small text program with the same signature "
        "(delta debugging on operations, arguments, faults, header)")
DEFAULT_MAX_REPLAYS = 3000


@dataclass
class MinimiseResult:
    crash: str
    target: Optional[str]
    signature: str
    original_text: str
    text: str
    ops_before: int
    ops_after: int
    bytes_before: int
    bytes_after: int
    replays: int
    seconds: float
    budget_exhausted: bool
    slipped: Dict[str, str] = field(default_factory=dict)  # key -> text
    first_line: Optional[str] = None
    crash_class: Optional[str] = None
    engine: Optional[dict] = None

    def to_json(self):
        return {"crash": self.crash, "target": self.target,
                "signature": self.signature, "class": self.crash_class,
                "first_line": self.first_line,
                "ops_before": self.ops_before, "ops_after": self.ops_after,
                "bytes_before": self.bytes_before,
                "bytes_after": self.bytes_after, "replays": self.replays,
                "seconds": round(self.seconds, 3),
                "budget_exhausted": self.budget_exhausted,
                "slipped": sorted(self.slipped), "engine": self.engine}


class _Budget(Exception):
    pass


class Minimiser:
    """Delta debugging against one Replayer, pinned to `key`."""

    def __init__(self, replayer, key, max_replays=DEFAULT_MAX_REPLAYS,
                 progress=None, jobs=1):
        self.jobs = max(1, jobs)
        self.replayer = replayer
        self.key = key
        self.max_replays = max_replays
        self.cache = {}        # text -> key (or None)
        self.slipped = {}      # key -> smallest text with that key
        self.replays = 0
        self.progress = progress

    def _note(self, text, key):
        self.cache[text] = key
        if key is not None and key != self.key:
            best = self.slipped.get(key)
            if best is None or (len(text), text) < (len(best), best):
                self.slipped[key] = text

    def test(self, program):
        """True when `program` crashes with the pinned signature."""
        text = program.to_text()
        if text not in self.cache:
            if self.replays >= self.max_replays:
                raise _Budget()
            self.replays += 1
            self._note(text, self.replayer.run_text(text).key)
        return self.cache[text] == self.key

    def first_accepted(self, programs):
        """The index of the first of `programs` that crashes with the
        pinned signature, or None. With jobs > 1 the candidates are
        replayed `jobs` at a time (threads around processes); the answer
        is the same as one at a time, only the replays spent may differ."""
        if self.jobs == 1:
            for i, program in enumerate(programs):
                if self.test(program):
                    return i
            return None
        from concurrent.futures import ThreadPoolExecutor
        texts = [p.to_text() for p in programs]
        with ThreadPoolExecutor(self.jobs) as pool:
            for start in range(0, len(texts), self.jobs):
                window = texts[start:start + self.jobs]
                todo = [t for t in dict.fromkeys(window)
                        if t not in self.cache]
                if self.replays + len(todo) > self.max_replays:
                    todo = todo[:max(0, self.max_replays - self.replays)]
                self.replays += len(todo)
                for t, outcome in zip(todo, pool.map(self.replayer.run_text,
                                                     todo)):
                    self._note(t, outcome.key)
                for offset, t in enumerate(window):
                    if t not in self.cache:
                        raise _Budget()
                    if self.cache[t] == self.key:
                        return start + offset
        return None

    # -- pass 1: operations ------------------------------------------------
    def ddmin_ops(self, program):
        ops = list(program.ops)
        n = 2
        while len(ops) >= 1:
            chunk = max(1, -(-len(ops) // n))
            candidates = [pt.Program(program.header,
                                     ops[:start] + ops[start + chunk:])
                          for start in range(0, len(ops), chunk)]
            accepted = self.first_accepted(candidates)
            if accepted is not None:
                ops = candidates[accepted].ops
                n = max(n - 1, 2)
            else:
                if chunk == 1:
                    break
                n = min(n * 2, len(ops))
        return pt.Program(program.header, ops)

    # -- pass 2: arguments -------------------------------------------------
    def shrink_args(self, program):
        program = program.copy()
        for i in range(len(program.ops)):
            for key, kind in pt.OPS[program.ops[i].name]:
                program = self._shrink_arg(program, i, key, kind)
        return program

    def _with(self, program, i, key, value):
        candidate = program.copy()
        candidate.ops[i].args[key] = value
        return candidate

    def _shrink_arg(self, program, i, key, kind, steps=32):
        """One argument toward its smallest or canonical value: gfp flags
        one at a time; enums and small indices by trying the smaller
        values in order; wide numbers by a bounded binary search between
        the minimum and the value that still crashes."""
        current = program.ops[i].args[key]
        if kind == "gfp":
            for bit in range(8):
                value = program.ops[i].args[key]
                if value & (1 << bit):
                    candidate = self._with(program, i, key,
                                           value & ~(1 << bit))
                    if self.test(candidate):
                        program = candidate
            return program
        if kind == "align":
            smaller = [a for a in (8, 1, 2, 4, 16, 32, 64) if a < current]
        elif kind in ("order", "cpu", "free_cpu", "ref", "skip", "site"):
            smaller = list(range(pt.ARG_RANGES[kind][0], current))[:4]
        else:
            smaller = None
        if smaller is not None:
            for value in smaller:
                candidate = self._with(program, i, key, value)
                if self.test(candidate):
                    return candidate
            return program
        lo = pt.ARG_RANGES[kind][0]
        if current == lo:
            return program
        candidate = self._with(program, i, key, lo)
        if self.test(candidate):
            return candidate
        bad, good = lo, current     # bad fails, good crashes as wanted
        for _ in range(steps):
            if good - bad <= 1:
                break
            mid = bad + (good - bad) // 2
            candidate = self._with(program, i, key, mid)
            if self.test(candidate):
                program, good = candidate, mid
            else:
                bad = mid
        return program

    # -- pass 3 and 4: the header -----------------------------------------
    def shrink_header(self, program):
        h0 = pt.default_header()
        steps = [("mode", "none"), ("sites", 0), ("probability_ppm", 0),
                 ("seed", 0), ("fail_nth", 1), ("audit", "cheap"),
                 ("nr_cpus", 1), ("highmem_pages", 0),
                 ("normal_pages", 256), ("min_free_kbytes", -1),
                 ("slab_policy", "page_tag"), ("estimator", "exact"),
                 ("max_order", None)]
        for field_name, value in steps:
            if field_name == "max_order":
                candidates = [h0["max_order"]] + list(range(
                    pt.MIN_MAX_ORDER, program.header["max_order"]))
            else:
                candidates = [value]
            for candidate_value in candidates:
                if program.header[field_name] == candidate_value:
                    continue
                header = dict(program.header)
                header[field_name] = candidate_value
                largest = pt.max_order_for(header["normal_pages"],
                                           header["highmem_pages"])
                if header["max_order"] > largest:
                    header["max_order"] = largest
                if header["max_order"] < pt.MIN_MAX_ORDER:
                    continue
                candidate = pt.Program(header, program.ops)
                if self.test(candidate):
                    program = candidate
                    break
        return program

    def run(self, program):
        """The minimised Program; stops early (keeping the best so far)
        when the replay budget runs out. Returns (program, exhausted)."""
        best = program
        try:
            for round_number in range(4):
                before = best.to_text()
                for name, step in (("ops", self.ddmin_ops),
                                   ("args", self.shrink_args),
                                   ("header", self.shrink_header)):
                    best = step(best)
                    if self.progress:
                        self.progress(f"round {round_number + 1} {name}: "
                                      f"{len(best.ops)} ops, "
                                      f"{self.replays} replays")
                if best.to_text() == before:
                    break
        except _Budget:
            return best, True
        return best, False


def annotate(text, lines):
    """`text` with comment lines inserted after its first line."""
    head, _, rest = text.partition("\n")
    return head + "\n" + "".join(f"# {line}\n" for line in lines) + rest


def minimise_crash(replayer, path, target=None,
                   max_replays=DEFAULT_MAX_REPLAYS, progress=None,
                   expected_key=None, jobs=1):
    """Minimise the crash file `path`; returns a MinimiseResult. A crash
    that does not crash on this build is a TriageError."""
    start = time.monotonic()
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise TriageError(f"{path}: cannot read: {e.strerror or e}")
    target = replay_mod.choose_target(path, target, data)
    original_text, outcome = replayer.print_program(path, target)
    if not outcome.crashed:
        raise TriageError(f"{path}: does not crash on {replayer.build_dir}; "
                          "nothing to minimise")
    key = outcome.key
    if expected_key is not None and key != expected_key:
        raise TriageError(f"{path}: crashes as {key}, not {expected_key}")
    try:
        program = pt.parse(original_text)
    except pt.ProgramTextError as e:
        raise TriageError(f"{path}: the printed program does not parse: {e}")
    minimiser = Minimiser(replayer, key, max_replays, progress, jobs)
    minimiser.cache[program.to_text()] = key
    best, exhausted = minimiser.run(program)
    text = best.to_text()
    return MinimiseResult(
        crash=path, target=target, signature=key,
        original_text=program.to_text(), text=text,
        ops_before=len(program.ops), ops_after=len(best.ops),
        bytes_before=len(data), bytes_after=len(text.encode()),
        replays=minimiser.replays + 1, seconds=time.monotonic() - start,
        budget_exhausted=exhausted, slipped=dict(minimiser.slipped),
        first_line=outcome.record.title, crash_class=outcome.record.crash_type)


def engine_minimise(replayer, path, target, key, out_dir, runs=2000):
    """libFuzzer's -minimize_crash on the raw input, with the sanitizer's
    dedup token pinned (dedup_token_length=3); the result is re-checked by
    signature. Returns a dict describing what happened."""
    import subprocess
    binary = os.path.join(replayer.build_dir, "fuzz", "targets", target or "")
    if target is None or not os.path.isfile(binary):
        return {"ran": False, "reason": f"no libFuzzer target binary "
                                        f"{binary}"}
    with open(path, "rb") as f:
        if pt.is_text_program(f.read(64)):
            return {"ran": False, "reason": "a text program has no bytes "
                                            "for the engine to minimise"}
    artifact = os.path.join(out_dir, "engine-minimised.bin")
    env = replayer.environment()
    command = [binary, "-minimize_crash=1", f"-runs={runs}",
               f"-exact_artifact_path={artifact}", path]
    start = time.monotonic()
    try:
        subprocess.run(command, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, env=env, timeout=600,
                       stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as e:
        return {"ran": False, "reason": f"libFuzzer minimiser failed: {e}"}
    seconds = round(time.monotonic() - start, 3)
    if not os.path.isfile(artifact):
        return {"ran": True, "seconds": seconds, "kept": False,
                "reason": "libFuzzer wrote no minimised input"}
    outcome = replayer.run(artifact, target)
    same = outcome.key == key
    return {"ran": True, "seconds": seconds, "kept": same,
            "path": artifact if same else None,
            "bytes": os.path.getsize(artifact), "signature": outcome.key,
            "reason": "same signature" if same else
                      f"slipped to {outcome.key}; not kept"}


def default_out(root, crash):
    base = os.path.join(root, "build", "triage", "minimised",
                        os.path.basename(crash.rstrip("/")) or "crash")
    path, n = base, 1
    while os.path.exists(path):
        n += 1
        path = f"{base}-{n}"
    return path


def write_result(result, out_dir, runs_confirmed=None):
    """minimised.txt, slipped-N.txt, minimise.json into `out_dir` (made
    by fresh_directory beforehand). Returns the path of minimised.txt."""
    header = [f"minimised by reservoir triage from {result.crash}",
              f"signature: {result.signature}",
              f"first line: {result.first_line}",
              f"ops: {result.ops_before} -> {result.ops_after}"]
    minimised = os.path.join(out_dir, "minimised.txt")
    write_atomically(minimised, annotate(result.text, header))
    slipped = []
    for n, key in enumerate(sorted(result.slipped), 1):
        path = os.path.join(out_dir, f"slipped-{n}.txt")
        write_atomically(path, annotate(result.slipped[key], [
            f"slipped while minimising {result.crash}",
            f"slipped to {key} (from {result.signature})"]))
        slipped.append({"signature": key, "path": path})
    doc = result.to_json()
    doc["schema"] = "reservoir-triage-minimise/1"
    doc["minimised"] = minimised
    doc["slipped"] = slipped
    if runs_confirmed is not None:
        doc["confirmed"] = runs_confirmed
    write_atomically(os.path.join(out_dir, "minimise.json"), dump_json(doc))
    return minimised


def add_arguments(parser):
    parser.add_argument("crash", metavar="CRASH",
                        help="a crash file (binary fuzz input or text "
                             "program)")
    parser.add_argument("--out", metavar="DIR",
                        help="fresh output directory (default: "
                             "build/triage/minimised/<name>)")
    parser.add_argument("--max-replays", type=int,
                        default=DEFAULT_MAX_REPLAYS, metavar="N",
                        help="cap on replays (default %(default)s); the "
                             "best program so far is kept when it runs out")
    parser.add_argument("--jobs", type=int, default=1, metavar="N",
                        help="replays at once while dropping operations "
                             "(default 1; the result does not depend on it)")
    parser.add_argument("--engine-minimise", action="store_true",
                        help="also run libFuzzer's -minimize_crash=1 on the "
                             "raw input (dedup_token_length=3), re-checked "
                             "by signature")
    add_replay_arguments(parser)


def main(args):
    if args.max_replays < 1:
        fail("--max-replays must be at least 1")
    if args.jobs < 1:
        fail("--jobs must be at least 1")
    if not os.path.isfile(args.crash):
        fail(f"{args.crash}: no such file")
    replayer = make_replayer(args)
    out_dir = args.out or default_out(args.root, args.crash)
    if os.path.exists(out_dir) and (not os.path.isdir(out_dir)
                                    or os.listdir(out_dir)):
        fail(f"{out_dir}: exists and is not an empty directory")

    def progress(message):
        print(f"minimise: {message}", file=sys.stderr, flush=True)
    result = minimise_crash(replayer, args.crash, args.target,
                            args.max_replays, progress, jobs=args.jobs)
    confirm = [replayer.run_text(result.text).key for _ in range(2)]
    confirmed = all(k == result.signature for k in confirm)
    fresh_directory(out_dir)
    if args.engine_minimise:
        result.engine = engine_minimise(replayer, args.crash, result.target,
                                        result.signature, out_dir)
    minimised = write_result(result, out_dir, confirmed)
    print(f"{args.crash}: {result.signature}")
    print(f"  ops {result.ops_before} -> {result.ops_after}, bytes "
          f"{result.bytes_before} -> {result.bytes_after}, "
          f"{result.replays} replays, {result.seconds:.1f} s"
          + (" (replay budget exhausted)" if result.budget_exhausted else ""))
    print(f"  minimised: {minimised}"
          + ("" if confirmed else "  (WARNING: did not reproduce twice)"))
    for key in sorted(result.slipped):
        print(f"  slipped to {key} (kept)")
    if result.engine is not None:
        print(f"  engine minimiser: {result.engine.get('reason')}")
    print("")
    sys.stdout.write(result.text)
    return 0
