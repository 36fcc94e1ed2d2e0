"""The fuzz targets, read from the one list (fuzz/targets/targets.txt),
and the plants the sources know."""

import re
from pathlib import Path

from .common import ROOT

TARGETS_FILE = Path("fuzz") / "targets" / "targets.txt"
# The program header and 256 operation records.
MAX_LEN = 24 + 256 * 8
TARGET_RE = re.compile(r"^[a-z][a-z0-9_]*$")


def fuzz_targets(root=None):
    """The target names, in the list's order (comments and blank lines
    skipped). Raises ValueError on a line that is not a target name."""
    path = Path(root or ROOT) / TARGETS_FILE
    names = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if not TARGET_RE.match(line):
            raise ValueError(f"{path}:{number}: not a target name: {line!r}")
        names.append(line)
    return names


TARGETS = fuzz_targets()


def short_name(target):
    return target[:-len("_fuzzer")] if target.endswith("_fuzzer") else target


PLANT_HEADER = Path("allocator") / "include" / "reservoir" / "plant.h"
PLANT_ENTRY_RE = re.compile(r"^  X\((\w+)\)", re.M)


def known_plants(root=None):
    """The plant ids of the one list (RESERVOIR_PLANT_LIST in
    allocator/include/reservoir/plant.h), in its order (the executor's
    MSan plant is not one a campaign build can hold)."""
    root = Path(root or ROOT)
    return PLANT_ENTRY_RE.findall((root / PLANT_HEADER).read_text())
