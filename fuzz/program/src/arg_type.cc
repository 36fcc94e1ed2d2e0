#include "reservoir/program/arg_type.h"

namespace reservoir::program {

const char* ArgTypeName(ArgType type) {
  switch (type) {
    case ArgType::kOrder: return "order";
    case ArgType::kGfp: return "gfp";
    case ArgType::kCpu: return "cpu";
    case ArgType::kFreeCpu: return "free-cpu";
    case ArgType::kSize: return "size";
    case ArgType::kAlign: return "align";
    case ArgType::kPages: return "pages";
    case ArgType::kObjects: return "objects";
    case ArgType::kBytes: return "bytes";
    case ArgType::kSite: return "site";
    case ArgType::kSkip: return "skip";
    case ArgType::kPageRef: return "page#";
    case ArgType::kKmallocObjectRef: return "kmalloc-object#";
    case ArgType::kCacheRef: return "cache#";
    case ArgType::kCacheObjectRef: return "cache-object#";
    case ArgType::kReserveRef: return "reserve#";
    case ArgType::kChargeRef: return "charge#";
    case ArgType::kKmallocGrantRef: return "kmalloc-grant#";
    case ArgType::kPageGrantRef: return "page-grant#";
    case ArgType::kCacheGrantRef: return "cache-grant#";
    case ArgType::kCount: break;
  }
  return "unknown";
}

std::string ArgRangeText(ArgType type) {
  switch (type) {
    case ArgType::kAlign:
      return "a power of two 1.." + std::to_string(ArgMax(type));
    case ArgType::kSite: {
      std::string names;
      for (int site = 0; site < kFaultSiteCount; ++site) {
        if (!names.empty()) names += '|';
        names += FaultSiteName(static_cast<FaultSite>(site));
      }
      return names;
    }
    case ArgType::kGfp: return "flags joined by '|', or 0..255";
    case ArgType::kFreeCpu:
      return "own, 0.." + std::to_string(kProgramCpus - 1) +
             "; optional, absent = own";
    default:
      return std::to_string(ArgMin(type)) + ".." + std::to_string(ArgMax(type));
  }
}

}  // namespace reservoir::program
