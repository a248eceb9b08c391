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
  if (now <= t->last_unix_ns) return;
  double dt = double(now - t->last_unix_ns) / 1e9;
  if (dt < 0.5) return;  // the loop samples once a second; a shorter step says little
  double inst = double(load - t->last_load) / dt;
  if (!t->has_rate) {
    // A run's first step starts at its first charge with load 0: the
    // average since then. A pool's starts at the daemon's first sample.
    t->rate = inst;
    t->has_rate = true;
  } else {
    t->rate += (1.0 - std::exp(-dt / kRateWindowS)) * (inst - t->rate);
  }
  if (t->rate < 0) t->rate = 0;  // an operator's downward reset is not negative spending
  t->last_unix_ns = now;
  t->last_load = load;
}

void Forecaster::project(Track* t, Nanos load, Nanos hard, uint64_t horizon_unix_s, uint64_t now) {
  Forecast& f = t->forecast;
  f = Forecast{};
  f.load = load;
  f.horizon_unix_s = horizon_unix_s;
  if (!t->has_rate) return;
  f.known = true;
  f.rate_nanos_per_s = t->rate;
  double ahead = horizon_unix_s * 1e9 > double(now) ? (horizon_unix_s * 1e9 - double(now)) / 1e9 : 0.0;
  double projected = double(load) + t->rate * ahead;
  f.projected = projected >= 9.2e18 ? INT64_MAX : Nanos(projected);
  if (hard == kNoLimit) return;
  if (load >= hard) f.exhaust_in_s = 0;
  else if (t->rate > 0) f.exhaust_in_s = int64_t(double(hard - load) / t->rate);
  f.over_budget = load < hard && f.projected > hard;
}

size_t Forecaster::pass(const std::vector<EventSink*>& sinks, const ForecastSettings& cfg, uint64_t now) {
  size_t delivered = 0;
  const uint64_t now_s = now / kNs;
  runs_.resize(ledger_.capacity());
  for (uint32_t i = 0; i < ledger_.capacity(); ++i) {
    RunSlot& s = ledger_.slots()[i];
    Track& t = runs_[i];
    uint64_t w = s.word.load(std::memory_order_acquire);
    if (word_state(w) != SlotState::kActive) {
      t.key = 0;
      continue;
    }
    uint64_t first = s.first_charge_unix_ns.load(std::memory_order_relaxed);
    uint64_t key = uint64_t(word_generation(w)) + 1;
    if (t.key != key) {
      t = Track{};
      if (first == 0) continue;  // nothing spent yet: nothing to forecast
      t.key = key;
      t.since_unix_ns = first;
      t.last_unix_ns = first;
    }
    Nanos load = run_load(s);
    update(&t, load, now);
    RunLimits lim = limits_of(ledger_, s);
    uint64_t horizon = lim.max_duration_s ? s.begun_unix_ns / kNs + lim.max_duration_s : now_s + cfg.horizon_s;
    Nanos hard = effective_hard(ledger_, s);
    project(&t, load, hard, horizon, now);
    if (!t.forecast.over_budget || now < first + cfg.min_age_s * kNs) continue;
    if (s.delivered_events.load(std::memory_order_relaxed) & kEventForecast) continue;
    // Recorded before delivering, as the event scanner does: a crash in
    // between loses this one notification rather than repeating it.
    s.delivered_events.fetch_or(kEventForecast, std::memory_order_acq_rel);
    s.pending_events.fetch_or(kEventForecast, std::memory_order_acq_rel);
    Event e;
    e.kind = EventKind::kForecastOverBudget;
    e.run_id.assign(s.id, strnlen(s.id, kRunIdMax));
    const Policy* p = ledger_.policy_of(s);
    e.policy = p ? std::string(p->name, strnlen(p->name, sizeof p->name)) : "?";
    e.spent = load;
    e.hard = hard;
    e.threshold_nanos = hard;
    e.calls = s.calls.load(std::memory_order_relaxed);
    e.forecast_final = t.forecast.projected;
    e.exhaust_in_s = uint64_t(t.forecast.exhaust_in_s);
    e.unix_ns = now;
    emit(sinks, e);
    ++delivered;
  }

  pools_.resize(ledger_.pool_count());
  for (uint32_t i = 0; i < ledger_.pool_count(); ++i) {
    PoolSlot& p = ledger_.pools()[i];
    const PoolDef& d = ledger_.pool_defs()[i];
    Track& t = pools_[i];
    uint64_t period = period_of(d, int64_t(now_s));
    Nanos load = period_spent(p, period);
    if (t.key != period + 1) {
      t = Track{};
      t.key = period + 1;
      t.since_unix_ns = now;
      t.last_unix_ns = now;
      t.last_load = load;
    }
    update(&t, load, now);
    int64_t reset = next_reset(d, period);
    uint64_t horizon = reset == INT64_MAX ? now_s + cfg.horizon_s : uint64_t(reset);
    Nanos hard = d.hard_nanos.load(std::memory_order_relaxed);
    project(&t, load, hard, horizon, now);
    if (!t.forecast.over_budget || now < t.since_unix_ns + cfg.min_age_s * kNs) continue;
    // `delivered` packs the period tag (high 16 bits) with the bits the
    // daemon delivered in that period; the daemon alone writes it.
    uint64_t done = p.delivered.load(std::memory_order_relaxed);
    uint64_t tag16 = period & 0xFFFF;
    bool same = (done >> 48) == tag16;
    if (same && (done & kEventForecast)) continue;
    p.delivered.store(same ? done | kEventForecast : (tag16 << 48) | kEventForecast, std::memory_order_release);
    Event e;
    e.kind = EventKind::kForecastOverBudget;
    e.pool.assign(d.name, strnlen(d.name, sizeof d.name));
    e.period = period;
    e.spent = load;
    e.hard = hard;
    e.threshold_nanos = hard;
    e.forecast_final = t.forecast.projected;
    e.exhaust_in_s = uint64_t(t.forecast.exhaust_in_s);
    e.unix_ns = now;
    emit(sinks, e);
    ++delivered;
  }
  return delivered;
}

Forecast Forecaster::run(uint32_t index, uint32_t generation) const {
  if (index >= runs_.size() || runs_[index].key != uint64_t(generation) + 1) return Forecast{};
  return runs_[index].forecast;
}

Forecast Forecaster::pool(uint32_t index) const {
  return index < pools_.size() ? pools_[index].forecast : Forecast{};
}

}  // namespace ab
