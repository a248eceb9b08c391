#include "forecaster.h"

#include <cmath>
#include <cstring>

#include "pool_period.h"
#include "run_limits.h"
#include "run_ops.h"

namespace ab {

namespace {

constexpr uint64_t kNs = 1'000'000'000u;

void emit(const std::vector<EventSink*>& sinks, const Event& e) {
  for (EventSink* s : sinks) s->deliver(e);
}

}  // namespace

void Forecaster::update(Track* t, Nanos load, uint64_t now) {
  t->load = load;
  if (now <= t->last_unix_ns) return;
  double dt = double(now - t->last_unix_ns) / 1e9;
  if (dt < 0.5) return;  // the loop samples once a second; a shorter step says little
  double inst = double(load - t->last_load) / dt;
  // A run's first step starts at its first charge with load 0: the average
  // since then. A pool's starts at the daemon's first sample of its period.
  if (t->rate < 0)
    t->rate = inst;
  else
    t->rate += (1.0 - std::exp(-dt / kRateWindowS)) * (inst - t->rate);
  if (t->rate < 0) t->rate = 0;  // an operator's downward reset is not negative spending
  t->last_unix_ns = now;
  t->last_load = load;
}

Forecast Forecaster::project(const Track& t, Nanos hard, uint64_t horizon_unix_s, uint64_t now) {
  Forecast f;
  f.load = t.load;
  f.horizon_unix_s = horizon_unix_s;
  if (t.rate < 0) return f;
  f.known = true;
  f.rate_nanos_per_s = t.rate;
  double ahead = double(horizon_unix_s) * 1e9 > double(now) ? (double(horizon_unix_s) * 1e9 - double(now)) / 1e9 : 0;
  double projected = double(t.load) + t.rate * ahead;
  f.projected = projected >= 9.2e18 ? INT64_MAX : Nanos(projected);
  if (hard == kNoLimit) return f;
  if (t.load >= hard)
    f.exhaust_in_s = 0;
  else if (t.rate > 0)
    f.exhaust_in_s = int64_t(double(hard - t.load) / t.rate);
  f.over_budget = t.load < hard && f.projected > hard;
  return f;
}

uint64_t Forecaster::run_horizon(const RunSlot& s) const {
  RunLimits lim = limits_of(ledger_, s);
  return lim.max_duration_s ? s.begun_unix_ns / kNs + lim.max_duration_s
                            : last_pass_unix_ns_ / kNs + settings_.horizon_s;
}

uint64_t Forecaster::pool_horizon(uint32_t index) const {
  const PoolDef& d = ledger_.pool_defs()[index];
  int64_t reset = next_reset(d, pools_[index].key - 1);
  return reset == INT64_MAX ? last_pass_unix_ns_ / kNs + settings_.horizon_s : uint64_t(reset);
}

bool Forecaster::fire_run(RunSlot& s, const Track& t, const std::vector<EventSink*>& sinks, uint64_t now) {
  // Cheapest tests first: most runs have no hard limit, or fired already.
  Nanos hard = effective_hard(ledger_, s);
  if (hard == kNoLimit || t.load >= hard) return false;
  if (s.delivered_events.load(std::memory_order_relaxed) & kEventForecast) return false;
  if (now < s.first_charge_unix_ns.load(std::memory_order_relaxed) + settings_.min_age_s * kNs) return false;
  Forecast f = project(t, hard, run_horizon(s), now);
  if (!f.over_budget) return false;
  // Recorded before delivering, as the event scanner does: a crash in
  // between loses this one notification rather than repeating it.
  s.delivered_events.fetch_or(kEventForecast, std::memory_order_acq_rel);
  s.pending_events.fetch_or(kEventForecast, std::memory_order_acq_rel);
  Event e;
  e.kind = EventKind::kForecastOverBudget;
  e.run_id.assign(s.id, strnlen(s.id, kRunIdMax));
  const Policy* p = ledger_.policy_of(s);
  e.policy = p ? std::string(p->name, strnlen(p->name, sizeof p->name)) : "?";
  e.spent = t.load;
  e.hard = hard;
  e.threshold_nanos = hard;
  e.calls = s.calls.load(std::memory_order_relaxed);
  e.forecast_final = f.projected;
  e.exhaust_in_s = uint64_t(f.exhaust_in_s);
  e.unix_ns = now;
  emit(sinks, e);
  return true;
}

bool Forecaster::fire_pool(uint32_t i, const Track& t, const std::vector<EventSink*>& sinks, uint64_t now) {
  PoolSlot& p = ledger_.pools()[i];
  const PoolDef& d = ledger_.pool_defs()[i];
  Nanos hard = d.hard_nanos.load(std::memory_order_relaxed);
  if (hard == kNoLimit || now < pool_since_[i] + settings_.min_age_s * kNs) return false;
  Forecast f = project(t, hard, pool_horizon(i), now);
  if (!f.over_budget) return false;
  // `delivered` packs the period tag (high 16 bits) with the bits the
  // daemon delivered in that period; the daemon alone writes it.
  const uint64_t period = t.key - 1, tag16 = period & 0xFFFF;
  uint64_t done = p.delivered.load(std::memory_order_relaxed);
  bool same = (done >> 48) == tag16;
  if (same && (done & kEventForecast)) return false;
  p.delivered.store(same ? done | kEventForecast : (tag16 << 48) | kEventForecast, std::memory_order_release);
  Event e;
  e.kind = EventKind::kForecastOverBudget;
  e.pool.assign(d.name, strnlen(d.name, sizeof d.name));
  e.period = period;
  e.spent = t.load;
  e.hard = hard;
  e.threshold_nanos = hard;
  e.forecast_final = f.projected;
  e.exhaust_in_s = uint64_t(f.exhaust_in_s);
  e.unix_ns = now;
  emit(sinks, e);
  return true;
}

size_t Forecaster::pass(const std::vector<EventSink*>& sinks, const ForecastSettings& cfg, uint64_t now) {
  settings_ = cfg;
  last_pass_unix_ns_ = now;
  size_t delivered = 0;
  runs_.resize(ledger_.capacity());
  for (uint32_t i = 0; i < ledger_.capacity(); ++i) {
    RunSlot& s = ledger_.slots()[i];
    Track& t = runs_[i];
    uint64_t w = s.word.load(std::memory_order_acquire);
    if (word_state(w) != SlotState::kActive) {
      t.key = 0;
      continue;
    }
    const uint64_t key = uint64_t(word_generation(w)) + 1;
    if (t.key != key) {
      uint64_t first = s.first_charge_unix_ns.load(std::memory_order_relaxed);
      if (first == 0) continue;  // nothing spent yet: nothing to forecast
      t = Track{};
      t.key = key;
      t.last_unix_ns = first;
    }
    update(&t, run_load(s), now);
    if (t.rate >= 0 && fire_run(s, t, sinks, now)) ++delivered;
  }

  const uint32_t n = ledger_.pool_count();
  pools_.resize(n);
  pool_since_.resize(n);
  for (uint32_t i = 0; i < n; ++i) {
    Track& t = pools_[i];
    uint64_t period = period_of(ledger_.pool_defs()[i], int64_t(now / kNs));
    Nanos load = period_spent(ledger_.pools()[i], period);
    if (t.key != period + 1) {
      t = Track{};
      t.key = period + 1;
      t.last_unix_ns = now;
      t.last_load = load;
      pool_since_[i] = now;
    }
    update(&t, load, now);
    if (t.rate >= 0 && fire_pool(i, t, sinks, now)) ++delivered;
  }
  return delivered;
}

Forecast Forecaster::run(uint32_t index, uint32_t generation) const {
  if (index >= runs_.size() || runs_[index].key != uint64_t(generation) + 1) return Forecast{};
  const RunSlot& s = ledger_.slots()[index];
  return project(runs_[index], effective_hard(ledger_, s), run_horizon(s), last_pass_unix_ns_);
}

Forecast Forecaster::pool(uint32_t index) const {
  if (index >= pools_.size() || pools_[index].key == 0) return Forecast{};
  Nanos hard = ledger_.pool_defs()[index].hard_nanos.load(std::memory_order_relaxed);
  return project(pools_[index], hard, pool_horizon(index), last_pass_unix_ns_);
}

}  // namespace ab
