// How an allocator entry point is split: a short fast path that the
// compiler keeps together, and everything rare (refills, fault sites,
// fallbacks) in a slow path kept out of line, so the fast path's frame
// stays small (Scudo's allocate() and its NOINLINE refill, mimalloc's
// _mi_malloc_generic, Linux's __alloc_pages_slowpath).
#pragma once

#define RESERVOIR_NOINLINE __attribute__((noinline))
#define RESERVOIR_LIKELY(x) __builtin_expect(!!(x), 1)
#define RESERVOIR_UNLIKELY(x) __builtin_expect(!!(x), 0)
// For the few fast paths that must not become calls of their own.
#define RESERVOIR_ALWAYS_INLINE inline __attribute__((always_inline))
