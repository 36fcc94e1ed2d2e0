"""Findings: the report's first line, the deduplication key, and the run's
findings store (findings.json in the run directory).

A report starts with one stable line, `RESERVOIR BUG: <class>: <rest>`
(or a sanitizer's, or libFuzzer's own), in one of two forms:

  RESERVOIR BUG: <class>: <detail>                  (one line)
  RESERVOIR BUG: <class>: <place>                   (two lines)
  RESERVOIR DETAIL: <detail>

The key that deduplicates findings is computed from the first line alone
(class + place, numbers stripped) by finding_key(); it is the one function
to replace when triage's signature takes over.
"""

import json
import re
from pathlib import Path

from .common import write_atomically

FINDING_RES = [
    re.compile(r"^(RESERVOIR BUG: .*)$"),
    re.compile(r"^(==\d+== ?ERROR: \w+Sanitizer: .*)$"),
    re.compile(r"^(\S+:\d+:\d+: runtime error: .*)$"),
    re.compile(r"^(==\d+== ERROR: libFuzzer: .*)$"),
]
DETAIL_PREFIX = "RESERVOIR DETAIL: "
BUG_RE = re.compile(r"^RESERVOIR BUG: ([\w-]+)(?:: (.*))?$")
SANITIZER_RE = re.compile(r"^==\d+== ?ERROR: (\w+Sanitizer|libFuzzer): ([\w-]+(?: signal)?)")
UBSAN_RE = re.compile(r"^(\S+?):\d+:\d+: runtime error: (.*)$")
NO_REPORT = "no-report"


def report_of(text):
    """(first line, detail line or None) of the first report in `text`, or
    (None, None)."""
    lines = text.splitlines()
    for index, line in enumerate(lines):
        for pattern in FINDING_RES:
            found = pattern.match(line)
            if found:
                detail = None
                if index + 1 < len(lines) and \
                        lines[index + 1].startswith(DETAIL_PREFIX):
                    detail = lines[index + 1][len(DETAIL_PREFIX):]
                return found.group(1), detail
    return None, None


def first_report_line(text):
    return report_of(text)[0]


def _strip_numbers(text):
    text = re.sub(r"\([^()]*\)", "", text)          # (cpu 1, gfp 0x8, ...)
    text = re.sub(r"0x[0-9a-fA-F]+", "N", text)
    text = re.sub(r"\d+", "N", text)
    return re.sub(r"\s+", " ", text).strip(" :;,.")


def finding_class(first_line):
    """The bug class of a first line: the RESERVOIR BUG class, the
    sanitizer's error kind, or no-report."""
    if not first_line:
        return NO_REPORT
    bug = BUG_RE.match(first_line)
    if bug:
        return bug.group(1)
    sanitizer = SANITIZER_RE.match(first_line)
    if sanitizer:
        return f"{sanitizer.group(1)}: {sanitizer.group(2)}"
    if UBSAN_RE.match(first_line):
        return "runtime-error"
    return NO_REPORT


def finding_key(first_line):
    """The deduplication key of a finding, from its first report line:
    the class and the place with every number stripped (pfns, cpus, sizes,
    addresses, pids), so two crashes of one bug share it.

    For the two-line form the place is the whole rest of the line; for the
    one-line form the rest is the detail, so the key keeps its words and
    drops its numbers and parenthesised context. A sanitizer report keys on
    the sanitizer and its error kind; UBSan on the source file and message.
    This is the function triage's signature replaces."""
    if not first_line:
        return NO_REPORT
    bug = BUG_RE.match(first_line)
    if bug:
        place = _strip_numbers(bug.group(2) or "")
        return f"{bug.group(1)}: {place}" if place else bug.group(1)
    sanitizer = SANITIZER_RE.match(first_line)
    if sanitizer:
        return f"{sanitizer.group(1)}: {sanitizer.group(2)}"
    ubsan = UBSAN_RE.match(first_line)
    if ubsan:
        return f"runtime-error: {Path(ubsan.group(1)).name}: " \
               f"{_strip_numbers(ubsan.group(2))}"
    return _strip_numbers(first_line)


class FindingStore:
    """The findings of one run, by key, persisted in <run>/findings.json so
    that a resumed run knows them: every crash file seen (never replayed
    twice), and per key its first crash and how many crashes share it."""

    def __init__(self, path):
        self.path = Path(path)
        self.bugs = {}        # key -> record
        self.crashes = {}     # crash file (relative to the run) -> key
        self.order = []       # keys in order of discovery
        self.new_keys = []    # keys first found in this round
        if self.path.exists():
            data = json.loads(self.path.read_text())
            for record in data.get("bugs", []):
                self.bugs[record["key"]] = record
                self.order.append(record["key"])
            self.crashes = dict(data.get("crashes", {}))

    def seen(self, crash_name):
        return crash_name in self.crashes

    def add(self, crash_name, first_line, detail, context):
        """Records one crash file; returns True if its key is new to the
        run. `context`: target, engine, instance, seconds, executions,
        round, reproducer, replay."""
        key = finding_key(first_line)
        self.crashes[crash_name] = key
        record = self.bugs.get(key)
        if record is None:
            record = {"key": key, "class": finding_class(first_line),
                      "first_line": first_line, "detail": detail,
                      "crash_count": 0, "targets": [], "engines": []}
            record.update(context)
            self.bugs[key] = record
            self.order.append(key)
            self.new_keys.append(key)
            new = True
        else:
            new = False
        record["crash_count"] += 1
        if context["target"] not in record["targets"]:
            record["targets"].append(context["target"])
        if context["engine"] not in record["engines"]:
            record["engines"].append(context["engine"])
        return new

    def records(self):
        return [self.bugs[key] for key in self.order]

    def by_class(self):
        counts = {}
        for record in self.records():
            counts[record["class"]] = counts.get(record["class"], 0) + 1
        return counts

    def save(self):
        write_atomically(self.path, json.dumps(
            {"schema": "reservoir-campaign-findings/1",
             "bugs": self.records(), "crashes": self.crashes},
            indent=2, sort_keys=True) + "\n")
