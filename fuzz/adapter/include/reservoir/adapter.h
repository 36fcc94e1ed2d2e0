/* The adapter interface: run your own reserve accounting (layer 3) on
 * Reservoir's model of the page and slab allocators, under the same oracle.
 * C99, usable from C and C++. docs/ADAPTER.md explains every function.
 *
 * Two halves:
 *   1. What Reservoir provides to the code under test: a small kernel-like
 *      API backed by the model (pages, kmalloc, caches, gfp and task flags,
 *      the current CPU, the strict-reserve hook, fault sites, estimators).
 *   2. What the code under test provides to Reservoir: a table of functions
 *      (struct reservoir_adapter) for the reserve tree and the reserve
 *      wrappers, returned by the function RESERVOIR_ADAPTER_ENTRY defines.
 *
 * Everything runs single-threaded and deterministically: there are no
 * threads, and the "current" task, CPU and interrupt state are those of the
 * program operation being executed. The Reservoir half may only be called
 * from inside a call of the table (it aborts with one line otherwise).
 */
#ifndef RESERVOIR_ADAPTER_H_
#define RESERVOIR_ADAPTER_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Half 1: what Reservoir provides -------------------------------- */

/* gfp flags; the bits the model gives meaning to (include/linux/gfp.h). */
typedef uint32_t reservoir_gfp_t;
#define RESERVOIR_GFP_MEMALLOC ((reservoir_gfp_t)1u << 0)   /* __GFP_MEMALLOC */
#define RESERVOIR_GFP_NOMEMALLOC ((reservoir_gfp_t)1u << 1) /* __GFP_NOMEMALLOC */
#define RESERVOIR_GFP_HIGH ((reservoir_gfp_t)1u << 2)       /* __GFP_HIGH */
#define RESERVOIR_GFP_DIRECT_RECLAIM ((reservoir_gfp_t)1u << 3)
#define RESERVOIR_GFP_NOFAIL ((reservoir_gfp_t)1u << 4)
#define RESERVOIR_GFP_NOWARN ((reservoir_gfp_t)1u << 5)
#define RESERVOIR_GFP_ZERO ((reservoir_gfp_t)1u << 6)
#define RESERVOIR_GFP_HIGHMEM ((reservoir_gfp_t)1u << 7)
#define RESERVOIR_GFP_KERNEL RESERVOIR_GFP_DIRECT_RECLAIM
#define RESERVOIR_GFP_ATOMIC RESERVOIR_GFP_HIGH

/* Task flags of the current task (current->flags). */
#define RESERVOIR_PF_MEMALLOC 0x1u
#define RESERVOIR_PF_OOM_VICTIM 0x2u

#define RESERVOIR_PAGE_SIZE 4096u
#define RESERVOIR_MAX_ORDER_LIMIT 10
/* A page is named by its frame number; this one names none. */
typedef uint32_t reservoir_pfn_t;
#define RESERVOIR_NO_PAGE ((reservoir_pfn_t)0xffffffffu)

/* The current task, CPU and interrupt state. */
unsigned reservoir_current_cpu(void);
unsigned reservoir_nr_cpus(void);
unsigned reservoir_current_task_flags(void);
int reservoir_in_serving_softirq(void);
/* memalloc_noreclaim_save()/restore(): set PF_MEMALLOC for a section. */
unsigned reservoir_memalloc_save(void);
void reservoir_memalloc_restore(unsigned saved);
/* gfp_pfmemalloc_allowed(): may a request with `gfp`, made by the current
 * task in the current context, use the strict reserve? */
int reservoir_gfp_pfmemalloc_allowed(reservoir_gfp_t gfp);

/* Layer 1: the page allocator. */
reservoir_pfn_t reservoir_alloc_pages(reservoir_gfp_t gfp, unsigned order);
void reservoir_free_pages(reservoir_pfn_t pfn, unsigned order);
void *reservoir_page_address(reservoir_pfn_t pfn);
/* page_is_pfmemalloc(): the block was handed out from the strict reserve. */
int reservoir_page_is_pfmemalloc(reservoir_pfn_t pfn);
unsigned reservoir_max_order(void);
/* Frames in the arena (all zones). */
uint64_t reservoir_nr_pages(void);

/* Layer 2: the slab allocator. kmalloc(0) returns NULL. */
void *reservoir_kmalloc(size_t size, reservoir_gfp_t gfp);
void reservoir_kfree(const void *object);
size_t reservoir_ksize(const void *object);
struct reservoir_kmem_cache;
struct reservoir_kmem_cache *reservoir_kmem_cache_create(const char *name,
                                                         uint32_t size,
                                                         uint32_t align);
void *reservoir_kmem_cache_alloc(struct reservoir_kmem_cache *cache,
                                 reservoir_gfp_t gfp);
void reservoir_kmem_cache_free(struct reservoir_kmem_cache *cache,
                               void *object);
/* Returns 0 when destroyed, -1 while objects live. */
int reservoir_kmem_cache_destroy(struct reservoir_kmem_cache *cache);
/* The slot size of one object (object size rounded up to the alignment). */
uint32_t reservoir_kmem_cache_size(const struct reservoir_kmem_cache *cache);
/* The object size its creator asked for. */
uint32_t reservoir_kmem_cache_object_size(
    const struct reservoir_kmem_cache *cache);

/* The strict reserve (pages_emerg): pages the page allocator holds back for
 * entitled callers. The root of your reserve tree must keep it equal to its
 * own pages. Returns 0 on success, -1 when the allocator cannot hold that
 * many pages right now (then nothing changed). Shrinking always succeeds. */
int reservoir_set_strict_reserve(uint64_t pages);
uint64_t reservoir_strict_reserve(void);

/* The model's estimators (the one the program header selects): pages that
 * guarantee `bytes` of live kmalloc charges (class sizes), or `objects`
 * live objects of `cache`. Using them is optional. */
uint64_t reservoir_estimate_kmalloc_pages(uint64_t bytes);
uint64_t reservoir_estimate_cache_pages(
    const struct reservoir_kmem_cache *cache, uint64_t objects);
/* The kmalloc class size of `size` (what ksize() returns), or the
 * page-rounded block above the largest class. */
uint64_t reservoir_kmalloc_class_size(uint64_t size);

/* Fault sites: ask before a charge or before growing a reserve; a nonzero
 * answer means "fail this one" (an injected failure, which the oracle then
 * excuses). `name` is your reserve's name, for the injectors' filters. */
int reservoir_should_fail_reserve_charge(const char *name, uint64_t bytes);
int reservoir_should_fail_reserve_set(const char *name, uint64_t size);

/* Your own consistency checks may report a broken invariant of your code:
 * prints "RESERVOIR BUG: accounting-imbalance: adapter.<check>" and aborts.
 * `check` is [a-z0-9_-]+ and names the check, never a number. */
void reservoir_report_accounting_bug(const char *check, const char *detail);

/* ---- Half 2: what the code under test provides ---------------------- */

/* Your reserve node, opaque to Reservoir. */
struct reservoir_reserve;

/* What a node looks like now (mem_reserve's pages, limit, usage). Limits
 * and usages are in the units your charges use (the model uses bytes). */
struct reservoir_reserve_info {
  const struct reservoir_reserve *parent; /* NULL: the root, or detached */
  uint64_t pages;                         /* own + children's */
  uint64_t limit;                         /* own + children's */
  uint64_t usage;                         /* own + children's */
};

/* Documented semantic choices (struct reservoir_adapter.choices): ways in
 * which your tree may differ from the reference without it being a bug.
 * The guarantee oracle and the lockstep comparison honour them. */
#define RESERVOIR_CHOICE_STRICT_LIMIT 0x1u  /* a charge needs usage + c < limit */
#define RESERVOIR_CHOICE_ESTIMATOR 0x2u     /* your own pages per demand */
#define RESERVOIR_CHOICE_KMALLOC_CHARGE 0x4u /* kmalloc charges another amount */
#define RESERVOIR_CHOICE_REFUSALS 0x8u      /* refuses some set/connect the model accepts */

#define RESERVOIR_ADAPTER_ABI 1

/* The table. Every function is required unless marked optional. Return
 * codes: 0 = done, anything else = refused (an expected outcome: no
 * memory, over the limit, invalid argument...). Reservoir validates every
 * value you return; a NULL where something is required, a pointer it never
 * gave you or a view no tree can have is reported as
 * "RESERVOIR BUG: adapter-contract: <place>", never undefined behaviour. */
struct reservoir_adapter {
  int abi; /* RESERVOIR_ADAPTER_ABI */
  const char *name;
  unsigned choices; /* RESERVOIR_CHOICE_* bits */

  /* Before every input: forget every node but the root, zero the root. */
  void (*reset)(void);
  /* The root node (never NULL). */
  struct reservoir_reserve *(*root)(void);
  /* A new empty node under `parent` (NULL: detached), or NULL when none can
   * be made. `name` is valid only during the call. */
  struct reservoir_reserve *(*create)(const char *name,
                                      struct reservoir_reserve *parent);
  /* Optional: destroy an empty node (programs never do today). */
  int (*destroy)(struct reservoir_reserve *res);
  int (*connect)(struct reservoir_reserve *child,
                 struct reservoir_reserve *parent);
  int (*disconnect)(struct reservoir_reserve *child);
  /* mem_reserve_{pages,kmalloc,kmem_cache}_set(): replace the node's own
   * demand (P pages, N bytes, K objects of `cache`). */
  int (*pages_set)(struct reservoir_reserve *res, uint64_t pages);
  int (*kmalloc_set)(struct reservoir_reserve *res, uint64_t bytes);
  int (*cache_set)(struct reservoir_reserve *res,
                   struct reservoir_kmem_cache *cache, uint64_t objects);
  int (*charge)(struct reservoir_reserve *res, uint64_t amount);
  void (*uncharge)(struct reservoir_reserve *res, uint64_t amount);
  /* 0 and *out filled for a live node. */
  int (*query)(const struct reservoir_reserve *res,
               struct reservoir_reserve_info *out);

  /* The reserve wrappers. Try the normal allocation first; on failure, if
   * the caller may use the reserve and the charge succeeds, allocate from
   * the reserve and set *emergency to 1. The frees get the same flag. */
  void *(*kmalloc_reserve)(size_t size, reservoir_gfp_t gfp,
                           struct reservoir_reserve *res, int *emergency);
  void (*kfree_reserve)(void *object, struct reservoir_reserve *res,
                        int emergency);
  reservoir_pfn_t (*alloc_pages_reserve)(reservoir_gfp_t gfp, unsigned order,
                                         struct reservoir_reserve *res,
                                         int *emergency);
  void (*free_pages_reserve)(reservoir_pfn_t pfn, unsigned order,
                             struct reservoir_reserve *res, int emergency);
  void *(*kmem_cache_alloc_reserve)(struct reservoir_kmem_cache *cache,
                                    reservoir_gfp_t gfp,
                                    struct reservoir_reserve *res,
                                    int *emergency);
  void (*kmem_cache_free_reserve)(struct reservoir_kmem_cache *cache,
                                  void *object, struct reservoir_reserve *res,
                                  int emergency);

  /* Optional: your own full consistency check (Reservoir's audit calls it). */
  void (*audit)(void);
};

/* The function through which Reservoir finds your table. Define it once,
 * at file scope, with RESERVOIR_ADAPTER_ENTRY(your_table). A build may
 * rename it (-DRESERVOIR_ADAPTER_ENTRY_NAME=...) to link several tables
 * into one program, as Reservoir's own tests do. */
#ifndef RESERVOIR_ADAPTER_ENTRY_NAME
#define RESERVOIR_ADAPTER_ENTRY_NAME reservoir_adapter_entry
#endif
#define RESERVOIR_ADAPTER_ENTRY(table)                                  \
  const struct reservoir_adapter *RESERVOIR_ADAPTER_ENTRY_NAME(void) {  \
    return &(table);                                                    \
  }
const struct reservoir_adapter *reservoir_adapter_entry(void);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* RESERVOIR_ADAPTER_H_ */
