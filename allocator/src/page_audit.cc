// The page allocator's invariants: page conservation, buddy integrity, the
// watermark floor and pfmemalloc provenance.
#include <cstdio>

#include "reservoir/page_allocator.h"
#include "reservoir/report.h"

namespace reservoir {

void PageAllocator::AuditCheapZone(int zone_index) const {
  const Zone& zone = zones_[zone_index];
  if (zone.free_pages > zone.managed_pages) {
    ReportBug(BugClass::kPageConservation, "page.audit_zone_free_above_managed", "zone %s has %llu free pages of %u "
              "managed", ZoneName(zone_index),
              static_cast<unsigned long long>(zone.free_pages),
              zone.managed_pages);
  }
  // Unentitled allocations stop at pages_emerg; only tagged (entitled)
  // pages may have been taken from below it.
  if (zone.free_pages + zone.pfmemalloc_pages < zone.pages_emerg) {
    ReportBug(BugClass::kWatermarkBreach, "page.audit_zone_strict_reserve", "zone %s: %llu free + %llu reserve "
              "pages in use < strict reserve %llu: an unentitled allocation "
              "ate into the reserve", ZoneName(zone_index),
              static_cast<unsigned long long>(zone.free_pages),
              static_cast<unsigned long long>(zone.pfmemalloc_pages),
              static_cast<unsigned long long>(zone.pages_emerg));
  }
}

void PageAllocator::AuditCheapAfterAlloc(Pfn pfn, int order,
                                         bool entitled) const {
  const PageFrame& head = frames_[pfn];
  const bool tagged = head.flags & kPagePfmemalloc;
  const bool via_reserve = head.flags & kPageViaNoWatermarks;
  // Provenance first: a tag without NO_WATERMARKS behind it (whoever the
  // caller) is named by where it came from, so one bug keeps one place.
  if (tagged != via_reserve) {
    // The place says where a wrong tag came from: the tag the frame had
    // when it was last freed (history the frame keeps), or one set by this
    // allocation; or a NO_WATERMARKS page left untagged.
    const char* place =
        !tagged ? "page.alloc_tag_vs_no_watermarks/untagged"
        : (head.reserved & kPagePfmemalloc)
            ? "page.alloc_tag_vs_no_watermarks/tag-kept-from-last-use"
            : "page.alloc_tag_vs_no_watermarks/tag-set-at-alloc";
    ReportBug(BugClass::kStalePfmemalloc, place, "pfn %u order %d is %s "
              "pfmemalloc but was %s through NO_WATERMARKS", pfn, order,
              tagged ? "tagged" : "not tagged",
              via_reserve ? "allocated" : "not allocated");
  }
  // A NO_WATERMARKS page to a caller without reserve access: the access
  // rule itself is broken.
  if (tagged && !entitled) {
    ReportBug(BugClass::kStalePfmemalloc, "page.alloc_tag_to_unentitled",
              "pfn %u order %d is tagged pfmemalloc but went to an "
              "unentitled caller", pfn, order);
  }
  AuditCheapZone(ZoneOf(pfn));
}

void PageAllocator::AuditZoneFull(const Zone& zone) const {
  const char* name = ZoneName(zone.index);
  // 1. Every free list: members are aligned free heads of that order, in
  //    this zone, whose buddy is not also free at that order (fully merged).
  uint64_t listed_blocks = 0;
  uint64_t listed_pages = 0;
  for (int order = 0; order <= max_order_; ++order) {
    uint64_t count = 0;
    Pfn prev = kNoPfn;
    for (Pfn pfn = zone.free_area[order].head; pfn != kNoPfn;
         pfn = frames_[pfn].next) {
      if (!zone.Contains(pfn) || pfn >= zone.untouched_pfn) {
        ReportBug(BugClass::kBuddyCorruption, "page.audit_freelist_outside_zone", "zone %s order %d free list "
                  "holds pfn %u outside the zone's touched range", name, order,
                  pfn);
      }
      const PageFrame& frame = frames_[pfn];
      if (!(frame.flags & kPageBuddy) || frame.order != order) {
        ReportBug(BugClass::kBuddyCorruption, "page.audit_freelist_wrong_order", "zone %s order %d free list "
                  "holds pfn %u marked order %d flags %#x", name, order, pfn,
                  frame.order, frame.flags);
      }
      if (frame.prev != prev) {
        ReportBug(BugClass::kBuddyCorruption, "page.audit_freelist_back_link", "zone %s order %d free list: "
                  "pfn %u has a broken back link", name, order, pfn);
      }
      if ((pfn - zone.start_pfn) & ((1u << order) - 1)) {
        ReportBug(BugClass::kBuddyCorruption, "page.audit_freelist_unaligned", "zone %s: free block pfn %u is "
                  "not aligned to its order %d", name, pfn, order);
      }
      if (order < max_order_) {
        const Pfn buddy = pfn ^ (1u << order);
        const PageFrame& other = frames_[buddy];
        if (zone.Contains(buddy) && (other.flags & kPageBuddy) &&
            other.order == order) {
          ReportBug(BugClass::kBuddyCorruption, "page.audit_buddies_not_merged", "zone %s: free buddies pfn %u "
                    "and %u of order %d were not merged", name, pfn, buddy,
                    order);
        }
      }
      if (++count > zone.managed_pages) {
        ReportBug(BugClass::kBuddyCorruption, "page.audit_freelist_cyclic", "zone %s order %d free list is "
                  "cyclic", name, order);
      }
      prev = pfn;
    }
    uint64_t expected = zone.free_area[order].nr_free;
    if (order == max_order_) {
      expected -= (zone.end_pfn() - zone.untouched_pfn) >> max_order_;
    }
    if (count != expected) {
      ReportBug(BugClass::kBuddyCorruption, "page.audit_freelist_count", "zone %s order %d: nr_free says "
                "%llu blocks but the list has %llu", name, order,
                static_cast<unsigned long long>(expected),
                static_cast<unsigned long long>(count));
    }
    listed_blocks += count;
    listed_pages += count << order;
  }

  // 2. Walk the touched range block by block: every page belongs to
  //    exactly one free or allocated block; count both, and the tags.
  uint64_t walked_free_blocks = 0;
  uint64_t walked_free_pages = 0;
  uint64_t tagged_pages = 0;
  for (Pfn pfn = zone.start_pfn; pfn < zone.untouched_pfn;) {
    const PageFrame& frame = frames_[pfn];
    const uint32_t pages = 1u << frame.order;
    if (frame.flags & kPageBuddy) {
      ++walked_free_blocks;
      walked_free_pages += pages;
    } else if (frame.flags & kPageHead) {
      const bool tagged = frame.flags & kPagePfmemalloc;
      if (tagged) tagged_pages += pages;
      if (tagged && !(frame.flags & kPageViaNoWatermarks)) {
        ReportBug(BugClass::kStalePfmemalloc, "page.audit_allocated_tag_vs_no_watermarks", "allocated pfn %u order %d is "
                  "tagged pfmemalloc but was not allocated through "
                  "NO_WATERMARKS", pfn, frame.order);
      }
      if (tagged && !(frame.flags & kPageEntitledOwner)) {
        ReportBug(BugClass::kStalePfmemalloc, "page.audit_allocated_tag_to_unentitled", "allocated pfn %u order %d is "
                  "tagged pfmemalloc but belongs to an unentitled caller", pfn,
                  frame.order);
      }
    } else {
      ReportBug(BugClass::kBuddyCorruption, "page.audit_block_head", "zone %s: pfn %u is neither a free "
                "nor an allocated block head", name, pfn);
    }
    if ((pfn - zone.start_pfn) & (pages - 1)) {
      ReportBug(BugClass::kBuddyCorruption, "page.audit_block_unaligned", "zone %s: block pfn %u is not "
                "aligned to its order %d", name, pfn, frame.order);
    }
    pfn += pages;
  }
  if (walked_free_blocks != listed_blocks) {
    ReportBug(BugClass::kBuddyCorruption, "page.audit_free_blocks_vs_lists", "zone %s: %llu free blocks in the "
              "arena but %llu on free lists", name,
              static_cast<unsigned long long>(walked_free_blocks),
              static_cast<unsigned long long>(listed_blocks));
  }
  const uint64_t untouched = zone.end_pfn() - zone.untouched_pfn;
  if (walked_free_pages + untouched != zone.free_pages ||
      listed_pages != walked_free_pages) {
    ReportBug(BugClass::kPageConservation, "page.audit_zone_free_pages", "zone %s: free_pages %llu but the "
              "free blocks hold %llu pages", name,
              static_cast<unsigned long long>(zone.free_pages),
              static_cast<unsigned long long>(walked_free_pages + untouched));
  }
  if (tagged_pages != zone.pfmemalloc_pages) {
    ReportBug(BugClass::kStalePfmemalloc, "page.audit_zone_pfmemalloc_counter", "zone %s: %llu pages tagged "
              "pfmemalloc but the counter says %llu", name,
              static_cast<unsigned long long>(tagged_pages),
              static_cast<unsigned long long>(zone.pfmemalloc_pages));
  }
}

void PageAllocator::AuditFull() const {
  uint64_t emerg = 0;
  for (int z = 0; z < nr_zones_; ++z) {
    AuditCheapZone(z);
    AuditZoneFull(zones_[z]);
    emerg += zones_[z].pages_emerg;
  }
  if (emerg != strict_reserve_) {
    ReportBug(BugClass::kAccountingImbalance, "page.audit_zones_vs_strict_reserve", "the zones hold %llu reserve "
              "pages but the strict reserve is %llu",
              static_cast<unsigned long long>(emerg),
              static_cast<unsigned long long>(strict_reserve_));
  }
}

bool PageAllocator::IsPristine() const {
  for (int z = 0; z < nr_zones_; ++z) {
    const Zone& zone = zones_[z];
    if (zone.free_pages != zone.managed_pages) return false;
    if (zone.free_area[max_order_].nr_free != zone.managed_pages >> max_order_)
      return false;
    if (zone.pfmemalloc_pages != 0) return false;
  }
  return true;
}

void PageAllocator::DescribeNotPristine(char* buf, size_t size) const {
  for (int z = 0; z < nr_zones_; ++z) {
    const Zone& zone = zones_[z];
    if (zone.free_pages != zone.managed_pages) {
      std::snprintf(buf, size, "zone %s has %llu of %u pages still allocated",
                    ZoneName(z),
                    static_cast<unsigned long long>(zone.managed_pages -
                                                    zone.free_pages),
                    zone.managed_pages);
      return;
    }
    if (zone.pfmemalloc_pages != 0) {
      std::snprintf(buf, size, "zone %s still has %llu pages tagged "
                    "pfmemalloc", ZoneName(z),
                    static_cast<unsigned long long>(zone.pfmemalloc_pages));
      return;
    }
    if (zone.free_area[max_order_].nr_free !=
        zone.managed_pages >> max_order_) {
      std::snprintf(buf, size, "zone %s is free but not fully merged",
                    ZoneName(z));
      return;
    }
  }
  std::snprintf(buf, size, "pristine");
}

}  // namespace reservoir
