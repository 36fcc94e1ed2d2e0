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


def known_plants(root=None):
    """Every RESERVOIR_PLANT_<id> spot in the model (allocator/src; the
    executor's MSan plant is not one a campaign build can hold)."""
    root = Path(root or ROOT)
    plants = set()
    for path in (root / "allocator" / "src").glob("*.cc"):
        plants.update(re.findall(r"RESERVOIR_PLANT_(\w+)", path.read_text()))
    return sorted(plants)
