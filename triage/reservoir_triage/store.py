"""store: the findings store (minimal first version)."""
import json
import os

from .util import dump_json, write_atomically

NAME = "store"
HELP = "list, show or forget findings in the findings store"


class FindingsStore:
    """A JSON file of findings keyed by signature key.
    record(signature, crash_info) -> "new" | "known"; lookup(key) -> dict
    or None (matches alt_keys too); save() writes it atomically."""

    def __init__(self, path):
        self.path = path
        self.findings = {}
        if os.path.exists(path):
            with open(path, encoding="utf-8") as f:
                self.findings = json.load(f).get("findings", {})

    def lookup(self, key):
        for k, entry in self.findings.items():
            if k == key or key in entry.get("alt_keys", []):
                return entry
        return None

    def record(self, signature, crash_info):
        entry = self.lookup(signature.key)
        if entry is None:
            self.findings[signature.key] = {"key": signature.key,
                                            "alt_keys": signature.alt_keys,
                                            "count": 1}
            return "new"
        entry["count"] += 1
        return "known"

    def save(self):
        os.makedirs(os.path.dirname(os.path.abspath(self.path)),
                    exist_ok=True)
        write_atomically(self.path, dump_json({"findings": self.findings}),
                         overwrite=True)


def add_arguments(parser):
    parser.add_argument("action", choices=["list"])
    parser.add_argument("--store", default="build/triage/findings.json")


def main(args):
    for key in FindingsStore(args.store).findings:
        print(key)
    return 0
