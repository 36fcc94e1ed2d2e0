#include "reservoir/injectors/name_list.h"

#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "text_value.h"

namespace reservoir::injectors {
namespace {

bool IsNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.' ||
         c == ':' || c == '+' || c == '/' || c == '@';
}

}  // namespace

absl::StatusOr<NameList> NameList::Parse(std::string_view text) {
  std::vector<std::string> names;
  for (std::string_view name : SplitText(text, ',')) {
    if (name.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          QuoteForMessage(text), " has an empty name in its list"));
    }
    for (char c : name) {
      if (!IsNameChar(c)) {
        return absl::InvalidArgumentError(
            absl::StrCat(QuoteForMessage(text), " has a name with character ",
                         QuoteForMessage(std::string_view(&c, 1)),
                         " (allowed: letters, digits, _ - . : + / @)"));
      }
    }
    names.emplace_back(name);
  }
  return NameList(std::move(names));
}

std::string NameList::ToString() const { return absl::StrJoin(names_, ","); }

bool NameList::Contains(const char* name) const {
  if (name == nullptr) return false;
  for (const std::string& candidate : names_) {
    if (std::strcmp(candidate.c_str(), name) == 0) return true;
  }
  return false;
}

}  // namespace reservoir::injectors
