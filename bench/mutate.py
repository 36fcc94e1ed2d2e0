#!/usr/bin/env python3
"""Mutation check of the fuzz oracle: which small allocator changes go unseen.

Each mutant is one small change to one file of the allocator: a source
(allocator/src/*.cc) or a header with inline code (allocator/src/*.h,
allocator/include/reservoir/*.h, e.g. the slab fast path):

  rel     a relational operator swapped (< <=, > >=, == !=)
  arith   an arithmetic operator swapped (+ -, * /)
  logic   && and || swapped
  update  a `+=`, `-=`, `++` or `--` statement deleted
  bool    `true` and `false` swapped
  const   an integer literal moved by one (n-1, or 1 for 0)

Mutation sites are enumerated in code only (comments, strings, character
literals and preprocessor lines are skipped), in file and offset order; in a
header, only inside function bodies (the inline code: not declarations,
enumerators, member initialisers or constant tables). A fixed-seed sample of
`--count` of them is taken (`--seed`); `--no-headers` samples the sources
alone, as the script did before it read headers, so an older `--seed` and
`--count` give the same mutants again. Everything runs on
a private copy of the sources (`git archive` of `--rev`, HEAD by default) in
a fresh work directory, so the checkout is never edited and a crash leaves it
clean.

The copy is built once (libFuzzer engine, ASan + UBSan by default, no unit
tests, `-j2` at most), with its seed corpora. Then, mutant by mutant, the
mutated file is written into the copy, the fuzz targets are rebuilt
incrementally and each target of fuzz/targets/targets.txt runs for a budget
bounded by executions (`--runs`, from the target's compiled seeds, libFuzzer
`-seed=1`), stopping at the first target that reports. The file is restored
before the next mutant.

  killed          a target reported (RESERVOIR BUG, a sanitizer, a crash or a
                  timeout of one input)
  survived        every target ran its budget clean
  no-compile      the mutant did not build
  equivalent      the mutant compiled to the same object files as the
                  original (every object the rebuild made, for a header all
                  that include it; so no test could ever kill it); not run
  gone            (--same-as only) the mutated line no longer exists

`--same-as OLD/mutants.json` reruns exactly the mutants of an earlier run on
today's sources (the before/after comparison): each is found again by its
file, kind, change and source line (and which of the equal sites on that
line it was), wherever the line has moved; a mutant whose line is gone is
reported as `gone`.

Only the fuzz targets judge a mutant, not the unit tests: the question is what
the fuzz oracle (the model's own audits plus the executor's shadow) sees, and
the unit tests would hide its gaps behind hand-written expectations.

Output: `<out>/mutants.json` and `<out>/mutants.md`, written atomically into
`--out`, a directory that must not exist yet. Progress goes to stderr.

One line for the default sample, and one to rerun it later:

  bench/mutate.py --count 40 --seed 1 --out runs/mutate-1
  bench/mutate.py --same-as bench/mutants-seed1.json --out runs/mutate-1-again
"""

import argparse
import hashlib
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Binary operators are written with a space on each side in this code base
# (clang-format), which tells them apart from templates, pointers and
# unary signs.
BINARY_SWAPS = {
    "<": ("rel", "<="), "<=": ("rel", "<"), ">": ("rel", ">="),
    ">=": ("rel", ">"), "==": ("rel", "!="), "!=": ("rel", "=="),
    "+": ("arith", "-"), "-": ("arith", "+"), "*": ("arith", "/"),
    "/": ("arith", "*"), "&&": ("logic", "||"), "||": ("logic", "&&"),
}
BINARY_RE = re.compile(r"(?<=[\w)\]]) (<=|>=|==|!=|&&|\|\||<|>|\+|-|\*|/) (?=[\w(!~*&-])")
UPDATE_RE = re.compile(
    r"^[ \t]*(?:[\w.\[\]>()-]+ (?:\+=|-=) [^;{}]+|(?:\+\+|--)[\w.\[\]>()-]+|"
    r"[\w.\[\]>()-]+(?:\+\+|--));[ \t]*$", re.M)
BOOL_RE = re.compile(r"\b(true|false)\b")
INT_RE = re.compile(r"(?<![\w.])(\d+)(?![\w.])")


def blank_non_code(text):
    """`text` with comments, string and char literals and preprocessor lines
    replaced by spaces (newlines kept), so offsets still match."""
    out = list(text)
    i, n = 0, len(text)
    line_start = True
    while i < n:
        c = text[i]
        if line_start and c == "#":
            j = text.find("\n", i)
            j = n if j < 0 else j
            while j > i and text[j - 1] == "\\":  # continued directive
                k = text.find("\n", j + 1)
                j = n if k < 0 else k
            for k in range(i, j):
                if out[k] != "\n":
                    out[k] = " "
            i = j
            continue
        if c == "\n":
            line_start = True
            i += 1
            continue
        if c in " \t":
            i += 1
            continue
        line_start = False
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            j = min(n, j + 1)
        else:
            i += 1
            continue
        for k in range(i, j):
            if out[k] != "\n":
                out[k] = " "
        i = j
    return "".join(out)


def sites_in(path, text):
    """Every mutation site of one file: (kind, offset, old, new)."""
    code = blank_non_code(text)
    sites = []
    for m in BINARY_RE.finditer(code):
        kind, new = BINARY_SWAPS[m.group(1)]
        sites.append((kind, m.start(1), m.group(1), new))
    for m in UPDATE_RE.finditer(code):
        stmt = text[m.start():m.end()]
        body = stmt.strip()
        sites.append(("update", m.start() + stmt.index(body), body, ";"))
    for m in BOOL_RE.finditer(code):
        new = "false" if m.group(1) == "true" else "true"
        sites.append(("bool", m.start(), m.group(1), new))
    for m in INT_RE.finditer(code):
        # Template arguments, array bounds and shifts alike: all are code.
        value = int(m.group(1))
        if m.group(1).startswith("0") and value != 0:
            continue  # octal spelling; none expected
        new = value + 1 if value == 0 else value - 1
        sites.append(("const", m.start(), m.group(1), str(new)))
    sites.sort(key=lambda s: (s[1], s[0]))
    return sites


def function_bodies(code):
    """(start, end) offsets of the outermost function bodies in `code` (text
    already through blank_non_code): a `{` whose preceding code, past any
    `const`, `noexcept`, `override`, `final` or `mutable`, ends with `)`
    (a function, a constructor after its initialisers, a lambda). Class,
    namespace, enum and initialiser braces are not bodies."""
    bodies = []
    stack = []  # per open brace: whether it starts a body
    start = None
    qualifier = re.compile(r"(?:\s*\b(?:const|noexcept|override|final|mutable))*\s*$")
    for i, c in enumerate(code):
        if c == "{":
            opens_body = False
            if start is None:
                before = code[max(0, i - 400):i]
                m = qualifier.search(before)
                head = before[:m.start()] if m else before
                opens_body = head.rstrip().endswith(")")
                if opens_body:
                    start = i
            stack.append(opens_body)
        elif c == "}" and stack:
            if stack.pop():
                bodies.append((start, i + 1))
                start = None
    return bodies


def sites_in_header(path, text):
    """The mutation sites of a header that lie in its inline code."""
    bodies = function_bodies(blank_non_code(text))
    return [s for s in sites_in(path, text)
            if any(a < s[1] < b for a, b in bodies)]


def allocator_files(src_root, headers=True):
    """The files to mutate, relative to `src_root`, sorted: allocator/src/*.cc
    and (headers) allocator/src/*.h and allocator/include/reservoir/*.h."""
    dirs = [(os.path.join("allocator", "src"), (".cc", ".h") if headers else (".cc",))]
    if headers:
        dirs.append((os.path.join("allocator", "include", "reservoir"), (".h",)))
    return sorted(os.path.join(d, f) for d, ends in dirs
                  for f in os.listdir(os.path.join(src_root, d))
                  if f.endswith(ends))


def site_key(site):
    return (site["file"], site["kind"], site["old"], site["new"], site["source"])


def with_occurrences(sites):
    """Numbers each site among the sites with the same key (file, kind,
    change, source line), in offset order, so a site can be found again in
    another version of the sources."""
    seen = {}
    for s in sites:
        k = site_key(s)
        s["occurrence"] = seen.get(k, 0)
        seen[k] = s["occurrence"] + 1
    return sites


def line_of(text, offset):
    return text.count("\n", 0, offset) + 1


def all_sites(src_root, files):
    result = []
    for rel in files:
        with open(os.path.join(src_root, rel), encoding="utf-8") as f:
            text = f.read()
        find = sites_in_header if rel.endswith(".h") else sites_in
        for kind, offset, old, new in find(rel, text):
            line = line_of(text, offset)
            src_line = text.splitlines()[line - 1].strip()
            result.append({"file": rel, "offset": offset, "line": line,
                           "kind": kind, "old": old, "new": new,
                           "source": src_line})
    return result


def log(msg):
    sys.stderr.write(msg + "\n")
    sys.stderr.flush()


def run(cmd, cwd=None, timeout=None, env=None):
    try:
        p = subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=timeout, env=env)
        return p.returncode, p.stdout.decode("utf-8", "replace")
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode("utf-8", "replace") if e.stdout else ""
        return None, out


def read_targets(src):
    with open(os.path.join(src, "fuzz", "targets", "targets.txt")) as f:
        return [l.strip() for l in f
                if re.fullmatch(r"[a-z][a-z0-9_]*", l.strip())]


def object_files(build):
    """Every object file of the build but those of the allocator's copy
    without fault sites (bench/, which no fuzz target links): path ->
    (mtime_ns, size)."""
    found = {}
    for root, _, files in os.walk(build):
        if "nofaults" in root:
            continue
        for name in files:
            if name.endswith(".o"):
                path = os.path.join(root, name)
                st = os.stat(path)
                found[path] = (st.st_mtime_ns, st.st_size)
    return found


def file_hash(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


class ObjectBaseline:
    """The unmutated build's object files, to tell whether a mutant changed
    any of them: a source's mutant changes its own object, a header's every
    object compiled from a file that includes it. Only objects whose time
    stamp or size moved since the baseline are read again."""

    def __init__(self, build):
        self.build = build
        self.stat = object_files(build)
        self.hash = {p: file_hash(p) for p in self.stat}

    def unchanged(self):
        now = object_files(self.build)
        if now.keys() != self.stat.keys():
            return False
        return all(now[p] == self.stat[p] or file_hash(p) == self.hash[p]
                   for p in now)


REPORT_RE = re.compile(
    r"RESERVOIR BUG: ([\w-]+)[^\n]*|ERROR: AddressSanitizer: ([\w-]+)|"
    r"runtime error: [^\n]*|ERROR: libFuzzer: ([\w-]+)")


def fuzz_target(build, work, target, runs, timeout_s):
    seeds = os.path.join(work, "seeds", target)
    scratch = tempfile.mkdtemp(prefix=target + "-", dir=os.path.join(work, "scratch"))
    binary = os.path.join(build, "fuzz", "targets", target)
    cmd = [binary, f"-runs={runs}", "-seed=1", "-timeout=10", "-rss_limit_mb=4096",
           f"-artifact_prefix={scratch}/", scratch]
    dict_path = os.path.join(work, "src", "corpus", target, target + ".dict")
    if os.path.exists(dict_path):
        cmd.insert(2, f"-dict={dict_path}")
    if os.path.isdir(seeds):
        cmd.append(seeds)
    rc, out = run(cmd, cwd=scratch, timeout=timeout_s)
    shutil.rmtree(scratch, ignore_errors=True)
    if rc == 0:
        return None
    if rc is None:
        return "timeout of the whole run"
    m = REPORT_RE.search(out)
    return m.group(0)[:160] if m else f"exit {rc}"


def atomic_write(path, text):
    d = os.path.dirname(path)
    fd, tmp = tempfile.mkstemp(dir=d, prefix=".tmp-")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    os.rename(tmp, path)


def markdown(meta, mutants):
    counts = meta["counts"]
    judged = counts["killed"] + counts["survived"]
    lines = [
        "# Mutation check", "",
        f"rev `{meta['rev']}`, seed {meta['seed']}, {meta['count']} mutants "
        f"of {meta['sites']} sites, {meta['runs']} runs per target, "
        f"sanitizers `{meta['sanitizers'] or 'none'}`, {meta['seconds']:.0f} s", "",
        "| result | mutants |", "|---|---|",
    ]
    for k in ("killed", "survived", "equivalent", "no-compile", "gone"):
        lines.append(f"| {k} | {counts.get(k, 0)} |")
    rate = 100.0 * counts["killed"] / judged if judged else 0.0
    lines += ["", f"Kill rate: {counts['killed']}/{judged} = {rate:.1f}% of the "
              "mutants that compiled to different code.", "",
              "| # | file:line | kind | change | result | by |"
              + (" before |" if meta.get("same_as") else ""),
              "|---|---|---|---|---|---|" + ("---|" if meta.get("same_as") else "")]
    for m in mutants:
        change = f"`{m['old']}` -> `{m['new']}`".replace("|", "\\|")
        by = (m.get("target") or "") + (": " + m["report"] if m.get("report") else "")
        lines.append(f"| {m['id']} | {m['file']}:{m['line']} | {m['kind']} | "
                     f"{change} | {m['result']} | {by.replace('|', '/')} |"
                     + (f" {m.get('was') or ''} |" if meta.get("same_as") else ""))
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(
        description="Mutate the allocator (allocator/src/*.cc, and the inline "
                    "code of allocator/src/*.h and allocator/include/reservoir/*.h) "
                    "one small change at a time and report which mutants the "
                    "fuzz targets kill.",
        epilog="Example: bench/mutate.py --count 40 --seed 1 --out runs/mutate-1")
    ap.add_argument("--seed", type=int, default=1, help="sampling seed (default 1)")
    ap.add_argument("--count", type=int, default=40, help="mutants to sample (default 40)")
    ap.add_argument("--runs", type=int, default=3000,
                    help="libFuzzer executions per target and mutant (default 3000)")
    ap.add_argument("--out", required=False, help="fresh output directory (must not exist)")
    ap.add_argument("--rev", default="HEAD", help="git revision to mutate (default HEAD)")
    ap.add_argument("--work", help="work directory for the copy and its build "
                    "(default: a new temporary directory, removed at the end)")
    ap.add_argument("--keep-work", action="store_true", help="keep the work directory")
    ap.add_argument("--jobs", type=int, default=2, help="build jobs, 1 or 2 (default 2)")
    ap.add_argument("--sanitizers", default="address,undefined",
                    help="RESERVOIR_SANITIZERS of the build (default address,undefined; '' for none)")
    ap.add_argument("--targets", help="comma-separated subset of the fuzz targets")
    ap.add_argument("--same-as", metavar="JSON",
                    help="rerun the mutants of an earlier mutants.json (its seed, "
                    "count, runs and sanitizers too) on today's sources")
    ap.add_argument("--no-headers", action="store_true",
                    help="mutate allocator/src/*.cc only, as before headers were "
                    "read (an older run's --seed and --count pick the same mutants)")
    ap.add_argument("--list", action="store_true",
                    help="print the sampled mutants and exit (no build)")
    args = ap.parse_args()

    def usage(msg):
        sys.stderr.write(f"mutate.py: {msg}\n")
        sys.exit(2)

    if args.count < 1:
        usage("--count must be at least 1")
    if args.runs < 1:
        usage("--runs must be at least 1")
    if args.jobs not in (1, 2):
        usage("--jobs must be 1 or 2 (the machine is shared)")
    if not args.list:
        if not args.out:
            usage("--out is required")
        if os.path.exists(args.out):
            usage(f"--out {args.out} exists; give a fresh directory")
    previous = None
    if args.same_as:
        try:
            with open(args.same_as, encoding="utf-8") as f:
                previous = json.load(f)
            previous["mutants"], previous["meta"]["runs"]  # noqa: B018
        except (OSError, ValueError, KeyError, TypeError) as e:
            usage(f"--same-as {args.same_as}: not a mutants.json ({e})")
        args.seed = previous["meta"]["seed"]
        args.runs = previous["meta"]["runs"]
        args.sanitizers = previous["meta"]["sanitizers"]
    if args.work and os.path.exists(args.work):
        usage(f"--work {args.work} exists; give a fresh directory")
    rc, rev = run(["git", "-C", REPO, "rev-parse", "--verify", args.rev + "^{commit}"])
    if rc != 0:
        usage(f"--rev {args.rev}: not a commit")
    rev = rev.strip()
    if previous is not None and args.list:
        usage("--list and --same-as do not go together")

    start = time.time()
    work = os.path.abspath(args.work) if args.work else tempfile.mkdtemp(prefix="mutate-")
    os.makedirs(work, exist_ok=True)
    src = os.path.join(work, "src")
    os.makedirs(src)
    try:
        archive = subprocess.run(["git", "-C", REPO, "archive", rev],
                                 stdout=subprocess.PIPE, check=True).stdout
        subprocess.run(["tar", "-x", "-C", src], input=archive, check=True)
        files = allocator_files(src, headers=not args.no_headers)
        sites = with_occurrences(all_sites(src, files))
        mutants = []
        if previous is not None:
            by_key = {site_key(s) + (s["occurrence"],): (i, s)
                      for i, s in enumerate(sites)}
            for old in previous["mutants"]:
                key = site_key(old) + (old.get("occurrence", 0),)
                found = by_key.get(key)
                m = dict(found[1]) if found else {
                    k: old[k] for k in ("file", "kind", "old", "new", "source")}
                m["id"] = old["id"]
                m["site"] = found[0] if found else None
                m["line"] = m.get("line", old.get("line"))
                m["was"] = old.get("result")
                if not found:
                    m["result"] = "gone"
                    m["offset"] = None
                mutants.append(m)
            count = len(mutants)
        else:
            rng = random.Random(args.seed)
            count = min(args.count, len(sites))
            picked = sorted(rng.sample(range(len(sites)), count))
            for i, index in enumerate(picked):
                m = dict(sites[index])
                m["id"] = i + 1
                m["site"] = index
                mutants.append(m)
        if args.list:
            for m in mutants:
                print(f"{m['id']:3} {m['file']}:{m['line']} {m['kind']:6} "
                      f"{m['old']!r} -> {m['new']!r}   {m['source']}")
            return 0

        targets = read_targets(src)
        if args.targets:
            wanted = args.targets.split(",")
            bad = [t for t in wanted if t not in targets]
            if bad:
                usage(f"--targets: unknown target {bad[0]}")
            targets = [t for t in targets if t in wanted]

        build = os.path.join(work, "build")
        log(f"mutate: {len(sites)} sites, {count} sampled (seed {args.seed}); "
            f"building {rev[:12]} in {build}")
        cfg = ["cmake", "-S", src, "-B", build, "-G", "Ninja",
               "-DCMAKE_C_COMPILER=clang-14", "-DCMAKE_CXX_COMPILER=clang++-14",
               "-DCMAKE_BUILD_TYPE=RelWithDebInfo", "-DRESERVOIR_BUILD_TESTS=OFF",
               "-DRESERVOIR_BUILD_FUZZERS=ON", "-DRESERVOIR_FUZZ_ENGINE=libfuzzer",
               f"-DRESERVOIR_SANITIZERS={args.sanitizers}"]
        rc, out = run(cfg)
        if rc != 0:
            sys.stderr.write(out[-3000:])
            sys.stderr.write("mutate.py: configure failed\n")
            return 1
        build_cmd = ["cmake", "--build", build, "-j", str(args.jobs), "--target"] + targets
        rc, out = run(build_cmd + ["seed_corpora"])
        if rc != 0:
            sys.stderr.write(out[-3000:])
            sys.stderr.write("mutate.py: the unmutated build failed\n")
            return 1
        os.makedirs(os.path.join(work, "scratch"))
        shutil.copytree(os.path.join(build, "corpus"), os.path.join(work, "seeds"),
                        ignore=shutil.ignore_patterns("*.stamp", "smoke"))
        for t in targets:  # the unmutated build must be clean
            report = fuzz_target(build, work, t, args.runs, 900)
            if report:
                sys.stderr.write(f"mutate.py: the unmutated {t} reports: {report}\n")
                return 1
        baseline = ObjectBaseline(build)
        log(f"mutate: base build clean ({time.time() - start:.0f} s)")

        originals = {}
        for position, m in enumerate(mutants, 1):
            if m.get("result") == "gone":
                log(f"mutate: [{position}/{count}] #{m['id']} {m['file']} {m['kind']} "
                    f"{m['old']!r} -> {m['new']!r}: gone")
                continue
            path = os.path.join(src, m["file"])
            if m["file"] not in originals:
                with open(path, encoding="utf-8") as f:
                    originals[m["file"]] = f.read()
            text = originals[m["file"]]
            off = m["offset"]
            assert text[off:off + len(m["old"])] == m["old"], m
            mutated = text[:off] + m["new"] + text[off + len(m["old"]):]
            t0 = time.time()
            with open(path, "w", encoding="utf-8") as f:
                f.write(mutated)
            try:
                rc, out = run(build_cmd, timeout=1200)
                if rc != 0:
                    m["result"] = "no-compile"
                elif baseline.unchanged():
                    m["result"] = "equivalent"
                else:
                    m["result"] = "survived"
                    for t in targets:
                        report = fuzz_target(build, work, t, args.runs, 900)
                        if report:
                            m["result"], m["target"], m["report"] = "killed", t, report
                            break
            finally:
                with open(path, "w", encoding="utf-8") as f:
                    f.write(text)
            m["seconds"] = round(time.time() - t0, 1)
            log(f"mutate: [{position}/{count}] #{m['id']} {m['file']}:{m['line']} {m['kind']} "
                f"{m['old']!r} -> {m['new']!r}: {m['result']}"
                + (f" ({m['target']}: {m['report']})" if m.get("report") else "")
                + f" [{m['seconds']} s]")

        counts = {k: sum(1 for m in mutants if m["result"] == k)
                  for k in ("killed", "survived", "equivalent", "no-compile", "gone")}
        meta = {"rev": rev, "seed": args.seed, "count": count, "sites": len(sites),
                "same_as": args.same_as,
                "runs": args.runs, "sanitizers": args.sanitizers, "targets": targets,
                "counts": counts, "seconds": round(time.time() - start, 1)}
        out_dir = os.path.abspath(args.out)
        tmp_out = out_dir + ".tmp-" + str(os.getpid())
        os.makedirs(tmp_out)
        atomic_write(os.path.join(tmp_out, "mutants.json"),
                     json.dumps({"meta": meta, "mutants": mutants}, indent=2) + "\n")
        atomic_write(os.path.join(tmp_out, "mutants.md"), markdown(meta, mutants))
        os.rename(tmp_out, out_dir)
        judged = counts["killed"] + counts["survived"]
        log(f"mutate: killed {counts['killed']}/{judged}, equivalent "
            f"{counts['equivalent']}, no-compile {counts['no-compile']}; "
            f"{out_dir}/mutants.md")
        return 0
    finally:
        if not args.keep_work:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
