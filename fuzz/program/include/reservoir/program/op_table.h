// The operation table: the single source of truth for every operation kind
// of the program language. The operation structs, the opcode map, decode,
// encode, the text format, validation and the reference tables in
// docs/PROGRAM-FORMAT.md are all derived from it.
//
// RESERVOIR_PROGRAM_OPS(OP, ARG) calls, for each kind in order,
//   OP(Kind, text_name, opcode_slot, adds_to, removes_from, ARGS)
// where ARGS is a sequence of ARG(ArgType, field) in binary record order.
//   Kind          C++ name: the struct op::Kind and OpKind::kKind.
//   text_name     the name in the text form and in the docs.
//   opcode_slot   opcode byte % kOpcodeSlots that selects this kind. Part of
//                 the binary format: never change or reuse a slot.
//   adds_to       the LiveSet a successful call appends to (None if none).
//   removes_from  the LiveSet whose indexed element the call removes.
//
// Stability rules (docs/PROGRAM-FORMAT.md, "Stability"): new kinds take an
// unused slot; arguments may only be appended, using bytes that are zero in
// canonical records, and a zero byte must keep today's meaning (such an
// argument is optional in the text form: see ArgOptional).
#pragma once

// clang-format off
#define RESERVOIR_PROGRAM_OPS(OP, ARG)                                         \
  OP(Nop, nop, 0, None, None, )                                                \
  /* Layer 1: the page allocator. */                                           \
  OP(AllocPages, alloc_pages, 1, Pages, None,                                  \
     ARG(Order, order) ARG(Gfp, gfp) ARG(Cpu, cpu))                            \
  OP(FreePages, free_pages, 2, None, Pages, ARG(PageRef, page))                \
  /* Layer 2: kmalloc and caches. */                                           \
  OP(Kmalloc, kmalloc, 3, KmallocObjects, None,                                \
     ARG(Size, size) ARG(Gfp, gfp) ARG(Cpu, cpu))                              \
  OP(Kfree, kfree, 4, None, KmallocObjects,                                    \
     ARG(KmallocObjectRef, obj) ARG(FreeCpu, cpu))                             \
  OP(CacheCreate, cache_create, 5, Caches, None,                               \
     ARG(Size, size) ARG(Align, align))                                        \
  OP(CacheAlloc, cache_alloc, 6, CacheObjects, None,                           \
     ARG(CacheRef, cache) ARG(Gfp, gfp) ARG(Cpu, cpu))                         \
  OP(CacheFree, cache_free, 7, None, CacheObjects,                             \
     ARG(CacheObjectRef, obj) ARG(FreeCpu, cpu))                               \
  OP(CacheDestroy, cache_destroy, 8, None, Caches, ARG(CacheRef, cache))       \
  /* Layer 3: the reserve tree. */                                             \
  OP(ReserveCreate, reserve_create, 9, Reserves, None,                         \
     ARG(ReserveRef, parent))                                                  \
  OP(ReserveSetPages, reserve_set_pages, 10, None, None,                       \
     ARG(ReserveRef, res) ARG(Pages, pages))                                   \
  OP(ReserveSetKmalloc, reserve_set_kmalloc, 11, None, None,                   \
     ARG(ReserveRef, res) ARG(Bytes, bytes))                                   \
  OP(ReserveSetCache, reserve_set_cache, 12, None, None,                       \
     ARG(ReserveRef, res) ARG(CacheRef, cache) ARG(Objects, objects))          \
  OP(ReserveConnect, reserve_connect, 13, None, None,                          \
     ARG(ReserveRef, res) ARG(ReserveRef, parent))                             \
  OP(ReserveDisconnect, reserve_disconnect, 14, None, None,                    \
     ARG(ReserveRef, res))                                                     \
  OP(ReserveCharge, reserve_charge, 15, Charges, None,                         \
     ARG(ReserveRef, res) ARG(Bytes, bytes))                                   \
  OP(ReserveUncharge, reserve_uncharge, 16, None, Charges,                     \
     ARG(ChargeRef, charge))                                                   \
  /* The reserve wrappers. */                                                  \
  OP(KmallocReserve, kmalloc_reserve, 17, KmallocGrants, None,                 \
     ARG(Size, size) ARG(Gfp, gfp) ARG(Cpu, cpu) ARG(ReserveRef, res))         \
  OP(KfreeReserve, kfree_reserve, 18, None, KmallocGrants,                     \
     ARG(KmallocGrantRef, grant) ARG(FreeCpu, cpu))                            \
  OP(AllocPagesReserve, alloc_pages_reserve, 19, PageGrants, None,             \
     ARG(Order, order) ARG(Gfp, gfp) ARG(Cpu, cpu) ARG(ReserveRef, res))       \
  OP(FreePagesReserve, free_pages_reserve, 20, None, PageGrants,               \
     ARG(PageGrantRef, grant))                                                 \
  OP(CacheAllocReserve, cache_alloc_reserve, 21, CacheGrants, None,            \
     ARG(CacheRef, cache) ARG(Gfp, gfp) ARG(Cpu, cpu) ARG(ReserveRef, res))    \
  OP(CacheFreeReserve, cache_free_reserve, 22, None, CacheGrants,              \
     ARG(CacheGrantRef, grant) ARG(FreeCpu, cpu))                              \
  /* Task and interrupt state, applied to every later request. */              \
  OP(SetPfMemalloc, set_pf_memalloc, 23, None, None, )                         \
  OP(ClearPfMemalloc, clear_pf_memalloc, 24, None, None, )                     \
  OP(EnterSoftirq, enter_softirq, 25, None, None, )                            \
  OP(LeaveSoftirq, leave_softirq, 26, None, None, )                            \
  OP(SetOomVictim, set_oom_victim, 27, None, None, )                           \
  OP(ClearOomVictim, clear_oom_victim, 28, None, None, )                       \
  /* Memory pressure from unentitled users. */                                 \
  OP(Pressure, pressure, 29, None, None,                                       \
     ARG(Pages, pages) ARG(Gfp, gfp) ARG(Cpu, cpu))                            \
  OP(ReleasePressure, release_pressure, 30, None, None, )                      \
  /* Input-driven fault injection and the on-demand audit. */                  \
  OP(FailNext, fail_next, 31, None, None, ARG(Site, site) ARG(Skip, skip))     \
  OP(Audit, audit, 32, None, None, )
// clang-format on
