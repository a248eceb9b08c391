// Finds events marked in run slots and delivers each exactly once.
//
// Clients set bits in RunSlot::pending_events (fetch_or, by the one charge
// that crosses a line). The daemon alone writes delivered_events. An event
// is due when its bit is pending and not delivered; because both words live
// in the segment, an event marked while the daemon was down is delivered
// when it returns, and an adopted ledger does not redeliver old ones.
#pragma once
#include <cstdint>
#include <vector>

#include "event.h"
#include "ledger.h"

namespace ab {

class EventScanner {
 public:
  explicit EventScanner(Ledger& l) : ledger_(l) {
    for (uint32_t i = 0; i < l.pool_count(); ++i)
      seen_period_.push_back(l.pools()[i].period_tag.load(std::memory_order_acquire));
  }
  // Scans every slot when the clients' event hint moved (or `force`),
  // delivering due events to each sink. Returns the number delivered.
  size_t scan(const std::vector<EventSink*>& sinks, bool force);

 private:
  size_t scan_pools(const std::vector<EventSink*>& sinks);

  Ledger& ledger_;
  uint64_t last_hint_ = UINT64_MAX;
  std::vector<uint64_t> seen_period_;  // per pool: the period tag last seen
};

}  // namespace ab
