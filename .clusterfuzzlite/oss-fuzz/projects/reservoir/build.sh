#!/bin/bash -eu
# OSS-Fuzz's build.sh for Reservoir is the repository's own: one file, no drift.
exec bash -eux "$SRC/reservoir/.clusterfuzzlite/build.sh"
