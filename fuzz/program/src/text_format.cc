#include "reservoir/program/text_format.h"

#include <charconv>
#include <cstddef>
#include <span>
#include <type_traits>

#include "reservoir/gfp.h"

namespace reservoir::program {
namespace {

// ---------------------------------------------------------------------------
// Spellings shared by the printer and the parser.

struct GfpName {
  uint8_t bits;
  std::string_view name;
};
// Modifiers in the order the printer writes them, after the base
// (KERNEL / ATOMIC / HIGH) that GfpToText writes first.
constexpr GfpName kGfpModifiers[] = {
    {kGfpMemalloc, "MEMALLOC"}, {kGfpNoMemalloc, "NOMEMALLOC"},
    {kGfpNoFail, "NOFAIL"},     {kGfpNoWarn, "NOWARN"},
    {kGfpZero, "ZERO"},         {kGfpHighmem, "HIGHMEM"},
};
// Everything the parser accepts, aliases included.
constexpr GfpName kGfpParseNames[] = {
    {kGfpKernel, "KERNEL"},     {kGfpAtomic, "ATOMIC"},
    {kGfpHigh, "HIGH"},         {kGfpDirectReclaim, "DIRECT_RECLAIM"},
    {kGfpMemalloc, "MEMALLOC"}, {kGfpNoMemalloc, "NOMEMALLOC"},
    {kGfpNoFail, "NOFAIL"},     {kGfpNoWarn, "NOWARN"},
    {kGfpZero, "ZERO"},         {kGfpHighmem, "HIGHMEM"},
};

template <class E>
struct EnumName {
  E value;
  std::string_view name;
};
constexpr EnumName<SlabPolicy> kSlabPolicyNames[] = {
    {SlabPolicy::kPageTag, "page_tag"}, {SlabPolicy::kNoMixing, "no_mixing"}};
constexpr EnumName<EstimatorKind> kEstimatorNames[] = {
    {EstimatorKind::kExact, "exact"},
    {EstimatorKind::kTwiceNPlusM, "2n+m"},
    {EstimatorKind::kPow2NPlusM, "pow2"}};
constexpr EnumName<AuditLevel> kAuditNames[] = {{AuditLevel::kCheap, "cheap"},
                                                {AuditLevel::kFull, "full"}};
// "off" is printed (a program built in code may hold it) but not parsed:
// programs always audit (see kAuditTable).
constexpr EnumName<AuditLevel> kAuditPrintNames[] = {
    {AuditLevel::kOff, "off"},
    {AuditLevel::kCheap, "cheap"},
    {AuditLevel::kFull, "full"}};
constexpr EnumName<FaultMode> kFaultModeNames[] = {
    {FaultMode::kNone, "none"},
    {FaultMode::kRandom, "random"},
    {FaultMode::kFailNth, "fail_nth"},
    {FaultMode::kInput, "input"}};

template <class E, size_t N>
std::string NameOf(const EnumName<E> (&names)[N], E value) {
  for (const auto& entry : names) {
    if (entry.value == value) return std::string(entry.name);
  }
  return "invalid-" + std::to_string(static_cast<int>(value));
}

template <class E, size_t N>
std::string NameList(const EnumName<E> (&names)[N]) {
  std::string list;
  for (const auto& entry : names) {
    if (!list.empty()) list += '|';
    list += entry.name;
  }
  return list;
}

constexpr std::string_view kMinFreeDefault = "default";
constexpr std::string_view kNoSites = "none";
constexpr std::string_view kOwnCpu = "own";
constexpr std::string_view kAllSites = "all";

std::string MinFreeToText(int32_t kbytes) {
  return kbytes == kDefaultMinFreeKbytes ? std::string(kMinFreeDefault)
                                         : std::to_string(kbytes);
}

std::string SitesToText(uint8_t mask) {
  std::string text;
  for (int site = 0; site < kFaultSiteCount; ++site) {
    if (!((mask >> site) & 1)) continue;
    if (!text.empty()) text += '|';
    text += FaultSiteName(static_cast<FaultSite>(site));
  }
  return text.empty() ? std::string(kNoSites) : text;
}

std::string ArgToText(ArgType type, uint32_t value) {
  switch (type) {
    case ArgType::kGfp: return GfpToText(static_cast<uint8_t>(value));
    case ArgType::kSite: return FaultSiteName(static_cast<FaultSite>(value));
    case ArgType::kFreeCpu:
      return value == kFreeOnOwnCpu ? std::string(kOwnCpu)
                                    : std::to_string(value - 1);
    default: return std::to_string(value);
  }
}

// ---------------------------------------------------------------------------
// Parsing helpers. Each returns the problem as a string, or nullopt.

using LineProblem = std::optional<std::string>;

constexpr bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r'; }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

std::vector<std::string_view> SplitWords(std::string_view s) {
  std::vector<std::string_view> words;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && IsSpace(s[i])) ++i;
    const size_t begin = i;
    while (i < s.size() && !IsSpace(s[i])) ++i;
    if (i > begin) words.push_back(s.substr(begin, i - begin));
  }
  return words;
}

std::string Quote(std::string_view s) { return "'" + std::string(s) + "'"; }

enum class NumberStatus { kOk, kNotNumber, kTooLarge };

// Decimal, or hex with a 0x prefix; nothing else, not even a sign.
NumberStatus ParseNumber(std::string_view s, uint64_t& out) {
  int base = 10;
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    s.remove_prefix(2);
    base = 16;
  }
  if (s.empty() || s.front() == '+' || s.front() == '-') {
    return NumberStatus::kNotNumber;
  }
  const auto [end, ec] =
      std::from_chars(s.data(), s.data() + s.size(), out, base);
  if (ec == std::errc::result_out_of_range) return NumberStatus::kTooLarge;
  if (ec != std::errc() || end != s.data() + s.size()) {
    return NumberStatus::kNotNumber;
  }
  return NumberStatus::kOk;
}

// The fields of one line: key=value words after the line's first word.
struct Field {
  std::string_view key;
  std::string_view value;
};

class LineFields {
 public:
  // `context` names the line's kind ("kmalloc", "config") in problems.
  explicit LineFields(std::string_view context) : context_(context) {}

  // Splits the words; then checks them against the expected keys: no
  // malformed, duplicate, unknown or missing field.
  // Keys in `optional` may also appear, or be left out.
  LineProblem Read(std::span<const std::string_view> words,
                   std::span<const std::string_view> expected,
                   std::span<const std::string_view> optional = {}) {
    for (std::string_view word : words) {
      const size_t eq = word.find('=');
      if (eq == std::string_view::npos || eq == 0 || eq + 1 == word.size()) {
        return Say("bad field " + Quote(word) + " (expected key=value)");
      }
      const Field field{word.substr(0, eq), word.substr(eq + 1)};
      if (Find(field.key) != nullptr) {
        return Say("duplicate field " + Quote(field.key));
      }
      fields_.push_back(field);
    }
    for (const Field& field : fields_) {
      bool known = false;
      for (std::string_view key : expected) known = known || key == field.key;
      for (std::string_view key : optional) known = known || key == field.key;
      if (!known) return Say("unknown field " + Quote(field.key));
    }
    for (std::string_view key : expected) {
      if (Find(key) == nullptr) return Say("missing field " + Quote(key));
    }
    return std::nullopt;
  }

  bool Has(std::string_view key) const { return Find(key) != nullptr; }

  std::string_view Value(std::string_view key) const {
    const Field* field = Find(key);
    return field != nullptr ? field->value : std::string_view();
  }

  std::string Say(const std::string& problem) const {
    return std::string(context_) + ": " + problem;
  }
  std::string BadValue(std::string_view key, std::string_view expected) const {
    return Say("bad value " + Quote(Value(key)) + " for " + Quote(key) +
               " (expected " + std::string(expected) + ")");
  }
  std::string OutOfRange(std::string_view key, std::string_view range) const {
    return Say(std::string(key) + "=" + std::string(Value(key)) +
               " out of range (" + std::string(range) + ")");
  }

  // An integer in lo..hi.
  LineProblem Number(std::string_view key, uint64_t lo, uint64_t hi,
                     uint64_t& out) const {
    switch (ParseNumber(Value(key), out)) {
      case NumberStatus::kNotNumber: return BadValue(key, "a number");
      case NumberStatus::kTooLarge: break;
      case NumberStatus::kOk:
        if (out >= lo && out <= hi) return std::nullopt;
        break;
    }
    return OutOfRange(key, std::to_string(lo) + ".." + std::to_string(hi));
  }

  // A number that must be one of `table`.
  template <class T, size_t N>
  LineProblem TableValue(std::string_view key, const T (&table)[N],
                         T& out) const {
    std::string range;
    for (const T& entry : table) {
      if (!range.empty()) range += '|';
      range += std::to_string(entry);
    }
    uint64_t number = 0;
    switch (ParseNumber(Value(key), number)) {
      case NumberStatus::kNotNumber: return BadValue(key, range);
      case NumberStatus::kTooLarge: return OutOfRange(key, range);
      case NumberStatus::kOk: break;
    }
    for (const T& entry : table) {
      if (static_cast<uint64_t>(entry) == number) {
        out = entry;
        return std::nullopt;
      }
    }
    return OutOfRange(key, range);
  }

  template <class E, size_t N>
  LineProblem Name(std::string_view key, const EnumName<E> (&names)[N],
                   E& out) const {
    for (const auto& entry : names) {
      if (entry.name == Value(key)) {
        out = entry.value;
        return std::nullopt;
      }
    }
    return BadValue(key, NameList(names));
  }

 private:
  const Field* Find(std::string_view key) const {
    for (const Field& field : fields_) {
      if (field.key == key) return &field;
    }
    return nullptr;
  }

  std::string_view context_;
  std::vector<Field> fields_;
};

LineProblem ParseGfp(const LineFields& fields, std::string_view key,
                     uint32_t& out) {
  const std::string_view text = fields.Value(key);
  out = 0;
  size_t begin = 0;
  while (true) {
    const size_t bar = text.find('|', begin);
    const std::string_view part = text.substr(
        begin,
        bar == std::string_view::npos ? std::string_view::npos : bar - begin);
    bool found = false;
    for (const GfpName& name : kGfpParseNames) {
      if (name.name == part) {
        out |= name.bits;
        found = true;
      }
    }
    uint64_t number = 0;
    if (!found) {
      if (ParseNumber(part, number) != NumberStatus::kOk) {
        return fields.Say("unknown gfp flag " + Quote(part) + " in " +
                          std::string(key) + "=" + std::string(text));
      }
      if (number > 0xff) return fields.OutOfRange(key, "0..255");
      out |= static_cast<uint32_t>(number);
    }
    if (bar == std::string_view::npos) return std::nullopt;
    begin = bar + 1;
  }
}

LineProblem ParseArg(const LineFields& fields, ArgSpec spec, uint32_t& out) {
  const std::string_view key = spec.name;
  switch (spec.type) {
    case ArgType::kGfp: return ParseGfp(fields, key, out);
    case ArgType::kSite:
      for (int site = 0; site < kFaultSiteCount; ++site) {
        if (FaultSiteName(static_cast<FaultSite>(site)) == fields.Value(key)) {
          out = static_cast<uint32_t>(site);
          return std::nullopt;
        }
      }
      return fields.BadValue(key, ArgRangeText(spec.type));
    case ArgType::kFreeCpu: {
      if (fields.Value(key) == kOwnCpu) {
        out = kFreeOnOwnCpu;
        return std::nullopt;
      }
      const std::string range = "own, 0.." + std::to_string(kProgramCpus - 1);
      uint64_t number = 0;
      switch (ParseNumber(fields.Value(key), number)) {
        case NumberStatus::kNotNumber: return fields.BadValue(key, range);
        case NumberStatus::kTooLarge: return fields.OutOfRange(key, range);
        case NumberStatus::kOk: break;
      }
      if (number >= kProgramCpus) return fields.OutOfRange(key, range);
      out = static_cast<uint32_t>(number) + 1;
      return std::nullopt;
    }
    case ArgType::kAlign: {
      uint64_t number = 0;
      const std::string range = ArgRangeText(spec.type);
      if (ParseNumber(fields.Value(key), number) == NumberStatus::kNotNumber) {
        return fields.BadValue(key, range);
      }
      if (number > ArgMax(spec.type) ||
          !ArgInRange(spec.type, static_cast<uint32_t>(number))) {
        return fields.OutOfRange(key, range);
      }
      out = static_cast<uint32_t>(number);
      return std::nullopt;
    }
    default: {
      uint64_t number = 0;
      if (LineProblem problem = fields.Number(key, ArgMin(spec.type),
                                              ArgMax(spec.type), number)) {
        return problem;
      }
      out = static_cast<uint32_t>(number);
      return std::nullopt;
    }
  }
}

// "default" (or -1) or one of the explicit table entries.
LineProblem ParseMinFree(const LineFields& fields, int32_t& out) {
  constexpr std::string_view kKey = "min_free_kbytes";
  const std::string_view text = fields.Value(kKey);
  if (text == kMinFreeDefault || text == "-1") {
    out = kDefaultMinFreeKbytes;
    return std::nullopt;
  }
  std::string range;
  for (int32_t entry : kMinFreeKbytesTable) {
    if (!range.empty()) range += '|';
    range += MinFreeToText(entry);
  }
  uint64_t number = 0;
  switch (ParseNumber(text, number)) {
    case NumberStatus::kNotNumber: return fields.BadValue(kKey, range);
    case NumberStatus::kTooLarge: return fields.OutOfRange(kKey, range);
    case NumberStatus::kOk: break;
  }
  for (int32_t entry : kMinFreeKbytesTable) {
    if (entry >= 0 && static_cast<uint64_t>(entry) == number) {
      out = entry;
      return std::nullopt;
    }
  }
  return fields.OutOfRange(kKey, range);
}

constexpr std::string_view kConfigKeys[] = {
    "normal_pages", "highmem_pages", "max_order", "min_free_kbytes",
    "nr_cpus",      "slab_policy",   "estimator", "audit"};
constexpr std::string_view kFaultsKeys[] = {"mode", "seed", "probability_ppm",
                                            "fail_nth", "sites"};

LineProblem ParseConfig(std::span<const std::string_view> words,
                        Header& header) {
  LineFields fields("config");
  if (LineProblem problem = fields.Read(words, kConfigKeys)) return problem;
  if (LineProblem p = fields.TableValue("normal_pages", kNormalPagesTable,
                                        header.normal_pages)) {
    return p;
  }
  if (LineProblem p = fields.TableValue("highmem_pages", kHighmemPagesTable,
                                        header.highmem_pages)) {
    return p;
  }
  uint64_t number = 0;
  // max_order depends on the zones: both must be multiples of 2^max_order.
  const int largest = MaxOrderFor(header.normal_pages, header.highmem_pages);
  if (LineProblem p =
          fields.Number("max_order", kMinMaxOrder, largest, number)) {
    return p;
  }
  header.max_order = static_cast<int>(number);
  if (LineProblem p = ParseMinFree(fields, header.min_free_kbytes)) return p;
  if (LineProblem p = fields.Number("nr_cpus", 1, kMaxNrCpus, number)) return p;
  header.nr_cpus = static_cast<uint16_t>(number);
  if (LineProblem p =
          fields.Name("slab_policy", kSlabPolicyNames, header.slab_policy)) {
    return p;
  }
  if (LineProblem p =
          fields.Name("estimator", kEstimatorNames, header.estimator)) {
    return p;
  }
  return fields.Name("audit", kAuditNames, header.audit);
}

LineProblem ParseSites(const LineFields& fields, uint8_t& mask) {
  const std::string_view text = fields.Value("sites");
  mask = 0;
  if (text == kNoSites) return std::nullopt;
  if (text == kAllSites) {
    mask = kAllSitesMask;
    return std::nullopt;
  }
  size_t begin = 0;
  while (true) {
    const size_t bar = text.find('|', begin);
    const std::string_view part = text.substr(
        begin,
        bar == std::string_view::npos ? std::string_view::npos : bar - begin);
    bool found = false;
    for (int site = 0; site < kFaultSiteCount; ++site) {
      if (part == FaultSiteName(static_cast<FaultSite>(site))) {
        mask |= static_cast<uint8_t>(1u << site);
        found = true;
      }
    }
    if (!found) {
      return fields.Say("unknown fault site " + Quote(part) + " in sites=" +
                        std::string(text) + " (expected none, all or " +
                        SitesToText(kAllSitesMask) + ")");
    }
    if (bar == std::string_view::npos) return std::nullopt;
    begin = bar + 1;
  }
}

LineProblem ParseFaults(std::span<const std::string_view> words,
                        Header& header) {
  LineFields fields("faults");
  if (LineProblem problem = fields.Read(words, kFaultsKeys)) return problem;
  if (LineProblem p = fields.Name("mode", kFaultModeNames, header.fault_mode)) {
    return p;
  }
  uint64_t number = 0;
  if (LineProblem p = fields.Number("seed", 0, UINT32_MAX, number)) return p;
  header.seed = static_cast<uint32_t>(number);
  if (LineProblem p = fields.TableValue("probability_ppm", kProbabilityPpmTable,
                                        header.probability_ppm)) {
    return p;
  }
  if (LineProblem p = fields.Number("fail_nth", 1, kMaxFailNth, number))
    return p;
  header.fail_nth = static_cast<uint32_t>(number);
  return ParseSites(fields, header.armed_sites);
}

const OpInfo* FindOp(std::string_view name) {
  for (const OpInfo& info : kOpInfos) {
    if (info.name == name) return &info;
  }
  return nullptr;
}

LineProblem ParseOp(const OpInfo& info, std::span<const std::string_view> words,
                    Op& out) {
  out = MakeOp(info.kind);
  std::vector<std::string_view> keys;
  std::vector<std::string_view> optional;
  ForEachArgOf(out, [&](ArgSpec spec, auto&) {
    (ArgOptional(spec.type) ? optional : keys).push_back(spec.name);
  });
  LineFields fields(info.name);
  if (LineProblem problem = fields.Read(words, keys, optional)) return problem;
  LineProblem problem;
  ForEachArgOf(out, [&](ArgSpec spec, auto& value) {
    uint32_t number = 0;
    if (problem) return;
    if (ArgOptional(spec.type) && !fields.Has(spec.name)) return;  // zero
    problem = ParseArg(fields, spec, number);
    if (!problem) {
      value = ArgFromNumber<std::remove_reference_t<decltype(value)>>(number);
    }
  });
  return problem;
}

// Reads lines in order: the 'config' line, the 'faults' line, operations.
class TextParser {
 public:
  ParseResult Parse(std::string_view text) {
    size_t begin = 0;
    while (!result_.error) {
      const size_t newline = text.find('\n', begin);
      const std::string_view line = text.substr(
          begin, newline == std::string_view::npos ? std::string_view::npos
                                                   : newline - begin);
      ++current_line_;
      if (LineProblem problem = ParseLine(line)) {
        Fail(current_line_, *problem);
      }
      if (newline == std::string_view::npos) break;
      begin = newline + 1;
    }
    if (!result_.error && stage_ == Stage::kConfig) {
      Fail(current_line_, "missing 'config' line");
    } else if (!result_.error && stage_ == Stage::kFaults) {
      Fail(current_line_, "missing 'faults' line");
    }
    return std::move(result_);
  }

 private:
  enum class Stage { kConfig, kFaults, kOps };

  LineProblem ParseLine(std::string_view line) {
    if (LineProblem problem = CheckVersionMarker(line)) return problem;
    const size_t hash = line.find('#');
    if (hash != std::string_view::npos) line = line.substr(0, hash);
    const std::vector<std::string_view> words = SplitWords(line);
    if (words.empty()) return std::nullopt;
    const std::string_view head = words.front();
    const std::span<const std::string_view> rest = std::span(words).subspan(1);
    if (head == "config") {
      if (stage_ != Stage::kConfig) return "duplicate 'config' line";
      stage_ = Stage::kFaults;
      return ParseConfig(rest, result_.program.header);
    }
    if (head == "faults") {
      if (stage_ == Stage::kConfig) return "'faults' line before 'config'";
      if (stage_ == Stage::kOps) return "duplicate 'faults' line";
      stage_ = Stage::kOps;
      return ParseFaults(rest, result_.program.header);
    }
    const OpInfo* info = FindOp(head);
    if (info == nullptr) return "unknown op " + Quote(head);
    if (stage_ == Stage::kConfig) return "operation before the 'config' line";
    if (stage_ == Stage::kFaults) return "operation before the 'faults' line";
    if (result_.program.ops.size() == kMaxOps) {
      return "too many operations (at most " + std::to_string(kMaxOps) + ")";
    }
    Op op;
    if (LineProblem problem = ParseOp(*info, rest, op)) return problem;
    result_.program.ops.push_back(op);
    result_.op_lines.push_back(current_line_);
    return std::nullopt;
  }

  // A line "# reservoir program <version>" must name the version we read.
  static LineProblem CheckVersionMarker(std::string_view line) {
    constexpr std::string_view kPrefix = "# reservoir program ";
    const std::string_view trimmed = Trim(line);
    if (trimmed.substr(0, kPrefix.size()) != kPrefix) return std::nullopt;
    const std::string_view version = Trim(trimmed.substr(kPrefix.size()));
    const std::string_view ours = kTextFormatFirstLine.substr(kPrefix.size());
    if (version == ours) return std::nullopt;
    return "unsupported format version " + Quote(version) +
           " (this parser reads " + std::string(ours) + ")";
  }

  void Fail(int line, std::string problem) {
    result_.error = TextError{line, std::move(problem)};
  }

  Stage stage_ = Stage::kConfig;
  int current_line_ = 0;  // 1-based number of the line being read
  ParseResult result_;
};

}  // namespace

std::string GfpToText(uint8_t gfp) {
  std::string text;
  auto append = [&](std::string_view name) {
    if (!text.empty()) text += '|';
    text += name;
  };
  // DIRECT_RECLAIM reads as KERNEL; HIGH alone reads as ATOMIC, and as HIGH
  // next to KERNEL ("a kernel allocation with high priority").
  if (gfp & kGfpDirectReclaim) {
    append("KERNEL");
    if (gfp & kGfpHigh) append("HIGH");
  } else if (gfp & kGfpHigh) {
    append("ATOMIC");
  }
  for (const GfpName& modifier : kGfpModifiers) {
    if (gfp & modifier.bits) append(modifier.name);
  }
  return text.empty() ? "0" : text;
}

std::string OpToText(const Op& op) {
  std::string text = OpName(KindOf(op));
  ForEachArgOf(op, [&](ArgSpec spec, const auto& value) {
    // An optional argument at its zero value is left out, so texts written
    // before it existed stay canonical.
    if (ArgOptional(spec.type) && ArgAsNumber(value) == 0) return;
    text += ' ';
    text += spec.name;
    text += '=';
    text += ArgToText(spec.type, ArgAsNumber(value));
  });
  return text;
}

std::string ToText(const Program& program) {
  const Header& h = program.header;
  std::string text(kTextFormatFirstLine);
  text += "\nconfig normal_pages=" + std::to_string(h.normal_pages) +
          " highmem_pages=" + std::to_string(h.highmem_pages) +
          " max_order=" + std::to_string(h.max_order) +
          " min_free_kbytes=" + MinFreeToText(h.min_free_kbytes) +
          " nr_cpus=" + std::to_string(h.nr_cpus) +
          " slab_policy=" + NameOf(kSlabPolicyNames, h.slab_policy) +
          " estimator=" + NameOf(kEstimatorNames, h.estimator) +
          " audit=" + NameOf(kAuditPrintNames, h.audit) + "\n";
  text += "faults mode=" + NameOf(kFaultModeNames, h.fault_mode) +
          " seed=" + std::to_string(h.seed) +
          " probability_ppm=" + std::to_string(h.probability_ppm) +
          " fail_nth=" + std::to_string(h.fail_nth) +
          " sites=" + SitesToText(h.armed_sites) + "\n";
  for (const Op& op : program.ops) {
    text += OpToText(op);
    text += '\n';
  }
  return text;
}

std::string TextError::ToString() const {
  return "line " + std::to_string(line) + ": " + problem;
}

ParseResult FromText(std::string_view text) { return TextParser().Parse(text); }

}  // namespace reservoir::program
