"""The plants a benchmark can run (the one list in
allocator/include/reservoir/plant.h) and what each trigger says: its
target (the "# <target> prologue" line of corpus/plants/<id>.txt) and its
expected report (the "# expect:" line)."""

import re
from pathlib import Path

from ..targets import known_plants

CLEAN = "clean"   # the pseudo-plant: the correct build, no plant
EXPECT_RE = re.compile(r"^# expect: RESERVOIR BUG: ([a-z-]+): (\S+)", re.M)
PROLOGUE_RE = re.compile(r"^# (\w+_fuzzer) prologue$", re.M)


class Plant:
    def __init__(self, plant_id, target, expect_class, expect_place):
        self.id = plant_id
        self.target = target
        self.expect_class = expect_class
        self.expect_place = expect_place

    def as_json(self):
        return {"id": self.id, "target": self.target,
                "expect_class": self.expect_class,
                "expect_place": self.expect_place}


def trigger_path(root, plant_id):
    return Path(root) / "corpus" / "plants" / f"{plant_id}.txt"


def load_plant(root, plant_id):
    """The plant with its trigger's target and class; ValueError when the
    trigger is missing or lacks either line."""
    path = trigger_path(root, plant_id)
    if not path.is_file():
        raise ValueError(f"plant '{plant_id}' has no trigger {path}")
    text = path.read_text()
    expect = EXPECT_RE.search(text)
    target = PROLOGUE_RE.search(text)
    if not expect or not target:
        raise ValueError(f"{path}: needs a '# expect:' line and a "
                         "'# <target> prologue' line")
    return Plant(plant_id, target.group(1), expect.group(1), expect.group(2))


def all_plants(root):
    return [load_plant(root, p) for p in known_plants(root)]


def clean_plant(target):
    """The clean pseudo-plant on one target: nothing is expected."""
    return Plant(CLEAN, target, None, None)
