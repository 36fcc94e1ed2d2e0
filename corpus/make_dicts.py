#!/usr/bin/env python3
"""Generates the fuzzing dictionaries corpus/<target>/<target>.dict and the
OSS-Fuzz options files corpus/<target>/<target>.options.

Every entry is a byte string of the target's own binary input format, and
every one is produced by the built `reservoir-seed` tool from a text body,
never written by hand, so the dictionaries cannot drift from the format:

  * whole 8-byte operation records of common operations, in the target's
    own opcode numbering (a target maps opcode byte % its number of kinds;
    reservoir-seed applies that map);
  * a few multi-record sequences (for example set_pf_memalloc followed by
    an emergency-sized kmalloc_reserve);
  * single fields: gfp bytes, sizes (u16 LE), page counts (u16 LE) and
    byte counts (u32 LE). A field's bytes are found by compiling the same
    operation twice with two values that differ in every byte and taking
    the positions that changed.

An operation (and every entry that needs it) is included for a target only
if reservoir-seed can express it there; that too is asked of the tool.

The .options file sets max_len = 2072 (the 24-byte header and 256 records
of 8 bytes: longer inputs mean nothing more) and points at the dictionary.

Usage:
  corpus/make_dicts.py [--seed-tool PATH] [--check] [--target NAME]...

  --seed-tool PATH  the reservoir-seed binary (default: the first of
                    build/libfuzzer-asan, build/dev, build/asan,
                    build/release that has fuzz/tools/reservoir-seed)
  --check           do not write; exit 1 if a committed .dict differs
  --target NAME     only this target (repeatable; default: all five)

Python 3 standard library only.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile

CORPUS = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(CORPUS)

# The one target list (fuzz/targets/targets.txt), through its reader.
sys.path.insert(0, os.path.join(ROOT, "fuzz", "campaign"))
from reservoir_campaign.targets import TARGETS  # noqa: E402

# The header of every generated body. Only the records are taken from the
# output, so the header's values do not matter.
HEADER = (
    "# reservoir program v1\n"
    "config normal_pages=1024 highmem_pages=0 max_order=10 "
    "min_free_kbytes=default nr_cpus=4 slab_policy=page_tag estimator=exact "
    "audit=cheap\n"
    "faults mode=none seed=0 probability_ppm=0 fail_nth=1 sites=none\n"
)

# One line per operation kind, to ask whether a target can express it.
KIND_PROBES = {
    "nop": "nop",
    "alloc_pages": "alloc_pages order=0 gfp=KERNEL cpu=0",
    "free_pages": "free_pages page=0",
    "kmalloc": "kmalloc size=1 gfp=KERNEL cpu=0",
    "kfree": "kfree obj=0",
    "cache_create": "cache_create size=1 align=8",
    "cache_alloc": "cache_alloc cache=0 gfp=KERNEL cpu=0",
    "cache_free": "cache_free obj=0",
    "cache_destroy": "cache_destroy cache=0",
    "reserve_create": "reserve_create parent=0",
    "reserve_set_pages": "reserve_set_pages res=1 pages=1",
    "reserve_set_kmalloc": "reserve_set_kmalloc res=1 bytes=1",
    "reserve_set_cache": "reserve_set_cache res=1 cache=0 objects=1",
    "reserve_connect": "reserve_connect res=1 parent=0",
    "reserve_disconnect": "reserve_disconnect res=1",
    "reserve_charge": "reserve_charge res=1 bytes=1",
    "reserve_uncharge": "reserve_uncharge charge=0",
    "kmalloc_reserve": "kmalloc_reserve size=1 gfp=KERNEL cpu=0 res=1",
    "kfree_reserve": "kfree_reserve grant=0",
    "alloc_pages_reserve": "alloc_pages_reserve order=0 gfp=KERNEL cpu=0 res=1",
    "free_pages_reserve": "free_pages_reserve grant=0",
    "cache_alloc_reserve": "cache_alloc_reserve cache=0 gfp=KERNEL cpu=0 res=1",
    "cache_free_reserve": "cache_free_reserve grant=0",
    "set_pf_memalloc": "set_pf_memalloc",
    "clear_pf_memalloc": "clear_pf_memalloc",
    "enter_softirq": "enter_softirq",
    "leave_softirq": "leave_softirq",
    "set_oom_victim": "set_oom_victim",
    "clear_oom_victim": "clear_oom_victim",
    "pressure": "pressure pages=1 gfp=KERNEL cpu=0",
    "release_pressure": "release_pressure",
    "fail_next": "fail_next site=page_alloc skip=0",
    "audit": "audit",
}

# Whole records: (entry name, op line). `res` is always 1, the node every
# target's prologue creates (the estimator target forces it to 1 anyway).
RECORDS = [
    ("alloc_pages_o0_kernel", "alloc_pages order=0 gfp=KERNEL cpu=0"),
    ("alloc_pages_o0_atomic_cpu1", "alloc_pages order=0 gfp=ATOMIC cpu=1"),
    ("alloc_pages_o1_atomic", "alloc_pages order=1 gfp=ATOMIC cpu=0"),
    ("alloc_pages_o3_highmem", "alloc_pages order=3 gfp=KERNEL|HIGHMEM cpu=2"),
    ("alloc_pages_o0_memalloc", "alloc_pages order=0 gfp=KERNEL|MEMALLOC cpu=0"),
    ("alloc_pages_o0_nofail", "alloc_pages order=0 gfp=KERNEL|NOFAIL cpu=3"),
    ("free_pages_0", "free_pages page=0"),
    ("kmalloc_96", "kmalloc size=96 gfp=KERNEL cpu=0"),
    ("kmalloc_192_atomic_cpu1", "kmalloc size=192 gfp=ATOMIC cpu=1"),
    ("kmalloc_8192", "kmalloc size=8192 gfp=KERNEL cpu=0"),
    ("kmalloc_8193", "kmalloc size=8193 gfp=KERNEL cpu=1"),
    ("kmalloc_64_memalloc", "kmalloc size=64 gfp=KERNEL|MEMALLOC cpu=0"),
    ("kfree_0", "kfree obj=0"),
    ("kfree_0_remote_cpu1", "kfree obj=0 cpu=1"),
    ("kfree_0_remote_cpu0", "kfree obj=0 cpu=0"),
    ("cache_create_192", "cache_create size=192 align=8"),
    ("cache_create_232_a64", "cache_create size=232 align=64"),
    ("cache_create_4000", "cache_create size=4000 align=8"),
    ("cache_alloc_0_kernel", "cache_alloc cache=0 gfp=KERNEL cpu=0"),
    ("cache_alloc_0_atomic_cpu1", "cache_alloc cache=0 gfp=ATOMIC cpu=1"),
    ("cache_free_0", "cache_free obj=0"),
    ("cache_free_0_remote_cpu1", "cache_free obj=0 cpu=1"),
    ("cache_destroy_0", "cache_destroy cache=0"),
    ("reserve_create_under_root", "reserve_create parent=0"),
    ("reserve_create_under_1", "reserve_create parent=1"),
    ("reserve_set_pages_1_8", "reserve_set_pages res=1 pages=8"),
    ("reserve_set_pages_1_0", "reserve_set_pages res=1 pages=0"),
    ("reserve_set_kmalloc_1_4096", "reserve_set_kmalloc res=1 bytes=4096"),
    ("reserve_set_kmalloc_1_0", "reserve_set_kmalloc res=1 bytes=0"),
    ("reserve_set_cache_1_16", "reserve_set_cache res=1 cache=0 objects=16"),
    ("reserve_connect_2_under_1", "reserve_connect res=2 parent=1"),
    ("reserve_connect_1_under_root", "reserve_connect res=1 parent=0"),
    ("reserve_disconnect_1", "reserve_disconnect res=1"),
    ("reserve_disconnect_2", "reserve_disconnect res=2"),
    ("reserve_charge_1_4096", "reserve_charge res=1 bytes=4096"),
    ("reserve_charge_1_96", "reserve_charge res=1 bytes=96"),
    ("reserve_uncharge_0", "reserve_uncharge charge=0"),
    ("kmalloc_reserve_96", "kmalloc_reserve size=96 gfp=KERNEL cpu=0 res=1"),
    ("kmalloc_reserve_192_cpu1", "kmalloc_reserve size=192 gfp=KERNEL cpu=1 res=1"),
    ("kmalloc_reserve_1500_atomic", "kmalloc_reserve size=1500 gfp=ATOMIC cpu=0 res=1"),
    ("kmalloc_reserve_8_cpu2", "kmalloc_reserve size=8 gfp=KERNEL cpu=2 res=1"),
    ("kmalloc_reserve_8192_cpu3", "kmalloc_reserve size=8192 gfp=KERNEL cpu=3 res=1"),
    ("kmalloc_reserve_8193", "kmalloc_reserve size=8193 gfp=KERNEL cpu=0 res=1"),
    ("kfree_reserve_0", "kfree_reserve grant=0"),
    ("kfree_reserve_0_remote_cpu1", "kfree_reserve grant=0 cpu=1"),
    ("alloc_pages_reserve_o0", "alloc_pages_reserve order=0 gfp=KERNEL cpu=0 res=1"),
    ("alloc_pages_reserve_o1_atomic", "alloc_pages_reserve order=1 gfp=ATOMIC cpu=1 res=1"),
    ("free_pages_reserve_0", "free_pages_reserve grant=0"),
    ("cache_alloc_reserve_0_atomic", "cache_alloc_reserve cache=0 gfp=ATOMIC cpu=0 res=1"),
    ("cache_alloc_reserve_0_res2", "cache_alloc_reserve cache=0 gfp=ATOMIC cpu=1 res=2"),
    ("cache_free_reserve_0", "cache_free_reserve grant=0"),
    ("cache_free_reserve_0_remote_cpu1", "cache_free_reserve grant=0 cpu=1"),
    ("set_pf_memalloc", "set_pf_memalloc"),
    ("clear_pf_memalloc", "clear_pf_memalloc"),
    ("enter_softirq", "enter_softirq"),
    ("leave_softirq", "leave_softirq"),
    ("set_oom_victim", "set_oom_victim"),
    ("clear_oom_victim", "clear_oom_victim"),
    ("pressure_all_atomic", "pressure pages=65535 gfp=ATOMIC cpu=0"),
    ("pressure_1024_kernel", "pressure pages=1024 gfp=KERNEL cpu=1"),
    ("pressure_all_highmem", "pressure pages=65535 gfp=ATOMIC|HIGHMEM cpu=0"),
    ("release_pressure", "release_pressure"),
    ("fail_next_page_alloc", "fail_next site=page_alloc skip=0"),
    ("fail_next_slab_new_slab", "fail_next site=slab_new_slab skip=0"),
    ("fail_next_slab_object", "fail_next site=slab_object skip=0"),
    ("fail_next_reserve_charge", "fail_next site=reserve_charge skip=0"),
    ("fail_next_reserve_set", "fail_next site=reserve_set skip=0"),
    ("audit", "audit"),
]

# Multi-record sequences: the moves of the documented scenarios.
SEQUENCES = [
    ("seq_memalloc_kmalloc_reserve_96",
     ["set_pf_memalloc", "kmalloc_reserve size=96 gfp=KERNEL cpu=0 res=1"]),
    ("seq_pressure_then_memalloc",
     ["pressure pages=65535 gfp=ATOMIC cpu=0", "set_pf_memalloc"]),
    ("seq_softirq_memalloc", ["enter_softirq", "set_pf_memalloc"]),
    ("seq_kmalloc_reserve_192_free",
     ["kmalloc_reserve size=192 gfp=KERNEL cpu=1 res=1", "kfree_reserve grant=0"]),
    ("seq_page_reserve_free",
     ["alloc_pages_reserve order=0 gfp=KERNEL cpu=0 res=1",
      "free_pages_reserve grant=0"]),
    ("seq_unentitled_after_reserve",
     ["clear_pf_memalloc", "kmalloc size=96 gfp=KERNEL cpu=0"]),
    ("seq_disconnect_reconnect",
     ["reserve_disconnect res=1", "reserve_connect res=1 parent=0"]),
    ("seq_fail_next_then_kmalloc_reserve",
     ["fail_next site=slab_object skip=0",
      "kmalloc_reserve size=96 gfp=ATOMIC cpu=0 res=1"]),
]

# Single fields: (entry prefix, width in bytes, [(name, text value)],
# [op line templates with {} for the field]); the first template the target
# can express is used.
FIELDS = [
    ("gfp", 1,
     [("0", "0"), ("KERNEL", "KERNEL"), ("ATOMIC", "ATOMIC"),
      ("KERNEL_HIGH", "KERNEL|HIGH"), ("KERNEL_MEMALLOC", "KERNEL|MEMALLOC"),
      ("ATOMIC_MEMALLOC", "ATOMIC|MEMALLOC"),
      ("KERNEL_NOMEMALLOC", "KERNEL|NOMEMALLOC"),
      ("MEMALLOC_NOMEMALLOC", "MEMALLOC|NOMEMALLOC"),
      ("KERNEL_NOFAIL", "KERNEL|NOFAIL"), ("KERNEL_HIGHMEM", "KERNEL|HIGHMEM"),
      ("ATOMIC_HIGHMEM", "ATOMIC|HIGHMEM"), ("KERNEL_ZERO", "KERNEL|ZERO")],
     ["alloc_pages order=0 gfp={} cpu=0", "kmalloc size=1 gfp={} cpu=0",
      "kmalloc_reserve size=1 gfp={} cpu=0 res=1",
      "pressure pages=1 gfp={} cpu=0"]),
    ("size", 2,
     [(str(v), str(v)) for v in
      (8, 64, 96, 97, 192, 193, 1500, 4096, 4097, 8192, 8193, 16384, 65535)],
     ["kmalloc size={} gfp=KERNEL cpu=0", "cache_create size={} align=8",
      "kmalloc_reserve size={} gfp=KERNEL cpu=0 res=1"]),
    ("pages", 2,
     [(str(v), str(v)) for v in (1, 2, 8, 64, 256, 1024, 65535)],
     ["reserve_set_pages res=1 pages={}", "pressure pages={} gfp=KERNEL cpu=0"]),
    ("bytes", 4,
     [(str(v), str(v)) for v in (96, 192, 4096, 8192, 16384, 65536)],
     ["reserve_set_kmalloc res=1 bytes={}", "reserve_charge res=1 bytes={}"]),
]

# Two values per field type that differ in every byte of the field: the
# record positions where their compilations differ are the field's bytes.
# The longest input that means anything: header + 256 records.
MAX_LEN = 24 + 256 * 8

FIELD_PROBES = {"gfp": ("0", "255"), "size": ("257", "65278"),
                "pages": ("0", "65535"), "bytes": ("0", "4294967295")}


def find_seed_tool(explicit):
    if explicit:
        return explicit
    for preset in ("libfuzzer-asan", "dev", "asan", "release"):
        path = os.path.join(ROOT, "build", preset, "fuzz", "tools",
                            "reservoir-seed")
        if os.access(path, os.X_OK):
            return path
    sys.exit("make_dicts.py: no reservoir-seed found; build one "
             "(cmake --build --preset dev --target reservoir-seed) or pass "
             "--seed-tool")


class Compiler:
    """Compiles one-op (or few-op) bodies with reservoir-seed."""

    def __init__(self, tool, workdir):
        self.tool = tool
        self.workdir = workdir
        self.count = 0
        # The tool builds with sanitizers sometimes; keep its output quiet.
        self.env = dict(os.environ, ASAN_OPTIONS="detect_leaks=0")

    def _write(self, lines):
        self.count += 1
        name = "b%05d" % self.count
        path = os.path.join(self.workdir, name + ".txt")
        with open(path, "w") as f:
            f.write(HEADER + "".join(line + "\n" for line in lines))
        return name, path

    def try_records(self, target, lines):
        """The record bytes of `lines` for `target`, or None if the target
        cannot express one of them. Any other failure is fatal."""
        name, path = self._write(lines)
        out = os.path.join(self.workdir, "out-" + target)
        proc = subprocess.run(
            [self.tool, "--target", target, "--out", out, "--replace", path],
            capture_output=True, text=True, env=self.env)
        if proc.returncode != 0:
            if "cannot express" in proc.stderr:
                return None
            sys.exit("make_dicts.py: reservoir-seed failed on %r for %s:\n%s"
                     % (lines, target, proc.stderr))
        with open(os.path.join(out, name), "rb") as f:
            data = f.read()
        if len(data) != 24 + 8 * len(lines):
            sys.exit("make_dicts.py: unexpected output size %d for %r"
                     % (len(data), lines))
        return data[24:]


def field_bytes(compiler, target, prefix, width, text_value, template):
    """The bytes of one field value: compile the op with the value, and find
    the field's position by diffing two probe compilations."""
    record = compiler.try_records(target, [template.format(text_value)])
    probe_a, probe_b = (compiler.try_records(target, [template.format(v)])
                        for v in FIELD_PROBES[prefix])
    positions = [i for i in range(8) if probe_a[i] != probe_b[i]]
    if len(positions) != width or positions != list(
            range(positions[0], positions[0] + width)):
        sys.exit("make_dicts.py: cannot locate field %s in %r (positions %r)"
                 % (prefix, template, positions))
    return record[positions[0]:positions[0] + width]


def escape(data):
    return "".join("\\x%02x" % b for b in data)


def generate(compiler, target):
    kinds = {kind for kind, line in KIND_PROBES.items()
             if compiler.try_records(target, [line]) is not None}
    entries = []  # (name, bytes, comment)

    def kind_of(line):
        return line.split()[0]

    for name, line in RECORDS:
        if kind_of(line) in kinds:
            data = compiler.try_records(target, [line])
            entries.append((name, data, line))
    for name, lines in SEQUENCES:
        if all(kind_of(line) in kinds for line in lines):
            data = compiler.try_records(target, lines)
            entries.append((name, data, " ; ".join(lines)))
    for prefix, width, values, templates in FIELDS:
        template = next((t for t in templates if kind_of(t) in kinds), None)
        if template is None:
            continue
        for value_name, text_value in values:
            data = field_bytes(compiler, target, prefix, width, text_value,
                               template)
            entries.append(("%s_%s" % (prefix, value_name), data,
                            "%s=%s (u%d LE)" % (prefix, text_value, 8 * width)
                            if width > 1 else "%s=%s" % (prefix, text_value)))

    seen = set()
    out = [
        "# libFuzzer / AFL dictionary for %s." % target,
        "# Generated by corpus/make_dicts.py with reservoir-seed: do not edit;",
        "# rerun `python3 corpus/make_dicts.py` after a format change.",
        "# Whole 8-byte records use this target's own opcode numbering.",
        "# Kinds this target expresses: %s."
        % ", ".join(k for k in KIND_PROBES if k in kinds),
        "",
    ]
    for name, data, comment in entries:
        if data in seen:
            continue  # the same bytes under another name
        seen.add(data)
        out.append("# %s" % comment)
        out.append('%s="%s"' % (name, escape(data)))
    return "\n".join(out) + "\n"


def options_text(target):
    return ("[libfuzzer]\n"
            "max_len = %d\n"
            "dict = %s.dict\n" % (MAX_LEN, target))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed-tool")
    parser.add_argument("--check", action="store_true")
    parser.add_argument("--target", action="append", choices=TARGETS)
    args = parser.parse_args()
    tool = find_seed_tool(args.seed_tool)
    targets = args.target or TARGETS
    workdir = tempfile.mkdtemp(prefix="make_dicts.")
    stale = []
    try:
        compiler = Compiler(tool, workdir)
        for target in targets:
            outputs = {
                os.path.join(CORPUS, target, target + ".dict"):
                    generate(compiler, target),
                os.path.join(CORPUS, target, target + ".options"):
                    options_text(target),
            }
            for path, text in outputs.items():
                if args.check:
                    try:
                        with open(path) as f:
                            current = f.read()
                    except OSError:
                        current = None
                    if current != text:
                        stale.append(path)
                    continue
                os.makedirs(os.path.dirname(path), exist_ok=True)
                with open(path, "w") as f:
                    f.write(text)
                print("wrote %s" % os.path.relpath(path, ROOT))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    if stale:
        for path in stale:
            print("stale: %s (rerun corpus/make_dicts.py)" % path)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
