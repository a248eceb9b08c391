// What the daemon does with a segment it did not create: adopt it after a
// restart. The segments of a live ledger (runs, a pool, reservations) are
// copied under a new name and patched with the input's bytes, in the
// headers or anywhere in the run, hold and pool tables; the daemon then
// validates and adopts them (or refuses them), and runs its periodic work
// on what it adopted: hold reaping and repair, event delivery, slot
// recycling, forecasts and a snapshot. Random bytes must never crash it,
// and must never be trusted as an index: ASan checks every access.
//
// Input: a list of patches, each [flags:1][offset:4][len:1][bytes:len].
// flags bit 0: the config segment (else the data segment); bit 1: the
// offset falls in the first 512 bytes (the headers).
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "agentbudget.h"
#include "clock.h"
#include "event_scanner.h"
#include "forecaster.h"
#include "fuzz_daemon.h"
#include "hold_reaper.h"
#include "ledger_owner.h"
#include "slot_recycler.h"
#include "snapshot.h"

namespace {

struct Pristine {
  std::string data, config;
};

// The live ledger with runs in every state the daemon meets, copied once.
const Pristine& pristine() {
  static Pristine p = [] {
    ab::Daemon& d = abfuzz::daemon();
    ab_ledger* l = nullptr;
    if (ab_ledger_open(d.ledger().name().c_str(), &l) != AB_OK) std::abort();
    auto begin = [&](const char* id, const char* labels, const char* parent) {
      ab_begin_options o = AB_BEGIN_OPTIONS_INIT;
      o.labels = labels;
      o.parent = parent;
      ab_run* r = nullptr;
      if (ab_run_begin(l, id, &o, &r) != AB_OK) std::abort();
      return r;
    };
    ab_run* plain = begin("plain", nullptr, nullptr);
    ab_run* team = begin("team-run", "team=a", nullptr);
    ab_run* child = begin("child-run", "team=a", "team-run");
    ab_run* ended = begin("ended-run", nullptr, nullptr);
    ab_charge(plain, 700'000'000, nullptr);
    ab_charge(team, 1'100'000'000, nullptr);
    ab_charge(child, 300'000'000, nullptr);
    ab_hold h1, h2;
    ab_reserve(team, 100'000'000, 42, &h1, nullptr);
    ab_reserve(child, 50'000'000, 43, &h2, nullptr);
    ab_charge(ended, 5, nullptr);
    ab_run_end(ended);
    for (ab_run* r : {plain, team, child}) ab_run_detach(r);
    ab_ledger_close(l);
    Pristine out;
    const ab::Segment& ds = d.ledger().data_segment();
    const ab::Segment& cs = d.ledger().config_segment();
    out.data.assign(static_cast<const char*>(ds.data()), ds.size());
    out.config.assign(static_cast<const char*>(cs.data()), cs.size());
    return out;
  }();
  return p;
}

struct Count : ab::EventSink {
  size_t n = 0;
  void deliver(const ab::Event&) override { ++n; }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* in, size_t size) {
  const Pristine& p = pristine();
  std::string data = p.data, config = p.config;
  for (size_t i = 0; i + 6 <= size;) {
    uint8_t flags = in[i];
    uint32_t off;
    std::memcpy(&off, in + i + 1, 4);
    size_t len = in[i + 5];
    i += 6;
    len = std::min(len, size - i);
    std::string& seg = flags & 1 ? config : data;
    size_t span = flags & 2 ? std::min<size_t>(512, seg.size()) : seg.size();
    size_t at = off % span;
    len = std::min(len, seg.size() - at);
    std::memcpy(seg.data() + at, in + i, len);
    i += len;
  }
  static int n = 0;
  ab::DaemonConfig cfg = abfuzz::daemon().config();
  cfg.ledger = "abfuzz-adopt-" + std::to_string(getpid()) + "-" + std::to_string(n++ % 4);
  ab::remove_ledger(cfg.ledger);
  {
    ab::Segment ds, cs;
    std::string msg;
    if (ab::Segment::create(ab::data_segment_name(cfg.ledger), data.size(), 0660, gid_t(-1), &ds, &msg) !=
            ab::SegmentError::kNone ||
        ab::Segment::create(ab::config_segment_name(cfg.ledger), config.size(), 0640, gid_t(-1), &cs, &msg) !=
            ab::SegmentError::kNone)
      std::abort();
    std::memcpy(ds.data(), data.data(), data.size());
    std::memcpy(cs.data(), config.data(), config.size());
  }
  std::unique_ptr<ab::Ledger> l;
  ab::OwnResult r = ab::own_ledger(cfg, {}, &l);
  if (r.status == ab::Status::kOk) {
    if (!l) std::abort();
    // One pass of the daemon's periodic work, as after a restart.
    uint64_t now = ab::unix_ns();
    Count count;
    std::vector<ab::EventSink*> sinks{&count};
    ab::HoldReaper(*l, ab::self_identity()).pass(now);
    ab::EventScanner(*l).scan(sinks, true);
    ab::Forecaster f(*l);
    f.pass(sinks, {0, 900}, now);
    f.pass(sinks, {0, 900}, now + 2'000'000'000u);
    ab::SlotRecycler(*l, 60).pass(now + 3600'000'000'000u);
    (void)ab::encode_snapshot(ab::capture_snapshot(*l));
  } else if (r.message.empty()) {
    std::abort();  // a refusal always says why
  }
  l.reset();
  ab::remove_ledger(cfg.ledger);
  return 0;
}
