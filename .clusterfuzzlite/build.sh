#!/bin/bash -eu
# Reservoir's OSS-Fuzz / ClusterFuzzLite build (docs/CONTINUOUS.md).
#
# Run by the builder as `bash -eux $SRC/build.sh` from $SRC/reservoir, with
# CC CXX CFLAGS CXXFLAGS LIB_FUZZING_ENGINE SANITIZER FUZZING_ENGINE
# ARCHITECTURE SRC OUT WORK set. Every compiler, sanitizer and coverage flag
# comes from CC/CXX/CFLAGS/CXXFLAGS; the project adds none of its own
# (RESERVOIR_FUZZ_ENGINE=external). The fuzz targets link
# $LIB_FUZZING_ENGINE. Abseil, the one C++ library the targets link, is
# built first from $SRC/abseil-cpp with the same compiler and flags
# (-stdlib=libc++, the sanitizer) into $WORK/abseil, which the project then
# finds instead of any system Abseil. Everything is built in $WORK; nothing
# is written into the source tree. Installed into $OUT:
# the five targets, and beside each T: T_seed_corpus.zip (its seeds and its
# regression entries, compiled to binary inputs), T.dict and T.options.
#
# The same file serves .clusterfuzzlite/ and the OSS-Fuzz project directory
# (.clusterfuzzlite/oss-fuzz/projects/reservoir/). `./reservoir ossfuzz-check`
# runs it here with OSS-Fuzz's environment and checks the result.

PROJECT="$SRC/reservoir"
ABSEIL="$SRC/abseil-cpp"
BUILD="$WORK/reservoir-build"
CORPORA="$WORK/reservoir-corpora"
TARGETS="page_alloc_fuzzer slab_fuzzer reserve_fuzzer swap_over_net_fuzzer estimator_fuzzer"

[ -f "$PROJECT/CMakeLists.txt" ] || { echo "build.sh: no project at $PROJECT" >&2; exit 1; }
[ -f "$ABSEIL/CMakeLists.txt" ] || { echo "build.sh: no Abseil source at $ABSEIL" >&2; exit 1; }

GENERATOR="Unix Makefiles"
if command -v ninja >/dev/null 2>&1; then GENERATOR=Ninja; fi
JOBS="$(nproc)"

# Abseil. $WORK/abseil is reused only when it was built from the same
# sources by the same recipe with the same compiler and flags (its stamp);
# otherwise it is built again.
ABSEIL_PREFIX="$WORK/abseil"
ABSEIL_STAMP="$(
  {
    printf '%s\n' "$CC" "$CXX" "$CFLAGS" "$CXXFLAGS" "$ARCHITECTURE"
    "$CXX" --version | head -n1
    sed -n '/^# BEGIN ABSEIL RECIPE/,/^# END ABSEIL RECIPE/p' "${BASH_SOURCE[0]}"
    (cd "$ABSEIL" && find . -path ./.git -prune -o -type f \( -name '*.h' -o -name '*.cc' \
       -o -name '*.inc' -o -name 'CMakeLists.txt' -o -name '*.cmake' \) -print |
     LC_ALL=C sort | xargs cat)
  } | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$ABSEIL_PREFIX/.reservoir-stamp" 2>/dev/null || true)" != "$ABSEIL_STAMP" ]; then
  rm -rf "$ABSEIL_PREFIX" "$WORK/abseil-build"
# BEGIN ABSEIL RECIPE
  # Static, C++20 like the project, no tests; an empty build type adds no
  # flags of its own (Abseil reads only CMAKE_CXX_FLAGS: it is all C++).
  cmake -S "$ABSEIL" -B "$WORK/abseil-build" -G "$GENERATOR" \
    -DCMAKE_BUILD_TYPE= \
    -DCMAKE_C_COMPILER="$CC" -DCMAKE_CXX_COMPILER="$CXX" \
    -DCMAKE_C_FLAGS="$CFLAGS" -DCMAKE_CXX_FLAGS="$CXXFLAGS" \
    -DCMAKE_CXX_STANDARD=20 -DABSL_PROPAGATE_CXX_STD=ON \
    -DBUILD_SHARED_LIBS=OFF -DBUILD_TESTING=OFF -DABSL_BUILD_TESTING=OFF \
    -DCMAKE_POSITION_INDEPENDENT_CODE=ON \
    -DCMAKE_INSTALL_PREFIX="$ABSEIL_PREFIX" -DCMAKE_INSTALL_LIBDIR=lib
  cmake --build "$WORK/abseil-build" -j "$JOBS" --target install
# END ABSEIL RECIPE
  echo "$ABSEIL_STAMP" >"$ABSEIL_PREFIX/.reservoir-stamp"
  rm -rf "$WORK/abseil-build"
fi

# The project. An empty CMAKE_BUILD_TYPE adds no flags: CFLAGS/CXXFLAGS are
# all there is. absl_DIR: this Abseil, never the system's.
cmake -S "$PROJECT" -B "$BUILD" -G "$GENERATOR" \
  -Dabsl_DIR="$ABSEIL_PREFIX/lib/cmake/absl" \
  -DCMAKE_BUILD_TYPE= \
  -DCMAKE_C_COMPILER="$CC" -DCMAKE_CXX_COMPILER="$CXX" \
  -DCMAKE_C_FLAGS="$CFLAGS" -DCMAKE_CXX_FLAGS="$CXXFLAGS" \
  -DRESERVOIR_BUILD_TESTS=OFF -DRESERVOIR_BUILD_BENCH=OFF \
  -DRESERVOIR_BUILD_FUZZERS=ON -DRESERVOIR_SANITIZERS= \
  -DRESERVOIR_FUZZ_ENGINE=external \
  -DRESERVOIR_LIB_FUZZING_ENGINE="$LIB_FUZZING_ENGINE"

# Only the five targets and the seed compiler (program_fuzzer and
# trivial_fuzzer also define LLVMFuzzerTestOneInput and stay out of $OUT).
# shellcheck disable=SC2086
cmake --build "$BUILD" -j "$JOBS" --target $TARGETS reservoir-seed

# reservoir-seed is built with the same flags; it runs here, at build time,
# from $WORK (a coverage build's profile goes nowhere, a sanitizer's report
# fails the build).
SEED_TOOL="$BUILD/fuzz/tools/reservoir-seed"
export LLVM_PROFILE_FILE=/dev/null
rm -rf "$CORPORA"
mkdir -p "$CORPORA"
for target in $TARGETS; do
  corpus="$PROJECT/corpus/$target"
  staged="$CORPORA/$target"
  mkdir -p "$staged/seeds" "$staged/regression" "$staged/zip"
  (cd "$WORK" && "$SEED_TOOL" --target "$target" --out "$staged/seeds" "$corpus"/seeds/*.txt)
  if compgen -G "$corpus/regression/*.txt" >/dev/null; then
    (cd "$WORK" && "$SEED_TOOL" --target "$target" --full --out "$staged/regression" \
       "$corpus"/regression/*.txt)
  fi
  # A flat archive: seeds under their own names, regression entries
  # prefixed, so the two never collide.
  for input in "$staged"/seeds/*; do cp "$input" "$staged/zip/"; done
  for input in "$staged"/regression/*; do
    [ -e "$input" ] || continue
    cp "$input" "$staged/zip/regression-$(basename "$input")"
  done
  # Fixed timestamps and no extra attributes: the same archive every build.
  touch -d '2000-01-01 00:00:00 UTC' "$staged"/zip/*
  rm -f "$staged/$target.zip"
  (cd "$staged/zip" && LC_ALL=C ls | LC_ALL=C sort | zip -q -X -j -@ "$staged/$target.zip")

  install -m 0755 "$BUILD/fuzz/targets/$target" "$OUT/$target"
  install -m 0644 "$staged/$target.zip" "$OUT/${target}_seed_corpus.zip"
  install -m 0644 "$corpus/$target.dict" "$OUT/$target.dict"
  install -m 0644 "$corpus/$target.options" "$OUT/$target.options"
done
