// The binary layout of a program: a fixed-size header, then fixed-size
// operation records. Fixed sizes are what keep inputs stable under mutation:
// changing one byte changes one header field or one operation, never the
// framing of what follows, and adding an operation kind later cannot shift
// the records of existing inputs. docs/PROGRAM-FORMAT.md draws the layout.
#pragma once

#include <cstddef>

namespace reservoir::program::layout {

inline constexpr size_t kHeaderSize = 24;

// Header byte offsets. Multi-byte fields are little-endian. Bytes not listed
// (11, 14, 15, 20..23) are reserved: ignored by Decode, zero from Encode.
inline constexpr size_t kNormalPages = 0;    // % 5 -> kNormalPagesTable
inline constexpr size_t kHighmemPages = 1;   // % 4 -> kHighmemPagesTable
inline constexpr size_t kMaxOrder = 2;       // MaxOrderFor(zones) - b % 7
inline constexpr size_t kMinFreeKbytes = 3;  // % 8 -> kMinFreeKbytesTable
inline constexpr size_t kNrCpus = 4;         // 1 + b % 4
inline constexpr size_t kSlabPolicy = 5;     // % 2 -> kSlabPolicyTable
inline constexpr size_t kEstimator = 6;      // % 3 -> kEstimatorTable
inline constexpr size_t kAudit = 7;          // % 2 -> kAuditTable
inline constexpr size_t kFaultMode = 8;      // % 4 -> FaultMode
inline constexpr size_t kProbability = 9;    // % 8 -> kProbabilityPpmTable
inline constexpr size_t kArmedSites = 10;    // & kAllSitesMask
inline constexpr size_t kFailNth = 12;       // u16: fail_nth - 1
inline constexpr size_t kSeed = 16;          // u32

// max_order counts down from the largest order the zones allow, so a zero
// byte means "as large as possible" (the kernel's choice), never invalid.
inline constexpr int kMaxOrderSteps = 7;  // orders 10..4

// An operation record: the opcode byte, then the arguments in table order,
// then zero padding. Opcode byte % kOpcodeSlots selects the kind; slots no
// kind owns decode as nop.
inline constexpr size_t kOpRecordSize = 8;
inline constexpr size_t kOpArgBytes = kOpRecordSize - 1;
inline constexpr int kOpcodeSlots = 64;

}  // namespace reservoir::program::layout
