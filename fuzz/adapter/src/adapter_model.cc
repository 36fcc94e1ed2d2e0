// AdapterModel: layer 3 through an adapter's table, validated, with the
// oracle checks the model makes inside its own wrappers made from outside.
#include "reservoir/adapter/adapter_model.h"

#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "reservoir/estimator.h"
#include "reservoir/report.h"
#include "reservoir/slab_allocator.h"

namespace reservoir::adapter {

AdapterModel* AdapterModel::active_ = nullptr;

namespace {

constexpr const char* kChoiceNames[] = {"strict-limit", "estimator",
                                        "kmalloc-charge", "refusals"};

[[noreturn]] void Contract(const char* place, const char* format, ...)
    __attribute__((format(printf, 2, 3)));

void Contract(const char* place, const char* format, ...) {
  char detail[320];
  va_list args;
  va_start(args, format);
  std::vsnprintf(detail, sizeof(detail), format, args);
  va_end(args);
  ReportBug(BugClass::kAdapterContract, place, "adapter: %s", detail);
}

}  // namespace

bool ParseChoices(const char* list, unsigned* out) {
  unsigned choices = 0;
  const char* at = list;
  while (*at != '\0') {
    const char* end = std::strchr(at, ',');
    const size_t length = end == nullptr ? std::strlen(at) : end - at;
    bool known = false;
    for (unsigned i = 0; i < std::size(kChoiceNames); ++i) {
      if (std::strlen(kChoiceNames[i]) == length &&
          std::strncmp(kChoiceNames[i], at, length) == 0) {
        choices |= 1u << i;
        known = true;
      }
    }
    if (!known) return false;
    at += length;
    if (*at == ',') ++at;
  }
  *out = choices;
  return true;
}

AdapterOptions AdapterOptionsFromEnvironment(AdapterOptions options) {
  if (const char* lockstep = std::getenv("RESERVOIR_LOCKSTEP")) {
    if (std::strcmp(lockstep, "1") != 0 && std::strcmp(lockstep, "0") != 0) {
      std::fprintf(stderr, "reservoir: RESERVOIR_LOCKSTEP=%s: expected 0 or 1\n",
                   lockstep);
      std::exit(2);
    }
    options.lockstep = lockstep[0] == '1';
  }
  if (const char* allow = std::getenv("RESERVOIR_LOCKSTEP_ALLOW")) {
    options.extra_choices = 0;
    if (!ParseChoices(allow, &options.extra_choices)) {
      std::fprintf(stderr, "reservoir: RESERVOIR_LOCKSTEP_ALLOW=%s: expected a "
                   "comma-separated list of strict-limit, estimator, "
                   "kmalloc-charge, refusals\n", allow);
      std::exit(2);
    }
  }
  return options;
}

CallScope::CallScope(const AdapterModel* model, const AllocContext& ctx,
                     const char* site)
    : previous_(AdapterModel::active_) {
  AdapterModel* self = const_cast<AdapterModel*>(model);
  saved_ = self->call_;
  self->call_ = AdapterModel::Call{};
  self->call_.ctx = ctx;
  self->call_.site = site;
  AdapterModel::active_ = self;
}

CallScope::~CallScope() {
  if (AdapterModel::active_ != nullptr) AdapterModel::active_->call_ = saved_;
  AdapterModel::active_ = previous_;
}

reservoir_kmem_cache* AdapterModel::EncodeCache(const KmemCache* cache) {
  if (cache == nullptr) return nullptr;
  // Not a pointer into the model: an (id, generation) pair, so a stale or
  // made-up value is recognised instead of dereferenced.
  const uintptr_t code = (uintptr_t{cache->generation} << 16 | cache->id) + 1;
  return reinterpret_cast<reservoir_kmem_cache*>(code);
}

KmemCache* AdapterModel::DecodeCache(const reservoir_kmem_cache* cache) {
  const uintptr_t code = reinterpret_cast<uintptr_t>(cache);
  if (code == 0) return nullptr;
  const uint16_t id = static_cast<uint16_t>((code - 1) & 0xffff);
  const uint64_t generation = (code - 1) >> 16;
  KmemCache* kc = model().slab().CacheById(id);
  if (kc == nullptr || kc->generation != generation) return nullptr;
  return kc;
}

AdapterModel::AdapterModel(const ModelConfig& config, uint32_t capacity_pages,
                           const reservoir_adapter* table,
                           const AdapterOptions& options)
    : ReservoirModel(config, capacity_pages), table_(table), options_(options) {
  if (table == nullptr) {
    Contract("adapter.table_missing", "the adapter entry returned no table");
  }
  if (table->abi != RESERVOIR_ADAPTER_ABI) {
    Contract("adapter.table_abi", "table '%s' has ABI %d, Reservoir speaks %d",
             table->name != nullptr ? table->name : "?", table->abi,
             RESERVOIR_ADAPTER_ABI);
  }
  struct Required {
    const char* name;
    bool present;
  } const required[] = {
      {"reset", table->reset != nullptr},
      {"root", table->root != nullptr},
      {"create", table->create != nullptr},
      {"connect", table->connect != nullptr},
      {"disconnect", table->disconnect != nullptr},
      {"pages_set", table->pages_set != nullptr},
      {"kmalloc_set", table->kmalloc_set != nullptr},
      {"cache_set", table->cache_set != nullptr},
      {"charge", table->charge != nullptr},
      {"uncharge", table->uncharge != nullptr},
      {"query", table->query != nullptr},
      {"kmalloc_reserve", table->kmalloc_reserve != nullptr},
      {"kfree_reserve", table->kfree_reserve != nullptr},
      {"alloc_pages_reserve", table->alloc_pages_reserve != nullptr},
      {"free_pages_reserve", table->free_pages_reserve != nullptr},
      {"kmem_cache_alloc_reserve", table->kmem_cache_alloc_reserve != nullptr},
      {"kmem_cache_free_reserve", table->kmem_cache_free_reserve != nullptr},
  };
  for (const Required& r : required) {
    if (!r.present) {
      Contract("adapter.table_incomplete", "table '%s' has no %s function",
               table->name != nullptr ? table->name : "?", r.name);
    }
  }
  choices_ = table->choices | options.extra_choices;
  if (options.lockstep) {
    reference_ = std::make_unique<exec::ReservoirModel>(config, capacity_pages);
  }
  ResetAdapter();
}

AdapterModel::~AdapterModel() {
  if (active_ == this) active_ = nullptr;
}

void AdapterModel::ResetAdapter() {
  for (Node& node : nodes_) node = Node{};
  next_node_ = 1;
  unaccounted_ = false;
  demand_changed_in_use_ = false;
  live_grants_.clear();
  ref_objects_.clear();
  ref_caches_.clear();
  ref_grants_.clear();
  in_step_ = reference_ != nullptr;
  ref_node_[0] = 0;
  CallScope scope(this, AllocContext{}, "reset");
  table_->reset();
  reservoir_reserve* root = table_->root();
  if (root == nullptr) Contract("adapter.root_null", "root() returned NULL");
  nodes_[0].ptr = root;
  nodes_[0].live = true;
}

void AdapterModel::ResetInto(const ModelConfig& config) {
  model().Reset(config);
  if (reference_ != nullptr) reference_->model().Reset(config);
  ResetAdapter();
}

void AdapterModel::Reset() {
  ReservoirModel::Reset();
  if (reference_ != nullptr) reference_->Reset();
  ResetAdapter();
}

void AdapterModel::SetFaultHook(FaultHook* hook) {
  // The reference never sees injected faults: a hook's decisions cannot be
  // replayed twice. Lockstep stops at the first injected failure.
  ReservoirModel::SetFaultHook(hook);
}

void AdapterModel::SetAuditLevel(AuditLevel level) {
  ReservoirModel::SetAuditLevel(level);
  if (reference_ != nullptr) reference_->SetAuditLevel(level);
}

// ---------------------------------------------------------------------------
// Handles and views.

reservoir_reserve* AdapterModel::PtrOf(ReserveHandle node) const {
  if (node >= kMaxReserves || !nodes_[node].live) return nullptr;
  return nodes_[node].ptr;
}

ReserveHandle AdapterModel::HandleOf(const reservoir_reserve* ptr,
                                     const char* when) const {
  if (ptr == nullptr) return exec::kNoReserveHandle;
  for (int i = 0; i < next_node_; ++i) {
    if (nodes_[i].live && nodes_[i].ptr == ptr) return static_cast<ReserveHandle>(i);
  }
  Contract("adapter.query_unknown_parent", "query() during %s named a parent "
           "%p that create() and root() never returned", when,
           static_cast<const void*>(ptr));
}

ReserveView AdapterModel::ViewOf(ReserveHandle node, const char* when) const {
  ReserveView view;
  if (node >= kMaxReserves || !nodes_[node].live) return view;
  reservoir_reserve_info info{};
  int status;
  {
    CallScope scope(this, AllocContext{}, "query");
    status = table_->query(nodes_[node].ptr, &info);
  }
  if (status != 0) {
    Contract("adapter.query_refused", "query() of live reserve #%u returned %d "
             "during %s", node, status, when);
  }
  view.live = true;
  view.parent = HandleOf(info.parent, when);
  view.pages = info.pages;
  view.limit = info.limit;
  view.usage = info.usage;
  const uint64_t arena = const_cast<AdapterModel*>(this)->model().pages().nr_pages();
  // A detached subtree backs nothing, so only the root is bounded by the
  // arena (the audit bounds the others by their parents).
  if (node == 0 && view.pages > arena) {
    Contract("adapter.query_impossible_pages", "the root reports %llu pages "
             "in an arena of %llu during %s",
             static_cast<unsigned long long>(view.pages),
             static_cast<unsigned long long>(arena), when);
  }
  if (node == 0 && view.parent != exec::kNoReserveHandle) {
    Contract("adapter.query_root_has_parent", "the root reports parent #%u "
             "during %s", view.parent, when);
  }
  if (view.parent == node) {
    Contract("adapter.query_own_parent", "reserve #%u reports itself as its "
             "parent during %s", node, when);
  }
  return view;
}

ReserveView AdapterModel::Reserve(ReserveHandle node) const {
  return ViewOf(node, "reserve_view");
}

bool AdapterModel::AttachedToRoot(ReserveHandle node) const {
  for (int steps = 0; node != exec::kNoReserveHandle && steps <= kMaxReserves;
       ++steps) {
    if (node == 0) return true;
    node = nodes_[node].parent;
  }
  return false;
}

bool AdapterModel::Budgets(ReserveHandle node, ReserveKind kind,
                           const KmemCache* cache) const {
  if (node >= kMaxReserves || !nodes_[node].live) return false;
  const Node& n = nodes_[node];
  if (n.kind != kind || !AttachedToRoot(node)) return false;
  return kind != ReserveKind::kCache ||
         (n.cache_id == cache->id && n.cache_generation == cache->generation);
}

bool AdapterModel::Fits(ReserveHandle node, uint64_t charge) const {
  const Node& n = nodes_[node];
  if (choices_ & RESERVOIR_CHOICE_STRICT_LIMIT) {
    return n.charged + charge < n.declared_limit;
  }
  return n.charged + charge <= n.declared_limit;
}

// The model's cheap reserve audit (ReserveTree::AuditPath), on the views:
// every level from `node` up has usage <= limit, and the root's pages are
// the strict reserve.
void AdapterModel::AfterReserveOp(ReserveHandle node) const {
  if (config().audit == AuditLevel::kOff) return;
  ReserveHandle at = node;
  for (int steps = 0; at != exec::kNoReserveHandle && steps <= kMaxReserves;
       ++steps) {
    const ReserveView view = ViewOf(at, "audit");
    if (!view.live) break;
    if (view.usage > view.limit) {
      ReportBug(BugClass::kAccountingImbalance, "reserve.audit_usage_above_limit",
                "adapter reserve #%u: usage %llu above its limit %llu", at,
                static_cast<unsigned long long>(view.usage),
                static_cast<unsigned long long>(view.limit));
    }
    at = view.parent;
  }
  const ReserveView root = ViewOf(0, "audit");
  const uint64_t strict = const_cast<AdapterModel*>(this)->model().pages().strict_reserve();
  if (root.pages != strict) {
    ReportBug(BugClass::kAccountingImbalance,
              "reserve.audit_path_root_vs_strict_reserve", "the adapter's root "
              "reserve holds %llu pages but the strict reserve is %llu",
              static_cast<unsigned long long>(root.pages),
              static_cast<unsigned long long>(strict));
  }
}

void AdapterModel::AfterWrapper() const {
  if (config().audit == AuditLevel::kFull) AuditFull();
}

void AdapterModel::AuditFull() const {
  Model& m = const_cast<AdapterModel*>(this)->model();
  m.pages().AuditFull();
  m.slab().AuditFull();
  if (table_->audit != nullptr) {
    CallScope scope(this, AllocContext{}, "audit");
    table_->audit();
  }
  // Children never hold more than their parent (pages, limit and usage are
  // a node's own plus its children's).
  uint64_t pages[kMaxReserves] = {}, limit[kMaxReserves] = {},
           usage[kMaxReserves] = {};
  ReserveView views[kMaxReserves];
  for (int i = 0; i < next_node_; ++i) {
    views[i] = ViewOf(static_cast<ReserveHandle>(i), "audit");
    if (!views[i].live) continue;
    if (views[i].usage > views[i].limit) {
      ReportBug(BugClass::kAccountingImbalance, "reserve.audit_usage_above_limit",
                "adapter reserve #%d: usage %llu above its limit %llu", i,
                static_cast<unsigned long long>(views[i].usage),
                static_cast<unsigned long long>(views[i].limit));
    }
    const ReserveHandle parent = views[i].parent;
    if (parent != exec::kNoReserveHandle) {
      pages[parent] += views[i].pages;
      limit[parent] += views[i].limit;
      usage[parent] += views[i].usage;
    }
  }
  for (int i = 0; i < next_node_; ++i) {
    if (!views[i].live) continue;
    if (pages[i] > views[i].pages || limit[i] > views[i].limit ||
        usage[i] > views[i].usage) {
      Contract("adapter.view_children_exceed_parent", "the children of reserve "
               "#%d hold pages %llu limit %llu usage %llu, more than it "
               "(pages %llu limit %llu usage %llu)", i,
               static_cast<unsigned long long>(pages[i]),
               static_cast<unsigned long long>(limit[i]),
               static_cast<unsigned long long>(usage[i]),
               static_cast<unsigned long long>(views[i].pages),
               static_cast<unsigned long long>(views[i].limit),
               static_cast<unsigned long long>(views[i].usage));
    }
  }
  if (views[0].pages != m.pages().strict_reserve()) {
    ReportBug(BugClass::kAccountingImbalance,
              "reserve.audit_full_root_vs_strict_reserve", "the adapter's root "
              "reserve holds %llu pages but the strict reserve is %llu",
              static_cast<unsigned long long>(views[0].pages),
              static_cast<unsigned long long>(m.pages().strict_reserve()));
  }
}

// Model::CheckPristine with the adapter's views in place of the model's
// reserve tree: same checks, same places.
void AdapterModel::CheckPristine() {
  AuditFull();
  Model& m = model();
  m.slab().ShrinkAll();
  if (m.slab().live_objects() != 0) {
    ReportBug(BugClass::kReserveLeak, "model.pristine_slab_objects",
              "%llu slab objects are still live after everything was freed",
              static_cast<unsigned long long>(m.slab().live_objects()));
  }
  for (int i = 0; i < next_node_; ++i) {
    const ReserveView view = ViewOf(static_cast<ReserveHandle>(i), "pristine");
    if (view.live && view.usage != 0) {
      ReportBug(BugClass::kReserveLeak, "model.pristine_reserve_usage",
                "adapter reserve #%d still has %llu charged after everything "
                "was freed", i, static_cast<unsigned long long>(view.usage));
    }
  }
  if (m.pages().strict_reserve() != 0) {
    ReportBug(BugClass::kReserveLeak, "model.pristine_strict_reserve",
              "the strict reserve still holds %llu pages after every reserve "
              "was released",
              static_cast<unsigned long long>(m.pages().strict_reserve()));
  }
  if (!m.pages().IsPristine()) {
    char why[160];
    m.pages().DescribeNotPristine(why, sizeof(why));
    ReportBug(BugClass::kReserveLeak, "model.pristine_pages",
              "after everything was freed, %s", why);
  }
}

// ---------------------------------------------------------------------------
// Layer 3.

ReserveHandle AdapterModel::ReserveCreate(const char* name,
                                          ReserveHandle parent) {
  if (next_node_ >= kMaxReserves) {
    // The model's table is as large; both refuse.
    if (lockstep_active()) {
      const ReserveHandle ref = reference_->ReserveCreate(name, RefNode(parent));
      CompareResult("reserve_create", false, ref != exec::kNoReserveHandle, 0);
    }
    return exec::kNoReserveHandle;
  }
  reservoir_reserve* ptr;
  {
    CallScope scope(this, AllocContext{}, "reserve_create");
    ptr = table_->create(name, PtrOf(parent));
  }
  ReserveHandle handle = exec::kNoReserveHandle;
  if (ptr != nullptr) {
    for (int i = 0; i < next_node_; ++i) {
      if (nodes_[i].live && nodes_[i].ptr == ptr) {
        Contract("adapter.create_returned_live_node", "create() returned %p, "
                 "which is already reserve #%d", static_cast<void*>(ptr), i);
      }
    }
    handle = static_cast<ReserveHandle>(next_node_++);
    Node& node = nodes_[handle];
    node = Node{};
    node.ptr = ptr;
    node.live = true;
    node.parent = parent;
  }
  if (lockstep_active()) {
    const ReserveHandle ref = reference_->ReserveCreate(name, RefNode(parent));
    if (handle != exec::kNoReserveHandle) ref_node_[handle] = ref;
    CompareResult("reserve_create", handle != exec::kNoReserveHandle,
                  ref != exec::kNoReserveHandle, 0);
  }
  if (handle != exec::kNoReserveHandle) {
    const ReserveView view = ViewOf(handle, "reserve_create");
    if (view.parent != parent) {
      Contract("adapter.create_wrong_parent", "create() under #%u made reserve "
               "#%u whose parent is #%u", parent, handle, view.parent);
    }
    AfterReserveOp(handle);
  }
  CompareViews("reserve_create", 0);
  return handle;
}

void AdapterModel::SetDemand(ReserveHandle node, int result, ReserveKind kind,
                             uint64_t limit, const KmemCache* cache,
                             bool zero, uint64_t pages_before) {
  if (result != 0 || node >= kMaxReserves || !nodes_[node].live) return;
  Node& n = nodes_[node];
  const ReserveKind new_kind = zero ? ReserveKind::kGroup : kind;
  const bool retargeted =
      n.kind != ReserveKind::kGroup &&
      (new_kind != n.kind ||
       (kind == ReserveKind::kCache && cache != nullptr &&
        cache->id != n.cache_id));
  const uint64_t pages_after = ViewOf(node, "reserve_set").pages;
  if ((retargeted || pages_after < pages_before) &&
      model().pages().pfmemalloc_pages() > 0) {
    demand_changed_in_use_ = true;
  }
  n.kind = new_kind;
  n.declared_limit = limit;
  n.cache_id = cache != nullptr ? cache->id : 0;
  n.cache_generation = cache != nullptr ? cache->generation : 0;
}

int AdapterModel::ReservePagesSet(ReserveHandle node, uint64_t pages) {
  const uint64_t pages_before = ViewOf(node, "reserve_set_pages").pages;
  int result;
  {
    CallScope scope(this, AllocContext{}, "mem_reserve_set");
    result = table_->pages_set(PtrOf(node), pages);
  }
  SetDemand(node, result, ReserveKind::kPages, pages * kPageSize, nullptr,
            pages == 0, pages_before);
  if (lockstep_active()) {
    CompareResult("reserve_set_pages", result == 0,
                  reference_->ReservePagesSet(RefNode(node), pages) == 0,
                  RESERVOIR_CHOICE_REFUSALS);
  }
  AfterReserveOp(node);
  CompareViews("reserve_set_pages", RESERVOIR_CHOICE_ESTIMATOR);
  return result;
}

int AdapterModel::ReserveKmallocSet(ReserveHandle node, uint64_t bytes) {
  const uint64_t pages_before = ViewOf(node, "reserve_set_kmalloc").pages;
  int result;
  {
    CallScope scope(this, AllocContext{}, "mem_reserve_set");
    result = table_->kmalloc_set(PtrOf(node), bytes);
  }
  SetDemand(node, result, ReserveKind::kKmalloc, bytes, nullptr, bytes == 0,
            pages_before);
  if (lockstep_active()) {
    CompareResult("reserve_set_kmalloc", result == 0,
                  reference_->ReserveKmallocSet(RefNode(node), bytes) == 0,
                  RESERVOIR_CHOICE_REFUSALS | RESERVOIR_CHOICE_ESTIMATOR);
  }
  AfterReserveOp(node);
  CompareViews("reserve_set_kmalloc", RESERVOIR_CHOICE_ESTIMATOR);
  return result;
}

int AdapterModel::ReserveCacheSet(ReserveHandle node, CacheHandle cache,
                                  uint64_t objects) {
  KmemCache* kc = cache >= 0 ? model().slab().CacheById(static_cast<uint16_t>(cache))
                             : nullptr;
  const uint64_t pages_before = ViewOf(node, "reserve_set_cache").pages;
  int result;
  {
    CallScope scope(this, AllocContext{}, "mem_reserve_set");
    result = table_->cache_set(PtrOf(node), EncodeCache(kc), objects);
  }
  if (kc != nullptr) {
    SetDemand(node, result, ReserveKind::kCache, objects * kc->size, kc,
              objects == 0, pages_before);
  }
  if (lockstep_active()) {
    const auto ref = ref_caches_.find(cache);
    CompareResult("reserve_set_cache", result == 0,
                  ref != ref_caches_.end() &&
                      reference_->ReserveCacheSet(RefNode(node), ref->second,
                                                  objects) == 0,
                  RESERVOIR_CHOICE_REFUSALS | RESERVOIR_CHOICE_ESTIMATOR);
  }
  AfterReserveOp(node);
  CompareViews("reserve_set_cache", RESERVOIR_CHOICE_ESTIMATOR);
  return result;
}

int AdapterModel::ReserveConnect(ReserveHandle child, ReserveHandle parent) {
  int result;
  {
    CallScope scope(this, AllocContext{}, "reserve_connect");
    result = table_->connect(PtrOf(child), PtrOf(parent));
  }
  if (result == 0 && child < kMaxReserves) nodes_[child].parent = parent;
  if (lockstep_active()) {
    CompareResult("reserve_connect", result == 0,
                  reference_->ReserveConnect(RefNode(child),
                                             RefNode(parent)) == 0,
                  RESERVOIR_CHOICE_REFUSALS);
  }
  AfterReserveOp(child);
  CompareViews("reserve_connect", 0);
  return result;
}

int AdapterModel::ReserveDisconnect(ReserveHandle child) {
  ReserveHandle old_parent =
      child < kMaxReserves ? nodes_[child].parent : exec::kNoReserveHandle;
  int result;
  {
    CallScope scope(this, AllocContext{}, "reserve_disconnect");
    result = table_->disconnect(PtrOf(child));
  }
  if (result == 0 && child < kMaxReserves) {
    nodes_[child].parent = exec::kNoReserveHandle;
  }
  if (lockstep_active()) {
    CompareResult("reserve_disconnect", result == 0,
                  reference_->ReserveDisconnect(RefNode(child)) == 0,
                  RESERVOIR_CHOICE_REFUSALS);
  }
  AfterReserveOp(result == 0 && old_parent != exec::kNoReserveHandle
                     ? old_parent : child);
  CompareViews("reserve_disconnect", 0);
  return result;
}

int AdapterModel::ReserveCharge(ReserveHandle node, uint64_t bytes) {
  int result;
  {
    CallScope scope(this, AllocContext{}, "reserve_charge");
    result = table_->charge(PtrOf(node), bytes);
  }
  if (result == 0 && node < kMaxReserves) nodes_[node].charged += bytes;
  if (lockstep_active()) {
    CompareResult("reserve_charge", result == 0,
                  reference_->ReserveCharge(RefNode(node), bytes) == 0,
                  RESERVOIR_CHOICE_STRICT_LIMIT | RESERVOIR_CHOICE_REFUSALS);
  }
  AfterReserveOp(node);
  CompareViews("reserve_charge", 0);
  return result;
}

void AdapterModel::ReserveUncharge(ReserveHandle node, uint64_t bytes) {
  {
    CallScope scope(this, AllocContext{}, "reserve_uncharge");
    table_->uncharge(PtrOf(node), bytes);
  }
  if (node < kMaxReserves) nodes_[node].charged -= bytes;
  if (lockstep_active()) reference_->ReserveUncharge(RefNode(node), bytes);
  AfterReserveOp(node);
  CompareViews("reserve_uncharge", 0);
}

// ---------------------------------------------------------------------------
// The reserve wrappers.

void AdapterModel::CheckGrantObject(const void* object, const char* what,
                                    int expected_cache) {
  Model& m = model();
  char place[80];
  const Pfn head = m.pages().AllocatedHeadOf(object);
  if (head == kNoPfn) {
    std::snprintf(place, sizeof(place), "adapter.grant_foreign_object/%s", what);
    Contract(place, "%s returned %p, which is no allocated memory of the "
             "model", what, object);
  }
  const PageFrame& frame = m.pages().frame(head);
  bool right_kind;
  if (expected_cache < 0) {
    right_kind = (frame.flags & kPageSlab)
                     ? frame.owner >= 1 && frame.owner <= kKmallocClasses
                     : frame.owner == kLargeKmallocOwner &&
                           object == m.pages().PageAddress(head);
  } else {
    right_kind = (frame.flags & kPageSlab) &&
                 frame.owner == static_cast<uint32_t>(expected_cache) + 1;
  }
  if (!right_kind) {
    std::snprintf(place, sizeof(place), "adapter.grant_wrong_kind/%s", what);
    Contract(place, "%s returned %p, which is not a %s object", what, object,
             expected_cache < 0 ? "kmalloc" : "cache");
  }
  if (live_grants_.count(object) != 0) {
    std::snprintf(place, sizeof(place), "adapter.grant_already_live/%s", what);
    Contract(place, "%s returned %p, which is already a live grant", what,
             object);
  }
}

void AdapterModel::CheckGuarantee(const char* what, uint64_t size,
                                  uint64_t charge, ReserveHandle node,
                                  bool guaranteed, uint64_t injected_from) {
  // As Model::AllocateEmergency: unless a fault was injected after the
  // normal attempt (at the charge or the emergency allocation), or reserve
  // memory was used unaccounted, a user within its declared reserve whose
  // reserve budgets this request must not fail.
  Model& m = model();
  if (!guaranteed || m.fault_gate().injected_total() != injected_from ||
      unaccounted_ || demand_changed_in_use_ || m.reserve_used_unaccounted() ||
      !Fits(node, charge)) {
    return;
  }
  char place[80];
  std::snprintf(place, sizeof(place), "reserve.guarantee/%s", what);
  ReportBug(BugClass::kGuaranteeViolation, place, "%s(%llu) failed for adapter "
            "reserve #%u within its declared limit (charged %llu + %llu <= "
            "limit %llu); strict reserve %llu pages, %llu reserve pages in "
            "use, estimator %s", what, static_cast<unsigned long long>(size),
            node, static_cast<unsigned long long>(nodes_[node].charged),
            static_cast<unsigned long long>(charge),
            static_cast<unsigned long long>(nodes_[node].declared_limit),
            static_cast<unsigned long long>(m.pages().strict_reserve()),
            static_cast<unsigned long long>(m.pages().pfmemalloc_pages()),
            EstimatorKindName(config().estimator));
}

Grant AdapterModel::FinishGrant(void* object, PageHandle page, int order,
                                int emergency, ReserveHandle node,
                                uint64_t usage_before, const char* what) {
  Grant grant;
  grant.object = object;
  grant.page = page;
  grant.order = order;
  grant.node = node;
  grant.emergency = emergency != 0;
  // What the wrapper charged is what it added to the node's usage: the
  // free must take exactly that away again (the ledger checks it does).
  const uint64_t usage_after = ViewOf(node, what).usage;
  grant.charged = usage_after > usage_before ? usage_after - usage_before : 0;
  if (grant.emergency && node < kMaxReserves) nodes_[node].charged += grant.charged;
  live_grants_[object] = 1;
  return grant;
}

// The end of the three reserve-allocation wrappers in lockstep, once the
// reference has made its own grant `ref` for the same call: compare the
// results, keep the pair for the free, or give back (release_ref) a grant
// only the reference made, so that the two trees stay alike; then compare
// the views. compare_both adds the wrapper's own checks of a pair, after
// the emergency flags and before the views, so that a divergence names the
// first difference.
template <typename ReleaseRef, typename CompareBoth>
void AdapterModel::LockstepGrant(const char* what, const Grant& grant,
                                 const Grant& ref, unsigned views_excuse,
                                 ReleaseRef release_ref,
                                 CompareBoth compare_both) {
  CompareResult(what, grant.ok(), ref.ok(),
                RESERVOIR_CHOICE_STRICT_LIMIT | RESERVOIR_CHOICE_ESTIMATOR);
  if (grant.ok() && ref.ok()) {
    ref_grants_[grant.object] = ref;
    CompareEmergency(what, grant.emergency, ref.emergency);
    compare_both();
  } else if (ref.ok()) {
    release_ref();  // keep the reference tidy
  }
  CompareViews(what, views_excuse);
}

Grant AdapterModel::KmallocReserve(size_t size, const AllocContext& ctx,
                                   ReserveHandle node) {
  const uint64_t usage_before = ViewOf(node, "kmalloc_reserve").usage;
  const uint64_t injected_start = model().fault_gate().injected_total();
  int emergency = 0;
  void* object;
  uint64_t injected_from;
  {
    CallScope scope(this, ctx, "kmalloc_reserve");
    object = table_->kmalloc_reserve(size, ctx.gfp, PtrOf(node), &emergency);
    injected_from = call_.allocations > 0 ? call_.injected_after_first
                                          : injected_start;
  }
  Grant grant;
  grant.node = node;
  const bool budgeted = Budgets(node, ReserveKind::kKmalloc, nullptr);
  if (object != nullptr) {
    CheckGrantObject(object, "kmalloc_reserve", -1);
    grant = FinishGrant(object, exec::kNoPage, 0, emergency, node, usage_before,
                        "kmalloc_reserve");
    if (grant.emergency && !budgeted) unaccounted_ = true;
  }
  AfterWrapper();
  if (lockstep_active()) {
    const Grant ref = reference_->KmallocReserve(size, ctx, RefNode(node));
    LockstepGrant(
        "kmalloc_reserve", grant, ref, RESERVOIR_CHOICE_KMALLOC_CHARGE,
        [&] { reference_->KfreeReserve(ref, ctx.cpu); },
        [&] {
          if (lockstep_active() && grant.charged != ref.charged &&
              !Excused(RESERVOIR_CHOICE_KMALLOC_CHARGE)) {
            Diverged("lockstep.kmalloc_reserve/charged", "kmalloc_reserve(%zu) "
                     "charged %llu, the reference %llu", size,
                     static_cast<unsigned long long>(grant.charged),
                     static_cast<unsigned long long>(ref.charged));
          }
        });
  }
  // After lockstep, so that a divergence names the difference first.
  if (object == nullptr && IsEntitled(ctx) && size != 0) {
    const int index = KmallocIndex(size);
    const bool guaranteed =
        index >= 0 && KmallocClassSize(index) <= kPageSize && budgeted;
    CheckGuarantee("kmalloc_reserve", size, KmallocChargeBytes(size), node,
                   guaranteed, injected_from);
  }
  return grant;
}

// The end of the three reserve-free wrappers, once the adapter has freed
// `grant`: it is no longer live and no longer charged to its node; in
// lockstep the reference frees its grant of the pair (free_ref, which says
// whether it could) and the views are compared.
template <typename FreeRef>
void AdapterModel::EndFree(const char* what, const Grant& grant,
                           unsigned views_excuse, FreeRef free_ref) {
  live_grants_.erase(grant.object);
  if (grant.emergency && grant.node < kMaxReserves) {
    nodes_[grant.node].charged -= grant.charged;
  }
  AfterWrapper();
  if (!lockstep_active()) return;
  const auto ref = ref_grants_.find(grant.object);
  if (ref != ref_grants_.end() && free_ref(ref->second)) ref_grants_.erase(ref);
  CompareViews(what, views_excuse);
}

void AdapterModel::KfreeReserve(const Grant& grant, uint16_t cpu) {
  AllocContext ctx;
  ctx.cpu = cpu;
  {
    CallScope scope(this, ctx, "kfree_reserve");
    table_->kfree_reserve(grant.object, PtrOf(grant.node), grant.emergency);
  }
  EndFree("kfree_reserve", grant, RESERVOIR_CHOICE_KMALLOC_CHARGE,
          [&](const Grant& ref) {
            reference_->KfreeReserve(ref, cpu);
            return true;
          });
}

Grant AdapterModel::AllocPagesReserve(int order, const AllocContext& ctx,
                                      ReserveHandle node) {
  const uint64_t usage_before = ViewOf(node, "alloc_pages_reserve").usage;
  const uint64_t injected_start = model().fault_gate().injected_total();
  int emergency = 0;
  reservoir_pfn_t pfn;
  uint64_t injected_from;
  {
    CallScope scope(this, ctx, "alloc_pages_reserve");
    pfn = table_->alloc_pages_reserve(ctx.gfp, static_cast<unsigned>(order),
                                      PtrOf(node), &emergency);
    injected_from = call_.allocations > 0 ? call_.injected_after_first
                                          : injected_start;
  }
  Grant grant;
  grant.node = node;
  grant.order = order;
  const bool budgeted = Budgets(node, ReserveKind::kPages, nullptr);
  if (pfn != RESERVOIR_NO_PAGE) {
    Model& m = model();
    if (pfn >= m.pages().nr_pages() ||
        m.pages().AllocatedHeadOf(m.pages().PageAddress(pfn)) != pfn ||
        (m.pages().frame(pfn).flags & kPageSlab) ||
        m.pages().frame(pfn).order != order) {
      Contract("adapter.grant_bad_page/alloc_pages_reserve",
               "alloc_pages_reserve(order %d) returned pfn %u, which is no "
               "block of that order the model handed out", order, pfn);
    }
    void* address = m.pages().PageAddress(pfn);
    if (live_grants_.count(address) != 0) {
      Contract("adapter.grant_already_live/alloc_pages_reserve",
               "alloc_pages_reserve returned pfn %u, already a live grant", pfn);
    }
    grant = FinishGrant(address, pfn, order, emergency, node, usage_before,
                        "alloc_pages_reserve");
    if (grant.emergency && !budgeted) unaccounted_ = true;
  }
  AfterWrapper();
  if (lockstep_active()) {
    const Grant ref = reference_->AllocPagesReserve(order, ctx, RefNode(node));
    LockstepGrant("alloc_pages_reserve", grant, ref, 0,
                  [&] { reference_->FreePagesReserve(ref); }, [] {});
  }
  if (pfn == RESERVOIR_NO_PAGE && IsEntitled(ctx) && order >= 0 &&
      order <= max_order()) {
    CheckGuarantee("alloc_pages_reserve", kPageSize << order,
                   kPageSize << order, node, order == 0 && budgeted,
                   injected_from);
  }
  return grant;
}

void AdapterModel::FreePagesReserve(const Grant& grant) {
  {
    CallScope scope(this, AllocContext{}, "free_pages_reserve");
    table_->free_pages_reserve(grant.page, static_cast<unsigned>(grant.order),
                               PtrOf(grant.node), grant.emergency);
  }
  EndFree("free_pages_reserve", grant, 0, [&](const Grant& ref) {
    reference_->FreePagesReserve(ref);
    return true;
  });
}

Grant AdapterModel::CacheAllocReserve(CacheHandle cache,
                                      const AllocContext& ctx,
                                      ReserveHandle node) {
  Grant grant;
  grant.node = node;
  KmemCache* kc = cache >= 0 ? model().slab().CacheById(static_cast<uint16_t>(cache))
                             : nullptr;
  if (kc == nullptr) return grant;
  const uint64_t usage_before = ViewOf(node, "cache_alloc_reserve").usage;
  const uint64_t injected_start = model().fault_gate().injected_total();
  int emergency = 0;
  void* object;
  uint64_t injected_from;
  {
    CallScope scope(this, ctx, "kmem_cache_alloc_reserve");
    object = table_->kmem_cache_alloc_reserve(EncodeCache(kc), ctx.gfp,
                                              PtrOf(node), &emergency);
    injected_from = call_.allocations > 0 ? call_.injected_after_first
                                          : injected_start;
  }
  const bool budgeted = Budgets(node, ReserveKind::kCache, kc);
  if (object != nullptr) {
    CheckGrantObject(object, "kmem_cache_alloc_reserve", kc->id);
    grant = FinishGrant(object, exec::kNoPage, 0, emergency, node, usage_before,
                        "kmem_cache_alloc_reserve");
    if (grant.emergency && !budgeted) unaccounted_ = true;
  }
  AfterWrapper();
  if (lockstep_active()) {
    const auto ref_cache = ref_caches_.find(cache);
    const Grant ref = ref_cache == ref_caches_.end()
                          ? Grant{}
                          : reference_->CacheAllocReserve(ref_cache->second, ctx,
                                                          RefNode(node));
    LockstepGrant(
        "cache_alloc_reserve", grant, ref, 0,
        [&] { reference_->CacheFreeReserve(ref_cache->second, ref, ctx.cpu); },
        [] {});
  }
  if (object == nullptr && IsEntitled(ctx)) {
    CheckGuarantee("kmem_cache_alloc_reserve", kc->object_size, kc->size, node,
                   kc->min_order == 0 && budgeted, injected_from);
  }
  return grant;
}

void AdapterModel::CacheFreeReserve(CacheHandle cache, const Grant& grant,
                                    uint16_t cpu) {
  KmemCache* kc = cache >= 0 ? model().slab().CacheById(static_cast<uint16_t>(cache))
                             : nullptr;
  AllocContext ctx;
  ctx.cpu = cpu;
  {
    CallScope scope(this, ctx, "kmem_cache_free_reserve");
    table_->kmem_cache_free_reserve(EncodeCache(kc), grant.object,
                                    PtrOf(grant.node), grant.emergency);
  }
  EndFree("cache_free_reserve", grant, 0, [&](const Grant& ref) {
    const auto ref_cache = ref_caches_.find(cache);
    if (ref_cache == ref_caches_.end()) return false;
    reference_->CacheFreeReserve(ref_cache->second, ref, cpu);
    return true;
  });
}

// ---------------------------------------------------------------------------
// Layers 1 and 2: the model's; mirrored on the reference in lockstep.

ReserveHandle AdapterModel::RefNode(int node) const {
  return node >= 0 && node < kMaxReserves ? ref_node_[node]
                                          : exec::kNoReserveHandle;
}

void* AdapterModel::RefObject(const void* object) const {
  const auto it = ref_objects_.find(object);
  return it == ref_objects_.end() ? nullptr : it->second;
}

void AdapterModel::MapObject(const void* object, void* ref_object) {
  ref_objects_[object] = ref_object;
}

void AdapterModel::UnmapObject(const void* object) { ref_objects_.erase(object); }

PageHandle AdapterModel::AllocPages(int order, const AllocContext& ctx) {
  const PageHandle page = ReservoirModel::AllocPages(order, ctx);
  if (lockstep_active()) {
    const PageHandle ref = reference_->AllocPages(order, ctx);
    if (page != exec::kNoPage && ref != exec::kNoPage) {
      MapObject(PageAddress(page), reference_->PageAddress(ref));
    } else if (ref != exec::kNoPage) {
      reference_->FreePages(ref, order);
    }
    CompareResult("alloc_pages", page != exec::kNoPage, ref != exec::kNoPage,
                  RESERVOIR_CHOICE_ESTIMATOR);
  }
  return page;
}

void AdapterModel::FreePages(PageHandle page, int order) {
  if (lockstep_active()) {
    const void* address = PageAddress(page);
    if (void* ref = RefObject(address)) {
      const Pfn ref_pfn = reference_->model().pages().AllocatedHeadOf(ref);
      reference_->FreePages(ref_pfn, order);
    }
    UnmapObject(address);
  }
  ReservoirModel::FreePages(page, order);
}

CacheHandle AdapterModel::CacheCreate(const char* name, uint32_t size,
                                      uint32_t align) {
  const CacheHandle cache = ReservoirModel::CacheCreate(name, size, align);
  if (lockstep_active()) {
    const CacheHandle ref = reference_->CacheCreate(name, size, align);
    if (cache != exec::kNoCache) ref_caches_[cache] = ref;
    CompareResult("cache_create", cache != exec::kNoCache, ref != exec::kNoCache,
                  0);
  }
  return cache;
}

bool AdapterModel::CacheDestroy(CacheHandle cache) {
  const bool destroyed = ReservoirModel::CacheDestroy(cache);
  if (lockstep_active()) {
    const auto ref = ref_caches_.find(cache);
    const bool ref_destroyed =
        ref != ref_caches_.end() && reference_->CacheDestroy(ref->second);
    if (destroyed) ref_caches_.erase(cache);
    CompareResult("cache_destroy", destroyed, ref_destroyed, 0);
  }
  return destroyed;
}

void* AdapterModel::CacheAlloc(CacheHandle cache, const AllocContext& ctx) {
  void* object = ReservoirModel::CacheAlloc(cache, ctx);
  if (lockstep_active()) {
    const auto ref_cache = ref_caches_.find(cache);
    void* ref = ref_cache == ref_caches_.end()
                    ? nullptr
                    : reference_->CacheAlloc(ref_cache->second, ctx);
    if (object != nullptr && ref != nullptr) MapObject(object, ref);
    else if (ref != nullptr) reference_->CacheFree(ref_cache->second, ref, ctx.cpu);
    CompareResult("cache_alloc", object != nullptr, ref != nullptr,
                  RESERVOIR_CHOICE_ESTIMATOR);
  }
  return object;
}

void AdapterModel::CacheFree(CacheHandle cache, void* object, uint16_t cpu) {
  if (lockstep_active()) {
    const auto ref_cache = ref_caches_.find(cache);
    void* ref = RefObject(object);
    if (ref != nullptr && ref_cache != ref_caches_.end()) {
      reference_->CacheFree(ref_cache->second, ref, cpu);
    }
    UnmapObject(object);
  }
  ReservoirModel::CacheFree(cache, object, cpu);
}

void* AdapterModel::Kmalloc(size_t size, const AllocContext& ctx) {
  void* object = ReservoirModel::Kmalloc(size, ctx);
  if (lockstep_active()) {
    void* ref = reference_->Kmalloc(size, ctx);
    if (object != nullptr && ref != nullptr) MapObject(object, ref);
    else if (ref != nullptr) reference_->Kfree(ref, ctx.cpu);
    CompareResult("kmalloc", object != nullptr, ref != nullptr,
                  RESERVOIR_CHOICE_ESTIMATOR);
  }
  return object;
}

void AdapterModel::Kfree(void* object, uint16_t cpu) {
  if (lockstep_active()) {
    if (void* ref = RefObject(object)) reference_->Kfree(ref, cpu);
    UnmapObject(object);
  }
  ReservoirModel::Kfree(object, cpu);
}

// ---------------------------------------------------------------------------
// Lockstep comparison.

void AdapterModel::Diverged(const char* place, const char* format, ...) const {
  char detail[320];
  va_list args;
  va_start(args, format);
  std::vsnprintf(detail, sizeof(detail), format, args);
  va_end(args);
  ReportBug(BugClass::kDivergence, place, "adapter '%s' and the reference "
            "reserve tree differ: %s (declare a documented choice with "
            "RESERVOIR_LOCKSTEP_ALLOW or the table's choices if this is one)",
            table_->name != nullptr ? table_->name : "?", detail);
}

// A difference the adapter declared as a semantic choice: from here on the
// two runs no longer share a state, so lockstep stops comparing.
bool AdapterModel::Excused(unsigned choice) {
  if ((choices_ & choice) == 0) return false;
  in_step_ = false;
  return true;
}

void AdapterModel::CompareResult(const char* what, bool adapter_ok,
                                 bool reference_ok, unsigned excuse) {
  if (!lockstep_active()) return;
  // An injected fault cannot be replayed on the reference: lockstep ends at
  // the first one.
  if (model().fault_gate().injected_total() != 0) {
    in_step_ = false;
    return;
  }
  if (adapter_ok == reference_ok || Excused(excuse)) return;
  char place[80];
  std::snprintf(place, sizeof(place), "lockstep.%s/result", what);
  Diverged(place, "%s %s in the adapter but %s in the reference", what,
           adapter_ok ? "succeeded" : "was refused",
           reference_ok ? "succeeded" : "was refused");
}

// Emergency or not: a different estimate changes when the reserve is
// needed, so only the estimator choice excuses it.
void AdapterModel::CompareEmergency(const char* what, bool adapter,
                                    bool reference) {
  if (!lockstep_active() || adapter == reference ||
      Excused(RESERVOIR_CHOICE_ESTIMATOR)) {
    return;
  }
  char place[80];
  std::snprintf(place, sizeof(place), "lockstep.%s/emergency", what);
  Diverged(place, "%s was %san emergency grant in the adapter but %sin the "
           "reference", what, adapter ? "" : "not ", reference ? "" : "not ");
}

void AdapterModel::CompareViews(const char* what, unsigned excuse) {
  if (!lockstep_active()) return;
  if (model().fault_gate().injected_total() != 0) {
    in_step_ = false;
    return;
  }
  for (int i = 0; i < next_node_; ++i) {
    const ReserveView mine = ViewOf(static_cast<ReserveHandle>(i), what);
    if (!mine.live) continue;
    const ReserveView ref = reference_->Reserve(RefNode(i));
    const char* field = nullptr;
    uint64_t a = 0, b = 0;
    unsigned field_excuse = excuse;
    if (mine.pages != ref.pages) {
      field = "pages", a = mine.pages, b = ref.pages;
      field_excuse |= RESERVOIR_CHOICE_ESTIMATOR;
    } else if (mine.limit != ref.limit) {
      field = "limit", a = mine.limit, b = ref.limit;
    } else if (mine.usage != ref.usage) {
      field = "usage", a = mine.usage, b = ref.usage;
    }
    if (field == nullptr) {
      const ReserveHandle ref_parent =
          mine.parent == exec::kNoReserveHandle ? exec::kNoReserveHandle
                                                : RefNode(mine.parent);
      if (ref_parent != ref.parent) {
        field = "parent";
        field_excuse = 0;
      }
    }
    if (field == nullptr) continue;
    if (Excused(field_excuse)) return;
    char place[80];
    std::snprintf(place, sizeof(place), "lockstep.%s/%s", what, field);
    Diverged(place, "after %s, reserve #%d has %s %llu in the adapter but "
             "%llu in the reference", what, i, field,
             static_cast<unsigned long long>(a),
             static_cast<unsigned long long>(b));
  }
}

}  // namespace reservoir::adapter
