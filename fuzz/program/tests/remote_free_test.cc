// Remote frees: the optional `cpu` of kfree, cache_free, kfree_reserve and
// cache_free_reserve. A zero byte (and a text without the field) keeps the
// old meaning, the allocating CPU; k > 0 frees on CPU k - 1. Checked in the
// language (decode, encode, text, validation) and in the executor, which
// must hand exactly that CPU to the allocator.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "reservoir/exec/executor.h"
#include "reservoir/exec/reservoir_model.h"
#include "reservoir/program/decode.h"
#include "reservoir/program/encode.h"
#include "reservoir/program/text_format.h"
#include "reservoir/program/validate.h"

namespace reservoir::program {
namespace {

constexpr const char* kHeader =
    "# reservoir program v1\n"
    "config normal_pages=1024 highmem_pages=0 max_order=10 "
    "min_free_kbytes=default nr_cpus=2 slab_policy=page_tag estimator=exact "
    "audit=full\n"
    "faults mode=none seed=0 probability_ppm=0 fail_nth=1 sites=none\n";

Program Parse(const std::string& body) {
  const ParseResult parsed = FromText(std::string(kHeader) + body);
  EXPECT_TRUE(parsed.ok()) << parsed.error->ToString();
  return parsed.program;
}

std::string ParseError(const std::string& body) {
  const ParseResult parsed = FromText(std::string(kHeader) + body);
  return parsed.ok() ? "" : parsed.error->ToString();
}

TEST(RemoteFree, OldRecordsFreeOnTheAllocatingCpu) {
  // Records written before the argument existed: zero padding.
  const uint8_t kfree[] = {0x04, 0x09, 0, 0, 0, 0, 0, 0};
  EXPECT_EQ(DecodeOp(kfree), Op(op::Kfree{.obj = 9}));
  EXPECT_EQ(std::get<op::Kfree>(DecodeOp(kfree)).cpu, kFreeOnOwnCpu);
  EXPECT_EQ(OpToText(DecodeOp(kfree)), "kfree obj=9");
  const uint8_t grant[] = {0x16, 0x02};  // truncated cache_free_reserve
  EXPECT_EQ(OpToText(DecodeOp(grant)), "cache_free_reserve grant=2");
}

TEST(RemoteFree, TheByteAfterTheIndexChoosesTheCpu) {
  struct Case {
    uint8_t opcode, raw;
    const char* text;
  };
  const Case cases[] = {
      {0x04, 1, "kfree obj=3 cpu=0"},
      {0x04, 4, "kfree obj=3 cpu=3"},
      {0x04, 5, "kfree obj=3"},  // 5 % 5 = 0: own
      {0x07, 2, "cache_free obj=3 cpu=1"},
      {0x12, 3, "kfree_reserve grant=3 cpu=2"},
      {0x16, 9, "cache_free_reserve grant=3 cpu=3"},  // 9 % 5 = 4
  };
  for (const Case& c : cases) {
    const uint8_t record[] = {c.opcode, 3, c.raw, 0, 0, 0, 0, 0};
    const Op op = DecodeOp(record);
    EXPECT_EQ(OpToText(op), c.text);
    const auto canonical = EncodeOp(op);
    EXPECT_EQ(canonical[2], c.raw % 5) << c.text;
    EXPECT_EQ(DecodeOp(canonical), op);
  }
}

TEST(RemoteFree, TextRoundTrips) {
  const std::string body =
      "kmalloc size=64 gfp=KERNEL cpu=0\n"
      "kfree obj=0 cpu=1\n"
      "cache_free obj=0\n"
      "kfree_reserve grant=1 cpu=0\n"
      "cache_free_reserve grant=0 cpu=1\n";
  const Program program = Parse(body);
  EXPECT_EQ(ToText(program), std::string(kHeader) + body);
  EXPECT_EQ(Decode(Encode(program)), program);
  // "own" is accepted and is the canonical absence of the field.
  const Program own = Parse("kfree obj=2 cpu=own\n");
  EXPECT_EQ(own.ops[0], Op(op::Kfree{.obj = 2}));
  EXPECT_EQ(ToText(own), std::string(kHeader) + "kfree obj=2\n");
}

TEST(RemoteFree, BadCpusAreRejected) {
  EXPECT_EQ(ParseError("kfree obj=0 cpu=4\n"),
            "line 4: kfree: cpu=4 out of range (own, 0..3)");
  EXPECT_EQ(ParseError("cache_free obj=0 cpu=x\n"),
            "line 4: cache_free: bad value 'x' for 'cpu' (expected own, 0..3)");
  EXPECT_EQ(ParseError("kfree obj=0 cpu=1 cpu=1\n"),
            "line 4: kfree: duplicate field 'cpu'");
  // Only the frees that take a CPU have the field.
  EXPECT_EQ(ParseError("free_pages page=0 cpu=1\n"),
            "line 4: free_pages: unknown field 'cpu'");
  // The index stays required.
  EXPECT_EQ(ParseError("kfree cpu=1\n"), "line 4: kfree: missing field 'obj'");
}

TEST(RemoteFree, ValidateWarnsAboutACpuBeyondNrCpus) {
  const Program program =
      Parse("kmalloc size=64 gfp=KERNEL cpu=0\nkfree obj=0 cpu=3\n");
  const std::vector<Problem> problems = Validate(program);
  bool warned = false;
  for (const Problem& p : problems) {
    EXPECT_NE(p.severity, Severity::kError) << p.message;
    warned = warned || p.message.find("cpu=3 frees on cpu 1") != std::string::npos;
  }
  EXPECT_TRUE(warned);
  op::Kfree bad{.obj = 0, .cpu = 5};
  Program invalid = program;
  invalid.ops[1] = bad;
  bool error = false;
  for (const Problem& p : Validate(invalid)) error = error || p.severity == Severity::kError;
  EXPECT_TRUE(error);
}

// Forwards to Reservoir's model and records the CPU of every free.
class FreeRecorder final : public exec::ModelApi {
 public:
  explicit FreeRecorder(const ModelConfig& config) : inner_(config, config.normal_pages + config.highmem_pages) {}
  std::vector<std::string> frees;

  const ModelConfig& config() const override { return inner_.config(); }
  void SetFaultHook(FaultHook* hook) override { inner_.SetFaultHook(hook); }
  void Reset() override { inner_.Reset(); }
  int max_order() const override { return inner_.max_order(); }
  exec::PageHandle AllocPages(int order, const AllocContext& ctx) override { return inner_.AllocPages(order, ctx); }
  void FreePages(exec::PageHandle page, int order) override { inner_.FreePages(page, order); }
  void* PageAddress(exec::PageHandle page) const override { return inner_.PageAddress(page); }
  exec::CacheHandle CacheCreate(const char* name, uint32_t size, uint32_t align) override { return inner_.CacheCreate(name, size, align); }
  bool CacheDestroy(exec::CacheHandle cache) override { return inner_.CacheDestroy(cache); }
  void* CacheAlloc(exec::CacheHandle cache, const AllocContext& ctx) override { return inner_.CacheAlloc(cache, ctx); }
  void CacheFree(exec::CacheHandle cache, void* object, uint16_t cpu) override {
    frees.push_back("cache_free " + std::to_string(cpu));
    inner_.CacheFree(cache, object, cpu);
  }
  void* Kmalloc(size_t size, const AllocContext& ctx) override { return inner_.Kmalloc(size, ctx); }
  void Kfree(void* object, uint16_t cpu) override {
    frees.push_back("kfree " + std::to_string(cpu));
    inner_.Kfree(object, cpu);
  }
  exec::ReserveHandle ReserveCreate(const char* name, exec::ReserveHandle parent) override { return inner_.ReserveCreate(name, parent); }
  exec::ReserveHandle ReserveRoot() const override { return inner_.ReserveRoot(); }
  int ReservePagesSet(exec::ReserveHandle node, uint64_t pages) override { return inner_.ReservePagesSet(node, pages); }
  int ReserveKmallocSet(exec::ReserveHandle node, uint64_t bytes) override { return inner_.ReserveKmallocSet(node, bytes); }
  int ReserveCacheSet(exec::ReserveHandle node, exec::CacheHandle cache, uint64_t objects) override { return inner_.ReserveCacheSet(node, cache, objects); }
  int ReserveConnect(exec::ReserveHandle child, exec::ReserveHandle parent) override { return inner_.ReserveConnect(child, parent); }
  int ReserveDisconnect(exec::ReserveHandle child) override { return inner_.ReserveDisconnect(child); }
  int ReserveCharge(exec::ReserveHandle node, uint64_t bytes) override { return inner_.ReserveCharge(node, bytes); }
  void ReserveUncharge(exec::ReserveHandle node, uint64_t bytes) override { inner_.ReserveUncharge(node, bytes); }
  exec::ReserveView Reserve(exec::ReserveHandle node) const override { return inner_.Reserve(node); }
  exec::Grant KmallocReserve(size_t size, const AllocContext& ctx, exec::ReserveHandle node) override { return inner_.KmallocReserve(size, ctx, node); }
  void KfreeReserve(const exec::Grant& grant, uint16_t cpu) override {
    frees.push_back("kfree_reserve " + std::to_string(cpu));
    inner_.KfreeReserve(grant, cpu);
  }
  exec::Grant AllocPagesReserve(int order, const AllocContext& ctx, exec::ReserveHandle node) override { return inner_.AllocPagesReserve(order, ctx, node); }
  void FreePagesReserve(const exec::Grant& grant) override { inner_.FreePagesReserve(grant); }
  exec::Grant CacheAllocReserve(exec::CacheHandle cache, const AllocContext& ctx, exec::ReserveHandle node) override { return inner_.CacheAllocReserve(cache, ctx, node); }
  void CacheFreeReserve(exec::CacheHandle cache, const exec::Grant& grant, uint16_t cpu) override {
    frees.push_back("cache_free_reserve " + std::to_string(cpu));
    inner_.CacheFreeReserve(cache, grant, cpu);
  }
  bool OnReserveMemory(const void* object) const override { return inner_.OnReserveMemory(object); }
  const char* LastSlabAllocPath() const override { return inner_.LastSlabAllocPath(); }
  uint64_t InjectedFailures() const override { return inner_.InjectedFailures(); }
  void AuditFull() const override { inner_.AuditFull(); }
  void SetAuditLevel(AuditLevel level) override { inner_.SetAuditLevel(level); }
  void CheckPristine() override { inner_.CheckPristine(); }

 private:
  exec::ReservoirModel inner_;
};

TEST(RemoteFree, TheExecutorFreesOnTheCpuTheProgramNames) {
  // Two CPUs. Objects are allocated on CPU 1; the frees name own, 0, 1 and
  // 3 (= 1 modulo nr_cpus=2); the reserve wrappers' grants are freed
  // remotely too. Everything is freed by the program, so teardown adds no
  // free of its own.
  const Program program = Parse(
      "reserve_create parent=0\n"
      "reserve_set_kmalloc res=1 bytes=8192\n"
      "cache_create size=40 align=8\n"
      "reserve_set_cache res=1 cache=0 objects=0\n"
      "kmalloc size=96 gfp=KERNEL cpu=1\n"
      "kmalloc size=96 gfp=KERNEL cpu=1\n"
      "kmalloc size=96 gfp=KERNEL cpu=1\n"
      "cache_alloc cache=0 gfp=KERNEL cpu=1\n"
      "cache_alloc cache=0 gfp=KERNEL cpu=1\n"
      "kfree obj=0\n"
      "kfree obj=0 cpu=0\n"
      "kfree obj=0 cpu=3\n"
      "cache_free obj=1 cpu=0\n"
      "cache_free obj=0 cpu=own\n"
      "pressure pages=1024 gfp=ATOMIC cpu=0\n"
      "set_pf_memalloc\n"
      "kmalloc_reserve size=96 gfp=KERNEL cpu=1 res=1\n"
      "kmalloc_reserve size=96 gfp=KERNEL cpu=1 res=1\n"
      "kfree_reserve grant=0 cpu=0\n"
      "kfree_reserve grant=0\n"
      "clear_pf_memalloc\n"
      "release_pressure\n"
      "audit\n");
  FreeRecorder api(ToModelConfig(program.header));
  exec::Executor executor;
  const exec::ExecStats stats = executor.RunOn(api, program);
  EXPECT_EQ(stats.noops, 0u);
  const std::vector<std::string> expected = {
      "kfree 1", "kfree 0", "kfree 1", "cache_free 0", "cache_free 1",
      "kfree_reserve 0", "kfree_reserve 1"};
  EXPECT_EQ(api.frees, expected);
}

}  // namespace
}  // namespace reservoir::program
