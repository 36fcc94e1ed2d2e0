// What the engine-free command-line tools share (reservoir-replay,
// reservoir-seed, reservoir-adapter-compare): the one-line usage error,
// the expansion of PATH arguments into files, and reading an input as a
// program (text, or binary of a target named by an option or the path).
#ifndef RESERVOIR_TOOLS_CLI_H_
#define RESERVOIR_TOOLS_CLI_H_

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "reservoir/program/program.h"
#include "reservoir/targets/target_profile.h"

namespace reservoir::tools {

// Prints "<prog>: <message>" on stderr and exits with status 2: bad usage,
// or an input that cannot be read.
[[noreturn]] void Fail(const char* prog, const std::string& message);

// How a directory among the PATH arguments is read.
enum class DirectoryWalk {
  kTopLevel,   // its regular files
  kRecursive,  // the regular files of its whole tree
};

// The files `paths` name, in order: a file as it is, a directory as its
// regular files sorted by path. Fails (exit 2) on a path that does not
// exist or a directory that cannot be listed.
std::vector<std::filesystem::path> ExpandPaths(
    const char* prog, const std::vector<std::filesystem::path>& paths,
    DirectoryWalk walk);

// The bytes of `file`. Fails (exit 2) when it cannot be read.
std::vector<uint8_t> ReadInputFile(const char* prog,
                                   const std::filesystem::path& file);

// The target named by a directory of `path` (made absolute), e.g.
// corpus/slab_fuzzer/seed-1; null when no part of the path names one.
const targets::TargetProfile* TargetFromPath(const std::filesystem::path& path);

// `file`'s program: the text form when the file starts with the text
// format's first line ("# reservoir program v1"), otherwise a binary
// input decoded as `target` or, when that is null, as TargetFromPath(file).
// nullopt: a binary input whose target is not known. Fails (exit 2) when
// the file cannot be read or its text does not parse.
std::optional<program::Program> LoadProgram(
    const char* prog, const std::filesystem::path& file,
    const targets::TargetProfile* target);

}  // namespace reservoir::tools

#endif  // RESERVOIR_TOOLS_CLI_H_
