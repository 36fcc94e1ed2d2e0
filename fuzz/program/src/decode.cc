#include "reservoir/program/decode.h"

#include <algorithm>
#include <array>

#include "reservoir/program/layout.h"

namespace reservoir::program {
namespace {

// The byte at `offset`, or zero past the end: truncated input reads as if
// padded with zeros.
uint8_t ByteAt(std::span<const uint8_t> bytes, size_t offset) {
  return offset < bytes.size() ? bytes[offset] : 0;
}

uint32_t ReadLittleEndian(std::span<const uint8_t> bytes, size_t offset,
                          int width) {
  uint32_t value = 0;
  for (int i = 0; i < width; ++i) {
    value |= uint32_t{ByteAt(bytes, offset + i)} << (8 * i);
  }
  return value;
}

template <class T, size_t N>
T FromTable(const T (&table)[N], uint8_t byte) {
  return table[byte % N];
}

constexpr std::array<OpKind, layout::kOpcodeSlots> KindBySlot() {
  std::array<OpKind, layout::kOpcodeSlots> kinds{};
  kinds.fill(OpKind::kNop);  // unowned slots decode as nop
  for (const OpInfo& info : kOpInfos) kinds[info.slot] = info.kind;
  return kinds;
}
constexpr std::array<OpKind, layout::kOpcodeSlots> kKindBySlot = KindBySlot();

}  // namespace

Header DecodeHeader(std::span<const uint8_t> bytes) {
  namespace at = layout;
  Header header;
  header.normal_pages =
      FromTable(kNormalPagesTable, ByteAt(bytes, at::kNormalPages));
  header.highmem_pages =
      FromTable(kHighmemPagesTable, ByteAt(bytes, at::kHighmemPages));
  const int largest = MaxOrderFor(header.normal_pages, header.highmem_pages);
  header.max_order =
      std::max(kMinMaxOrder,
               largest - ByteAt(bytes, at::kMaxOrder) % at::kMaxOrderSteps);
  header.min_free_kbytes =
      FromTable(kMinFreeKbytesTable, ByteAt(bytes, at::kMinFreeKbytes));
  header.nr_cpus =
      static_cast<uint16_t>(1 + ByteAt(bytes, at::kNrCpus) % kMaxNrCpus);
  header.slab_policy =
      FromTable(kSlabPolicyTable, ByteAt(bytes, at::kSlabPolicy));
  header.estimator = FromTable(kEstimatorTable, ByteAt(bytes, at::kEstimator));
  header.audit = FromTable(kAuditTable, ByteAt(bytes, at::kAudit));
  header.fault_mode = static_cast<FaultMode>(
      ByteAt(bytes, at::kFaultMode) % static_cast<int>(FaultMode::kCount));
  header.probability_ppm =
      FromTable(kProbabilityPpmTable, ByteAt(bytes, at::kProbability));
  header.armed_sites = ByteAt(bytes, at::kArmedSites) & kAllSitesMask;
  header.fail_nth = ReadLittleEndian(bytes, at::kFailNth, 2) + 1;
  header.seed = ReadLittleEndian(bytes, at::kSeed, 4);
  return header;
}

Op DecodeOp(std::span<const uint8_t> record) {
  Op op = MakeOp(kKindBySlot[ByteAt(record, 0) % layout::kOpcodeSlots]);
  size_t offset = 1;
  ForEachArgOf(op, [&](ArgSpec spec, auto& value) {
    const int width = ArgWidth(spec.type);
    const uint32_t raw = ReadLittleEndian(record, offset, width);
    value = ArgFromNumber<std::remove_reference_t<decltype(value)>>(
        ArgFromRaw(spec.type, raw));
    offset += width;
  });
  return op;
}

Program Decode(std::span<const uint8_t> bytes) {
  Program program;
  program.header =
      DecodeHeader(bytes.first(std::min(bytes.size(), layout::kHeaderSize)));
  if (bytes.size() <= layout::kHeaderSize) return program;
  const std::span<const uint8_t> records = bytes.subspan(layout::kHeaderSize);
  // A partial last record still counts: its missing bytes read as zero.
  const size_t count =
      std::min(kMaxOps, (records.size() + layout::kOpRecordSize - 1) /
                            layout::kOpRecordSize);
  program.ops.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    const size_t begin = i * layout::kOpRecordSize;
    const size_t size = std::min(layout::kOpRecordSize, records.size() - begin);
    program.ops.push_back(DecodeOp(records.subspan(begin, size)));
  }
  return program;
}

}  // namespace reservoir::program
