"""Reader and writer of the text form of fuzz programs (format v1).

The grammar is the one docs/PROGRAM-FORMAT.md describes and
fuzz/program/src/text_format.cc implements; this module accepts and rejects
the same texts and prints the same canonical text as `reservoir-replay
--print`, so the minimiser can edit a program as data and hand the result
back to the C++ side as text.

    program = parse(text)         # Program, or raises ProgramTextError
    text = program.to_text()      # canonical text

parse() accepts any str: every problem becomes a ProgramTextError whose
`line` is the 1-based line (comments and blank lines counted) and whose
`problem` says what is wrong, as in "line 4: unknown op 'kmaloc'". No
other exception escapes it.
"""
from dataclasses import dataclass, field
from typing import Dict, List

FIRST_LINE = "# reservoir program v1"
VERSION_PREFIX = "# reservoir program "
MAX_OPS = 256

# Header value tables (fuzz/program/include/reservoir/program/header.h).
NORMAL_PAGES = (256, 512, 1024, 2048, 4096)
HIGHMEM_PAGES = (0, 256, 512, 1024)
MIN_FREE_KBYTES = (-1, 0, 16, 64, 128, 256, 512, 1024)  # -1 = default
PROBABILITY_PPM = (0, 1000, 10000, 50000, 100000, 250000, 500000, 1000000)
SLAB_POLICIES = ("page_tag", "no_mixing")
ESTIMATORS = ("exact", "2n+m", "pow2")
AUDITS = ("cheap", "full")
FAULT_MODES = ("none", "random", "fail_nth", "input")
MIN_MAX_ORDER = 4
MAX_MAX_ORDER = 10
MAX_NR_CPUS = 4
MAX_FAIL_NTH = 65536
SITES = ("page_alloc", "slab_new_slab", "slab_object", "reserve_charge",
         "reserve_set")
ALL_SITES_MASK = (1 << len(SITES)) - 1

# gfp flag bits (allocator/include/reservoir/gfp.h).
GFP_MEMALLOC, GFP_NOMEMALLOC, GFP_HIGH, GFP_DIRECT_RECLAIM = 1, 2, 4, 8
GFP_NOFAIL, GFP_NOWARN, GFP_ZERO, GFP_HIGHMEM = 16, 32, 64, 128
GFP_MODIFIERS = (("MEMALLOC", GFP_MEMALLOC), ("NOMEMALLOC", GFP_NOMEMALLOC),
                 ("NOFAIL", GFP_NOFAIL), ("NOWARN", GFP_NOWARN),
                 ("ZERO", GFP_ZERO), ("HIGHMEM", GFP_HIGHMEM))
GFP_PARSE_NAMES = {"KERNEL": GFP_DIRECT_RECLAIM, "ATOMIC": GFP_HIGH,
                   "HIGH": GFP_HIGH, "DIRECT_RECLAIM": GFP_DIRECT_RECLAIM,
                   **dict(GFP_MODIFIERS)}

# Argument types: (min, max) of the text value. "align" must also be a
# power of two; "gfp" and "site" have their own spellings.
ARG_RANGES = {
    "order": (0, 10), "gfp": (0, 255), "cpu": (0, 3), "size": (1, 65535),
    "align": (1, 128), "pages": (0, 65535), "objects": (0, 65535),
    "bytes": (0, 4294967295), "site": (0, len(SITES) - 1), "skip": (0, 255),
    "ref": (0, 255),
    # The CPU of a free, as stored: 0 = the allocating CPU ("own", and the
    # field's absence), k = CPU k - 1. Optional in the text form.
    "free_cpu": (0, 4),
}
OPTIONAL_KINDS = frozenset({"free_cpu"})
FREE_CPU_RANGE = "own, 0..3"

# The operation table (op_table.h): name -> ((field, type), ...), in slot
# order. Index arguments ("page#", "cache#", ...) all have type "ref";
# REF_KIND says which live set each one names.
OPS = {
    "nop": (),
    "alloc_pages": (("order", "order"), ("gfp", "gfp"), ("cpu", "cpu")),
    "free_pages": (("page", "ref"),),
    "kmalloc": (("size", "size"), ("gfp", "gfp"), ("cpu", "cpu")),
    "kfree": (("obj", "ref"), ("cpu", "free_cpu")),
    "cache_create": (("size", "size"), ("align", "align")),
    "cache_alloc": (("cache", "ref"), ("gfp", "gfp"), ("cpu", "cpu")),
    "cache_free": (("obj", "ref"), ("cpu", "free_cpu")),
    "cache_destroy": (("cache", "ref"),),
    "reserve_create": (("parent", "ref"),),
    "reserve_set_pages": (("res", "ref"), ("pages", "pages")),
    "reserve_set_kmalloc": (("res", "ref"), ("bytes", "bytes")),
    "reserve_set_cache": (("res", "ref"), ("cache", "ref"),
                          ("objects", "objects")),
    "reserve_connect": (("res", "ref"), ("parent", "ref")),
    "reserve_disconnect": (("res", "ref"),),
    "reserve_charge": (("res", "ref"), ("bytes", "bytes")),
    "reserve_uncharge": (("charge", "ref"),),
    "kmalloc_reserve": (("size", "size"), ("gfp", "gfp"), ("cpu", "cpu"),
                        ("res", "ref")),
    "kfree_reserve": (("grant", "ref"), ("cpu", "free_cpu")),
    "alloc_pages_reserve": (("order", "order"), ("gfp", "gfp"),
                            ("cpu", "cpu"), ("res", "ref")),
    "free_pages_reserve": (("grant", "ref"),),
    "cache_alloc_reserve": (("cache", "ref"), ("gfp", "gfp"), ("cpu", "cpu"),
                            ("res", "ref")),
    "cache_free_reserve": (("grant", "ref"), ("cpu", "free_cpu")),
    "set_pf_memalloc": (),
    "clear_pf_memalloc": (),
    "enter_softirq": (),
    "leave_softirq": (),
    "set_oom_victim": (),
    "clear_oom_victim": (),
    "pressure": (("pages", "pages"), ("gfp", "gfp"), ("cpu", "cpu")),
    "release_pressure": (),
    "fail_next": (("site", "site"), ("skip", "skip")),
    "audit": (),
}

CONFIG_KEYS = ("normal_pages", "highmem_pages", "max_order",
               "min_free_kbytes", "nr_cpus", "slab_policy", "estimator",
               "audit")
FAULTS_KEYS = ("mode", "seed", "probability_ppm", "fail_nth", "sites")


class ProgramTextError(Exception):
    """A text program that does not parse: `line` (1-based) and
    `problem`; str() is "line N: problem"."""

    def __init__(self, line, problem):
        super().__init__(f"line {line}: {problem}")
        self.line = line
        self.problem = problem


def default_header():
    """The header of an all-zero binary header."""
    return {"normal_pages": 256, "highmem_pages": 0, "max_order": 8,
            "min_free_kbytes": -1, "nr_cpus": 1, "slab_policy": "page_tag",
            "estimator": "exact", "audit": "cheap", "mode": "none",
            "seed": 0, "probability_ppm": 0, "fail_nth": 1, "sites": 0}


@dataclass
class Op:
    """One operation: its name and its arguments as integers (gfp as flag
    bits, site as the FaultSite index), keyed in table order."""
    name: str
    args: Dict[str, int] = field(default_factory=dict)

    def to_text(self):
        parts = [self.name]
        for key, kind in OPS[self.name]:
            value = self.args.get(key, 0)
            if kind in OPTIONAL_KINDS and value == 0:
                continue  # left out when zero, as ToText() does
            parts.append(f"{key}={arg_to_text(kind, value)}")
        return " ".join(parts)


@dataclass
class Program:
    """A parsed program: `header` (the config and faults fields, see
    default_header()) and `ops`; `op_lines` holds the source line of each
    operation when the program came from parse()."""
    header: Dict[str, object] = field(default_factory=default_header)
    ops: List[Op] = field(default_factory=list)
    op_lines: List[int] = field(default_factory=list, compare=False)

    def to_text(self):
        return to_text(self)

    def copy(self):
        return Program(dict(self.header),
                       [Op(op.name, dict(op.args)) for op in self.ops])


def max_order_for(normal_pages, highmem_pages):
    """The largest max_order both zone sizes allow (at most 10)."""
    order = MAX_MAX_ORDER
    while order > 0 and (normal_pages % (1 << order)
                         or highmem_pages % (1 << order)):
        order -= 1
    return order


# ---------------------------------------------------------------------------
# Printing

def gfp_to_text(gfp):
    names = []
    if gfp & GFP_DIRECT_RECLAIM:
        names.append("KERNEL")
        if gfp & GFP_HIGH:
            names.append("HIGH")
    elif gfp & GFP_HIGH:
        names.append("ATOMIC")
    for name, bits in GFP_MODIFIERS:
        if gfp & bits:
            names.append(name)
    return "|".join(names) if names else "0"


def sites_to_text(mask):
    names = [name for i, name in enumerate(SITES) if (mask >> i) & 1]
    return "|".join(names) if names else "none"


def arg_to_text(kind, value):
    if kind == "gfp":
        return gfp_to_text(value)
    if kind == "site":
        return SITES[value]
    if kind == "free_cpu":
        return "own" if value == 0 else str(value - 1)
    return str(value)


def to_text(program):
    """The canonical text of `program`, as ToText() in C++ writes it."""
    h = program.header
    min_free = ("default" if h["min_free_kbytes"] == -1
                else str(h["min_free_kbytes"]))
    lines = [
        FIRST_LINE,
        f"config normal_pages={h['normal_pages']} "
        f"highmem_pages={h['highmem_pages']} max_order={h['max_order']} "
        f"min_free_kbytes={min_free} nr_cpus={h['nr_cpus']} "
        f"slab_policy={h['slab_policy']} estimator={h['estimator']} "
        f"audit={h['audit']}",
        f"faults mode={h['mode']} seed={h['seed']} "
        f"probability_ppm={h['probability_ppm']} fail_nth={h['fail_nth']} "
        f"sites={sites_to_text(h['sites'])}",
    ]
    lines.extend(op.to_text() for op in program.ops)
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------
# Parsing. Each function below raises _Problem(message); parse() adds the
# line number.

class _Problem(Exception):
    pass


_SPACE = " \t\r"
_DEC = frozenset("0123456789")
_HEX = frozenset("0123456789abcdefABCDEF")


def _number(text):
    """(status, value): status "ok", "nan" (not a number) or "big" (does
    not fit 64 bits), as the C++ ParseNumber decides."""
    digits, allowed, base = text, _DEC, 10
    if len(text) > 2 and text[0] == "0" and text[1] in "xX":
        digits, allowed, base = text[2:], _HEX, 16
    if not digits or not all(c in allowed for c in digits):
        return "nan", 0
    value = int(digits, base)
    if value >= 1 << 64:
        return "big", 0
    return "ok", value


class _Fields:
    def __init__(self, context, words, expected, optional=()):
        self.context = context
        self.fields = {}
        for word in words:
            eq = word.find("=")
            if eq <= 0 or eq + 1 == len(word):
                self.fail(f"bad field '{word}' (expected key=value)")
            key, value = word[:eq], word[eq + 1:]
            if key in self.fields:
                self.fail(f"duplicate field '{key}'")
            self.fields[key] = value
        for key in self.fields:
            if key not in expected and key not in optional:
                self.fail(f"unknown field '{key}'")
        for key in expected:
            if key not in self.fields:
                self.fail(f"missing field '{key}'")

    def fail(self, problem):
        raise _Problem(f"{self.context}: {problem}")

    def bad_value(self, key, expected):
        self.fail(f"bad value '{self.fields[key]}' for '{key}' "
                  f"(expected {expected})")

    def out_of_range(self, key, range_text):
        self.fail(f"{key}={self.fields[key]} out of range ({range_text})")

    def number(self, key, lo, hi):
        status, value = _number(self.fields[key])
        if status == "nan":
            self.bad_value(key, "a number")
        if status == "ok" and lo <= value <= hi:
            return value
        self.out_of_range(key, f"{lo}..{hi}")

    def table(self, key, table, shown=None):
        range_text = "|".join(shown or (str(v) for v in table))
        status, value = _number(self.fields[key])
        if status == "nan":
            self.bad_value(key, range_text)
        if status == "ok" and value in table:
            return value
        self.out_of_range(key, range_text)

    def name(self, key, names):
        value = self.fields[key]
        if value not in names:
            self.bad_value(key, "|".join(names))
        return value


def _parse_gfp(fields, key):
    text = fields.fields[key]
    bits = 0
    for part in text.split("|"):
        if part in GFP_PARSE_NAMES:
            bits |= GFP_PARSE_NAMES[part]
            continue
        status, value = _number(part)
        if status != "ok":
            fields.fail(f"unknown gfp flag '{part}' in {key}={text}")
        if value > 0xFF:
            fields.out_of_range(key, "0..255")
        bits |= value
    return bits


def _parse_arg(fields, key, kind):
    if kind == "gfp":
        return _parse_gfp(fields, key)
    if kind == "site":
        value = fields.fields[key]
        if value not in SITES:
            fields.bad_value(key, "|".join(SITES))
        return SITES.index(value)
    if kind == "free_cpu":
        if key not in fields.fields or fields.fields[key] == "own":
            return 0
        status, value = _number(fields.fields[key])
        if status == "nan":
            fields.bad_value(key, FREE_CPU_RANGE)
        if status != "ok" or value >= 4:
            fields.out_of_range(key, FREE_CPU_RANGE)
        return value + 1
    lo, hi = ARG_RANGES[kind]
    if kind == "align":
        range_text = "a power of two 1..128"
        status, value = _number(fields.fields[key])
        if status == "nan":
            fields.bad_value(key, range_text)
        if status != "ok" or not lo <= value <= hi or value & (value - 1):
            fields.out_of_range(key, range_text)
        return value
    return fields.number(key, lo, hi)


def _parse_config(words, header):
    f = _Fields("config", words, CONFIG_KEYS)
    header["normal_pages"] = f.table("normal_pages", NORMAL_PAGES)
    header["highmem_pages"] = f.table("highmem_pages", HIGHMEM_PAGES)
    largest = max_order_for(header["normal_pages"], header["highmem_pages"])
    header["max_order"] = f.number("max_order", MIN_MAX_ORDER, largest)
    text = f.fields["min_free_kbytes"]
    if text in ("default", "-1"):
        header["min_free_kbytes"] = -1
    else:
        header["min_free_kbytes"] = f.table(
            "min_free_kbytes", MIN_FREE_KBYTES[1:],
            ["default"] + [str(v) for v in MIN_FREE_KBYTES[1:]])
    header["nr_cpus"] = f.number("nr_cpus", 1, MAX_NR_CPUS)
    header["slab_policy"] = f.name("slab_policy", SLAB_POLICIES)
    header["estimator"] = f.name("estimator", ESTIMATORS)
    header["audit"] = f.name("audit", AUDITS)


def _parse_faults(words, header):
    f = _Fields("faults", words, FAULTS_KEYS)
    header["mode"] = f.name("mode", FAULT_MODES)
    header["seed"] = f.number("seed", 0, 0xFFFFFFFF)
    header["probability_ppm"] = f.table("probability_ppm", PROBABILITY_PPM)
    header["fail_nth"] = f.number("fail_nth", 1, MAX_FAIL_NTH)
    text = f.fields["sites"]
    mask = 0
    if text == "all":
        mask = ALL_SITES_MASK
    elif text != "none":
        for part in text.split("|"):
            if part not in SITES:
                f.fail(f"unknown fault site '{part}' in sites={text} "
                       f"(expected none, all or {'|'.join(SITES)})")
            mask |= 1 << SITES.index(part)
    header["sites"] = mask


def _version_problem(line):
    trimmed = line.strip(_SPACE)
    if not trimmed.startswith(VERSION_PREFIX):
        return None
    version = trimmed[len(VERSION_PREFIX):].strip(_SPACE)
    if version == "v1":
        return None
    return (f"unsupported format version '{version}' "
            "(this parser reads v1)")


def _words(line):
    words, current = [], []
    for c in line:
        if c in _SPACE:
            if current:
                words.append("".join(current))
                current = []
        else:
            current.append(c)
    if current:
        words.append("".join(current))
    return words


def parse(text):
    """Parse a text program. Returns a Program; raises ProgramTextError
    (and nothing else) for any text that FromText() in C++ rejects."""
    if not isinstance(text, str):
        raise ProgramTextError(0, f"expected text, got {type(text).__name__}")
    program = Program()
    stage = "config"
    number = 0
    for line in text.split("\n"):
        number += 1
        try:
            problem = _version_problem(line)
            if problem:
                raise _Problem(problem)
            hash_at = line.find("#")
            if hash_at >= 0:
                line = line[:hash_at]
            words = _words(line)
            if not words:
                continue
            head, rest = words[0], words[1:]
            if head == "config":
                if stage != "config":
                    raise _Problem("duplicate 'config' line")
                stage = "faults"
                _parse_config(rest, program.header)
                continue
            if head == "faults":
                if stage == "config":
                    raise _Problem("'faults' line before 'config'")
                if stage == "ops":
                    raise _Problem("duplicate 'faults' line")
                stage = "ops"
                _parse_faults(rest, program.header)
                continue
            if head not in OPS:
                raise _Problem(f"unknown op '{head}'")
            if stage == "config":
                raise _Problem("operation before the 'config' line")
            if stage == "faults":
                raise _Problem("operation before the 'faults' line")
            if len(program.ops) == MAX_OPS:
                raise _Problem(f"too many operations (at most {MAX_OPS})")
            spec = OPS[head]
            fields = _Fields(head, rest,
                             [k for k, t in spec if t not in OPTIONAL_KINDS],
                             [k for k, t in spec if t in OPTIONAL_KINDS])
            args = {key: _parse_arg(fields, key, kind) for key, kind in spec}
            program.ops.append(Op(head, args))
            program.op_lines.append(number)
        except _Problem as e:
            raise ProgramTextError(number, str(e)) from None
    if stage == "config":
        raise ProgramTextError(number, "missing 'config' line")
    if stage == "faults":
        raise ProgramTextError(number, "missing 'faults' line")
    return program


def is_text_program(data):
    """True when `data` (bytes) starts with the text form's first line, as
    reservoir-replay decides between text and binary input."""
    return data.startswith(FIRST_LINE.encode())


def comment_lines(text):
    """The leading comment lines of a text program (after the version
    line), without their '# '."""
    out = []
    for line in text.split("\n")[1:]:
        if not line.startswith("#"):
            break
        out.append(line[1:].strip())
    return out
