#!/usr/bin/env python3
"""Where one fuzz input's time goes, per target and program length, in
instructions counted by valgrind's callgrind (Debian's valgrind).

For each target and each N of --ops the target binary of a libFuzzer build
without sanitizers runs under callgrind twice, with RESERVOIR_PROGRAM_OPS=N
(every input runs exactly N operations after the target's prologue):

  * over the seed files themselves (libFuzzer runs each file given once
    and collects no features), once with the list given once and once with
    it given three times: the difference is the target's own steady-state
    instructions per input, split into phases, without one-time costs;
    the same inputs for every build, so two builds compare;
  * fuzzing from the seeds (-seed=1) twice, for R and for 3R inputs, each
    into a fresh corpus: the difference is what the engine itself
    (mutation, feature collection, the corpus and Entropic's bookkeeping)
    adds per input in a run that has left start-up behind, i.e.
    everything outside LLVMFuzzerTestOneInput over the last 2R inputs.
    Entropic's share (InputCorpus::UpdateFeatureFrequency and
    AddRareFeature, whose cost grows with the features an input touches)
    is shown on its own, and so is the trivial target's engine cost.
    Entropic's share shrinks in a long run: a feature's frequency stops
    counting at 65,535 hits, and saturated features skip the search of
    the rare-feature list, so these few thousand inputs show the engine
    at its most expensive.

The phases (inclusive instruction counts per input, from the call graph):

  decode     LLVMFuzzerTestOneInput minus Executor::Run: the decoder and
             the RESERVOIR_PROGRAM_OPS repetition
  reset      ModelPool::Acquire: the arena reset into the header's config
  ops        Executor::RunOn minus the teardown: the operations, with
             their cheap audit and ledger checks
  cheap      the cheap audit, wherever it runs (operations and teardown)
  ledger     ShadowLedger::Check, wherever it runs
  teardown   Executor::Teardown minus the full audit and pristine check
             it calls: the frees of everything still live
  full       the full audits (the final one, the one inside the pristine
             check, and audit=full programs' periodic ones)
  pristine   Model::CheckPristine minus its full audit: the shrink and the
             pristine comparisons
  engine     libFuzzer's own instructions per input (the fuzzing runs)
  entropic   the part of engine spent in Entropic's feature frequencies

cheap and ledger are parts of ops and teardown; full and pristine are not.
Instruction counts are the figure of record on a shared machine; with
--seconds the same binaries also run for that long outside valgrind and
their exec/s is printed beside them (noisy).

  bench/profile_input.py --build build/prof --seeds build/prof/corpus
      [--targets a,b] [--ops 16,64,256] [--runs 1000] [--seconds 0]
      [--json FILE]
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fuzz" / "campaign"))
from reservoir_campaign.common import fail, say, set_prog, write_atomically  # noqa: E402
from reservoir_campaign.targets import TARGETS  # noqa: E402

set_prog("profile_input")

UNITS_RE = re.compile(r"stat::number_of_executed_units:\s+(\d+)")
NAME_RE = re.compile(r"^\((\d+)\)(?: (.*))?$")


def parse_callgrind(path):
    """Self cost and call edges (caller, callee) -> (calls, inclusive) of a
    callgrind output file with one event (Ir)."""
    names = {}
    self_cost = defaultdict(int)
    edges = defaultdict(lambda: [0, 0])
    total = 0
    fn = None
    callee = None
    pending_calls = None

    def name_of(text):
        match = NAME_RE.match(text)
        if not match:
            return text
        ident, name = match.groups()
        if name is not None:
            names[ident] = name
        return names.get(ident, text)

    with open(path, encoding="utf-8", errors="replace") as data:
        for line in data:
            if not line or line == "\n":
                continue
            head = line[0]
            if head.isdigit() or head in "+-*":
                fields = line.split()
                if len(fields) < 2:
                    continue
                cost = int(fields[-1])
                if pending_calls is not None:
                    edge = edges[(fn, callee)]
                    edge[0] += pending_calls
                    edge[1] += cost
                    pending_calls = None
                else:
                    self_cost[fn] += cost
                continue
            if line.startswith("fn="):
                fn = name_of(line[3:].strip())
            elif line.startswith("cfn="):
                callee = name_of(line[4:].strip())
            elif line.startswith("calls="):
                pending_calls = int(line[6:].split()[0])
            elif line.startswith("summary:") or line.startswith("totals:"):
                total = int(line.split()[1])
    return names, self_cost, edges, total


class Profile:
    def __init__(self, path):
        _, self.self_cost, self.edges, self.total = parse_callgrind(path)
        self.into = defaultdict(lambda: [0, 0])  # callee -> calls, inclusive
        self.out = defaultdict(int)  # caller -> inclusive of its callees
        for (caller, callee), (calls, cost) in self.edges.items():
            if caller == callee:
                continue
            self.into[callee][0] += calls
            self.into[callee][1] += cost
            self.out[caller] += cost

    def find(self, pattern):
        """Every function whose name matches the regular expression."""
        regex = re.compile(pattern)
        found = {name for name in self.self_cost if regex.search(name)}
        found |= {callee for (_, callee) in self.edges if regex.search(callee)}
        return found

    def inclusive(self, pattern):
        """Inclusive cost of the matching functions, counting a call from
        one matching function into another once."""
        matching = self.find(pattern)
        cost = 0
        for (caller, callee), (_, edge_cost) in self.edges.items():
            if callee in matching and caller not in matching:
                cost += edge_cost
        return cost

    def calls(self, pattern):
        matching = self.find(pattern)
        return sum(calls for (caller, callee), (calls, _) in self.edges.items()
                   if callee in matching and caller not in matching)

    def called_from(self, callee_pattern, caller_pattern):
        """Inclusive cost of calls into `callee` made by `caller`."""
        callees = self.find(callee_pattern)
        callers = self.find(caller_pattern)
        return sum(cost for (caller, callee), (_, cost) in self.edges.items()
                   if callee in callees and caller in callers)


ENTRY = r"^LLVMFuzzerTestOneInput$"
RUN = r"reservoir::exec::Executor::Run\("
RUN_ON = r"reservoir::exec::Executor::RunOn\("
ACQUIRE = r"reservoir::exec::ModelPool::Acquire\("
TEARDOWN = r"reservoir::exec::Executor::Teardown\("
PRISTINE = r"reservoir::Model::CheckPristine\(\)"
# Model::EndOperation() runs the periodic full audits of audit=full
# programs (and nothing else); AuditFull may be inlined into it.
FULL = r"reservoir::Model::(AuditFull\(\) const|EndOperation\(\))"
# The cheap tier's checks, by the functions that make them.
CHEAP = (r"reservoir::(SlabAllocator::AuditSlab|PageAllocator::AuditCheap"
         r"(AfterAlloc|Zone)|ReserveTree::AuditPath|Model::AuditCheap\w*|"
         r"\w+::AuditCheap\w*)\(")
# Callers of the cheap checks that are part of the full audit.
FULL_CALLERS = (r"reservoir::(SlabAllocator::Audit(List|Cache|Full)|"
                r"PageAllocator::AuditFull|Model::AuditFull)\(")
LEDGER = r"reservoir::exec::ShadowLedger::Check\("


class Difference:
    """The costs of one profile minus another's: with the same inputs run
    once in `low` and three times in `high`, what is left is the steady
    state of two passes, without one-time costs (the model's construction,
    tables built on first use, process start-up)."""

    def __init__(self, high, low):
        self.high, self.low = high, low

    def inclusive(self, pattern):
        return self.high.inclusive(pattern) - self.low.inclusive(pattern)

    def called_from(self, callee, caller):
        return self.high.called_from(callee, caller) - \
            self.low.called_from(callee, caller)

    def calls(self, pattern):
        return self.high.calls(pattern) - self.low.calls(pattern)


def phases(profile, inputs):
    def per(value):
        return round(value / inputs) if inputs else 0

    entry = profile.inclusive(ENTRY)
    run = profile.inclusive(RUN)
    run_on = profile.inclusive(RUN_ON)
    teardown = profile.inclusive(TEARDOWN)
    full = profile.inclusive(FULL)
    pristine = profile.inclusive(PRISTINE)
    full_in_pristine = profile.called_from(FULL, PRISTINE)
    full_in_teardown = profile.called_from(FULL, TEARDOWN)
    cheap = profile.inclusive(CHEAP) - profile.called_from(CHEAP, FULL_CALLERS)
    return {
        "per_input": per(entry),
        "decode": per(entry - run),
        "reset": per(profile.inclusive(ACQUIRE)),
        "ops": per(run_on - teardown - (full - full_in_pristine - full_in_teardown)),
        "cheap": per(cheap),
        "ledger": per(profile.inclusive(LEDGER)),
        "teardown": per(teardown - full_in_teardown - pristine),
        "full": per(full),
        "pristine": per(pristine - full_in_pristine),
    }


def callgrind(binary, args, ops, out_file):
    env = dict(os.environ)
    env["RESERVOIR_PROGRAM_OPS"] = str(ops)
    command = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out_file}",
               str(binary)] + args
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    units = UNITS_RE.search(done.stderr)
    if done.returncode != 0:
        tail = "\n".join(done.stderr.splitlines()[-5:])
        fail(f"{binary.name} under callgrind failed:\n{tail}", status=1)
    return int(units.group(1)) if units else None


ENTROPIC = r"fuzzer::InputCorpus::(UpdateFeatureFrequency|AddRareFeature)\("


def engine_cost(binary, seeds, ops, runs, scratch):
    """libFuzzer's own instructions per input in steady state: two fuzzing
    runs from the same seeds with the same -seed, of `runs` and 3 x `runs`
    inputs, each into a fresh corpus; their difference leaves out start-up
    and the seed corpus' first pass."""
    profiles = []
    for count in (runs, 3 * runs):
        corpus = Path(f"{scratch}.corpus{count}")
        corpus.mkdir()
        out = Path(f"{scratch}.fuzz{count}")
        args = [f"-runs={count}", "-seed=1", "-print_final_stats=1",
                "-max_len=2072", str(corpus)]
        if seeds is not None:
            args.append(str(seeds))
        units = callgrind(binary, args, ops, out)
        profiles.append((Profile(out), units))
    (low, low_units), (high, high_units) = profiles
    if not low_units or not high_units or high_units <= low_units:
        return {"engine": None}
    inputs = high_units - low_units
    target = high.inclusive(ENTRY) - low.inclusive(ENTRY)
    entropic = high.inclusive(ENTROPIC) - low.inclusive(ENTROPIC)
    return {
        "engine": round((high.total - low.total - target) / inputs),
        "entropic": round(entropic / inputs),
        "fuzz_per_input": round(target / inputs),
    }


def exec_per_sec(binary, seeds, ops, seconds):
    env = dict(os.environ)
    env["RESERVOIR_PROGRAM_OPS"] = str(ops)
    with tempfile.TemporaryDirectory() as corpus:
        started = time.monotonic()
        done = subprocess.run([str(binary), f"-max_total_time={seconds}",
                               "-seed=1", "-print_final_stats=1",
                               "-max_len=2072", corpus, str(seeds)],
                              env=env, capture_output=True, text=True)
        elapsed = time.monotonic() - started
    units = UNITS_RE.search(done.stderr)
    if done.returncode != 0 or not units:
        fail(f"{binary.name} did not finish cleanly", status=1)
    return int(units.group(1)) / elapsed


def int_list(text):
    try:
        values = [int(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of numbers: {text}")
    if not values or any(v < 1 or v > 4096 for v in values):
        raise argparse.ArgumentTypeError("each length must be 1..4096")
    return values


def main():
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="Build: a libFuzzer build without sanitizers, e.g. cmake -S . "
        "-B build/prof -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "
        "-DCMAKE_CXX_FLAGS=-gdwarf-4 -DRESERVOIR_BUILD_TESTS=OFF "
        "-DRESERVOIR_BUILD_FUZZERS=ON -DRESERVOIR_FUZZ_ENGINE=libfuzzer "
        "(clang-14), then build fuzz_targets and trivial_fuzzer.")
    parser.add_argument("--build", required=True,
                        help="the build directory holding fuzz/targets/")
    parser.add_argument("--seeds", required=True,
                        help="a directory with one binary seed directory per target")
    parser.add_argument("--targets", default=",".join(TARGETS),
                        help="comma-separated targets (default: all)")
    parser.add_argument("--ops", type=int_list, default=[16, 64, 256],
                        help="program lengths (default: 16,64,256)")
    parser.add_argument("--runs", type=int, default=1000,
                        help="R: the engine is measured between fuzzing runs "
                        "of R and 3R inputs (default: 1000; 0 skips it)")
    parser.add_argument("--seconds", type=int, default=0,
                        help="also measure exec/s outside valgrind for this "
                        "long (default: 0, not measured)")
    parser.add_argument("--json", metavar="FILE",
                        help="write the figures as JSON (a new file)")
    args = parser.parse_args()
    if args.runs < 0 or args.seconds < 0:
        fail("--runs and --seconds must not be negative")
    if shutil.which("valgrind") is None:
        fail("valgrind is not installed (apt-get install valgrind)")
    targets = [t for t in args.targets.split(",") if t]
    unknown = [t for t in targets if t not in TARGETS]
    if unknown or not targets:
        fail(f"unknown target(s): {','.join(unknown) or '(none)'}")
    binaries = Path(args.build) / "fuzz" / "targets"
    seeds_root = Path(args.seeds)
    for target in targets:
        if not (binaries / target).is_file():
            fail(f"{binaries / target} is missing: build fuzz_targets first")
        if not (seeds_root / target).is_dir():
            fail(f"{seeds_root / target} is not a directory of seeds")
    if args.json and Path(args.json).exists():
        fail(f"{args.json} exists: not overwriting it")

    results = {"build": str(args.build), "ops": args.ops, "targets": {}}
    columns = ["per_input", "decode", "reset", "ops", "cheap", "ledger",
               "teardown", "full", "pristine"]
    print("| target | N | " + " | ".join(columns) + " | engine | entropic | exec/s |")
    print("|---|---:|" + "---:|" * (len(columns) + 3))
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        for target in targets:
            seeds = sorted(p for p in (seeds_root / target).iterdir() if p.is_file())
            results["targets"][target] = {}
            for ops in args.ops:
                say(f"{target}, {ops} operations: callgrind over {len(seeds)} "
                    "seeds, once and three times")
                passes = []
                for repeat in (1, 3):
                    out = scratch / f"{target}.{ops}.files{repeat}"
                    callgrind(binaries / target,
                              [str(p) for p in seeds] * repeat, ops, out)
                    passes.append(Profile(out))
                profile = Difference(passes[1], passes[0])
                inputs = profile.calls(ENTRY)
                row = phases(profile, inputs)
                row["inputs"] = inputs
                if args.runs:
                    say(f"{target}, {ops} operations: callgrind fuzzing "
                        f"{args.runs} and {3 * args.runs} inputs")
                    row.update(engine_cost(binaries / target, seeds_root / target,
                                           ops, args.runs, scratch / f"{target}.{ops}"))
                if args.seconds:
                    row["exec_per_sec"] = round(exec_per_sec(
                        binaries / target, seeds_root / target, ops, args.seconds))
                results["targets"][target][str(ops)] = row
                cells = " | ".join(f"{row[c]:,}" for c in columns)
                engine = " | ".join(
                    f"{row[c]:,}" if row.get(c) is not None else "-"
                    for c in ("engine", "entropic"))
                rate = f"{row['exec_per_sec']:,}" if "exec_per_sec" in row else "-"
                print(f"| {target} | {ops} | {cells} | {engine} | {rate} |",
                      flush=True)
        if args.runs:
            trivial = binaries / "trivial_fuzzer"
            if trivial.is_file():
                say(f"trivial_fuzzer: callgrind fuzzing {args.runs} and "
                    f"{3 * args.runs} inputs")
                row = engine_cost(trivial, None, args.ops[0], args.runs,
                                  scratch / "trivial")
                results["trivial_fuzzer"] = row
                print(f"trivial_fuzzer: engine {row['engine']:,} instructions per "
                      f"input (entropic {row['entropic']:,}), target "
                      f"{row['fuzz_per_input']:,}")
    if args.json:
        write_atomically(args.json, json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
