"""store: the findings store, kept across runs.

One JSON file (default build/triage/findings.json) holding one entry per
bug, keyed by signature key and matched on every key of a signature (its
alt_keys too, so a change of the signature algorithm re-files nothing):
first and last seen, how often, the best (smallest) reproducer, the targets
and engines that found it, and a status (new, open, fixed, ignored).

Writers take an exclusive lock on <store>.lock, re-read the file, apply
their changes to what is there now and replace the file atomically (temp +
rename): two campaigns sharing a store lose nothing. A store that does not
parse is an error, never silently replaced.
"""
import datetime
import fcntl
import json
import os
import sys

from .util import TriageError, dump_json, write_atomically

NAME = "store"
HELP = "list, show, mark or forget findings in the findings store"

FORMAT = "reservoir-findings"
FORMAT_VERSION = 1
DEFAULT_STORE = os.path.join("build", "triage", "findings.json")
STATUSES = ("new", "open", "fixed", "ignored")


def key_version(key):
    """The algorithm version a key was made by ("v1:..." -> 1); -1 when
    it does not say."""
    head = key.split(":", 1)[0]
    if head.startswith("v") and head[1:].isdigit():
        return int(head[1:])
    return -1


def now_utc():
    return datetime.datetime.now(datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ")


class FindingsStore:
    """The findings store at `path` (need not exist yet; its directory is
    made on save()).

    record(signature, crash_info) -> "new" | "known"
        Files one crash. `signature` is a signature.Signature; crash_info a
        dict whose keys are all optional: "reproducer" (path), "size"
        (bytes; default the reproducer's size on disk), "target",
        "engine", "time" (ISO 8601; default now), "record" (the
        CrashRecord, for its origin, type and place). "new" when no entry
        matched any of the signature's keys when the store was loaded (or
        since), else "known".
    lookup(key) -> dict | None
        The entry whose key or alt_keys contain `key`.
    forget(key) -> bool, set_status(key, status) -> bool
    save()
        Writes all changes made through this object, merged into the file
        as it is now on disk, under the lock. Raises TriageError on a
        corrupt store file.
    entries() -> list of dicts, sorted by first_seen then key.
    A corrupt or foreign file raises TriageError when loaded.
    """

    def __init__(self, path):
        self.path = path
        self._pending = []  # operations to replay onto the file at save()
        self._findings = self._load()

    # -- reading -----------------------------------------------------------
    def _load(self):
        try:
            with open(self.path, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            return []
        except OSError as e:
            raise TriageError(f"{self.path}: cannot read the findings store: "
                              f"{e.strerror or e}")
        try:
            doc = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise TriageError(
                f"{self.path}: corrupt findings store ({e}); left as it is: "
                "repair or move it, or use --store for another one")
        if not isinstance(doc, dict) or doc.get("format") != FORMAT or \
                not isinstance(doc.get("findings"), list):
            raise TriageError(
                f"{self.path}: not a findings store (no \"format\": "
                f"\"{FORMAT}\" with a findings list); left as it is")
        if doc.get("version", 0) > FORMAT_VERSION:
            raise TriageError(
                f"{self.path}: findings store version {doc.get('version')} "
                f"is newer than this tool's ({FORMAT_VERSION})")
        findings = []
        for i, e in enumerate(doc["findings"]):
            if not isinstance(e, dict) or not isinstance(e.get("key"), str):
                raise TriageError(f"{self.path}: corrupt findings store: "
                                  f"entry {i} has no key; left as it is")
            findings.append(e)
        return findings

    def entries(self):
        return sorted(self._findings,
                      key=lambda e: (e.get("first_seen", ""), e["key"]))

    @staticmethod
    def _find(findings, keys):
        """The entry a signature's keys (current first, then older
        versions') belong to. Keys are compared at the newest version both
        sides have: an older version's key only matches an entry filed
        under that older version, because a newer algorithm tells apart
        bugs an older one merged (v0 put both slab-mixing plants under one
        key; v1 does not)."""
        by_version = {}
        for k in keys:
            by_version.setdefault(key_version(k), set()).add(k)
        for e in findings:
            mine = [e["key"]] + list(e.get("alt_keys", []))
            versions = {key_version(k) for k in mine}
            common = versions.intersection(by_version)
            if not common:
                continue
            v = max(common)
            if by_version[v].intersection(k for k in mine
                                          if key_version(k) == v):
                return e
        return None

    def lookup(self, key):
        """The entry with `key` as its key or among its alt_keys."""
        for e in self._findings:
            if e["key"] == key or key in e.get("alt_keys", []):
                return e
        return None

    # -- changing ----------------------------------------------------------
    def record(self, signature, crash_info=None):
        info = dict(crash_info or {})
        info.setdefault("time", now_utc())
        repro = info.get("reproducer")
        if repro is not None and info.get("size") is None:
            try:
                info["size"] = os.path.getsize(repro)
            except OSError:
                info["size"] = None
        rec = info.pop("record", None)
        if rec is not None:
            info.setdefault("origin", rec.origin)
            info.setdefault("crash_type", rec.crash_type)
            info.setdefault("place", rec.place)
            info.setdefault("fault_induced", rec.fault_induced)
            info.setdefault("target", rec.target)
            info.setdefault("engine", rec.engine)
        op = ("record", signature.to_json(), info)
        status = self._apply(self._findings, op)
        self._pending.append(op)
        return status

    def forget(self, key):
        op = ("forget", key)
        found = self._apply(self._findings, op)
        self._pending.append(op)
        return found

    def set_status(self, key, status):
        if status not in STATUSES:
            raise TriageError(f"unknown status '{status}' "
                              f"(one of {', '.join(STATUSES)})")
        op = ("status", key, status)
        found = self._apply(self._findings, op)
        self._pending.append(op)
        return found

    @staticmethod
    def _lookup_in(findings, key):
        for e in findings:
            if e["key"] == key or key in e.get("alt_keys", []):
                return e
        return None

    @classmethod
    def _apply(cls, findings, op):
        if op[0] == "forget":
            e = cls._lookup_in(findings, op[1])
            if e is not None:
                findings.remove(e)
            return e is not None
        if op[0] == "status":
            e = cls._lookup_in(findings, op[1])
            if e is not None:
                e["status"] = op[2]
            return e is not None
        _, sig, info = op
        keys = [sig["key"]] + list(sig.get("alt_keys", []))
        e = cls._find(findings, keys)
        t = info["time"]
        if e is None:
            e = {"key": sig["key"], "alt_keys": [], "version": sig["version"],
                 "explanation": sig.get("explanation", ""),
                 "first_seen": t, "last_seen": t, "count": 0,
                 "targets": [], "engines": [], "status": "new",
                 "best_reproducer": None, "best_size": None}
            for name in ("origin", "crash_type", "place", "fault_induced"):
                if info.get(name) is not None:
                    e[name] = info[name]
            findings.append(e)
            result = "new"
        else:
            result = "known"
            if e.get("status") == "new":
                e["status"] = "open"
            if sig["version"] > e.get("version", 0):
                # A newer algorithm: the entry takes the new key and keeps
                # the old one as an alternative.
                e["alt_keys"].append(e["key"])
                e["key"] = sig["key"]
                e["version"] = sig["version"]
                e["explanation"] = sig.get("explanation", "")
        for k in keys:
            if k != e["key"] and k not in e["alt_keys"]:
                e["alt_keys"].append(k)
        e["count"] = int(e.get("count", 0)) + 1
        e["first_seen"] = min(e.get("first_seen", t), t)
        e["last_seen"] = max(e.get("last_seen", t), t)
        for field, value in (("targets", info.get("target")),
                             ("engines", info.get("engine"))):
            if value and value not in e[field]:
                e[field] = sorted(e[field] + [value])
        size = info.get("size")
        repro = info.get("reproducer")
        if repro is not None and size is not None and (
                e.get("best_size") is None or size < e["best_size"] or
                (size == e["best_size"] and repro < e["best_reproducer"])):
            e["best_reproducer"] = repro
            e["best_size"] = size
        return result

    def save(self):
        directory = os.path.dirname(os.path.abspath(self.path))
        os.makedirs(directory, exist_ok=True)
        lock_path = self.path + ".lock"
        with open(lock_path, "a+") as lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            try:
                current = self._load()
                for op in self._pending:
                    self._apply(current, op)
                doc = {"format": FORMAT, "version": FORMAT_VERSION,
                       "findings": sorted(current, key=lambda e: (
                           e.get("first_seen", ""), e["key"]))}
                write_atomically(self.path, dump_json(doc), overwrite=True)
                self._findings = current
                self._pending = []
            finally:
                fcntl.flock(lock.fileno(), fcntl.LOCK_UN)


def add_arguments(parser):
    parser.add_argument("action", choices=["list", "show", "forget", "mark",
                                           "add"],
                        help="list: every finding; show KEY: one finding; "
                             "forget KEY: remove it; mark KEY STATUS: set "
                             f"its status ({', '.join(STATUSES)}); add LOG...:"
                             " parse and sign crash logs and file them "
                             "(new or known)")
    parser.add_argument("key", nargs="?", help="a signature key (any of "
                        "its keys, old versions' too); for add: a log")
    parser.add_argument("status", nargs="*", help="for mark: the status; "
                        "for add: more logs")
    parser.add_argument("--reproducer", metavar="PATH",
                        help="for add with one log: the input that "
                             "reproduces it")
    parser.add_argument("--store", default=None, metavar="PATH",
                        help=f"the store (default: <root>/{DEFAULT_STORE})")
    parser.add_argument("--json", action="store_true",
                        help="print JSON instead of text")


def store_path(args):
    if args.store:
        return args.store
    return os.path.join(getattr(args, "root", "."), DEFAULT_STORE)


def add_logs(store, logs, reproducer=None):
    """Parse, sign and file each log; returns [(log, status or None)]."""
    from .parse import parse_log
    from .signature import sign
    from .util import read_text
    out = []
    for log in logs:
        rec = parse_log(read_text(log))
        if rec is None:
            out.append((log, None, None))
            continue
        sig = sign(rec)
        info = {"record": rec}
        if reproducer:
            info["reproducer"] = reproducer
        out.append((log, store.record(sig, info), sig.key))
    return out


def main(args):
    from .util import fail
    path = store_path(args)
    if args.action == "add":
        logs = ([args.key] if args.key else []) + list(args.status)
        if not logs:
            fail("store add: at least one LOG is required")
        if args.reproducer and len(logs) != 1:
            fail("store add: --reproducer goes with exactly one LOG")
        store = FindingsStore(path)
        results = add_logs(store, logs, args.reproducer)
        store.save()
        if args.json:
            sys.stdout.write(dump_json([{"log": l, "status": st, "key": k}
                                        for l, st, k in results]))
        else:
            for log, status, key in results:
                print(f"{log}: " + (f"{status} {key}" if status
                                    else "no crash found"))
        return 0
    if args.reproducer:
        fail(f"store {args.action}: --reproducer goes with add")
    args.status = args.status[0] if len(args.status) == 1 else (
        None if not args.status else fail(
            f"store {args.action}: unexpected argument '{args.status[1]}'"))
    if args.action in ("show", "forget", "mark") and not args.key:
        fail(f"store {args.action}: a signature KEY is required")
    if args.action == "mark" and not args.status:
        fail(f"store mark: a STATUS is required ({', '.join(STATUSES)})")
    if args.action != "mark" and args.status:
        fail(f"store {args.action}: unexpected argument '{args.status}'")
    if args.action == "list" and args.key:
        fail(f"store list: unexpected argument '{args.key}'")
    if args.action != "list" and not os.path.exists(path):
        fail(f"{path}: no findings store")
    store = FindingsStore(path)
    if args.action == "list":
        entries = store.entries()
        if args.json:
            sys.stdout.write(dump_json(entries))
            return 0
        if not entries:
            print(f"{path}: no findings")
        for e in entries:
            print(f"{e['status']:<7} {e['count']:>5}x  {e['key']}")
            best = e.get("best_reproducer")
            print(f"        first {e['first_seen']} last {e['last_seen']}; "
                  f"targets {', '.join(e['targets']) or '-'}; engines "
                  f"{', '.join(e['engines']) or '-'}"
                  + (f"; best {best} ({e['best_size']} bytes)" if best else ""))
        return 0
    if args.action == "show":
        e = store.lookup(args.key)
        if e is None:
            fail(f"{path}: no finding with key '{args.key}'", status=1)
        if args.json:
            sys.stdout.write(dump_json(e))
        else:
            for k in sorted(e):
                print(f"{k}: {e[k]}")
        return 0
    if args.action == "forget":
        if not store.forget(args.key):
            fail(f"{path}: no finding with key '{args.key}'", status=1)
        store.save()
        print(f"forgot {args.key}")
        return 0
    if args.status not in STATUSES:
        fail(f"store mark: unknown status '{args.status}' "
             f"(one of {', '.join(STATUSES)})")
    if not store.set_status(args.key, args.status):
        fail(f"{path}: no finding with key '{args.key}'", status=1)
    store.save()
    print(f"{args.key}: {args.status}")
    return 0
