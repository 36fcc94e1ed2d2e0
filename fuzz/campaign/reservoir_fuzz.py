#!/usr/bin/env python3
"""The main job: a local fuzzing campaign over every target (./reservoir
fuzz). The work is done by the reservoir_campaign package beside this
script; docs/FUZZING.md describes the run, docs/ENGINES.md the AFL++ side."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from reservoir_campaign.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
