#!/usr/bin/env python3
"""Source-based coverage of the corpora: what the fuzz inputs reach.

Builds the `coverage` preset (clang -fprofile-instr-generate
-fcoverage-mapping, no sanitizers, no engine), replays corpora through
reservoir-replay with LLVM_PROFILE_FILE set -- each target's seed corpus,
its regression corpus, and optionally a campaign's grown corpus (--run) or
any other corpus directory (--corpus) -- merges the profiles with
llvm-profdata, and writes one report directory (default
build/coverage/<stamp>/, never an existing one):

  html/index.html   llvm-cov show: annotated sources, allocator/, injectors/
                    and fuzz/ only (no tests, no system headers)
  report.txt        llvm-cov report: regions, functions, lines and branches
                    per file
  coverage.json     llvm-cov export -summary-only: the same, machine-readable
  summary.md        totals per component, the least-covered files of
                    allocator/ and injectors/, the functions never executed
  summary.json      summary.md, machine-readable
  coverage.profdata the merged profile; replay.log: what the replays printed

summary.md is printed when the run ends. Exit status: 0 when every input
replayed clean, 1 when some input failed (a finding: it is listed, and its
coverage is left out; an aborted process writes no profile), 2 on bad
usage or a failed build.
"""

import argparse
import datetime
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from reservoir_campaign.common import fail, say, set_prog  # noqa: E402
from reservoir_campaign.targets import TARGETS  # noqa: E402

PROG = "reservoir coverage"
set_prog(PROG)
PRESET = "coverage"
# The project's own sources; the report leaves out everything else.
COMPONENTS = ["allocator", "injectors", "fuzz"]
# ... and, inside them, the tests.
IGNORE_REGEX = r"(^|/)tests/"
# Components whose weakest parts the summary names.
WATCHED = ["allocator", "injectors"]
LEAST_COVERED = 5
CHUNK = 256  # inputs per replay process
LLVM_VERSION = "14"

# reservoir-replay prints "== PATH (N operations)" before running an input.
RUNNING_RE = re.compile(r"^== (.*) \(\d+ operations\)$")
FINDING_RES = [
    re.compile(r"^(RESERVOIR BUG: .*)$"),
    re.compile(r"^(==\d+==ERROR: \w+Sanitizer: .*)$"),
    re.compile(r"^(\S+:\d+:\d+: runtime error: .*)$"),
    re.compile(r"^(reservoir-replay: .*)$"),
]


class UsageError(Exception):
    pass


class Parser(argparse.ArgumentParser):
    """argparse with one-line errors."""

    def error(self, message):
        fail(f"{message} (see --help)")


def tool(name):
    """An LLVM tool of the project's version, or a one-line error."""
    path = shutil.which(f"{name}-{LLVM_VERSION}")
    if path is None:
        fail(f"{name}-{LLVM_VERSION} not found (./reservoir setup installs llvm-{LLVM_VERSION})")
    return path


def parse_args(argv, root):
    parser = Parser(
        prog=PROG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Measure the source-based coverage the fuzz corpora "
                    "reach: replay them through an llvm-cov build and write "
                    "an HTML report, a text summary and a JSON export.",
        epilog="examples:\n"
               "  ./reservoir coverage                      seeds + regression corpora\n"
               "  ./reservoir coverage --run build/runs/STAMP   ... + a campaign's corpus\n"
               "  ./reservoir coverage --no-regression      the seed corpora alone\n"
               "  ./reservoir coverage --corpus slab_fuzzer=DIR --no-seeds --no-regression\n"
               "\nexit status: 0 every input replayed clean, 1 some input failed\n"
               "(listed in the summary, its coverage left out), 2 bad usage or build failure")
    parser.add_argument("--root", default=str(root), help=argparse.SUPPRESS)
    parser.add_argument("--run", action="append", default=[], metavar="DIR",
                        help="a campaign run directory (build/runs/STAMP): add "
                             "each target's grown corpus, DIR/TARGET/corpus "
                             "(repeatable)")
    parser.add_argument("--corpus", action="append", default=[],
                        metavar="[TARGET=]DIR",
                        help="add a corpus directory; its target is TARGET, or "
                             "the target named by a directory in its path "
                             "(repeatable)")
    parser.add_argument("--targets", default=",".join(TARGETS),
                        help="comma-separated targets whose corpora to replay "
                             "(default: all five)")
    parser.add_argument("--no-seeds", action="store_true",
                        help="leave out the seed corpora (build/coverage/corpus/TARGET)")
    parser.add_argument("--no-regression", action="store_true",
                        help="leave out the regression corpora (corpus/TARGET/regression)")
    parser.add_argument("--out", metavar="DIR",
                        help="report directory; must not exist or be empty "
                             "(default: build/coverage/STAMP)")
    parser.add_argument("--build-dir", metavar="DIR",
                        help="build the coverage preset into DIR instead of "
                             "build/coverage")
    parser.add_argument("--no-build", action="store_true",
                        help="use the build directory as it is")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 2,
                        metavar="N", help="build jobs (default: CPU count)")
    parser.add_argument("--top", type=int, default=LEAST_COVERED, metavar="N",
                        help="least-covered files named per component "
                             f"(default: {LEAST_COVERED})")
    args = parser.parse_args(argv)
    args.root = Path(args.root).resolve()
    if args.jobs <= 0:
        raise UsageError("--jobs must be positive")
    if args.top <= 0:
        raise UsageError("--top must be positive")
    args.targets = [t for t in args.targets.split(",") if t]
    if not args.targets:
        raise UsageError("--targets names no target")
    for target in args.targets:
        if target not in TARGETS:
            raise UsageError(f"unknown target '{target}' (known: {', '.join(TARGETS)})")
    args.build_dir = (Path(args.build_dir).resolve() if args.build_dir
                      else args.root / "build" / PRESET)

    runs = []
    for run in args.run:
        path = Path(run).resolve()
        if not path.is_dir():
            raise UsageError(f"--run: '{run}' is not a directory")
        if not any((path / t / "corpus").is_dir() for t in TARGETS):
            raise UsageError(f"--run: '{run}' has no TARGET/corpus directory "
                             "(expected a ./reservoir fuzz run directory)")
        runs.append(path)
    args.run = runs

    corpora = []
    for spec in args.corpus:
        target, sep, rest = spec.partition("=")
        if sep and target in TARGETS:
            path = Path(rest)
        else:
            target, path = None, Path(spec)
        if not path.is_dir():
            raise UsageError(f"--corpus: '{path}' is not a directory")
        path = path.resolve()
        if target is None:
            named = [part for part in path.parts if part in TARGETS]
            if not named:
                raise UsageError(f"--corpus: no target in the path '{spec}' "
                                 "(write TARGET=DIR)")
            target = named[-1]
        if target not in args.targets:
            raise UsageError(f"--corpus: '{spec}' is {target}'s, which "
                             "--targets leaves out")
        corpora.append((target, path))
    args.corpus = corpora
    return args


def report_dir(args):
    if args.out:
        out = Path(args.out).resolve()
        if out.exists() and (not out.is_dir() or any(out.iterdir())):
            raise UsageError(f"--out: '{args.out}' exists and is not empty "
                             "(reports are never overwritten)")
        return out
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    out = args.root / "build" / PRESET / stamp
    n = 1
    while out.exists():
        n += 1
        out = args.root / "build" / PRESET / f"{stamp}-{n}"
    return out


def build(args):
    build_dir = args.build_dir
    replay = build_dir / "fuzz" / "tools" / "reservoir-replay"
    if args.no_build:
        if not replay.exists():
            fail(f"--no-build: no reservoir-replay in {build_dir}")
        return replay
    build_dir.mkdir(parents=True, exist_ok=True)
    log = build_dir / "coverage-build.log"
    say(f"building the {PRESET} preset in {build_dir}")
    configure = ["cmake", "--preset", PRESET]
    if build_dir != args.root / "build" / PRESET:
        configure += ["-B", str(build_dir)]
    with open(log, "w") as out:
        for command in (
                configure,
                ["cmake", "--build", str(build_dir), "-j", str(args.jobs),
                 "--target", "reservoir-replay", "seed_corpora"]):
            if subprocess.call(command, cwd=args.root, stdout=out,
                               stderr=subprocess.STDOUT) != 0:
                sys.stderr.write(log.read_text()[-4000:])
                fail(f"build failed (log: {log})")
    return replay


def collect_inputs(args):
    """[(target, kind, directory, [files])] in replay order: per target its
    seeds, its regression corpus, then campaign and other corpora."""
    sources = []
    for target in args.targets:
        if not args.no_seeds:
            sources.append((target, "seeds", args.build_dir / "corpus" / target))
        if not args.no_regression:
            sources.append((target, "regression",
                            args.root / "corpus" / target / "regression"))
        for run in args.run:
            sources.append((target, "campaign", run / target / "corpus"))
        for corpus_target, path in args.corpus:
            if corpus_target == target:
                sources.append((target, "corpus", path))
    inputs = []
    for target, kind, directory in sources:
        files = sorted(p for p in directory.iterdir()
                       if p.is_file() and not p.name.startswith(".")) \
            if directory.is_dir() else []
        inputs.append((target, kind, directory, files))
    return inputs


class Replayer:
    """Runs inputs through reservoir-replay, one profile per clean process."""

    def __init__(self, replay, out):
        self.replay = replay
        self.profiles = out / "profiles"
        self.profiles.mkdir(parents=True)
        self.log = open(out / "replay.log", "w")
        self.count = 0
        self.failures = []  # (target, path, first report line)

    def run(self, target, files):
        """Replays files; returns how many ran clean."""
        clean = 0
        for start in range(0, len(files), CHUNK):
            clean += self.run_chunk(target, files[start:start + CHUNK])
        return clean

    def run_chunk(self, target, files):
        pending = list(files)
        while pending:
            self.count += 1
            profile = self.profiles / f"{target}-{self.count}.profraw"
            env = dict(os.environ, LLVM_PROFILE_FILE=str(profile))
            command = [str(self.replay), "--target", target,
                       *[str(f) for f in pending]]
            result = subprocess.run(command, env=env, stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT, errors="replace")
            status = (f"signal {-result.returncode}" if result.returncode < 0
                      else f"exit {result.returncode}")
            self.log.write(f"# {target}: {len(pending)} inputs, {status}\n"
                           f"{result.stdout}")
            self.log.flush()
            if result.returncode == 0:
                return len(pending)
            # A failed process's profile is partial, or absent after an
            # abort: drop it, leave out the culprit, replay the rest again.
            profile.unlink(missing_ok=True)
            culprit = self.culprit(result.stdout, pending)
            if culprit is None:
                if len(pending) > 1:
                    # Not identifiable from the output: one at a time.
                    return sum(self.run_chunk(target, [f]) for f in pending)
                culprit = pending[0]
            self.failures.append((target, culprit,
                                  self.first_finding(result.stdout,
                                                     result.returncode)))
            pending.remove(culprit)
        return 0

    @staticmethod
    def culprit(output, pending):
        by_name = {str(f): f for f in pending}
        lines = output.splitlines()
        # An unreadable or unparsable input names itself in the error.
        for line in lines:
            if line.startswith("reservoir-replay: "):
                for name, path in by_name.items():
                    if name in line:
                        return path
        # Otherwise the input that was running when the process died.
        running = None
        for line in lines:
            match = RUNNING_RE.match(line)
            if match and match.group(1) in by_name:
                running = by_name[match.group(1)]
        return running

    @staticmethod
    def first_finding(output, returncode):
        for line in output.splitlines():
            for pattern in FINDING_RES:
                found = pattern.match(line)
                if found:
                    return found.group(1)
        return (f"killed by signal {-returncode}" if returncode < 0
                else f"exit status {returncode}")

    def close(self):
        self.log.close()
        return sorted(self.profiles.glob("*.profraw"))


SOURCE_SUFFIXES = (".cc", ".cpp", ".c", ".h", ".hh", ".inc")


def project_sources(root):
    """The files the report covers, sorted: the components' sources
    without their tests (llvm-cov leaves out any it has no data for)."""
    sources = []
    for component in COMPONENTS:
        for path in (root / component).rglob("*"):
            rel = path.relative_to(root)
            if (path.is_file() and path.suffix in SOURCE_SUFFIXES
                    and "tests" not in rel.parts):
                sources.append(str(path))
    return sorted(sources)


def llvm_cov_args(args, replay, profdata):
    return [str(replay), f"-instr-profile={profdata}",
            f"-ignore-filename-regex={IGNORE_REGEX}"], project_sources(args.root)


def run_tool(command, out_path=None):
    """Runs an LLVM tool; its stdout, or a one-line error naming it."""
    result = subprocess.run(command, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, errors="replace")
    if result.returncode != 0:
        first = (result.stderr.strip().splitlines() or ["(no output)"])[0]
        fail(f"{Path(command[0]).name} {command[1]} failed: {first}")
    if out_path is not None:
        out_path.write_text(result.stdout)
    return result.stdout


def percent(covered, count):
    return 100.0 * covered / count if count else None


def fmt(covered, count):
    value = percent(covered, count)
    if value is None:
        return "-"
    return f"{value:.1f}% ({covered}/{count})"


def relative(root, filename):
    try:
        return str(Path(filename).resolve().relative_to(root))
    except ValueError:
        return filename


def component_of(path):
    return path.split("/", 1)[0]


def demangle(names):
    """Demangles with llvm-cxxfilt; static functions keep no file prefix."""
    plain = [n.split(":", 1)[1] if ":" in n and n.split(":", 1)[1].startswith("_Z")
             else n for n in names]
    cxxfilt = shutil.which(f"llvm-cxxfilt-{LLVM_VERSION}") or shutil.which("c++filt")
    if cxxfilt is None or not plain:
        return plain
    result = subprocess.run([cxxfilt], input="\n".join(plain) + "\n",
                            stdout=subprocess.PIPE, errors="replace")
    out = result.stdout.splitlines()
    if result.returncode != 0 or len(out) != len(plain):
        return plain
    shorter = []
    for name in out:
        name = name.replace("std::__cxx11::", "std::")
        name = name.replace("std::basic_string<char, std::char_traits<char>, "
                            "std::allocator<char> >", "std::string")
        name = name.replace("std::basic_string_view<char, std::char_traits<char> >",
                            "std::string_view")
        name = name.replace("(anonymous namespace)::", "")
        shorter.append(name)
    return shorter


def short_name(name):
    """Class::function, without namespaces or parameters."""
    depth, cut = 0, len(name)
    for i, ch in enumerate(name):  # the parameter list: the first top-level (
        if ch == "<":
            depth += 1
        elif ch == ">":
            depth -= 1
        elif ch == "(" and depth == 0 and i > 0 and not name.startswith("operator", i - 8):
            cut = i
            break
    name = name[:cut].replace("[abi:cxx11]", "")
    for prefix in ("reservoir::injectors::", "reservoir::"):
        name = name.replace(prefix, "")
    return name


def summarize(root, summary_export, full_export, top):
    """Per-file numbers, component totals, least-covered files, and the
    functions never executed, from llvm-cov's JSON exports."""
    files = []
    for entry in summary_export["data"][0]["files"]:
        s = entry["summary"]
        files.append({
            "file": relative(root, entry["filename"]),
            "lines": [s["lines"]["covered"], s["lines"]["count"]],
            "branches": [s["branches"]["covered"], s["branches"]["count"]],
            "regions": [s["regions"]["covered"], s["regions"]["count"]],
            "functions": [s["functions"]["covered"], s["functions"]["count"]],
        })
    files.sort(key=lambda f: f["file"])
    kinds = ["lines", "branches", "regions", "functions"]
    totals = {}
    for component in COMPONENTS + ["all"]:
        chosen = [f for f in files
                  if component == "all" or component_of(f["file"]) == component]
        totals[component] = {k: [sum(f[k][0] for f in chosen),
                                 sum(f[k][1] for f in chosen)] for k in kinds}

    least = {}
    for component in WATCHED:
        chosen = [f for f in files
                  if component_of(f["file"]) == component and f["lines"][1]]
        chosen.sort(key=lambda f: (f["lines"][0] / f["lines"][1],
                                   -(f["lines"][1] - f["lines"][0]), f["file"]))
        least[component] = [f["file"] for f in chosen[:top]]

    # A function (all its instantiations) that never ran, by where it is.
    by_site = {}
    for function in full_export["data"][0]["functions"]:
        regions = function.get("regions") or []
        if not regions or not function.get("filenames"):
            continue
        filename = relative(root, function["filenames"][regions[0][5]])
        if component_of(filename) not in WATCHED or "/tests/" in filename:
            continue
        site = (filename, regions[0][0], regions[0][1])
        entry = by_site.setdefault(site, {"name": function["name"], "count": 0})
        entry["count"] += function["count"]
    never = sorted((site, entry["name"]) for site, entry in by_site.items()
                   if entry["count"] == 0)
    names = demangle([name for _, name in never])
    unexecuted = {c: [] for c in WATCHED}
    for ((filename, line, _), _), name in zip(never, names):
        unexecuted[component_of(filename)].append(
            {"file": filename, "line": line, "function": name})
    return {"files": files, "totals": totals, "least_covered": least,
            "never_executed": unexecuted}


def render(summary, inputs_table, failures, out, args):
    lines = ["# Reservoir coverage report", ""]
    lines.append(f"report directory: {out}")
    lines.append(f"html: {out / 'html' / 'index.html'}")
    lines.append(f"build: {args.build_dir} (reservoir-replay; clang "
                 "-fprofile-instr-generate -fcoverage-mapping)")
    lines.append("")
    lines.append("## Inputs replayed")
    lines.append("")
    kinds = ["seeds", "regression", "campaign", "corpus"]
    lines.append("| target | " + " | ".join(kinds) + " | failed |")
    lines.append("|---|" + "---:|" * (len(kinds) + 1))
    for target, row in inputs_table.items():
        lines.append(f"| {target} | " + " | ".join(
            str(row.get(k, "-")) for k in kinds) + f" | {row['failed']} |")
    total = sum(sum(v for k, v in row.items() if k in kinds)
                for row in inputs_table.values())
    lines.append("")
    lines.append(f"{total} inputs, {len(failures)} failed"
                 + (" (left out of the coverage):" if failures else "."))
    for target, path, finding in failures:
        lines.append(f"- {target}: {path}: {finding}")
    lines.append("")
    lines.append("## Totals")
    lines.append("")
    lines.append("| component | lines | branches | regions | functions |")
    lines.append("|---|---:|---:|---:|---:|")
    for component, t in summary["totals"].items():
        name = "all" if component == "all" else f"{component}/"
        lines.append(f"| {name} | {fmt(*t['lines'])} | {fmt(*t['branches'])} "
                     f"| {fmt(*t['regions'])} | {fmt(*t['functions'])} |")
    by_file = {f["file"]: f for f in summary["files"]}
    for component in WATCHED:
        lines.append("")
        lines.append(f"## Least-covered files in {component}/ (by lines)")
        lines.append("")
        lines.append("| file | lines | branches | functions |")
        lines.append("|---|---:|---:|---:|")
        for name in summary["least_covered"][component]:
            f = by_file[name]
            lines.append(f"| {name} | {fmt(*f['lines'])} | "
                         f"{fmt(*f['branches'])} | {fmt(*f['functions'])} |")
    functions = {f["file"]: f["functions"][1] for f in summary["files"]}
    for component in WATCHED:
        never = summary["never_executed"][component]
        per_file = {}
        for entry in never:
            per_file.setdefault(entry["file"], []).append(entry)
        lines.append("")
        lines.append(f"## Functions never executed in {component}/ "
                     f"({len(never)} in {len(per_file)} files)")
        lines.append("")
        for name, entries in per_file.items():
            if len(entries) == functions.get(name):
                lines.append(f"- {name}: " + ("its only function" if len(entries) == 1
                                                   else f"all {len(entries)} functions"))
            else:
                lines.append(f"- {name}: " + ", ".join(
                    f"{short_name(e['function'])} ({e['line']})" for e in entries))
        if not never:
            lines.append("none")
    return "\n".join(lines) + "\n"


def main(argv):
    root = Path(__file__).resolve().parents[2]
    try:
        args = parse_args(argv, root)
        out = report_dir(args)
    except UsageError as error:
        fail(str(error))
    profdata_tool = tool("llvm-profdata")
    cov = tool("llvm-cov")
    replay = build(args)
    inputs = collect_inputs(args)
    if not any(files for _, _, _, files in inputs):
        fail("no inputs to replay (the chosen corpora are empty)")

    out.mkdir(parents=True, exist_ok=True)
    say(f"replaying {sum(len(f) for _, _, _, f in inputs)} inputs; "
        f"writing to {out}")
    replayer = Replayer(replay, out)
    table = {}
    for target, kind, directory, files in inputs:
        row = table.setdefault(target, {"failed": 0})
        if not files:
            continue
        before = len(replayer.failures)
        replayer.run(target, files)
        row[kind] = row.get(kind, 0) + len(files)
        row["failed"] += len(replayer.failures) - before
    profiles = replayer.close()
    if not profiles:
        for target, path, finding in replayer.failures:
            print(f"{target}: {path}: {finding}", file=sys.stderr)
        print(f"{PROG}: every input failed, so no profile was written "
              f"(log: {out / 'replay.log'})", file=sys.stderr)
        return 1

    profdata = out / "coverage.profdata"
    listing = out / "profiles" / "list.txt"
    listing.write_text("".join(f"{p}\n" for p in profiles))
    run_tool([profdata_tool, "merge", "-sparse", f"-input-files={listing}",
              "-o", str(profdata)])
    shutil.rmtree(out / "profiles")

    common, sources = llvm_cov_args(args, replay, profdata)
    say("writing the HTML report, report.txt and coverage.json")
    demangler = shutil.which(f"llvm-cxxfilt-{LLVM_VERSION}")
    run_tool([cov, "show", *common, "-format=html",
              f"-output-dir={out / 'html'}", "-show-branches=count",
              "-show-line-counts-or-regions", "-show-expansions",
              "-project-title=Reservoir", f"-num-threads={args.jobs}",
              *([f"-Xdemangler={demangler}"] if demangler else []), *sources])
    run_tool([cov, "report", *common, "-show-region-summary",
              "-show-branch-summary", *sources], out / "report.txt")
    summary_text = run_tool([cov, "export", *common, "-summary-only",
                             "-format=text", *sources], out / "coverage.json")
    full_text = run_tool([cov, "export", *common, "-format=text",
                          "-skip-expansions", *sources])
    summary = summarize(args.root, json.loads(summary_text),
                        json.loads(full_text), args.top)
    summary["inputs"] = table
    summary["failures"] = [{"target": t, "input": str(p), "finding": f}
                           for t, p, f in replayer.failures]
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    text = render(summary, table, replayer.failures, out, args)
    (out / "summary.md").write_text(text)
    sys.stdout.write(text)
    say(f"report: {out / 'html' / 'index.html'}; summary: {out / 'summary.md'}")
    return 1 if replayer.failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
