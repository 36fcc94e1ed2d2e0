#!/usr/bin/env bash
# msan_ctest.sh: the steps of the msan.* ctests (fuzz/msan/CMakeLists.txt),
# which run in the libfuzzer-asan build against the libfuzzer-msan trees.
#
#   msan_ctest.sh build SOURCE_DIR PLANT_DIR PLANT_TARGET...
#       build the MSan dependencies if needed (build_msan_deps.sh), then
#       configure and build the libfuzzer-msan preset, and a second tree
#       PLANT_DIR with -DRESERVOIR_PLANT=msan_uninit_read (PLANT_TARGETs only)
#   msan_ctest.sh fuzz RUNS BINARY ARGS...
#       run a fuzzer; pass when it exits 0 after RUNS runs with no report
#   msan_ctest.sh linkage PREFIX BINARY...
#       every BINARY loads libc++ from PREFIX and never libstdc++
#   msan_ctest.sh expect-uninit-read slab|model COMMAND...
#       COMMAND must fail with a MemorySanitizer use-of-uninitialized-value
#       in the executor whose origin is the model's allocation path
#       (__msan_allocated_memory), through the slab allocator (slab) or
#       through the slab or the page allocator (model: a fuzzer may first
#       meet a large kmalloc, which goes straight to the page allocator)
# No pipefail: checks grep here-strings (grep -q may stop reading early).
set -u

PROG="msan_ctest.sh"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

fail() { echo "$PROG: FAIL: $*" >&2; exit 1; }
die() { echo "$PROG: $*" >&2; exit 2; }

jobs() { nproc 2>/dev/null || echo 2; }

# --fresh when the tree was configured against another prefix (the package
# versions changed): its cached flags name the old one.
fresh_if_stale() {
  local cache="$1/CMakeCache.txt" prefix="$2"
  [ -f "$cache" ] || return 0
  grep -qxF "RESERVOIR_MSAN_PREFIX:PATH=$prefix" "$cache" || echo --fresh
}

cmd_build() {
  [ $# -ge 3 ] || die "build: SOURCE_DIR PLANT_DIR PLANT_TARGET... expected"
  local src="$1" plant_dir="$2"
  shift 2
  bash "$HERE/build_msan_deps.sh" || fail "the MSan dependencies did not build"
  mkdir -p "$src/build"
  # One build of these trees at a time.
  exec 8>"$src/build/.libfuzzer-msan.lock"
  flock 8
  cd "$src" || die "cannot enter $src"
  local prefix
  prefix="$(bash "$HERE/build_msan_deps.sh" --print-prefix)" || exit 2
  echo "== configure and build preset libfuzzer-msan"
  # shellcheck disable=SC2046  # fresh_if_stale prints one word or none
  cmake --preset libfuzzer-msan $(fresh_if_stale build/libfuzzer-msan "$prefix") \
    >/dev/null || fail "configure of libfuzzer-msan failed"
  cmake --build --preset libfuzzer-msan -j "$(jobs)" ||
    fail "build of libfuzzer-msan failed"
  echo "== configure and build $plant_dir (plant msan_uninit_read): $*"
  # shellcheck disable=SC2046
  cmake --preset libfuzzer-msan -B "$plant_dir" $(fresh_if_stale "$plant_dir" "$prefix") \
    -DRESERVOIR_PLANT=msan_uninit_read >/dev/null ||
    fail "configure of $plant_dir failed"
  local targets=() t
  for t in "$@"; do targets+=(--target "$t"); done
  cmake --build "$plant_dir" -j "$(jobs)" "${targets[@]}" ||
    fail "build of $plant_dir failed"
}

cmd_fuzz() {
  [ $# -ge 2 ] || die "fuzz: RUNS BINARY ARGS... expected"
  local runs="$1" out status
  shift
  out="$("$@" 2>&1)"
  status=$?
  printf '%s\n' "$out"
  if grep -qE 'WARNING: MemorySanitizer|RESERVOIR BUG|ERROR: libFuzzer|deadly signal|runtime error' <<<"$out"; then
    fail "the fuzzer reported a finding (above)"
  fi
  [ $status -eq 0 ] || fail "the fuzzer exited with status $status"
  grep -qE "^Done $runs runs in" <<<"$out" ||
    fail "the fuzzer did not report 'Done $runs runs'"
  echo "$PROG: ok: $runs runs under MemorySanitizer, no report"
}

cmd_linkage() {
  [ $# -ge 2 ] || die "linkage: PREFIX BINARY... expected"
  local prefix="$1" bin deps bad=0
  shift
  for bin in "$@"; do
    [ -x "$bin" ] || fail "$bin was not built"
    deps="$(ldd "$bin")" || fail "ldd $bin failed"
    if grep -q 'libstdc++' <<<"$deps"; then
      echo "$bin loads libstdc++:"; printf '%s\n' "$deps"; bad=1
    fi
    if ! grep -qF "libc++.so.1 => $prefix/lib/" <<<"$deps"; then
      echo "$bin does not load libc++ from $prefix:"; printf '%s\n' "$deps"; bad=1
    fi
  done
  [ $bad -eq 0 ] || fail "a binary links an uninstrumented C++ library"
  echo "$PROG: ok: $# binaries load libc++ from $prefix, none loads libstdc++"
}

# The report must name the read and, in its origin section, the model's
# slab allocation path that marked the object uninitialised.
cmd_expect_uninit_read() {
  [ $# -ge 2 ] || die "expect-uninit-read: slab|model COMMAND... expected"
  local path="$1" out status report first origin
  shift
  case "$path" in slab|model) ;; *) die "expect-uninit-read: slab or model, not '$path'" ;; esac
  out="$("$@" 2>&1)"
  status=$?
  printf '%s\n' "$out"
  [ $status -ne 0 ] || fail "the planted read went unreported (exit status 0)"
  report="$(sed -n '/WARNING: MemorySanitizer: use-of-uninitialized-value/,$p' <<<"$out")"
  [ -n "$report" ] ||
    fail "no 'WARNING: MemorySanitizer: use-of-uninitialized-value' report"
  # The read: the executor's kmalloc operation, first frame.
  first="$(grep -m1 -E '^ *#0 ' <<<"$report")"
  case "$first" in
    *fuzz/exec/src/executor.cc*) ;;
    *) fail "the report's first frame is not in fuzz/exec/src/executor.cc: $first" ;;
  esac
  # The origin section: "Memory was marked as uninitialized" for memory an
  # allocator handed out with __msan_allocated_memory (MSan's own malloc
  # says "Uninitialized value was created by a heap allocation").
  origin="$(sed -nE '/Memory was marked as uninitialized|Uninitialized value was created by/,/^SUMMARY/p' <<<"$report")"
  [ -n "$origin" ] || fail "the report has no origin section (was it built with -fsanitize-memory-track-origins?)"
  grep -q '__msan_allocated_memory' <<<"$origin" ||
    fail "the origin does not come from __msan_allocated_memory"
  if [ "$path" = slab ]; then
    grep -qE 'in reservoir::SlabAllocator::.*allocator/src/slab_alloc.cc' <<<"$origin" ||
      fail "the origin stack does not go through the slab allocator (allocator/src/slab_alloc.cc)"
  else
    grep -qE 'in reservoir::(SlabAllocator|PageAllocator)::.*allocator/src/(slab_alloc|page_allocator).cc' <<<"$origin" ||
      fail "the origin stack does not go through the model's slab or page allocator"
  fi
  echo "$PROG: ok: MemorySanitizer reported the planted read, origin in the model's $path allocation path"
}

[ $# -ge 1 ] || die "usage: $PROG build|fuzz|linkage|expect-uninit-read ARGS..."
command="$1"
shift
case "$command" in
  build) cmd_build "$@" ;;
  fuzz) cmd_fuzz "$@" ;;
  linkage) cmd_linkage "$@" ;;
  expect-uninit-read) cmd_expect_uninit_read "$@" ;;
  *) die "unknown step '$command'" ;;
esac
