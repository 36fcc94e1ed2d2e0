"""Reading `reservoir-replay --trace` output.

Each executed operation prints one step line, then the state after it:

    #<i> <op text> -> <ok|ok (emergency)|failed|no-op> (injected so far: <n>)
       @zone name=<zone> free=<p> min=<p> low=<p> high=<p> strict=<p> pfmemalloc=<p>
       @reserve index=<i> parent=<i|-1> pages=<p> limit=<bytes> usage=<bytes>

(pages in pages, limit and usage in bytes; one @zone line per zone, one
@reserve line per live reserve node, by its index in the program's
reserves list). A finding aborts inside its operation, so that operation
has no step line; the report names it.
"""
import re
from dataclasses import dataclass, field
from typing import Dict, List

STEP_RE = re.compile(r"^#(\d+) (.*) -> (ok \(emergency\)|ok|failed|no-op) "
                     r"\(injected so far: (\d+)\)$")
STATE_RE = re.compile(r"^\s+@(zone|reserve) (.*)$")


@dataclass
class Step:
    index: int
    op: str
    outcome: str
    injected: int
    zones: List[Dict[str, object]] = field(default_factory=list)
    reserves: List[Dict[str, int]] = field(default_factory=list)

    def to_json(self):
        return {"index": self.index, "op": self.op, "outcome": self.outcome,
                "injected": self.injected, "zones": self.zones,
                "reserves": self.reserves}


def _fields(text):
    out = {}
    for word in text.split():
        key, _, value = word.partition("=")
        try:
            out[key] = int(value)
        except ValueError:
            out[key] = value
    return out


def parse_trace(log):
    """The steps of a --trace log (str), in order; other lines ignored."""
    steps = []
    for line in log.split("\n"):
        m = STEP_RE.match(line)
        if m:
            steps.append(Step(int(m.group(1)), m.group(2), m.group(3),
                              int(m.group(4))))
            continue
        m = STATE_RE.match(line)
        if m and steps:
            values = _fields(m.group(2))
            (steps[-1].zones if m.group(1) == "zone"
             else steps[-1].reserves).append(values)
    return steps
