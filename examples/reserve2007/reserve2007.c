/* The 2007 reserve design (P. Zijlstra's mem_reserve, as posted for swap
 * over the network), written for Reservoir from the description in its
 * domain notes, as an adapter: a tree of named reserves whose root total is
 * the page allocator's strict reserve, charge/uncharge walking to the root,
 * and the kmalloc/pages/cache reserve wrappers.
 *
 * Its known behaviours are switched on by defines (all off by default):
 *   RSV2007_CHARGE_POW2     kmalloc_reserve charges roundup_pow_of_two(size),
 *                           kfree_reserve uncharges ksize(object)
 *   RSV2007_CLAMP_USAGE     an uncharge below zero is clamped at 0 instead
 *                           of being reported
 *   RSV2007_CONNECT_NO_USAGE connect and disconnect move pages and limit
 *                           but not the usage of the moved subtree
 *   RSV2007_STRICT_LIMIT    a charge needs usage + c < limit (the last byte
 *                           of a reserve is unusable); declared to Reservoir
 *                           as a semantic choice unless
 *                           RSV2007_UNDECLARED_CHOICES is defined too
 * docs/ADAPTER.md shows how Reservoir finds each of them.
 *
 * Bookkeeping lives in host memory (calloc), not in the model: the model's
 * memory is the reserves' subject, and its pristine check counts every
 * object in it.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reservoir/adapter.h"

#define RSV_MAX_NODES 64
#define RSV_NAME_SIZE 32

enum rsv_kind { RSV_GROUP, RSV_PAGES, RSV_KMALLOC, RSV_CACHE };

struct reservoir_reserve {
  char name[RSV_NAME_SIZE];
  struct reservoir_reserve *parent;
  struct reservoir_reserve *first_child;
  struct reservoir_reserve *next_sibling;
  enum rsv_kind kind;
  uint64_t own_pages, pages; /* estimate of the own demand; + children */
  uint64_t own_limit, limit; /* bytes */
  uint64_t own_usage, usage; /* bytes */
};

static struct reservoir_reserve rsv_root;
static struct reservoir_reserve *rsv_nodes[RSV_MAX_NODES];
static int rsv_nr_nodes;

#define RSV_EINVAL 22
#define RSV_ENOMEM 12

static struct reservoir_reserve *rsv_top(struct reservoir_reserve *res) {
  while (res->parent != NULL) res = res->parent;
  return res;
}

static void rsv_reset(void) {
  int i;
  for (i = 0; i < rsv_nr_nodes; ++i) free(rsv_nodes[i]);
  rsv_nr_nodes = 0;
  memset(&rsv_root, 0, sizeof(rsv_root));
  strcpy(rsv_root.name, "root");
}

static struct reservoir_reserve *rsv_get_root(void) { return &rsv_root; }

static void rsv_link(struct reservoir_reserve *child,
                     struct reservoir_reserve *parent) {
  child->parent = parent;
  child->next_sibling = parent->first_child;
  parent->first_child = child;
}

static struct reservoir_reserve *rsv_create(const char *name,
                                            struct reservoir_reserve *parent) {
  struct reservoir_reserve *res;
  if (rsv_nr_nodes == RSV_MAX_NODES) return NULL;
  res = calloc(1, sizeof(*res));
  if (res == NULL) return NULL;
  strncpy(res->name, name, RSV_NAME_SIZE - 1);
  if (parent != NULL) rsv_link(res, parent);
  rsv_nodes[rsv_nr_nodes++] = res;
  return res;
}

/* Adds the deltas to `from` and every ancestor. */
static void rsv_add_along_path(struct reservoir_reserve *from, int64_t pages,
                               int64_t limit, int64_t usage) {
  for (; from != NULL; from = from->parent) {
    from->pages += (uint64_t)pages;
    from->limit += (uint64_t)limit;
    from->usage += (uint64_t)usage;
  }
}

/* The root's pages are the strict reserve: grow or shrink it first, so that
 * a refusal leaves everything as it was. */
static int rsv_resize_strict(struct reservoir_reserve *top, int64_t delta) {
  if (top != &rsv_root || delta == 0) return 0;
  return reservoir_set_strict_reserve(rsv_root.pages + (uint64_t)delta) == 0
             ? 0
             : -RSV_ENOMEM;
}

static int rsv_connect(struct reservoir_reserve *child,
                       struct reservoir_reserve *parent) {
  struct reservoir_reserve *at;
  int err;
  if (child == NULL || parent == NULL || child == &rsv_root ||
      child->parent != NULL)
    return -RSV_EINVAL;
  for (at = parent; at != NULL; at = at->parent)
    if (at == child) return -RSV_EINVAL; /* a cycle */
  err = rsv_resize_strict(rsv_top(parent), (int64_t)child->pages);
  if (err) return err;
  rsv_link(child, parent);
#ifdef RSV2007_CONNECT_NO_USAGE
  rsv_add_along_path(parent, (int64_t)child->pages, (int64_t)child->limit, 0);
#else
  rsv_add_along_path(parent, (int64_t)child->pages, (int64_t)child->limit,
                     (int64_t)child->usage);
#endif
  return 0;
}

static int rsv_disconnect(struct reservoir_reserve *child) {
  struct reservoir_reserve *parent, **link;
  if (child == NULL || child == &rsv_root || child->parent == NULL)
    return -RSV_EINVAL;
  parent = child->parent;
#ifdef RSV2007_CONNECT_NO_USAGE
  rsv_add_along_path(parent, -(int64_t)child->pages, -(int64_t)child->limit, 0);
#else
  rsv_add_along_path(parent, -(int64_t)child->pages, -(int64_t)child->limit,
                     -(int64_t)child->usage);
#endif
  if (rsv_top(parent) == &rsv_root && child->pages != 0)
    reservoir_set_strict_reserve(rsv_root.pages); /* shrinking never fails */
  for (link = &parent->first_child; *link != child; link = &(*link)->next_sibling) {
  }
  *link = child->next_sibling;
  child->parent = NULL;
  child->next_sibling = NULL;
  return 0;
}

/* mem_reserve_*_set(): replace the node's own demand, all or nothing. */
static int rsv_set(struct reservoir_reserve *res, enum rsv_kind kind,
                   uint64_t demand_size, uint64_t own_pages,
                   uint64_t own_limit) {
  struct reservoir_reserve *at;
  const int64_t pages_delta = (int64_t)own_pages - (int64_t)res->own_pages;
  const int64_t limit_delta = (int64_t)own_limit - (int64_t)res->own_limit;
  int err;
  if ((pages_delta > 0 || limit_delta > 0) &&
      reservoir_should_fail_reserve_set(res->name, demand_size))
    return -RSV_ENOMEM;
  if (res->own_usage > own_limit) return -RSV_ENOMEM;
  for (at = res; at != NULL; at = at->parent)
    if ((int64_t)at->limit + limit_delta < (int64_t)at->usage) return -RSV_ENOMEM;
  err = rsv_resize_strict(rsv_top(res), pages_delta);
  if (err) return err;
  res->kind = demand_size == 0 ? RSV_GROUP : kind;
  res->own_pages = own_pages;
  res->own_limit = own_limit;
  rsv_add_along_path(res, pages_delta, limit_delta, 0);
  return 0;
}

static int rsv_pages_set(struct reservoir_reserve *res, uint64_t pages) {
  if (res == NULL) return -RSV_EINVAL;
  if (pages > reservoir_nr_pages()) return -RSV_ENOMEM;
  return rsv_set(res, RSV_PAGES, pages * RESERVOIR_PAGE_SIZE, pages,
                 pages * RESERVOIR_PAGE_SIZE);
}

static int rsv_kmalloc_set(struct reservoir_reserve *res, uint64_t bytes) {
  if (res == NULL) return -RSV_EINVAL;
  if (bytes > reservoir_nr_pages() * RESERVOIR_PAGE_SIZE) return -RSV_ENOMEM;
  return rsv_set(res, RSV_KMALLOC, bytes,
                 reservoir_estimate_kmalloc_pages(bytes), bytes);
}

static int rsv_cache_set(struct reservoir_reserve *res,
                         struct reservoir_kmem_cache *cache, uint64_t objects) {
  uint64_t bytes;
  if (res == NULL || cache == NULL) return -RSV_EINVAL;
  bytes = objects * reservoir_kmem_cache_size(cache);
  if (bytes > reservoir_nr_pages() * RESERVOIR_PAGE_SIZE) return -RSV_ENOMEM;
  return rsv_set(res, RSV_CACHE, bytes,
                 reservoir_estimate_cache_pages(cache, objects), bytes);
}

static int rsv_fits(uint64_t usage, uint64_t charge, uint64_t limit) {
#ifdef RSV2007_STRICT_LIMIT
  return usage + charge < limit;
#else
  return usage + charge <= limit;
#endif
}

/* Charge every level up to the top; refuse if any level would exceed its
 * limit (the node itself: its own charges against its own limit). */
static int rsv_charge(struct reservoir_reserve *res, uint64_t bytes) {
  struct reservoir_reserve *at;
  if (res == NULL) return -RSV_EINVAL;
  if (reservoir_should_fail_reserve_charge(res->name, bytes)) return -RSV_ENOMEM;
  if (!rsv_fits(res->own_usage, bytes, res->own_limit)) return -RSV_ENOMEM;
  for (at = res; at != NULL; at = at->parent)
    if (!rsv_fits(at->usage, bytes, at->limit)) return -RSV_ENOMEM;
  res->own_usage += bytes;
  rsv_add_along_path(res, 0, 0, (int64_t)bytes);
  return 0;
}

static void rsv_uncharge(struct reservoir_reserve *res, uint64_t bytes) {
  struct reservoir_reserve *at;
#ifndef RSV2007_CLAMP_USAGE
  char detail[96];
#endif
  if (res == NULL) return;
  if (res->own_usage < bytes) {
#ifdef RSV2007_CLAMP_USAGE
    res->own_usage = 0;
#else
    snprintf(detail, sizeof(detail), "uncharge of %llu from '%s' which has %llu",
             (unsigned long long)bytes, res->name,
             (unsigned long long)res->own_usage);
    reservoir_report_accounting_bug("uncharge_below_zero", detail);
#endif
  } else {
    res->own_usage -= bytes;
  }
  for (at = res; at != NULL; at = at->parent) {
    if (at->usage < bytes) {
#ifdef RSV2007_CLAMP_USAGE
      at->usage = 0;
      continue;
#else
      snprintf(detail, sizeof(detail), "uncharge of %llu drives '%s' below 0",
               (unsigned long long)bytes, at->name);
      reservoir_report_accounting_bug("uncharge_below_zero", detail);
#endif
    }
    at->usage -= bytes;
  }
}

static int rsv_query(const struct reservoir_reserve *res,
                     struct reservoir_reserve_info *out) {
  if (res == NULL) return -RSV_EINVAL;
  out->parent = res->parent;
  out->pages = res->pages;
  out->limit = res->limit;
  out->usage = res->usage;
  return 0;
}

/* ---- The reserve wrappers ------------------------------------------- */

#define RSV_NO_RESERVES (RESERVOIR_GFP_NOMEMALLOC | RESERVOIR_GFP_NOWARN)

#ifdef RSV2007_CHARGE_POW2
static uint64_t rsv_roundup_pow_of_two(uint64_t x) {
  uint64_t r = 1;
  while (r < x) r <<= 1;
  return r;
}
#endif

static void *rsv_kmalloc_reserve(size_t size, reservoir_gfp_t gfp,
                                 struct reservoir_reserve *res, int *emerg) {
  uint64_t charge;
  void *obj = reservoir_kmalloc(size, gfp | RSV_NO_RESERVES);
  if (obj != NULL || !reservoir_gfp_pfmemalloc_allowed(gfp) || size == 0)
    return obj;
#ifdef RSV2007_CHARGE_POW2
  charge = size <= 8192 ? rsv_roundup_pow_of_two(size)
                        : reservoir_kmalloc_class_size(size);
#else
  charge = reservoir_kmalloc_class_size(size);
#endif
  if (rsv_charge(res, charge) != 0) return NULL;
  obj = reservoir_kmalloc(size, gfp);
  if (obj == NULL) {
    rsv_uncharge(res, charge);
    return NULL;
  }
  *emerg = 1;
  return obj;
}

static void rsv_kfree_reserve(void *obj, struct reservoir_reserve *res,
                              int emerg) {
  const uint64_t size = emerg ? reservoir_ksize(obj) : 0;
  reservoir_kfree(obj);
  if (emerg) rsv_uncharge(res, size);
}

static reservoir_pfn_t rsv_alloc_pages_reserve(reservoir_gfp_t gfp,
                                               unsigned order,
                                               struct reservoir_reserve *res,
                                               int *emerg) {
  const uint64_t charge = (uint64_t)RESERVOIR_PAGE_SIZE << order;
  reservoir_pfn_t pfn = reservoir_alloc_pages(gfp | RSV_NO_RESERVES, order);
  if (pfn != RESERVOIR_NO_PAGE || !reservoir_gfp_pfmemalloc_allowed(gfp) ||
      order > reservoir_max_order())
    return pfn;
  if (rsv_charge(res, charge) != 0) return RESERVOIR_NO_PAGE;
  pfn = reservoir_alloc_pages(gfp, order);
  if (pfn == RESERVOIR_NO_PAGE) {
    rsv_uncharge(res, charge);
    return RESERVOIR_NO_PAGE;
  }
  *emerg = 1;
  return pfn;
}

static void rsv_free_pages_reserve(reservoir_pfn_t pfn, unsigned order,
                                   struct reservoir_reserve *res, int emerg) {
  reservoir_free_pages(pfn, order);
  if (emerg) rsv_uncharge(res, (uint64_t)RESERVOIR_PAGE_SIZE << order);
}

static void *rsv_cache_alloc_reserve(struct reservoir_kmem_cache *cache,
                                     reservoir_gfp_t gfp,
                                     struct reservoir_reserve *res,
                                     int *emerg) {
  const uint64_t charge = reservoir_kmem_cache_size(cache);
  void *obj = reservoir_kmem_cache_alloc(cache, gfp | RSV_NO_RESERVES);
  if (obj != NULL || !reservoir_gfp_pfmemalloc_allowed(gfp)) return obj;
  if (rsv_charge(res, charge) != 0) return NULL;
  obj = reservoir_kmem_cache_alloc(cache, gfp);
  if (obj == NULL) {
    rsv_uncharge(res, charge);
    return NULL;
  }
  *emerg = 1;
  return obj;
}

static void rsv_cache_free_reserve(struct reservoir_kmem_cache *cache,
                                   void *obj, struct reservoir_reserve *res,
                                   int emerg) {
  reservoir_kmem_cache_free(cache, obj);
  if (emerg) rsv_uncharge(res, reservoir_kmem_cache_size(cache));
}

#if defined(RSV2007_STRICT_LIMIT) && !defined(RSV2007_UNDECLARED_CHOICES)
#define RSV2007_CHOICES RESERVOIR_CHOICE_STRICT_LIMIT
#else
#define RSV2007_CHOICES 0u
#endif

static const struct reservoir_adapter rsv2007_table = {
    .abi = RESERVOIR_ADAPTER_ABI,
    .name = "reserve2007",
    .choices = RSV2007_CHOICES,
    .reset = rsv_reset,
    .root = rsv_get_root,
    .create = rsv_create,
    .connect = rsv_connect,
    .disconnect = rsv_disconnect,
    .pages_set = rsv_pages_set,
    .kmalloc_set = rsv_kmalloc_set,
    .cache_set = rsv_cache_set,
    .charge = rsv_charge,
    .uncharge = rsv_uncharge,
    .query = rsv_query,
    .kmalloc_reserve = rsv_kmalloc_reserve,
    .kfree_reserve = rsv_kfree_reserve,
    .alloc_pages_reserve = rsv_alloc_pages_reserve,
    .free_pages_reserve = rsv_free_pages_reserve,
    .kmem_cache_alloc_reserve = rsv_cache_alloc_reserve,
    .kmem_cache_free_reserve = rsv_cache_free_reserve,
};

RESERVOIR_ADAPTER_ENTRY(rsv2007_table)
