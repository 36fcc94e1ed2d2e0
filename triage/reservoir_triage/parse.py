"""parse: crash logs -> CrashRecord.

parse_log(text) never raises; it returns None for a log with no crash.
(A first, minimal version: reservoir reports only; sanitizers follow.)
"""
import re
import sys

from .record import CrashRecord
from .util import dump_json, read_text

NAME = "parse"
HELP = "parse crash logs into structured records (text or --json)"

RESERVOIR_RE = re.compile(r"RESERVOIR BUG: ([a-z0-9-]+): ?(.*)$")
PLACE_RE = re.compile(r"^[a-z0-9_.-]+(/[a-z0-9_.-]+)?$")


def parse_log(text):
    """Parse one log (str; bytes are decoded with errors='replace').
    Returns a CrashRecord, or None when the log holds no crash. Never
    raises."""
    if isinstance(text, (bytes, bytearray)):
        text = bytes(text).decode("utf-8", errors="replace")
    lines = text.splitlines()
    for i, line in enumerate(lines):
        m = RESERVOIR_RE.search(line)
        if m is None:
            continue
        rec = CrashRecord(origin="reservoir", crash_type=m.group(1),
                          title=line.strip())
        rest = m.group(2).strip()
        if PLACE_RE.match(rest) and i + 1 < len(lines) and \
                lines[i + 1].startswith("RESERVOIR DETAIL: "):
            rec.place = rest
            rec.detail = lines[i + 1][len("RESERVOIR DETAIL: "):]
        else:
            rec.detail = rest
            rec.place = m.group(1)
            rec.place_derived = True
        return rec
    return None


def add_arguments(parser):
    parser.add_argument("logs", nargs="+", metavar="LOG",
                        help="crash log files")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON document (a list of records)")


def main(args):
    out = []
    for path in args.logs:
        rec = parse_log(read_text(path))
        out.append({"log": path,
                    "record": rec.to_json() if rec else None})
    if args.json:
        sys.stdout.write(dump_json(out))
    else:
        for item in out:
            r = item["record"]
            if r is None:
                print(f"{item['log']}: no crash found")
            else:
                print(f"{item['log']}: {r['origin']} {r['crash_type']}"
                      f" at {r['place']}")
    return 0
