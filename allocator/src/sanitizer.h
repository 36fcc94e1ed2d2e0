// What the sanitizers are told about memory the model hands out. Compiled
// to nothing unless the build uses ASan or MSan.
#pragma once

#include <cstddef>

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RESERVOIR_ASAN 1
#endif
#if __has_feature(memory_sanitizer)
#define RESERVOIR_MSAN 1
#endif
#endif

#if defined(RESERVOIR_ASAN)
#include <sanitizer/asan_interface.h>
#endif
#if defined(RESERVOIR_MSAN)
#include <sanitizer/msan_interface.h>
#endif

// The allocator reads its own metadata inside freed (poisoned) objects: the
// in-object free pointer, as SLUB does.
#if defined(RESERVOIR_ASAN)
#define RESERVOIR_NO_SANITIZE_ADDRESS __attribute__((no_sanitize("address")))
#else
#define RESERVOIR_NO_SANITIZE_ADDRESS
#endif

namespace reservoir {

// Memory nobody may touch: free pages, free objects, slab slack.
inline void PoisonMemory(void* address, size_t size) {
#if defined(RESERVOIR_ASAN)
  ASAN_POISON_MEMORY_REGION(address, size);
#endif
  (void)address;
  (void)size;
}

// Memory handed to a caller: addressable, and (for MSan) uninitialised
// unless the caller asked for zeroes.
inline void UnpoisonForCaller(void* address, size_t size, bool zeroed) {
#if defined(RESERVOIR_ASAN)
  ASAN_UNPOISON_MEMORY_REGION(address, size);
#endif
#if defined(RESERVOIR_MSAN)
  if (!zeroed) __msan_allocated_memory(address, size);
#endif
  (void)address;
  (void)size;
  (void)zeroed;
}

// Memory the allocator itself is about to use (e.g. to write metadata).
inline void UnpoisonForAllocator(void* address, size_t size) {
#if defined(RESERVOIR_ASAN)
  ASAN_UNPOISON_MEMORY_REGION(address, size);
#endif
  (void)address;
  (void)size;
}

}  // namespace reservoir
