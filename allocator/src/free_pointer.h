// SLUB keeps the free pointer inside the free object. Free objects are
// poisoned for ASan, so only these two functions may touch that word.
#pragma once

#include "sanitizer.h"

namespace reservoir {

#if defined(RESERVOIR_ASAN) && defined(__x86_64__)
// Under ASan on x86-64 the word is moved by one instruction in inline
// assembly, which ASan does not instrument. A function that is not
// sanitized (the portable way below) is never inlined into one that is, so
// every free-list step would be a call: about 6% of slab_fuzzer's time
// under ASan went to the calls alone. The "m" operands tell the compiler
// which word is read or written, as a plain access would. What is lost is
// UBSan's null and alignment check of this one access; a bad free pointer
// is still caught by the audits (an entry that is not an object of its
// slab) or, when dereferenced, by the SEGV handler.
inline void* GetFreePointer(const void* object) {
  void* next;
  asm("movq %1, %0" : "=r"(next) : "m"(*static_cast<void* const*>(object)));
  return next;
}

inline void SetFreePointer(void* object, void* next) {
  asm("movq %1, %0" : "=m"(*static_cast<void**>(object)) : "r"(next));
}
#else
RESERVOIR_NO_SANITIZE_ADDRESS inline void* GetFreePointer(const void* object) {
  return *static_cast<void* const*>(object);
}

RESERVOIR_NO_SANITIZE_ADDRESS inline void SetFreePointer(void* object,
                                                         void* next) {
  *static_cast<void**>(object) = next;
}
#endif

}  // namespace reservoir
