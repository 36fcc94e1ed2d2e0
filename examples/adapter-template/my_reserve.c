/* A starting point for your own adapter (docs/ADAPTER.md).
 *
 * As it stands it is a correct but useless reserve implementation: it has
 * a root and can create nodes, it refuses every reserve (so nobody is ever
 * promised anything), and its wrappers only make normal allocations. It
 * runs clean under `./reservoir fuzz --adapter examples/adapter-template`.
 * Replace each TODO with a call into your code; keep the bookkeeping in
 * your own memory (malloc), not in the model's.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "reservoir/adapter.h"

/* TODO: your node type. Reservoir only ever sees pointers to it. */
struct reservoir_reserve {
  struct reservoir_reserve *parent;
  uint64_t pages, limit, usage;
};

#define MY_MAX_NODES 64
static struct reservoir_reserve my_root;
static struct reservoir_reserve *my_nodes[MY_MAX_NODES];
static int my_nr_nodes;

static void my_reset(void) {
  int i;
  for (i = 0; i < my_nr_nodes; ++i) free(my_nodes[i]);
  my_nr_nodes = 0;
  memset(&my_root, 0, sizeof(my_root));
}

static struct reservoir_reserve *my_get_root(void) { return &my_root; }

static struct reservoir_reserve *my_create(const char *name,
                                           struct reservoir_reserve *parent) {
  struct reservoir_reserve *res;
  (void)name;
  if (my_nr_nodes == MY_MAX_NODES) return NULL;
  res = calloc(1, sizeof(*res));
  if (res == NULL) return NULL;
  res->parent = parent;
  my_nodes[my_nr_nodes++] = res;
  return res;
}

/* TODO: move a subtree (its pages, limit and usage) under `parent`; grow
 * the strict reserve with reservoir_set_strict_reserve() when it lands
 * under the root. */
static int my_connect(struct reservoir_reserve *child,
                      struct reservoir_reserve *parent) {
  (void)child;
  (void)parent;
  return -1;
}

/* TODO: detach a subtree. */
static int my_disconnect(struct reservoir_reserve *child) {
  (void)child;
  return -1;
}

/* TODO: size the node's own reserve; a set to 0 must always succeed (it is
 * how every reserve is released at the end of a program). */
static int my_pages_set(struct reservoir_reserve *res, uint64_t pages) {
  (void)res;
  return pages == 0 ? 0 : -1;
}

static int my_kmalloc_set(struct reservoir_reserve *res, uint64_t bytes) {
  (void)res;
  return bytes == 0 ? 0 : -1;
}

static int my_cache_set(struct reservoir_reserve *res,
                        struct reservoir_kmem_cache *cache, uint64_t objects) {
  (void)res;
  (void)cache;
  return objects == 0 ? 0 : -1;
}

/* TODO: charge every level up to the top, all or nothing. */
static int my_charge(struct reservoir_reserve *res, uint64_t bytes) {
  (void)res;
  (void)bytes;
  return -1;
}

static void my_uncharge(struct reservoir_reserve *res, uint64_t bytes) {
  (void)res;
  (void)bytes;
}

static int my_query(const struct reservoir_reserve *res,
                    struct reservoir_reserve_info *out) {
  out->parent = res->parent;
  out->pages = res->pages;
  out->limit = res->limit;
  out->usage = res->usage;
  return 0;
}

/* TODO: on failure of the normal attempt, charge and allocate from the
 * reserve (see examples/reserve2007/reserve2007.c). */
static void *my_kmalloc_reserve(size_t size, reservoir_gfp_t gfp,
                                struct reservoir_reserve *res, int *emergency) {
  (void)res;
  (void)emergency;
  return reservoir_kmalloc(size, gfp | RESERVOIR_GFP_NOMEMALLOC);
}

static void my_kfree_reserve(void *object, struct reservoir_reserve *res,
                             int emergency) {
  (void)res;
  (void)emergency;
  reservoir_kfree(object);
}

static reservoir_pfn_t my_alloc_pages_reserve(reservoir_gfp_t gfp,
                                              unsigned order,
                                              struct reservoir_reserve *res,
                                              int *emergency) {
  (void)res;
  (void)emergency;
  return reservoir_alloc_pages(gfp | RESERVOIR_GFP_NOMEMALLOC, order);
}

static void my_free_pages_reserve(reservoir_pfn_t pfn, unsigned order,
                                  struct reservoir_reserve *res,
                                  int emergency) {
  (void)res;
  (void)emergency;
  reservoir_free_pages(pfn, order);
}

static void *my_cache_alloc_reserve(struct reservoir_kmem_cache *cache,
                                    reservoir_gfp_t gfp,
                                    struct reservoir_reserve *res,
                                    int *emergency) {
  (void)res;
  (void)emergency;
  return reservoir_kmem_cache_alloc(cache, gfp | RESERVOIR_GFP_NOMEMALLOC);
}

static void my_cache_free_reserve(struct reservoir_kmem_cache *cache,
                                  void *object, struct reservoir_reserve *res,
                                  int emergency) {
  (void)res;
  (void)emergency;
  reservoir_kmem_cache_free(cache, object);
}

static const struct reservoir_adapter my_table = {
    .abi = RESERVOIR_ADAPTER_ABI,
    .name = "my-reserve",
    .choices = 0, /* RESERVOIR_CHOICE_* you document as not-a-bug */
    .reset = my_reset,
    .root = my_get_root,
    .create = my_create,
    .connect = my_connect,
    .disconnect = my_disconnect,
    .pages_set = my_pages_set,
    .kmalloc_set = my_kmalloc_set,
    .cache_set = my_cache_set,
    .charge = my_charge,
    .uncharge = my_uncharge,
    .query = my_query,
    .kmalloc_reserve = my_kmalloc_reserve,
    .kfree_reserve = my_kfree_reserve,
    .alloc_pages_reserve = my_alloc_pages_reserve,
    .free_pages_reserve = my_free_pages_reserve,
    .kmem_cache_alloc_reserve = my_cache_alloc_reserve,
    .kmem_cache_free_reserve = my_cache_free_reserve,
};

RESERVOIR_ADAPTER_ENTRY(my_table)
