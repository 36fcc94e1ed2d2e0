"""signature: a versioned, explained key for a CrashRecord.
(A first, minimal version; see docs/TRIAGE.md "Signature".)"""
from dataclasses import dataclass, field
from typing import List

from .parse import parse_log
from .util import read_text

NAME = "signature"
HELP = "print the signature (dedup key) of crash logs, with its explanation"
VERSION = 1


@dataclass
class Signature:
    """key: the dedup key (`v1:...`); version: the algorithm version;
    explanation: one or two sentences on what went into the key;
    alt_keys: the keys of the same record under every older version."""
    key: str
    version: int = VERSION
    explanation: str = ""
    alt_keys: List[str] = field(default_factory=list)

    def all_keys(self):
        return [self.key] + list(self.alt_keys)

    def to_json(self):
        return {"key": self.key, "version": self.version,
                "explanation": self.explanation,
                "alt_keys": list(self.alt_keys)}


def sign(record):
    """The Signature of a CrashRecord (never None, never raises)."""
    key = f"v1:{record.origin}:{record.crash_type}:{record.place}"
    return Signature(key=key, explanation="origin, class and place.")


def add_arguments(parser):
    parser.add_argument("logs", nargs="+", metavar="LOG")


def main(args):
    for path in args.logs:
        rec = parse_log(read_text(path))
        print(f"{path}: {sign(rec).key if rec else 'no crash found'}")
    return 0
