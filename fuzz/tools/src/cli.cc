#include "reservoir/tools/cli.h"

#include <algorithm>
#include <cstdint>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string_view>
#include <system_error>

#include "reservoir/program/text_format.h"

namespace reservoir::tools {

namespace fs = std::filesystem;

void Fail(const char* prog, const std::string& message) {
  std::fprintf(stderr, "%s: %s\n", prog, message.c_str());
  std::exit(2);
}

namespace {

template <typename Iterator>
void ListDirectory(const char* prog, const fs::path& directory,
                   std::vector<fs::path>* files) {
  std::error_code ec;
  std::vector<fs::path> entries;
  for (Iterator it(directory, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->is_regular_file()) entries.push_back(it->path());
  }
  if (ec) Fail(prog, "cannot list '" + directory.string() + "': " + ec.message());
  std::sort(entries.begin(), entries.end());
  files->insert(files->end(), entries.begin(), entries.end());
}

bool IsTextProgram(const std::vector<uint8_t>& bytes) {
  const std::string_view first = program::kTextFormatFirstLine;
  return bytes.size() >= first.size() &&
         std::equal(first.begin(), first.end(), bytes.begin());
}

}  // namespace

std::vector<fs::path> ExpandPaths(const char* prog,
                                  const std::vector<fs::path>& paths,
                                  DirectoryWalk walk) {
  std::vector<fs::path> files;
  for (const fs::path& path : paths) {
    std::error_code ec;
    if (fs::is_directory(path, ec)) {
      if (walk == DirectoryWalk::kRecursive) {
        ListDirectory<fs::recursive_directory_iterator>(prog, path, &files);
      } else {
        ListDirectory<fs::directory_iterator>(prog, path, &files);
      }
    } else if (fs::exists(path, ec)) {
      files.push_back(path);
    } else {
      Fail(prog, "cannot read '" + path.string() + "': No such file or directory");
    }
  }
  return files;
}

const targets::TargetProfile* TargetFromPath(const fs::path& path) {
  for (const fs::path& part : fs::absolute(path)) {
    if (const targets::TargetProfile* t = targets::FindTarget(part.string())) {
      return t;
    }
  }
  return nullptr;
}

std::vector<uint8_t> ReadInputFile(const char* prog, const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    Fail(prog, "cannot read '" + file.string() + "': " + std::strerror(errno));
  }
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), {});
  if (in.bad()) Fail(prog, "cannot read '" + file.string() + "'");
  return bytes;
}

std::optional<program::Program> LoadProgram(
    const char* prog, const fs::path& file,
    const targets::TargetProfile* target) {
  const std::vector<uint8_t> bytes = ReadInputFile(prog, file);
  if (IsTextProgram(bytes)) {
    const auto parsed = program::FromText(std::string_view(
        reinterpret_cast<const char*>(bytes.data()), bytes.size()));
    if (!parsed.ok()) Fail(prog, file.string() + ": " + parsed.error->ToString());
    return parsed.program;
  }
  const targets::TargetProfile* t = target != nullptr ? target : TargetFromPath(file);
  if (t == nullptr) return std::nullopt;
  return targets::DecodeForTarget(*t, bytes);
}

}  // namespace reservoir::tools
