// A list of names a filter matches against: kmem_cache names (cache-filter),
// reserve node names (reserve-filter), model entry points (require-caller,
// reject-caller). Matching is exact and allocation-free, because it runs on
// the decision path.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace reservoir::injectors {

class NameList {
 public:
  NameList() = default;
  explicit NameList(std::vector<std::string> names)
      : names_(std::move(names)) {}

  // "a,b,c": at least one name, none empty; a name is letters, digits and
  // _ - . : + / @ (nothing that could be mistaken for the syntax around it).
  static absl::StatusOr<NameList> Parse(std::string_view text);
  // The text Parse() reads back to this list ("" when empty).
  std::string ToString() const;

  // False for a null name: a call that names nothing matches no filter.
  bool Contains(const char* name) const;
  bool empty() const { return names_.empty(); }
  const std::vector<std::string>& names() const { return names_; }

  friend bool operator==(const NameList&, const NameList&) = default;

 private:
  std::vector<std::string> names_;
};

}  // namespace reservoir::injectors
