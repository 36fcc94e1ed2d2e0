// Argument types of program operations: how a value is stored, how many
// bytes it takes in a binary record, how raw bytes map to a value, and which
// values are canonical. Decode, encode, the text format and validation all go
// through these functions, so each type's rules live in exactly one place.
#pragma once

#include <bit>
#include <cstdint>
#include <string>

#include "reservoir/fault_site.h"

namespace reservoir::program {

// The live sets an operation adds to or indexes into. Each is an ordered
// list held by the executor (see docs/PROGRAM-FORMAT.md, "Live sets").
enum class LiveSet : uint8_t {
  kNone,
  kPages,           // blocks from alloc_pages
  kKmallocObjects,  // objects from kmalloc
  kCaches,          // caches from cache_create
  kCacheObjects,    // objects from cache_alloc
  kReserves,        // reserve nodes; element 0 is the root, never removed
  kCharges,         // successful reserve_charge calls
  kKmallocGrants,   // grants from kmalloc_reserve
  kPageGrants,      // grants from alloc_pages_reserve
  kCacheGrants,     // grants from cache_alloc_reserve
  kCount,
};

constexpr const char* LiveSetName(LiveSet set) {
  switch (set) {
    case LiveSet::kNone: return "none";
    case LiveSet::kPages: return "pages";
    case LiveSet::kKmallocObjects: return "kmalloc objects";
    case LiveSet::kCaches: return "caches";
    case LiveSet::kCacheObjects: return "cache objects";
    case LiveSet::kReserves: return "reserves";
    case LiveSet::kCharges: return "charges";
    case LiveSet::kKmallocGrants: return "kmalloc grants";
    case LiveSet::kPageGrants: return "page grants";
    case LiveSet::kCacheGrants: return "cache grants";
    case LiveSet::kCount: break;
  }
  return "unknown";
}

enum class ArgType : uint8_t {
  kOrder,    // page order 0..10
  kGfp,      // gfp flag byte
  kCpu,      // simulated CPU 0..3 (the executor reduces it modulo nr_cpus)
  kFreeCpu,  // CPU a free runs on: 0 = the allocating CPU, k = CPU k - 1
  kSize,     // object size in bytes 1..65535
  kAlign,    // cache alignment, a power of two 1..128
  kPages,    // a page count
  kObjects,  // an object count
  kBytes,    // a byte count
  kSite,     // a FaultSite
  kSkip,     // eligible calls to let pass before failing one
  // Indices into live sets, taken modulo the set's size when executed.
  kPageRef,
  kKmallocObjectRef,
  kCacheRef,
  kCacheObjectRef,
  kReserveRef,
  kChargeRef,
  kKmallocGrantRef,
  kPageGrantRef,
  kCacheGrantRef,
  kCount,
};

inline constexpr int kArgTypeCount = static_cast<int>(ArgType::kCount);
inline constexpr uint32_t kMaxProgramOrder = 10;  // kMaxOrderLimit in gfp.h
inline constexpr uint32_t kProgramCpus = 4;       // cpu values 0..3
inline constexpr uint32_t kMaxAlignShift = 7;     // align up to 128
// kFreeCpu: the stored value 0 means "the CPU that allocated" (what a free
// did before the argument existed); k > 0 means CPU k - 1.
inline constexpr uint32_t kFreeOnOwnCpu = 0;

// An optional argument may be left out of the text form, where it reads as
// its zero value, and the canonical text leaves it out when it is zero: it
// was appended to its operations after v1 texts were written.
constexpr bool ArgOptional(ArgType type) { return type == ArgType::kFreeCpu; }

// One argument of one operation kind, as listed in op_table.h.
struct ArgSpec {
  ArgType type;
  const char* name;  // the field name, also the key in the text form
};

// Bytes the argument occupies in a binary record (little-endian).
constexpr int ArgWidth(ArgType type) {
  switch (type) {
    case ArgType::kSize:
    case ArgType::kPages:
    case ArgType::kObjects: return 2;
    case ArgType::kBytes: return 4;
    default: return 1;
  }
}

constexpr LiveSet ArgLiveSet(ArgType type) {
  switch (type) {
    case ArgType::kPageRef: return LiveSet::kPages;
    case ArgType::kKmallocObjectRef: return LiveSet::kKmallocObjects;
    case ArgType::kCacheRef: return LiveSet::kCaches;
    case ArgType::kCacheObjectRef: return LiveSet::kCacheObjects;
    case ArgType::kReserveRef: return LiveSet::kReserves;
    case ArgType::kChargeRef: return LiveSet::kCharges;
    case ArgType::kKmallocGrantRef: return LiveSet::kKmallocGrants;
    case ArgType::kPageGrantRef: return LiveSet::kPageGrants;
    case ArgType::kCacheGrantRef: return LiveSet::kCacheGrants;
    default: return LiveSet::kNone;
  }
}

constexpr bool IsRefArg(ArgType type) {
  return ArgLiveSet(type) != LiveSet::kNone;
}

// The value of `raw`, the argument's bytes read as a little-endian integer.
// Total: every raw value of the argument's width yields an in-range value.
constexpr uint32_t ArgFromRaw(ArgType type, uint32_t raw) {
  switch (type) {
    case ArgType::kOrder: return raw % (kMaxProgramOrder + 1);
    case ArgType::kCpu: return raw % kProgramCpus;
    case ArgType::kFreeCpu: return raw % (kProgramCpus + 1);
    case ArgType::kSize: return raw == 0 ? 1 : raw;  // kmalloc(0) is no test
    case ArgType::kAlign: return uint32_t{1} << (raw % (kMaxAlignShift + 1));
    case ArgType::kSite: return raw % kFaultSiteCount;
    default: return raw;
  }
}

// The canonical raw bytes of an in-range value: ArgFromRaw(ArgToRaw(v)) == v.
// Out-of-range values give some raw value (never UB); Validate flags them.
constexpr uint32_t ArgToRaw(ArgType type, uint32_t value) {
  switch (type) {
    case ArgType::kAlign:
      return static_cast<uint32_t>(std::countr_zero(value)) & kMaxAlignShift;
    default: {
      const int width = ArgWidth(type);
      return width == 4 ? value : value & ((uint32_t{1} << (8 * width)) - 1);
    }
  }
}

// Smallest and largest value of a numeric argument (align: the extremes of
// its powers of two; site: the FaultSite enumerators).
constexpr uint32_t ArgMin(ArgType type) {
  switch (type) {
    case ArgType::kSize:
    case ArgType::kAlign: return 1;
    default: return 0;
  }
}

constexpr uint32_t ArgMax(ArgType type) {
  switch (type) {
    case ArgType::kOrder: return kMaxProgramOrder;
    case ArgType::kCpu: return kProgramCpus - 1;
    case ArgType::kFreeCpu: return kProgramCpus;
    case ArgType::kAlign: return uint32_t{1} << kMaxAlignShift;
    case ArgType::kSite: return kFaultSiteCount - 1;
    default: {
      const int width = ArgWidth(type);
      return width == 4 ? UINT32_MAX : (uint32_t{1} << (8 * width)) - 1;
    }
  }
}

// True when `value` is one ArgFromRaw can produce, i.e. it round-trips.
constexpr bool ArgInRange(ArgType type, uint32_t value) {
  if (value < ArgMin(type) || value > ArgMax(type)) return false;
  if (type == ArgType::kAlign) return std::has_single_bit(value);
  return true;
}

// Names for messages and docs: "order", "page#", ...; and the accepted
// values as the text form writes them: "0..10", "a power of two 1..128".
const char* ArgTypeName(ArgType type);
std::string ArgRangeText(ArgType type);

// The C++ type an argument is stored as in an operation struct.
template <ArgType T>
struct ArgTraits {
  using Storage = uint8_t;
};
template <>
struct ArgTraits<ArgType::kSize> {
  using Storage = uint16_t;
};
template <>
struct ArgTraits<ArgType::kAlign> {
  using Storage = uint16_t;  // wide enough that Validate sees a bad 256
};
template <>
struct ArgTraits<ArgType::kPages> {
  using Storage = uint16_t;
};
template <>
struct ArgTraits<ArgType::kObjects> {
  using Storage = uint16_t;
};
template <>
struct ArgTraits<ArgType::kBytes> {
  using Storage = uint32_t;
};
template <>
struct ArgTraits<ArgType::kSite> {
  using Storage = FaultSite;
};

template <ArgType T>
using ArgStorage = typename ArgTraits<T>::Storage;

// A default-constructed argument holds what an all-zero record decodes to,
// so a default-constructed operation is canonical.
template <ArgType T>
constexpr ArgStorage<T> ArgDefault() {
  return static_cast<ArgStorage<T>>(ArgFromRaw(T, 0));
}

// Stored argument <-> the uint32_t the functions above speak.
template <class Stored>
constexpr uint32_t ArgAsNumber(Stored value) {
  return static_cast<uint32_t>(value);
}
template <class Stored>
constexpr Stored ArgFromNumber(uint32_t value) {
  return static_cast<Stored>(value);
}

}  // namespace reservoir::program
