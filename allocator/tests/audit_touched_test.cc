// The touched-only full audit (SlabAllocator::AuditTouched(), run by the
// model's schedule and by the pristine check after a complete walk): a
// corruption of a slab that an operation touched since the last full audit
// is still reported; an untouched slab is left to the complete walk, which
// Model::AuditFull() makes and the pristine check makes once per input when
// nothing else did. Also: the reciprocal object index agrees with the
// division it replaces.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "reservoir/kmem_cache.h"
#include "reservoir/model.h"
#include "reservoir/report.h"
#include "reservoir/slab_allocator.h"
#include "test_support.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#include <sanitizer/asan_interface.h>
#define TEST_ASAN 1
#endif
#endif

namespace reservoir {
namespace {

using test::KernelCtx;

struct Reported {
  BugClass bug_class;
  std::string place;
};

[[noreturn]] void ThrowReport(BugClass bug_class, const char* place,
                              const char*) {
  throw Reported{bug_class, place};
}

// The place of the report `run` raises, or "" when it raises none.
template <typename Run>
std::string ReportedPlace(Run run) {
  try {
    run();
  } catch (const Reported& report) {
    EXPECT_EQ(report.bug_class, BugClass::kSlabCorruption);
    return report.place;
  }
  return "";
}

// What a bug in a path that forgot the slab (or a write after free) would
// leave: the free pointer of the free object `object` points into the
// middle of `into`. Written directly, past every allocator path.
// Returns the pointer it replaced.
void* SetFreePointerBehindTheAllocator(void* object, void* value) {
#if defined(TEST_ASAN)
  ASAN_UNPOISON_MEMORY_REGION(object, sizeof(void*));
#endif
  void* const old = *static_cast<void**>(object);
  *static_cast<void**>(object) = value;
#if defined(TEST_ASAN)
  ASAN_POISON_MEMORY_REGION(object, sizeof(void*));
#endif
  return old;
}

void* CorruptFreePointer(void* object, void* into) {
  return SetFreePointerBehindTheAllocator(object,
                                          static_cast<uint8_t*>(into) + 1);
}

ModelConfig Config() {
  ModelConfig config;
  config.normal_pages = 1024;
  config.max_order = 7;
  config.nr_cpus = 1;
  return config;
}

class AuditTouchedTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // audit=full with the full audit after every operation a driver ends,
    // as the fuzz executor schedules it (there every 8th).
    model_.SetAuditSchedule(AuditLevel::kFull, 1);
    SetReportHandlerForTesting(ThrowReport);
  }
  void TearDown() override { SetReportHandlerForTesting(nullptr); }

  Model model_{Config()};
};

TEST_F(AuditTouchedTest, CorruptionOfATouchedSlabIsReported) {
  void* a = model_.Kmalloc(64, KernelCtx());
  void* b = model_.Kmalloc(64, KernelCtx());
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  model_.Kfree(b);
  EXPECT_TRUE(model_.EndOperation());  // walks the slab, marks it
  CorruptFreePointer(b, a);
  // The next operation touches the slab (a goes onto the CPU freelist in
  // front of b): the scheduled audit walks it again and finds the entry.
  model_.Kfree(a);
  EXPECT_EQ(ReportedPlace([&] { model_.EndOperation(); }),
            "slab.audit_freelist_foreign_entry");
}

TEST_F(AuditTouchedTest, UntouchedSlabIsLeftToTheCompleteWalk) {
  void* a = model_.Kmalloc(64, KernelCtx());
  void* b = model_.Kmalloc(64, KernelCtx());
  void* other = model_.Kmalloc(512, KernelCtx());  // a slab of another cache
  ASSERT_NE(other, nullptr);
  model_.Kfree(b);
  EXPECT_TRUE(model_.EndOperation());
  CorruptFreePointer(b, a);
  // Only the kmalloc-512 slab changed: the touched-only walk skips the
  // objects of the kmalloc-64 one (its lists and counts are still checked).
  model_.Kfree(other);
  EXPECT_EQ(ReportedPlace([&] { model_.EndOperation(); }), "");
  // The complete walk reads every slab's objects.
  EXPECT_EQ(ReportedPlace([&] { model_.AuditFull(); }),
            "slab.audit_freelist_foreign_entry");
}

TEST_F(AuditTouchedTest, PristineCheckMakesTheInputsCompleteWalk) {
  // Twice, with a reset in between: the complete walk is once per input.
  for (int input = 0; input < 2; ++input) {
    SCOPED_TRACE(input);
    model_.Reset();
    model_.SetAuditSchedule(AuditLevel::kFull, 1);
    void* a = model_.Kmalloc(64, KernelCtx());
    void* b = model_.Kmalloc(64, KernelCtx());
    model_.Kfree(b);
    EXPECT_TRUE(model_.EndOperation());
    if (input == 0) {
      // No complete walk yet in this input: the pristine check makes it.
      void* const next = CorruptFreePointer(b, a);
      EXPECT_EQ(ReportedPlace([&] { model_.CheckPristine(); }),
                "slab.audit_freelist_foreign_entry");
      SetFreePointerBehindTheAllocator(b, next);
    } else {
      // A complete walk of this state passes; then the pristine check
      // walks only the slabs changed since (a's free) and still reports a
      // corruption there.
      EXPECT_EQ(ReportedPlace([&] { model_.AuditFull(); }), "");
      model_.Kfree(a);
      CorruptFreePointer(a, b);
      EXPECT_EQ(ReportedPlace([&] { model_.CheckPristine(); }),
                "slab.audit_freelist_foreign_entry");
    }
  }
}

TEST_F(AuditTouchedTest, CleanRunReportsNothingAndEndsPristine) {
  void* objects[64];
  for (int round = 0; round < 4; ++round) {
    for (int i = 0; i < 64; ++i) {
      objects[i] = model_.Kmalloc(8u << (i % 8), KernelCtx());
      model_.EndOperation();
    }
    for (int i = 0; i < 64; i += 2) {
      model_.Kfree(objects[i]);
      model_.EndOperation();
    }
    for (int i = 1; i < 64; i += 2) {
      model_.Kfree(objects[i]);
      model_.EndOperation();
    }
  }
  EXPECT_EQ(ReportedPlace([&] { model_.CheckPristine(); }), "");
  EXPECT_TRUE(model_.IsPristine());
}

// The free list as the allocator linked it, read past ASan's poisoning.
std::vector<void*> ReadList(void* head) {
  std::vector<void*> list;
  for (void* object = head; object != nullptr && list.size() <= 1024;) {
    list.push_back(object);
    void* const next = SetFreePointerBehindTheAllocator(object, nullptr);
    SetFreePointerBehindTheAllocator(object, next);
    object = next;
  }
  return list;
}

ModelConfig TwoCpus() {
  ModelConfig config = Config();
  config.nr_cpus = 2;
  return config;
}

// DeactivateSlab() moves the CPU freelist into the slab object by object
// (four per turn while the guard allows): the slab's list afterwards is the
// CPU freelist reversed, in front of what the slab held (objects freed by
// another CPU), for every length of the CPU freelist of a 64-object slab.
TEST(DeactivateSlabTest, TheSlabListIsTheCpuListReversedInFront) {
  for (int taken = 1; taken <= 64; ++taken) {
    for (int remote : {0, 1, 3}) {
      if (remote >= taken) continue;
      SCOPED_TRACE(testing::Message() << taken << " taken, " << remote
                                      << " freed remotely");
      Model model{TwoCpus()};
      std::vector<void*> objects;
      for (int i = 0; i < taken; ++i) {
        objects.push_back(model.Kmalloc(64, KernelCtx(0)));
        ASSERT_NE(objects.back(), nullptr);
      }
      KmemCache* cache = model.slab().KmallocCache(KmallocIndex(64));
      // Frees on CPU 1 go to the slab's own list; every second one of
      // the rest back onto CPU 0's freelist, in a mixed order; object 0
      // stays in use so that the slab is kept.
      int next = 1;
      for (int i = 0; i < remote; ++i) model.Kfree(objects[next++], 1);
      for (int i = next; i < taken; i += 2) model.Kfree(objects[i], 0);
      const std::vector<void*> cpu_list = ReadList(cache->cpu[0].freelist);
      const Pfn slab_pfn = cache->cpu[0].slab;
      const std::vector<void*> slab_list =
          ReadList(model.slab().slab(slab_pfn).freelist);
      model.slab().CacheShrink(cache);  // deactivates CPU 0's slab
      ASSERT_EQ(model.slab().slab(slab_pfn).place, SlabPlace::kNodePartial);
      std::vector<void*> expected(cpu_list.rbegin(), cpu_list.rend());
      expected.insert(expected.end(), slab_list.begin(), slab_list.end());
      EXPECT_EQ(ReadList(model.slab().slab(slab_pfn).freelist), expected);
      model.AuditFull();  // reports nothing
    }
  }
}

// A cyclic CPU freelist is reported by the deactivation's guard. The walk
// reverses the list in place as it goes, so a list x0..x(n-1) whose last
// entry points back at x(k) ends after n + k + 1 moves (the second visit
// of x(k) leads back down to x0, whose pointer is then the slab's old
// list, here null); the guard reports once the moves exceed the slab's 64
// objects, and not at 64.
TEST(DeactivateSlabTest, ACyclicCpuFreelistIsReportedAfterTheSlabsObjects) {
  struct Case {
    int length;
    int back_to;
    bool reported;
  };
  for (const Case& c : {Case{63, 0, false}, Case{63, 1, true},
                        Case{63, 62, true}, Case{40, 23, false},
                        Case{40, 24, true}, Case{33, 31, true},
                        Case{5, 4, false}}) {
    SCOPED_TRACE(testing::Message() << c.length << " back to " << c.back_to);
    Model model{Config()};
    for (int i = 0; i < 64 - c.length; ++i) {
      ASSERT_NE(model.Kmalloc(64, KernelCtx()), nullptr);
    }
    KmemCache* cache = model.slab().KmallocCache(KmallocIndex(64));
    const std::vector<void*> cpu_list = ReadList(cache->cpu[0].freelist);
    ASSERT_EQ(cpu_list.size(), static_cast<size_t>(c.length));
    SetFreePointerBehindTheAllocator(cpu_list.back(), cpu_list[c.back_to]);
    SetReportHandlerForTesting(ThrowReport);
    EXPECT_EQ(ReportedPlace([&] { model.slab().CacheShrink(cache); }),
              c.reported ? "slab.deactivate_cyclic_cpu_freelist" : "");
    SetReportHandlerForTesting(nullptr);
    // The model is left broken; only its destructor runs.
  }
}

// ObjectIndex() (a multiplication by the reciprocal) against the division:
// for every slot size of 8..8192, the offsets next to every object start
// (where the quotient changes) of a slub_max_order slab and of the largest
// block (2^22 bytes); every offset for a few sizes.
TEST(ObjectIndexTest, AgreesWithDivision) {
  const auto check = [](const KmemCache& cache, uint16_t objects,
                        size_t offset) {
    const uint32_t size = cache.size;
    const bool object = offset % size == 0 && offset / size < objects;
    const uint32_t index = ObjectIndex(cache, objects, offset);
    const uint64_t quotient =
        (offset * cache.reciprocal_size) >> kReciprocalShift;
    if (object != (index != kNotAnObject) ||
        (object && index != offset / size) || quotient != offset / size) {
      ADD_FAILURE() << "size " << size << " offset " << offset;
      return false;
    }
    return true;
  };
  const auto make = [](uint32_t size) {
    KmemCache cache;
    cache.size = size;
    cache.reciprocal_size = ReciprocalSize(size);
    return cache;
  };
  for (uint32_t size = 8; size <= kKmallocMaxCacheSize; size += 8) {
    const KmemCache cache = make(size);
    for (size_t limit : {size_t{kPageSize} << kSlubMaxOrder,
                         size_t{kPageSize} << kMaxOrderLimit}) {
      const uint16_t objects = static_cast<uint16_t>(
          std::min<size_t>(limit / size, kMaxObjectsPerSlab));
      for (size_t start = 0; start < limit; start += size) {
        for (size_t offset = start == 0 ? 0 : start - 1;
             offset <= start + 1 && offset < limit; ++offset) {
          if (!check(cache, objects, offset)) return;
        }
      }
    }
  }
  for (uint32_t size : {8u, 96u, 4104u, 8184u}) {
    const KmemCache cache = make(size);
    const size_t limit = size_t{kPageSize} << kSlubMaxOrder;
    const uint16_t objects = static_cast<uint16_t>(
        std::min<size_t>(limit / size, kMaxObjectsPerSlab));
    for (size_t offset = 0; offset < limit; ++offset) {
      if (!check(cache, objects, offset)) return;
    }
  }
}

}  // namespace
}  // namespace reservoir
