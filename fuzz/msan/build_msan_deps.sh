#!/usr/bin/env bash
# build_msan_deps.sh: builds the MemorySanitizer-instrumented C++ runtime the
# libfuzzer-msan preset links (libc++ and libc++abi, Abseil) and a libFuzzer
# that does not need libstdc++, from Debian's own source packages, into a
# cache outside the source tree keyed on the package versions. Idempotent:
# a complete cache entry is reused and nothing is downloaded.
set -euo pipefail

PROG="build_msan_deps.sh"

# Bump when the recipe below changes what ends up in the prefix: it is part
# of the cache key, so an old entry is never mistaken for a new one.
RECIPE=1

# The source packages, pinned to the installed binaries they must match.
LLVM_SOURCE="llvm-toolchain-14"
LLVM_BINARY="clang-14"
ABSL_SOURCE="abseil"
ABSL_BINARY="libabsl-dev"
# Parts of the LLVM tarball the builds need (the rest is ~1.5 GB unpacked),
# without their test suites (10,000 files the builds never read).
LLVM_PARTS=(runtimes libcxx libcxxabi cmake llvm/cmake llvm/utils compiler-rt)
LLVM_EXCLUDED=(libcxx/test libcxxabi/test compiler-rt/test)

CACHE_ROOT="${RESERVOIR_MSAN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/reservoir}"
MSAN_FLAGS="-fsanitize=memory -fsanitize-memory-track-origins"

die() { echo "$PROG: $*" >&2; exit 2; }

usage() {
  cat <<EOF
Usage: fuzz/msan/build_msan_deps.sh [--rebuild] [--jobs N]
       fuzz/msan/build_msan_deps.sh --print-prefix | --check

Builds, once, what the libfuzzer-msan preset links, from Debian's source
packages of the installed versions ($LLVM_SOURCE for $LLVM_BINARY,
$ABSL_SOURCE for $ABSL_BINARY), fetched with 'apt-get source' through a
private deb-src list for the mirror of /etc/apt/sources.list.d/debian.sources
(a private apt state: /etc/apt and /var/lib/apt are not touched):

  libc++ + libc++abi   instrumented ($MSAN_FLAGS)
  Abseil               instrumented, against that libc++
  libFuzzer            compiler-rt's, with its own private libc++ (so the
                       fuzzers need no libstdc++); not instrumented

Everything goes into a prefix under the cache directory
  ${CACHE_ROOT/#$HOME/\$HOME}/msan-r$RECIPE-<llvm version>-<abseil version>
(override the directory with RESERVOIR_MSAN_CACHE). A complete prefix is
reused: running this again is a no-op that needs no network. Cold, it
takes about 5 minutes on 2 cores (9 on a busy machine); see docs/MSAN.md.

  --rebuild        delete this version's prefix and build it again (the
                   downloaded source packages are kept and re-verified)
  --jobs N         parallel build jobs (default: nproc)
  --quiet          print nothing when the prefix is already complete
  --print-prefix   print the prefix path for the installed versions and exit
  --check          exit 0 if that prefix is complete, 1 if not
  -h, --help       this help

Exit status: 0 done, 1 not complete (--check), 2 error (one line on stderr
naming the log to read).
EOF
}

# ---------------------------------------------------------------------------
# The cache key: the installed versions of the binaries the sources match.

installed_source_version() {
  # The source version a binary package was built from (epoch included).
  local binary="$1" v
  v="$(dpkg-query -W -f='${db:Status-Status} ${source:Version}' "$binary" \
       2>/dev/null)" || v=""
  case "$v" in
    "installed "*) echo "${v#installed }" ;;
    *) return 1 ;;
  esac
}

compute_versions() {
  LLVM_VERSION="$(installed_source_version "$LLVM_BINARY")" ||
    die "$LLVM_BINARY is not installed (run ./reservoir setup)"
  ABSL_VERSION="$(installed_source_version "$ABSL_BINARY")" ||
    die "$ABSL_BINARY is not installed (run ./reservoir setup)"
  # Directory names without the epoch colon.
  local key="msan-r$RECIPE-llvm-${LLVM_VERSION#*:}-abseil-${ABSL_VERSION#*:}"
  PREFIX="$CACHE_ROOT/$key"
}

is_complete() { [ -f "$PREFIX/.complete" ]; }

# ---------------------------------------------------------------------------
# Progress and logs.

STEP=0
STEPS=7
START=$SECONDS
step() {
  STEP=$((STEP + 1))
  printf '[msan-deps] %d/%d %s (%ds elapsed)\n' "$STEP" "$STEPS" "$*" \
    "$((SECONDS - START))" >&2
}

# run LOG CMD...: runs CMD with its output in LOG; one line naming LOG when
# it fails.
run() {
  local log="$1"
  shift
  if ! "$@" >>"$log" 2>&1; then
    die "step $STEP failed: $1 ... (log: $log)"
  fi
}

# ---------------------------------------------------------------------------
# Step 1: a private apt state with deb-src entries for the system's mirror.

write_deb_src_list() {
  local out="$1"
  local deb822=/etc/apt/sources.list.d/debian.sources
  if [ -r "$deb822" ]; then
    # Same stanzas (URIs, suites, components, keyring), source type.
    sed -E 's/^Types:.*/Types: deb-src/' "$deb822" >"$out/debian-src.sources"
  elif [ -r /etc/apt/sources.list ] &&
       grep -qE '^[[:space:]]*deb[[:space:]]' /etc/apt/sources.list; then
    sed -nE 's/^[[:space:]]*deb([[:space:]])/deb-src\1/p' /etc/apt/sources.list \
      >"$out/debian-src.list"
  else
    die "no Debian mirror found in $deb822 or /etc/apt/sources.list"
  fi
}

APT_DIR=""
APT_OPTS=()
setup_apt() {
  APT_DIR="$CACHE_ROOT/apt"
  mkdir -p "$APT_DIR/sources.list.d" "$APT_DIR/lists/partial" \
           "$APT_DIR/cache/archives/partial"
  rm -f "$APT_DIR"/sources.list.d/*
  write_deb_src_list "$APT_DIR/sources.list.d"
  APT_OPTS=(
    -o "Dir::Etc::SourceList=/dev/null"
    -o "Dir::Etc::SourceParts=$APT_DIR/sources.list.d"
    -o "Dir::State::Lists=$APT_DIR/lists"
    -o "Dir::Cache=$APT_DIR/cache"
    -o "Debug::NoLocking=1"
    -o "APT::Get::Download-Only=true"
  )
  # apt drops privileges to _apt for downloads, which cannot write into a
  # root-owned cache directory; download as the caller instead.
  [ "$(id -u)" -eq 0 ] && APT_OPTS+=(-o "APT::Sandbox::User=root")
  run "$LOGS/1-apt-update.log" apt-get "${APT_OPTS[@]}" update
}

# ---------------------------------------------------------------------------
# Step 2: the source packages (verified by apt against the signed index).

DOWNLOADS=""
download_sources() {
  DOWNLOADS="$CACHE_ROOT/downloads"
  mkdir -p "$DOWNLOADS"
  (cd "$DOWNLOADS" &&
   run "$LOGS/2-apt-source.log" apt-get "${APT_OPTS[@]}" source \
     --download-only "$LLVM_SOURCE=$LLVM_VERSION" "$ABSL_SOURCE=$ABSL_VERSION")
}

# The files of a source package, from its .dsc.
dsc_path() {
  local source="$1" version="$2"
  echo "$DOWNLOADS/${source}_${version#*:}.dsc"
}

dsc_file() {
  # dsc_file DSC PATTERN: the file listed in DSC whose name matches PATTERN.
  local dsc="$1" pattern="$2" name
  name="$(awk '/^Files:/ {f=1; next} /^[^ ]/ {f=0} f {print $3}' "$dsc" |
          grep -E "$pattern" | head -n1)"
  [ -n "$name" ] || die "no file matching '$pattern' in $dsc"
  echo "$DOWNLOADS/$name"
}

# ---------------------------------------------------------------------------
# Step 3: unpack and apply Debian's patches.

# unpacked PATH: whether PATH (relative to the LLVM tree) was unpacked.
unpacked() {
  local dir
  for dir in "${LLVM_EXCLUDED[@]}"; do
    case "$1" in "$dir"/*) return 1 ;; esac
  done
  for dir in "${LLVM_PARTS[@]}"; do
    case "$1" in "$dir"/*) return 0 ;; esac
  done
  return 1
}

# apply_debian_patches SRC DEBIAN_DIR [partial]: applies
# debian/patches/series in order. With "partial" (the LLVM tarball is only
# partly unpacked), only the patches that touch nothing but unpacked files;
# the others are listed in the log as skipped (they touch other projects,
# test suites, shebangs and docs).
apply_debian_patches() {
  local src="$1" debian="$2" partial="${3:-}"
  local series="$debian/patches/series" patch paths path keep
  [ -f "$series" ] || return 0
  while read -r patch _; do
    case "$patch" in ""|"#"*) continue ;; esac
    if [ -n "$partial" ]; then
      paths="$(sed -nE 's/^\+\+\+ [^/]*\/([^[:space:]]*).*/\1/p' \
               "$debian/patches/$patch")"
      keep=1
      for path in $paths; do
        unpacked "$path" || { keep=0; break; }
      done
      if [ $keep -eq 0 ]; then
        echo "skipped $patch (touches parts not unpacked)" >>"$LOGS/3-unpack.log"
        continue
      fi
    fi
    echo "applying $patch" >>"$LOGS/3-unpack.log"
    run "$LOGS/3-unpack.log" patch -d "$src" -p1 -f -s -i "$debian/patches/$patch"
  done <"$series"
}

LLVM_SRC=""
ABSL_SRC=""
unpack_sources() {
  local llvm_dsc absl_dsc tarball top parts=()
  llvm_dsc="$(dsc_path "$LLVM_SOURCE" "$LLVM_VERSION")"
  absl_dsc="$(dsc_path "$ABSL_SOURCE" "$ABSL_VERSION")"
  if [ ! -f "$llvm_dsc" ] || [ ! -f "$absl_dsc" ]; then
    die "apt-get source left no .dsc in $DOWNLOADS (log: $LOGS/2-apt-source.log)"
  fi

  LLVM_SRC="$WORK/llvm"
  mkdir -p "$LLVM_SRC" "$WORK/llvm-debian"
  tarball="$(dsc_file "$llvm_dsc" '\.orig\.tar\.')"
  top="$(tar -tf "$tarball" 2>/dev/null | head -n1)" || true
  top="${top%%/*}"
  [ -n "$top" ] || die "cannot list $tarball"
  local part excludes=()
  for part in "${LLVM_PARTS[@]}"; do parts+=("$top/$part"); done
  for part in "${LLVM_EXCLUDED[@]}"; do excludes+=("--exclude=$top/$part"); done
  run "$LOGS/3-unpack.log" tar -xf "$tarball" -C "$LLVM_SRC" \
    --strip-components=1 "${excludes[@]}" "${parts[@]}"
  run "$LOGS/3-unpack.log" tar -xf "$(dsc_file "$llvm_dsc" '\.debian\.tar\.')" \
    -C "$WORK/llvm-debian"
  apply_debian_patches "$LLVM_SRC" "$WORK/llvm-debian/debian" partial

  ABSL_SRC="$WORK/abseil"
  mkdir -p "$ABSL_SRC" "$WORK/abseil-debian"
  run "$LOGS/3-unpack.log" tar -xf "$(dsc_file "$absl_dsc" '\.orig\.tar\.')" \
    -C "$ABSL_SRC" --strip-components=1
  run "$LOGS/3-unpack.log" tar -xf "$(dsc_file "$absl_dsc" '\.debian\.tar\.')" \
    -C "$WORK/abseil-debian"
  apply_debian_patches "$ABSL_SRC" "$WORK/abseil-debian/debian"
}

# ---------------------------------------------------------------------------
# Steps 4-6: the builds.

COMMON_CMAKE=(
  -G Ninja
  -DCMAKE_BUILD_TYPE=Release
  -DCMAKE_C_COMPILER=clang-14
  -DCMAKE_CXX_COMPILER=clang++-14
)

build_libcxx() {
  local log="$LOGS/4-libcxx.log"
  run "$log" cmake "${COMMON_CMAKE[@]}" -S "$LLVM_SRC/runtimes" \
    -B "$WORK/build-libcxx" \
    -DCMAKE_INSTALL_PREFIX="$STAGE" \
    -DLLVM_ENABLE_RUNTIMES="libcxx;libcxxabi" \
    -DLLVM_USE_SANITIZER=MemoryWithOrigins \
    -DCMAKE_POSITION_INDEPENDENT_CODE=ON \
    -DLIBCXX_ENABLE_STATIC_ABI_LIBRARY=ON \
    -DLIBCXXABI_USE_LLVM_UNWINDER=OFF \
    -DLIBCXX_INCLUDE_TESTS=OFF -DLIBCXXABI_INCLUDE_TESTS=OFF \
    -DLIBCXX_INCLUDE_BENCHMARKS=OFF -DLIBCXX_INCLUDE_DOCS=OFF
  run "$log" ninja -C "$WORK/build-libcxx" -j "$JOBS" install-cxx install-cxxabi
}

# Flags for C++ code built against the instrumented libc++ in $STAGE.
msan_cxx_flags() {
  echo "$MSAN_FLAGS -fno-omit-frame-pointer -g -nostdinc++ -isystem $STAGE/include/c++/v1"
}
msan_link_flags() {
  echo "$MSAN_FLAGS -stdlib=libc++ -L$STAGE/lib -Wl,-rpath,$STAGE/lib"
}

build_abseil() {
  local log="$LOGS/5-abseil.log"
  # As Debian's static build (debian/rules): C++17, static libraries.
  run "$log" cmake "${COMMON_CMAKE[@]}" -S "$ABSL_SRC" -B "$WORK/build-abseil" \
    -DCMAKE_INSTALL_PREFIX="$STAGE" -DCMAKE_INSTALL_LIBDIR=lib \
    -DCMAKE_CXX_STANDARD=17 -DBUILD_SHARED_LIBS=OFF -DBUILD_TESTING=OFF \
    -DCMAKE_POSITION_INDEPENDENT_CODE=ON \
    -DCMAKE_CXX_FLAGS="$(msan_cxx_flags)" \
    -DCMAKE_EXE_LINKER_FLAGS="$(msan_link_flags)" \
    -DCMAKE_SHARED_LINKER_FLAGS="$(msan_link_flags)"
  run "$log" ninja -C "$WORK/build-abseil" -j "$JOBS" install
}

build_libfuzzer() {
  local log="$LOGS/6-libfuzzer.log"
  # compiler-rt builds libFuzzer against a private libc++ (namespace
  # __Fuzzer, hidden and localised): the archive needs no C++ library, where
  # Debian's libclang_rt.fuzzer needs libstdc++.
  run "$log" cmake "${COMMON_CMAKE[@]}" -S "$LLVM_SRC/runtimes" \
    -B "$WORK/build-libfuzzer" -Wno-dev \
    -DLLVM_ENABLE_RUNTIMES=compiler-rt \
    -DCMAKE_C_COMPILER_TARGET=x86_64-pc-linux-gnu \
    -DCMAKE_CXX_COMPILER_TARGET=x86_64-pc-linux-gnu \
    -DCOMPILER_RT_DEFAULT_TARGET_ONLY=ON \
    -DCOMPILER_RT_BUILD_LIBFUZZER=ON \
    -DCOMPILER_RT_BUILD_SANITIZERS=OFF -DCOMPILER_RT_BUILD_XRAY=OFF \
    -DCOMPILER_RT_BUILD_PROFILE=OFF -DCOMPILER_RT_BUILD_MEMPROF=OFF \
    -DCOMPILER_RT_BUILD_ORC=OFF -DCOMPILER_RT_BUILD_CRT=OFF \
    -DCOMPILER_RT_BUILD_BUILTINS=OFF -DCOMPILER_RT_INCLUDE_TESTS=OFF
  run "$log" ninja -C "$WORK/build-libfuzzer" -j "$JOBS" fuzzer
  local lib="$WORK/build-libfuzzer/compiler-rt/lib/linux"
  mkdir -p "$STAGE/lib/libfuzzer"
  run "$log" cp "$lib/libclang_rt.fuzzer-x86_64.a" \
    "$lib/libclang_rt.fuzzer_no_main-x86_64.a" "$STAGE/lib/libfuzzer/"
  # It must not need libstdc++ (std::__cxx11 or std:: symbols from outside).
  if nm "$STAGE/lib/libfuzzer/libclang_rt.fuzzer-x86_64.a" 2>/dev/null |
      grep -E '^ +U _ZN?K?St' >>"$log"; then
    die "the libFuzzer archive still references libstdc++ (log: $log)"
  fi
}

# ---------------------------------------------------------------------------
# Step 7: check the prefix before declaring it complete: a clean program
# using libc++ and Abseil runs clean, and an uninitialised read is reported
# with its origin.

check_prefix() {
  local log="$LOGS/7-check.log" dir="$WORK/check"
  mkdir -p "$dir"
  cat >"$dir/check.cc" <<'EOF'
#include <cstdio>
#include <cstdlib>
#include <string>
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
int main(int argc, char**) {
  std::string a = "reserve", b = "tree";
  std::string c = a + " " + b;                       // libc++
  std::string d = absl::StrCat(c, ":", absl::StrFormat("%d", argc));  // Abseil
  if (argc > 1) {                                    // the deliberate bug
    int* p = static_cast<int*>(std::malloc(sizeof(int)));
    if (*p == 42) std::puts("42");
  }
  std::printf("%s\n", d.c_str());
  return d.size() == 14 ? 0 : 1;
}
EOF
  local absl_libs=("$STAGE"/lib/libabsl_*.a)
  # Abseil's static libraries depend on each other: group them.
  # shellcheck disable=SC2046
  run "$log" clang++-14 -std=c++20 $(msan_cxx_flags) -I"$STAGE/include" \
    "$dir/check.cc" -o "$dir/check" $(msan_link_flags) \
    -Wl,--start-group "${absl_libs[@]}" -Wl,--end-group
  run "$log" "$dir/check"
  if "$dir/check" bug >>"$log" 2>&1 ||
     ! grep -q "Uninitialized value was created by a heap allocation" "$log"; then
    die "MemorySanitizer did not report the planted read in the check program (log: $log)"
  fi
  if ldd "$dir/check" | tee -a "$log" | grep -q 'libstdc++'; then
    die "the check program loads libstdc++ (log: $log)"
  fi
  ldd "$dir/check" | grep -q "libc++.so.1 => $STAGE/lib/" ||
    die "the check program does not load the instrumented libc++ (log: $log)"
}

# ---------------------------------------------------------------------------

JOBS="$(nproc 2>/dev/null || echo 2)"
REBUILD=0
QUIET=0
MODE=build
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    --rebuild) REBUILD=1; shift ;;
    --quiet) QUIET=1; shift ;;
    --jobs) [ $# -ge 2 ] || die "--jobs needs a value"; JOBS="$2"; shift 2 ;;
    --jobs=*) JOBS="${1#--jobs=}"; shift ;;
    --print-prefix) MODE=print; shift ;;
    --check) MODE=check; shift ;;
    *) die "unexpected argument '$1' (see --help)" ;;
  esac
done
case "$JOBS" in ""|*[!0-9]*|0) die "--jobs must be a positive number" ;; esac

compute_versions
case "$MODE" in
  print) echo "$PREFIX"; exit 0 ;;
  check) is_complete && exit 0; exit 1 ;;
esac

if is_complete && [ $REBUILD -eq 0 ]; then
  [ $QUIET -eq 1 ] || echo "[msan-deps] up to date: $PREFIX" >&2
  exit 0
fi

for tool in apt-get dpkg-query tar xz patch nm ldd flock clang-14 clang++-14 \
            cmake ninja; do
  command -v "$tool" >/dev/null || die "'$tool' is not installed (run ./reservoir setup)"
done

mkdir -p "$CACHE_ROOT"
# One build per cache at a time (./reservoir test and ctest may both ask).
exec 9>"$CACHE_ROOT/.lock"
if ! flock -n 9; then
  echo "[msan-deps] waiting for another build of the cache to finish" >&2
  flock 9
fi
if is_complete && [ $REBUILD -eq 0 ]; then
  [ $QUIET -eq 1 ] || echo "[msan-deps] up to date: $PREFIX" >&2
  exit 0
fi

# Install straight into the prefix (its path is baked into rpaths and
# Abseil's CMake files); .complete, written last, is what makes it usable,
# so an interrupted or failed build is started over next time. Sources and
# build trees live beside it and go once it is complete.
WORK="$PREFIX.work"
STAGE="$PREFIX"
LOGS="$WORK/logs"
rm -rf "$PREFIX" "$WORK"
mkdir -p "$LOGS"
echo "[msan-deps] building $PREFIX ($LLVM_SOURCE $LLVM_VERSION, $ABSL_SOURCE $ABSL_VERSION, -j$JOBS)" >&2

step "apt-get update (private deb-src list)"
setup_apt
step "apt-get source $LLVM_SOURCE=$LLVM_VERSION $ABSL_SOURCE=$ABSL_VERSION"
download_sources
step "unpacking and applying Debian's patches"
unpack_sources
step "libc++ and libc++abi with MemorySanitizer"
build_libcxx
step "Abseil with MemorySanitizer"
build_abseil
step "libFuzzer (compiler-rt, private libc++)"
build_libfuzzer
step "checking the prefix"
check_prefix

cat >"$PREFIX/BUILD-INFO" <<EOF
Built by fuzz/msan/build_msan_deps.sh (recipe $RECIPE) on $(date -u +%Y-%m-%dT%H:%M:%SZ) in $((SECONDS - START)) s, -j$JOBS.
$LLVM_SOURCE $LLVM_VERSION: libc++, libc++abi ($MSAN_FLAGS); libFuzzer (lib/libfuzzer, not instrumented)
$ABSL_SOURCE $ABSL_VERSION: Abseil, static ($MSAN_FLAGS)
EOF
mv "$LOGS" "$PREFIX/logs"
rm -rf "$WORK"
touch "$PREFIX/.complete"
echo "[msan-deps] done in $((SECONDS - START)) s: $PREFIX" >&2
