# Toolchain of the libfuzzer-msan preset: clang-14 with MemorySanitizer
# (origins tracked) over an instrumented libc++/libc++abi and Abseil, and a
# libFuzzer built against its own private libc++, all from the prefix that
# fuzz/msan/build_msan_deps.sh fills (see docs/MSAN.md). Every C++ library
# the binaries link is then instrumented; nothing loads libstdc++.
#
# The prefix: RESERVOIR_MSAN_PREFIX (environment or -D), else the one the
# script names for the installed package versions.
if(NOT RESERVOIR_MSAN_PREFIX)
  if(DEFINED ENV{RESERVOIR_MSAN_PREFIX})
    set(RESERVOIR_MSAN_PREFIX "$ENV{RESERVOIR_MSAN_PREFIX}")
  else()
    execute_process(
      COMMAND bash "${CMAKE_CURRENT_LIST_DIR}/build_msan_deps.sh" --print-prefix
      OUTPUT_VARIABLE RESERVOIR_MSAN_PREFIX
      ERROR_VARIABLE _msan_error
      OUTPUT_STRIP_TRAILING_WHITESPACE
      RESULT_VARIABLE _msan_result)
    if(NOT _msan_result EQUAL 0)
      message(FATAL_ERROR "${_msan_error}")
    endif()
  endif()
  set(RESERVOIR_MSAN_PREFIX "${RESERVOIR_MSAN_PREFIX}" CACHE PATH
      "Prefix of the MemorySanitizer-instrumented libc++, Abseil and libFuzzer")
endif()
if(NOT EXISTS "${RESERVOIR_MSAN_PREFIX}/.complete")
  message(FATAL_ERROR
    "The MemorySanitizer dependencies are not built (no "
    "${RESERVOIR_MSAN_PREFIX}/.complete): run fuzz/msan/build_msan_deps.sh "
    "(about 5 minutes, once; ./reservoir setup does it too)")
endif()

set(CMAKE_C_COMPILER clang-14)
set(CMAKE_CXX_COMPILER clang++-14)

set(_msan "-fsanitize=memory -fsanitize-memory-track-origins")
set(CMAKE_C_FLAGS_INIT "${_msan}")
# libc++'s headers from the prefix instead of libstdc++'s.
set(CMAKE_CXX_FLAGS_INIT
    "${_msan} -nostdinc++ -isystem ${RESERVOIR_MSAN_PREFIX}/include/c++/v1")
# (CMake repeats the compile flags when linking, where -nostdinc++ means
# nothing: hence -Wno-unused-command-line-argument.)
set(_msan_link
    "${_msan} -stdlib=libc++ -L${RESERVOIR_MSAN_PREFIX}/lib -Wl,-rpath,${RESERVOIR_MSAN_PREFIX}/lib -Wno-unused-command-line-argument")
set(CMAKE_EXE_LINKER_FLAGS_INIT "${_msan_link}")
set(CMAKE_SHARED_LINKER_FLAGS_INIT "${_msan_link}")
set(CMAKE_MODULE_LINKER_FLAGS_INIT "${_msan_link}")

# find_package(absl) finds the instrumented Abseil first, and with it its
# headers (the system's /usr/include/absl is the same version, uninstrumented).
list(PREPEND CMAKE_PREFIX_PATH "${RESERVOIR_MSAN_PREFIX}")

# Debian's libclang_rt.fuzzer needs libstdc++; the fuzzers link this one.
set(RESERVOIR_LIBFUZZER
    "${RESERVOIR_MSAN_PREFIX}/lib/libfuzzer/libclang_rt.fuzzer-x86_64.a"
    CACHE FILEPATH "libFuzzer archive the fuzzers link (empty: -fsanitize=fuzzer)")

# try_compile projects read this file again: hand them the same prefix.
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES RESERVOIR_MSAN_PREFIX)
