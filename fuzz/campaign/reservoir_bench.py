#!/usr/bin/env python3
"""The bug benchmark (./reservoir bench bugs): the work is done by the
reservoir_campaign.bugbench package beside this script; docs/BUGBENCH.md
describes it."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from reservoir_campaign.bugbench.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
