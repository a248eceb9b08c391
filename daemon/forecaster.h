// Spend forecasts per run and pool, and the forecast_over_budget event.
//
// Once a second the daemon samples each active run's load (spent plus its
// sub-agents') and each pool's period spend. The rate is an exponentially
// weighted moving average of the spend per second between samples (time
// constant kRateWindowS), seeded with the average since the first charge:
// it follows what the run does now, not what it did an hour ago.
//
// The horizon is when the spending will stop, as far as the daemon knows:
// for a run with a maximum duration, its end; for a pool with a period,
// the period's reset; otherwise `horizon_s` from now. The projection is
// load + rate x (horizon - now), and a run or pool is "on track to exceed"
// when that passes its hard limit while it is still under it.
//
// forecast_over_budget fires once per run (once per period for a pool), as
// soon as a run old enough (min_age_s since its first charge) is on track.
// The daemon alone writes the bit that records it: kEventForecast in the
// run's delivered_events (and pending_events, for status), or in the pool's
// `delivered` word with the period tag, so a restarted daemon adopting the
// segment (or restoring a snapshot) never fires it twice.
//
// Not thread-safe: the daemon's loop calls pass() and the control socket
// reads forecasts, both under the daemon's config mutex.
#pragma once
#include <cstdint>
#include <vector>

#include "event.h"
#include "ledger.h"

namespace ab {

inline constexpr double kRateWindowS = 60.0;

struct ForecastSettings {
  uint64_t min_age_s = 30;   // spending for this long before an event may fire
  uint64_t horizon_s = 900;  // horizon of runs without max duration, pools without period
};

struct Forecast {
  bool known = false;           // false until there is a rate (a charge at least a second old)
  double rate_nanos_per_s = 0;  // recent spend rate
  Nanos load = 0;               // spend now (a run's includes its sub-agents')
  Nanos projected = 0;          // load at the horizon at this rate
  uint64_t horizon_unix_s = 0;  // where the projection stops
  int64_t exhaust_in_s = -1;    // seconds until the hard limit at this rate; -1: no limit or no spend
  bool over_budget = false;     // projected > hard while load < hard
};

class Forecaster {
 public:
  explicit Forecaster(Ledger& l) : ledger_(l) {}
  // Samples every active run and pool at `now_unix_ns`, updates the rates
  // and delivers forecast_over_budget events. Returns the events delivered.
  size_t pass(const std::vector<EventSink*>& sinks, const ForecastSettings& s, uint64_t now_unix_ns);
  // The forecast of the run in slot `index` as of the last pass (known is
  // false if the slot holds another run than `generation`).
  Forecast run(uint32_t index, uint32_t generation) const;
  Forecast pool(uint32_t index) const;

 private:
  // What the daemon remembers of one run or pool between passes: 40 bytes,
  // so that a pass over a large table moves little memory.
  struct Track {
    uint64_t key = 0;           // run: generation + 1; pool: period + 1 (0: nothing tracked)
    uint64_t last_unix_ns = 0;  // the sample the rate was last updated at
    Nanos last_load = 0;        // the load at that sample
    Nanos load = 0;             // the load at the last pass
    double rate = -1;           // nanos per second; < 0 until known
  };
  static void update(Track* t, Nanos load, uint64_t now);
  static Forecast project(const Track& t, Nanos hard, uint64_t horizon_unix_s, uint64_t now);
  uint64_t run_horizon(const RunSlot& s) const;
  uint64_t pool_horizon(uint32_t index) const;
  bool fire_run(RunSlot& s, const Track& t, const std::vector<EventSink*>& sinks, uint64_t now);
  bool fire_pool(uint32_t index, const Track& t, const std::vector<EventSink*>& sinks, uint64_t now);

  Ledger& ledger_;
  ForecastSettings settings_;
  uint64_t last_pass_unix_ns_ = 0;
  std::vector<Track> runs_;
  std::vector<Track> pools_;
  std::vector<uint64_t> pool_since_;  // when the pool's current period was first sampled
};

}  // namespace ab
