#include "reservoir/program/encode.h"

#include <algorithm>

namespace reservoir::program {
namespace {

void WriteLittleEndian(uint8_t* out, uint32_t value, int width) {
  for (int i = 0; i < width; ++i) {
    out[i] = static_cast<uint8_t>(value >> (8 * i));
  }
}

// The byte that decodes to `value`; values missing from the table encode
// as index 0 (Validate reports them).
template <class T, size_t N>
uint8_t ToTable(const T (&table)[N], T value) {
  return static_cast<uint8_t>(std::max(0, TableIndex(table, value)));
}

}  // namespace

std::array<uint8_t, layout::kHeaderSize> EncodeHeader(const Header& header) {
  namespace at = layout;
  std::array<uint8_t, layout::kHeaderSize> bytes{};
  bytes[at::kNormalPages] = ToTable(kNormalPagesTable, header.normal_pages);
  bytes[at::kHighmemPages] = ToTable(kHighmemPagesTable, header.highmem_pages);
  const int steps =
      MaxOrderFor(header.normal_pages, header.highmem_pages) - header.max_order;
  bytes[at::kMaxOrder] =
      static_cast<uint8_t>(std::clamp(steps, 0, at::kMaxOrderSteps - 1));
  bytes[at::kMinFreeKbytes] =
      ToTable(kMinFreeKbytesTable, header.min_free_kbytes);
  bytes[at::kNrCpus] = static_cast<uint8_t>((header.nr_cpus - 1) % kMaxNrCpus);
  bytes[at::kSlabPolicy] = ToTable(kSlabPolicyTable, header.slab_policy);
  bytes[at::kEstimator] = ToTable(kEstimatorTable, header.estimator);
  bytes[at::kAudit] = ToTable(kAuditTable, header.audit);
  bytes[at::kFaultMode] = static_cast<uint8_t>(header.fault_mode);
  bytes[at::kProbability] =
      ToTable(kProbabilityPpmTable, header.probability_ppm);
  bytes[at::kArmedSites] = header.armed_sites & kAllSitesMask;
  WriteLittleEndian(&bytes[at::kFailNth], header.fail_nth - 1, 2);
  WriteLittleEndian(&bytes[at::kSeed], header.seed, 4);
  return bytes;
}

std::array<uint8_t, layout::kOpRecordSize> EncodeOp(const Op& op) {
  std::array<uint8_t, layout::kOpRecordSize> record{};
  record[0] = InfoOf(KindOf(op)).slot;
  size_t offset = 1;
  ForEachArgOf(op, [&](ArgSpec spec, const auto& value) {
    const int width = ArgWidth(spec.type);
    WriteLittleEndian(&record[offset], ArgToRaw(spec.type, ArgAsNumber(value)),
                      width);
    offset += width;
  });
  return record;
}

std::vector<uint8_t> Encode(const Program& program) {
  const size_t count = std::min(program.ops.size(), kMaxOps);
  std::vector<uint8_t> bytes;
  bytes.reserve(layout::kHeaderSize + count * layout::kOpRecordSize);
  const auto header = EncodeHeader(program.header);
  bytes.insert(bytes.end(), header.begin(), header.end());
  for (size_t i = 0; i < count; ++i) {
    const auto record = EncodeOp(program.ops[i]);
    bytes.insert(bytes.end(), record.begin(), record.end());
  }
  return bytes;
}

}  // namespace reservoir::program
