// SLUB keeps the free pointer inside the free object. Free objects are
// poisoned for ASan, so only these two functions may touch that word.
#pragma once

#include "sanitizer.h"

namespace reservoir {

RESERVOIR_NO_SANITIZE_ADDRESS inline void* GetFreePointer(const void* object) {
  return *static_cast<void* const*>(object);
}

RESERVOIR_NO_SANITIZE_ADDRESS inline void SetFreePointer(void* object,
                                                         void* next) {
  *static_cast<void**>(object) = next;
}

}  // namespace reservoir
