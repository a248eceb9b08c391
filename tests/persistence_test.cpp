// Ledger persistence: snapshots survive a reboot (the segment is gone) with
// every run, pool and event bit exact; periodic snapshots; bad snapshot
// files refused with a clear message; a daemon SIGKILLed under load loses
// nothing; a writer killed mid-write never leaves a broken file.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/crc.hpp>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "daemon.h"
#include "ledger_owner.h"
#include "run_ops.h"
#include "snapshot.h"
#include "test_ledger.h"

using namespace abtest;
namespace fs = std::filesystem;

namespace {

const std::string kDaemon = std::string(AB_BUILD_DIR) + "/daemon/agentbudgetd";

// Events seen by a daemon's loop thread and read by the test thread.
struct Capture : ab::EventSink {
  std::mutex mu;
  std::vector<ab::Event> events;
  void deliver(const ab::Event& e) override {
    std::lock_guard g(mu);
    events.push_back(e);
  }
  std::vector<ab::Event> all() {
    std::lock_guard g(mu);
    return events;
  }
};

// A ledger name and state folder that outlive several daemons (reboots).
struct Host {
  std::string name = unique_ledger_name();
  std::string dir = make_temp_dir();
  ~Host() {
    remove_test_ledger(name);
    fs::remove_all(dir);
  }
  std::string snapshot() const { return dir + "/" + name + ".snapshot"; }
};

ab::DaemonConfig host_config(const Host& h) {
  ab::DaemonConfig c = ab::builtin_default_config();
  c.ledger = h.name;
  c.state_dir = h.dir;
  c.control.socket = h.dir + "/control.sock";
  c.group = "";
  c.policies[0].soft_permille.clear();  // the default policy: no limit, no events
  ab::PoolConfig team;
  team.name = "team";
  team.hard = usd("1.00");
  team.soft_permille = {500};
  ab::PoolConfig decade;
  decade.name = "decade";
  decade.period = "rolling";
  decade.rolling_s = 10ull * 365 * 86400;  // a period boundary during the test is next to impossible
  c.pools = {team, decade};
  ab::PolicyConfig pooled;
  pooled.name = "pooled";
  pooled.hard = usd("5.00");
  pooled.soft_permille = {500};
  pooled.matches = {{"team", "t"}};
  pooled.pools = {"team", "decade"};
  ab::PolicyConfig capped;
  capped.name = "capped";
  capped.hard = usd("1.00");
  capped.soft_permille = {500, 800};
  capped.matches = {{"kind", "capped"}};
  c.policies.push_back(pooled);
  c.policies.push_back(capped);
  return c;
}

std::unique_ptr<ab::Daemon> start_daemon(const ab::DaemonConfig& cfg) {
  auto d = std::make_unique<ab::Daemon>(cfg);
  std::string msg;
  EXPECT_TRUE(d->start(&msg)) << msg;
  return d;
}

// Everything a run's slot holds that must survive a reboot.
struct RunView {
  ab::RunStatus st{};
  uint32_t delivered = 0;
  std::string policy;
  int64_t client_hard = 0;
  uint64_t loop_word = 0;
};

RunView view_run(ab::Ledger& l, const std::string& id) {
  RunView v;
  ab::RunRef ref;
  EXPECT_EQ(l.find(id, &ref), ab::Status::kOk) << id;
  if (!ref.slot) return v;
  EXPECT_EQ(ab::status(l, ref, &v.st), ab::Status::kOk);
  v.delivered = ref.slot->delivered_events.load();
  const ab::Policy* p = l.policy_of(*ref.slot);
  v.policy = p ? p->name : "?";
  v.client_hard = ref.slot->client_hard.load();
  v.loop_word = ref.slot->loop_word.load();
  return v;
}

void expect_same_run(const RunView& a, const RunView& b, const std::string& id) {
  SCOPED_TRACE(id);
  EXPECT_EQ(a.st.state, b.st.state);
  EXPECT_EQ(a.st.spent, b.st.spent);
  EXPECT_EQ(a.st.child_spent, b.st.child_spent);
  EXPECT_EQ(a.st.overshoot, b.st.overshoot);
  EXPECT_EQ(a.st.hard, b.st.hard);
  for (int k = 0; k < ab::kMaxSoftThresholds; ++k) EXPECT_EQ(a.st.soft[k], b.st.soft[k]);
  EXPECT_EQ(a.st.calls, b.st.calls);
  EXPECT_EQ(a.st.input_tokens, b.st.input_tokens);
  EXPECT_EQ(a.st.cached_tokens, b.st.cached_tokens);
  EXPECT_EQ(a.st.output_tokens, b.st.output_tokens);
  EXPECT_EQ(a.st.reasoning_tokens, b.st.reasoning_tokens);
  EXPECT_EQ(a.st.begun_unix_ns, b.st.begun_unix_ns);
  EXPECT_EQ(a.st.first_charge_unix_ns, b.st.first_charge_unix_ns);
  EXPECT_EQ(a.st.last_charge_unix_ns, b.st.last_charge_unix_ns);
  EXPECT_EQ(a.st.closed_unix_ns, b.st.closed_unix_ns);
  EXPECT_EQ(a.st.pending_events, b.st.pending_events);
  EXPECT_EQ(a.delivered, b.delivered);
  EXPECT_EQ(a.policy, b.policy);
  EXPECT_EQ(a.client_hard, b.client_hard);
  EXPECT_EQ(a.loop_word, b.loop_word);
}

struct PoolView {
  int64_t total, archived, base, previous;
  uint64_t tag, base_tag, events, delivered;
  bool operator==(const PoolView&) const = default;
};

PoolView view_pool(ab::Ledger& l, const std::string& name) {
  for (uint32_t i = 0; i < l.pool_count(); ++i) {
    if (name != l.pool_defs()[i].name) continue;
    ab::PoolSlot& p = l.pools()[i];
    return {p.total_spent.load(), p.archived_spent.load(), p.period_base.load(), p.previous_spent.load(),
            p.period_tag.load(),  p.base_tag.load(),       p.events.load(),      p.delivered.load()};
  }
  ADD_FAILURE() << "no pool " << name;
  return {};
}

int charge_n(ab_ledger* l, const char* id, const char* labels, const char* parent, int n, int64_t each) {
  ab_begin_options o = AB_BEGIN_OPTIONS_INIT;
  o.labels = labels;
  o.parent = parent;
  ab_run* r = nullptr;
  if (ab_run_begin(l, id, &o, &r) != AB_OK) return 1;
  for (int i = 0; i < n; ++i)
    if (ab_charge(r, each, nullptr) != AB_OK) return 2;
  ab_run_detach(r);
  return 0;
}

const std::vector<std::string> kRuns = {"r-pool-1", "r-pool-2", "r-parent", "r-child", "r-closed",
                                        "r-soft",   "r-hard",   "r-tokens", "r-held"};

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), std::streamsize(bytes.size()));
}

}  // namespace

// (a) Several processes charge; the daemon stops (snapshot at stop); the
// host reboots (the segment is gone); the next daemon restores every run
// and pool exactly, redelivers nothing, and keeps parent and pool links.
TEST(Persistence, RebootRestoresRunsPoolsAndEventsExactly) {
  Host host;
  ab::DaemonConfig cfg = host_config(host);
  std::map<std::string, RunView> before;
  std::map<std::string, PoolView> pools_before;
  std::vector<ab::Event> first_events;
  {
    auto d1 = start_daemon(cfg);
    ASSERT_EQ(d1->outcome(), ab::OwnOutcome::kCreated);  // no snapshot yet
    Capture cap;
    d1->add_sink(&cap);
    std::thread loop([&] { d1->run(); });
    const std::string name = host.name;
    auto pids = fork_children(7, [&](int i) {
      ab_ledger* l = nullptr;
      if (ab_ledger_open(name.c_str(), &l) != AB_OK) return 10;
      int rc = 0;
      switch (i) {
        case 0: rc = charge_n(l, "r-pool-1", "team=t", nullptr, 10, usd("0.07")); break;
        case 1: rc = charge_n(l, "r-pool-2", "team=t", nullptr, 5, usd("0.09")); break;
        case 2:
          rc = charge_n(l, "r-parent", nullptr, nullptr, 1, usd("0.20"));
          if (!rc) rc = charge_n(l, "r-child", nullptr, "r-parent", 3, usd("0.10"));
          break;
        case 3: {
          rc = charge_n(l, "r-closed", nullptr, nullptr, 3, usd("0.05"));
          ab_run* r = nullptr;
          if (!rc && (ab_run_begin(l, "r-closed", nullptr, &r) != AB_OK || ab_run_end(r) != AB_OK)) rc = 3;
          break;
        }
        case 4: rc = charge_n(l, "r-soft", "kind=capped", nullptr, 1, usd("0.60")); break;  // soft 50%
        case 5: rc = charge_n(l, "r-hard", "kind=capped", nullptr, 2, usd("0.60")); break;  // 50%, 80%, hard
        case 6: {
          ab_run* r = nullptr;
          if (ab_run_begin(l, "r-tokens", nullptr, &r) != AB_OK) return 4;
          ab_usage u = AB_USAGE_INIT;
          u.input_tokens = 1200;
          u.cached_tokens = 200;
          u.output_tokens = 345;
          for (int k = 0; k < 3 && !rc; ++k)
            if (ab_charge_usage(r, "gpt-4o", &u, nullptr, nullptr) != AB_OK) rc = 5;
          ab_run_detach(r);
          break;
        }
      }
      ab_ledger_close(l);
      return rc;
    });
    ASSERT_EQ(wait_all(pids), 7);
    // A hold outstanding at the reboot: its process is gone after it.
    ab_ledger* l = nullptr;
    ASSERT_EQ(ab_ledger_open(host.name.c_str(), &l), AB_OK);
    ab_run* held = nullptr;
    ASSERT_EQ(ab_run_begin(l, "r-held", nullptr, &held), AB_OK);
    ASSERT_EQ(ab_charge(held, usd("0.01"), nullptr), AB_OK);
    ab_hold hold;
    int32_t reason = 0;
    ASSERT_EQ(ab_reserve(held, usd("0.10"), 0, &hold, &reason), AB_OK);
    d1->stop();
    loop.join();
    EXPECT_GE(d1->snapshot_stats().written, 1u);
    EXPECT_EQ(d1->snapshot_stats().last_error, "");
    for (auto& id : kRuns) before[id] = view_run(d1->ledger(), id);
    for (auto p : {"team", "decade"}) pools_before[p] = view_pool(d1->ledger(), p);
    first_events = cap.all();
    ab_run_detach(held);
    ab_ledger_close(l);
  }
  // What the first daemon saw, so "not redelivered" below means something.
  EXPECT_EQ(before["r-held"].st.held, usd("0.10"));
  EXPECT_EQ(before["r-held"].st.in_flight, 1u);
  EXPECT_EQ(before["r-soft"].delivered, ab::soft_event_bit(0));
  EXPECT_EQ(before["r-hard"].delivered, ab::soft_event_bit(0) | ab::soft_event_bit(1) | ab::kEventHard);
  int pool_events = 0;
  for (auto& e : first_events) pool_events += !e.pool.empty();
  EXPECT_EQ(pool_events, 2);  // team: soft 50% and hard

  ASSERT_TRUE(ab::remove_ledger(host.name));  // the reboot: /dev/shm is gone
  std::unique_ptr<ab::Daemon> d2 = start_daemon(cfg);
  ASSERT_EQ(d2->outcome(), ab::OwnOutcome::kRestored);
  Capture cap2;
  d2->add_sink(&cap2);
  d2->tick(true);
  d2->tick(true);
  EXPECT_TRUE(cap2.all().empty()) << cap2.all().size()
                                  << " events redelivered, first: " << ab::event_kind_name(cap2.all()[0].kind);
  ab::Ledger& l2 = d2->ledger();
  for (auto& id : kRuns) {
    RunView after = view_run(l2, id);
    if (id == "r-held") {  // holds are not restored; what was charged is
      EXPECT_EQ(after.st.held, 0);
      EXPECT_EQ(after.st.in_flight, 0u);
      EXPECT_EQ(after.st.spent, usd("0.01"));
    }
    expect_same_run(before[id], after, id);
  }
  // Real values, not only "the same as before".
  EXPECT_EQ(view_run(l2, "r-pool-1").st.spent, usd("0.70"));
  EXPECT_EQ(view_run(l2, "r-pool-2").st.calls, 5u);
  EXPECT_EQ(view_run(l2, "r-parent").st.child_spent, usd("0.30"));
  EXPECT_EQ(view_run(l2, "r-closed").st.state, ab::SlotState::kClosed);
  EXPECT_EQ(view_run(l2, "r-closed").st.spent, usd("0.15"));
  EXPECT_EQ(view_run(l2, "r-hard").st.spent, usd("1.20"));
  EXPECT_EQ(view_run(l2, "r-soft").policy, "capped");
  EXPECT_EQ(view_run(l2, "r-tokens").st.input_tokens + view_run(l2, "r-tokens").st.cached_tokens, 3u * 1200);
  for (auto p : {"team", "decade"}) EXPECT_EQ(view_pool(l2, p), pools_before[p]) << p;
  EXPECT_EQ(view_pool(l2, "team").total, usd("1.15"));

  // Links survive: a child's charge rolls up into its parent, a pooled
  // run's into its pools; a closed run stays closed; limits still bind.
  ab_ledger* l = nullptr;
  ASSERT_EQ(ab_ledger_open(host.name.c_str(), &l), AB_OK);
  ab_run* r = nullptr;
  ASSERT_EQ(ab_run_begin(l, "r-child", nullptr, &r), AB_OK);
  EXPECT_EQ(ab_run_created(r), 0);
  ASSERT_EQ(ab_charge(r, usd("0.01"), nullptr), AB_OK);
  ab_run_detach(r);
  EXPECT_EQ(view_run(l2, "r-parent").st.child_spent, usd("0.31"));
  ASSERT_EQ(ab_run_begin(l, "r-pool-1", nullptr, &r), AB_OK);
  ASSERT_EQ(ab_charge(r, usd("0.01"), nullptr), AB_OK);
  ab_run_detach(r);
  EXPECT_EQ(view_pool(l2, "team").total, usd("1.16"));
  EXPECT_EQ(view_pool(l2, "decade").total, usd("1.16"));
  EXPECT_EQ(ab_run_begin(l, "r-closed", nullptr, &r), AB_ERR_RUN_CLOSED);
  ASSERT_EQ(ab_run_begin(l, "r-hard", nullptr, &r), AB_OK);
  int32_t why = 0;
  EXPECT_EQ(ab_admit(r, 0, &why), AB_DENIED);
  EXPECT_EQ(why, AB_REASON_RUN_HARD);
  ab_run_detach(r);

  // An event pending (crossed, not yet delivered) when a snapshot is taken
  // is delivered once after the reboot, and nothing else is.
  ASSERT_EQ(ab_run_begin(l, "r-soft", nullptr, &r), AB_OK);
  ASSERT_EQ(ab_charge(r, usd("0.25"), nullptr), AB_OK);  // crosses 80%
  ab_run_detach(r);
  ab_ledger_close(l);
  std::string err;
  ASSERT_TRUE(d2->snapshot_now(&err)) << err;  // as a periodic one between crossing and scan
  d2.reset();                                  // power lost before the next scan
  ASSERT_TRUE(ab::remove_ledger(host.name));
  auto d3 = start_daemon(cfg);
  ASSERT_EQ(d3->outcome(), ab::OwnOutcome::kRestored);
  Capture cap3;
  d3->add_sink(&cap3);
  d3->tick(true);
  d3->tick(true);
  auto ev = cap3.all();
  // The 80% crossing, and the denial of r-hard above: both marked after
  // the last scan, both delivered once.
  ASSERT_EQ(ev.size(), 2u);
  std::sort(ev.begin(), ev.end(), [](auto& a, auto& b) { return a.run_id < b.run_id; });
  EXPECT_EQ(ev[0].run_id, "r-hard");
  EXPECT_EQ(ev[0].kind, ab::EventKind::kCallDenied);
  EXPECT_EQ(ev[1].run_id, "r-soft");
  EXPECT_EQ(ev[1].kind, ab::EventKind::kSoftThreshold);
  EXPECT_EQ(ev[1].threshold, 1);
  EXPECT_EQ(view_run(d3->ledger(), "r-soft").st.spent, usd("0.85"));
  EXPECT_EQ(view_run(d3->ledger(), "r-parent").st.child_spent, usd("0.31"));
}

// (b) Without a stop, a snapshot is written every interval: a reboot loses
// at most one interval of charges. An idle ledger is not rewritten.
TEST(Persistence, PeriodicSnapshotFollowsCharges) {
  ab::DaemonConfig cfg = ab::builtin_default_config();
  cfg.snapshot_interval_ms = 50;
  TestLedger t(cfg);
  const std::string path = ab::snapshot_path(t.daemon().config());
  ab_ledger* l = t.open();
  ab_run* r = nullptr;
  ASSERT_EQ(ab_run_begin(l, "periodic", nullptr, &r), AB_OK);
  // Ticks until the file on disk shows `want` spent on the run.
  auto file_shows = [&](int64_t want) {
    for (int i = 0; i < 1000; ++i) {  // a generous bound, not a timing assertion
      t.daemon().tick(false);
      ab::Snapshot s;
      std::string err;
      if (ab::read_snapshot_file(path, &s, &err) == ab::SnapshotRead::kOk)
        for (auto& run : s.runs)
          if (run.id == "periodic" && run.spent == want) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  };
  ASSERT_EQ(ab_charge(r, usd("0.42"), nullptr), AB_OK);
  EXPECT_TRUE(file_shows(usd("0.42")));
  ASSERT_EQ(ab_charge(r, usd("0.08"), nullptr), AB_OK);
  EXPECT_TRUE(file_shows(usd("0.50")));
  ab::SnapshotStats st = t.daemon().snapshot_stats();
  EXPECT_GE(st.written, 2u);
  EXPECT_EQ(st.failed, 0u);
  EXPECT_EQ(st.last_error, "");
  EXPECT_GT(st.last_bytes, ab::kSnapshotHeaderBytes);
  // Nothing changes: later passes skip the write.
  for (int i = 0; i < 1000 && t.daemon().snapshot_stats().unchanged == 0; ++i) {
    t.daemon().tick(false);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_GE(t.daemon().snapshot_stats().unchanged, 1u);
  EXPECT_EQ(t.daemon().snapshot_stats().written, st.written);
  ab_run_detach(r);
  ab_ledger_close(l);
}

namespace {

ab::Snapshot sample_snapshot(const std::string& ledger) {
  ab::Snapshot s;
  s.ledger = ledger;
  s.written_unix_ns = 1'700'000'000'000'000'000ull;
  for (int i = 0; i < 3; ++i) {
    ab::SnapshotRun& r = s.runs.emplace_back();
    r.id = "sample-" + std::to_string(i);
    r.policy = "default";
    r.spent = 1000 * (i + 1);
    r.calls = uint64_t(i + 1);
    r.soft_nanos.fill(ab::kNoLimit);
  }
  return s;
}

std::string snapshot_config(const Host& h) {
  std::string path = h.dir + "/agentbudgetd.toml";
  write_file(path, "ledger = \"" + h.name + "\"\ngroup = \"\"\nstate_dir = \"" + h.dir + "\"\n[control]\nsocket = \"" +
                       h.dir + "/control.sock\"\n");
  return path;
}

bool ledger_exists(const std::string& name) { return access(("/dev/shm/" + name + ".v1").c_str(), F_OK) == 0; }

}  // namespace

// (c) Every kind of bad file is refused with a message naming the file and
// the problem, and nothing is started; --discard-snapshot moves it aside.
TEST(Persistence, BadSnapshotFilesAreRefusedWithAClearMessage) {
  Host host;
  const std::string config = snapshot_config(host);
  const std::string good = ab::encode_snapshot(sample_snapshot(host.name));
  ab::Snapshot future_s = sample_snapshot(host.name);
  future_s.format = ab::kSnapshotFormat + 1;
  std::string flipped = good;
  flipped[good.size() / 2] ^= 0x10;
  std::string bad_magic = good;
  bad_magic[0] = 'X';
  struct Case {
    std::string name, bytes, expect;
  } cases[] = {
      {"flipped byte", flipped, "CRC-32 mismatch"},
      {"empty", "", "truncated: 0 bytes"},
      {"7 bytes", good.substr(0, 7), "truncated: 7 bytes"},
      {"header only", good.substr(0, ab::kSnapshotHeaderBytes), "truncated: the header announces"},
      {"half", good.substr(0, good.size() / 2), "truncated: the header announces"},
      {"one byte short", good.substr(0, good.size() - 1), "truncated: the header announces"},
      {"bad magic", bad_magic, "not an agentbudget snapshot (bad magic number)"},
      {"future version", ab::encode_snapshot(future_s),
       "format version 2 is not one this agentbudgetd reads (1 to 1): written by a newer agentbudgetd"},
  };
  for (auto& c : cases) {
    SCOPED_TRACE(c.name);
    write_file(host.snapshot(), c.bytes);
    std::string out;
    EXPECT_EQ(run_command(kDaemon + " --config " + config, &out), 1) << out;
    EXPECT_NE(out.find("snapshot " + host.snapshot() + ": " + c.expect), std::string::npos) << out;
    EXPECT_NE(out.find("move the file aside"), std::string::npos) << out;
    EXPECT_NE(out.find("--discard-snapshot"), std::string::npos) << out;
    EXPECT_FALSE(ledger_exists(host.name));          // nothing started
    EXPECT_EQ(read_file(host.snapshot()), c.bytes);  // nor the file touched
  }
  // The good file itself starts (restored), as the check of the cases above.
  write_file(host.snapshot(), good);
  {
    ab::DaemonConfig cfg = host_config(host);
    auto d = start_daemon(cfg);
    EXPECT_EQ(d->outcome(), ab::OwnOutcome::kRestored);
    EXPECT_EQ(view_run(d->ledger(), "sample-2").st.spent, 3000);
  }
  remove_test_ledger(host.name);

  // --discard-snapshot: moved aside, started empty, a new snapshot at stop.
  write_file(host.snapshot(), flipped);
  const std::string log = host.dir + "/daemon.log";
  pid_t p = fork();
  if (p == 0) {
    int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(fd, 1);
    dup2(fd, 2);
    execl(kDaemon.c_str(), kDaemon.c_str(), "--config", config.c_str(), "--discard-snapshot", (char*)nullptr);
    _exit(127);
  }
  ab_ledger* l = nullptr;
  for (int i = 0; i < 500 && ab_ledger_open(host.name.c_str(), &l) != AB_OK; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_NE(l, nullptr) << read_file(log);
  ab_run* r = nullptr;
  EXPECT_EQ(ab_run_begin(l, "sample-0", nullptr, &r), AB_OK);
  EXPECT_EQ(ab_run_created(r), 1);  // started empty
  ab_run_detach(r);
  ab_ledger_close(l);
  kill(p, SIGTERM);
  int status = 0;
  waitpid(p, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  std::string aside;
  for (auto& e : fs::directory_iterator(host.dir))
    if (e.path().filename().string().rfind(host.name + ".snapshot.corrupt-", 0) == 0) aside = e.path();
  ASSERT_FALSE(aside.empty());
  EXPECT_EQ(read_file(aside), flipped);
  EXPECT_NE(read_file(log).find("moved it to " + aside), std::string::npos) << read_file(log);
  ab::Snapshot s;
  std::string err;
  ASSERT_EQ(ab::read_snapshot_file(host.snapshot(), &s, &err), ab::SnapshotRead::kOk) << err;
  ASSERT_EQ(s.runs.size(), 1u);
  EXPECT_EQ(s.runs[0].id, "sample-0");
}

// Reading never trusts the bytes: any flipped byte, any payload with a
// valid checksum, forged lengths and nonsense values give an error, never
// a crash or a huge allocation.
TEST(Persistence, DecodingSurvivesAnyBytes) {
  const std::string good = ab::encode_snapshot(sample_snapshot("fuzz"));
  ab::Snapshot out;
  std::string err;
  ASSERT_TRUE(ab::decode_snapshot(good, &out, &err)) << err;
  for (size_t i = 0; i < good.size(); ++i) {
    std::string b = good;
    b[i] ^= 0x5A;
    EXPECT_FALSE(ab::decode_snapshot(b, &out, &err)) << "byte " << i;
  }
  // Payloads with a correct CRC: only the decoder stands in the way.
  auto frame = [](const std::string& payload) {
    boost::crc_32_type crc;
    crc.process_bytes(payload.data(), payload.size());
    uint32_t len = uint32_t(payload.size()), c = crc.checksum();
    std::string f(ab::kSnapshotMagic, 8);
    f.append(reinterpret_cast<const char*>(&len), 4).append(reinterpret_cast<const char*>(&c), 4);
    return f + payload;
  };
  std::mt19937_64 rng(42);
  std::string payload = good.substr(ab::kSnapshotHeaderBytes);
  for (int i = 0; i < 3000; ++i) {
    std::string p = payload;
    if (i % 3 == 0) p.resize(rng() % (payload.size() + 1));
    int flips = 1 + int(rng() % 4);
    for (int k = 0; k < flips && !p.empty(); ++k) p[rng() % p.size()] = char(rng());
    ab::decode_snapshot(frame(p), &out, &err);  // must return, either way
  }
  // Forged run counts: above any table, and plausible but with no data.
  ab::Snapshot empty;
  std::string bare = ab::encode_snapshot(empty).substr(ab::kSnapshotHeaderBytes);
  for (uint64_t count : {uint64_t(1) << 40, uint64_t(1000)}) {
    std::string p = bare;
    std::memcpy(p.data() + p.size() - 16, &count, 8);  // runs count, then pools count
    EXPECT_FALSE(ab::decode_snapshot(frame(p), &out, &err)) << count;
    EXPECT_NE(err.find(count > 1000 ? "entries (at most" : "cannot be decoded"), std::string::npos) << err;
  }
  // Values cereal cannot judge.
  ab::Snapshot dup = sample_snapshot("x");
  dup.runs[1].id = dup.runs[0].id;
  EXPECT_FALSE(ab::decode_snapshot(ab::encode_snapshot(dup), &out, &err));
  EXPECT_NE(err.find("appears twice"), std::string::npos) << err;
  ab::Snapshot badid = sample_snapshot("x");
  badid.runs[2].id = "has space";
  EXPECT_FALSE(ab::decode_snapshot(ab::encode_snapshot(badid), &out, &err));
  EXPECT_NE(err.find("invalid run id"), std::string::npos) << err;
  ab::Snapshot badstate = sample_snapshot("x");
  badstate.runs[0].closed = 7;
  EXPECT_FALSE(ab::decode_snapshot(ab::encode_snapshot(badstate), &out, &err));
  EXPECT_NE(err.find("invalid state"), std::string::npos) << err;
  ab::Snapshot selfparent = sample_snapshot("x");
  selfparent.runs[0].ancestors = {selfparent.runs[0].id};
  EXPECT_FALSE(ab::decode_snapshot(ab::encode_snapshot(selfparent), &out, &err));
  EXPECT_NE(err.find("invalid ancestor"), std::string::npos) << err;
  std::string trailing = good + "x";
  EXPECT_FALSE(ab::decode_snapshot(trailing, &out, &err));
  EXPECT_NE(err.find("unexpected bytes after"), std::string::npos) << err;
}

// The configuration may change between daemons: an unknown policy maps to
// the default one, an unknown pool is dropped, and a snapshot larger than
// the run table is refused before anything is changed.
TEST(Persistence, RestoreFollowsTheNewConfiguration) {
  Host host;
  ab::Snapshot s = sample_snapshot(host.name);
  s.runs[0].policy = "retired-policy";
  s.runs[1].policy = "capped";
  s.runs[1].pools = {"team", "gone-pool"};
  s.runs[2].pools = {"team"};
  s.runs[2].ancestors = {s.runs[1].id};
  ab::SnapshotPool& gone = s.pools.emplace_back();
  gone.name = "gone-pool";
  gone.total_spent = 5;
  ab::SnapshotPool& team = s.pools.emplace_back();
  team.name = "team";
  team.total_spent = 5000;
  std::string err;
  ASSERT_TRUE(ab::write_file_atomically(host.snapshot(), ab::encode_snapshot(s), &err)) << err;
  ab::DaemonConfig cfg = host_config(host);
  {
    auto d = start_daemon(cfg);
    ASSERT_EQ(d->outcome(), ab::OwnOutcome::kRestored);
    EXPECT_EQ(view_run(d->ledger(), "sample-0").policy, "default");
    EXPECT_EQ(view_run(d->ledger(), "sample-1").policy, "capped");
    EXPECT_EQ(view_pool(d->ledger(), "team").total, 5000);
    // sample-2 is sample-1's child (restored after it, whatever the order).
    ab_ledger* l = nullptr;
    ASSERT_EQ(ab_ledger_open(host.name.c_str(), &l), AB_OK);
    ab_run* r = nullptr;
    ASSERT_EQ(ab_run_begin(l, "sample-2", nullptr, &r), AB_OK);
    ASSERT_EQ(ab_charge(r, 7, nullptr), AB_OK);
    ab_run_detach(r);
    ab_ledger_close(l);
    EXPECT_EQ(view_run(d->ledger(), "sample-1").st.child_spent, 7);
    EXPECT_EQ(view_pool(d->ledger(), "team").total, 5007);
  }
  remove_test_ledger(host.name);
  cfg.run_capacity = 2;  // smaller than the snapshot
  ab::Daemon d(cfg);
  std::string msg;
  EXPECT_FALSE(d.start(&msg));
  EXPECT_NE(msg.find("holds 3 runs but the ledger has 2 run slots"), std::string::npos) << msg;
  EXPECT_FALSE(ledger_exists(host.name));
}

// (d) agentbudgetd SIGKILLed while clients charge: they never see an error,
// the restarted daemon adopts the live segment, and every accepted charge
// is in the ledger.
TEST(Persistence, DaemonKilledUnderLoadLosesNothing) {
  Host host;
  const std::string config = snapshot_config(host);
  const std::string log = host.dir + "/daemon.log";
  auto launch = [&] {
    pid_t p = fork();
    if (p == 0) {
      int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
      dup2(fd, 1);
      dup2(fd, 2);
      execl(kDaemon.c_str(), kDaemon.c_str(), "--config", config.c_str(), (char*)nullptr);
      _exit(127);
    }
    return p;
  };
  pid_t daemon = launch();
  ab_ledger* l = nullptr;
  for (int i = 0; i < 500 && ab_ledger_open(host.name.c_str(), &l) != AB_OK; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_NE(l, nullptr) << read_file(log);
  constexpr int kClients = 4;
  auto* accepted = shared_array<std::atomic<int64_t>>(kClients);
  auto* errors = shared_array<std::atomic<int64_t>>(kClients);
  auto* busy = shared_array<std::atomic<int64_t>>(kClients);
  auto* stop = shared_array<std::atomic<int>>(1);
  enum { kUp, kDown };
  auto* phase = shared_array<std::atomic<int>>(1);
  const std::string name = host.name;
  auto pids = fork_children(kClients, [&](int i) {
    ab_ledger* cl = nullptr;
    if (ab_ledger_open(name.c_str(), &cl) != AB_OK) return 1;
    ab_run* r = nullptr;
    for (int n = 0; !stop->load(); ++n) {
      if (n % 500 == 0) {  // new runs too, also while the daemon is down
        if (r) ab_run_detach(r);
        std::string id = "load-" + std::to_string(i) + "-" + std::to_string(n / 500);
        int rc;
        // AB_ERR_BUSY is documented as "retry": a begin that meets the
        // (re)starting daemon rewriting the config segment gets it.
        while ((rc = ab_run_begin(cl, id.c_str(), nullptr, &r)) == AB_ERR_BUSY) {
          if (phase->load() == kDown) errors[i]++;  // nothing rewrites it while no daemon runs
          busy[i]++;
          usleep(100);
        }
        if (rc != AB_OK) {
          std::fprintf(stderr, "client %d: begin %s: %s %s\n", i, id.c_str(), ab_strerror(rc), ab_last_error_detail());
          errors[i]++;
          return 2;
        }
      }
      int64_t amount = 1000 + i;
      if (int rc = ab_charge(r, amount, nullptr); rc == AB_OK) {
        accepted[i] += amount;
      } else {
        std::fprintf(stderr, "client %d: charge: %s\n", i, ab_strerror(rc));
        errors[i]++;
      }
      if (n % 64 == 0) usleep(100);
    }
    ab_run_detach(r);
    ab_ledger_close(cl);
    return 0;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  int64_t at_kill = 0;
  for (int i = 0; i < kClients; ++i) at_kill += accepted[i].load();
  kill(daemon, SIGKILL);
  waitpid(daemon, nullptr, 0);
  phase->store(kDown);
  int64_t begun_before = 0, begun_after = 0;
  {
    std::unique_ptr<ab::Ledger> v;
    std::string m;
    ASSERT_EQ(ab::Ledger::open(host.name, false, &v, &m), ab::Status::kOk) << m;
    auto count = [&] {
      int64_t n = 0;
      for (uint32_t i = 0; i < v->capacity(); ++i)
        n += ab::word_state(v->slots()[i].word.load()) == ab::SlotState::kActive;
      return n;
    };
    begun_before = count();
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // clients go on with no daemon
    begun_after = count();
  }
  EXPECT_GT(begun_after, begun_before);  // runs were begun while it was down
  phase->store(kUp);
  daemon = launch();
  {
    // Until the new daemon has adopted the segment (slow under a sanitizer
    // on a loaded machine), then a little more of charging under it.
    std::unique_ptr<ab::Ledger> v;
    std::string m;
    ASSERT_EQ(ab::Ledger::open(host.name, false, &v, &m), ab::Status::kOk) << m;
    for (int i = 0; i < 6000 && v->header()->daemon_pid.load() != uint32_t(daemon); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  stop->store(1);
  EXPECT_EQ(wait_all(pids), kClients);
  int64_t sum = 0, errs = 0;
  for (int i = 0; i < kClients; ++i) {
    sum += accepted[i].load();
    errs += errors[i].load();
  }
  EXPECT_EQ(errs, 0);
  EXPECT_GT(sum, at_kill);  // charging went on across the kill
  std::unique_ptr<ab::Ledger> view;
  std::string msg;
  ASSERT_EQ(ab::Ledger::open(host.name, false, &view, &msg), ab::Status::kOk) << msg;
  int64_t total = 0;
  for (uint32_t i = 0; i < view->capacity(); ++i) {
    uint64_t w = view->slots()[i].word.load();
    if (ab::word_state(w) == ab::SlotState::kActive || ab::word_state(w) == ab::SlotState::kClosed)
      total += view->slots()[i].spent.load();
  }
  EXPECT_EQ(total, sum);
  EXPECT_EQ(view->header()->daemon_epoch.load(), 2u);  // adopted, not recreated
  EXPECT_EQ(view->header()->daemon_pid.load(), uint32_t(daemon));
  EXPECT_NE(read_file(log).find("ledger '" + host.name + "' adopted"), std::string::npos) << read_file(log);
  view.reset();
  ab_ledger_close(l);
  kill(daemon, SIGTERM);
  int status = 0;
  waitpid(daemon, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  // The snapshot at stop holds the same total.
  ab::Snapshot s;
  ASSERT_EQ(ab::read_snapshot_file(host.snapshot(), &s, &msg), ab::SnapshotRead::kOk) << msg;
  int64_t snap_total = 0;
  for (auto& r : s.runs) snap_total += r.spent;
  EXPECT_EQ(snap_total, sum);
}

// (e) A writer killed at any point leaves the old file or the new one,
// whole; a stale temporary file is ignored by readers and replaced.
TEST(Persistence, WriterKilledMidWriteLeavesAWholeFile) {
  Host host;
  const std::string path = host.snapshot();
  auto big = [&](int64_t spent) {
    ab::Snapshot s;
    s.ledger = host.name;
    for (int i = 0; i < 20000; ++i) {
      ab::SnapshotRun& r = s.runs.emplace_back();
      r.id = "run-with-a-longish-id-" + std::to_string(i);
      r.policy = "default";
      r.spent = spent;
      r.soft_nanos.fill(ab::kNoLimit);
    }
    return ab::encode_snapshot(s);
  };
  const std::string v0 = big(0), v1 = big(1), v2 = big(2);
  std::string err;
  ASSERT_TRUE(ab::write_file_atomically(path, v0, &err)) << err;
  std::mt19937 rng(7);
  for (int round = 0; round < 8; ++round) {
    pid_t p = fork();
    if (p == 0) {
      for (int k = 0;; ++k) {
        std::string e;
        ab::write_file_atomically(path, k % 2 ? v1 : v2, &e);
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5 + rng() % 40));
    kill(p, SIGKILL);
    waitpid(p, nullptr, 0);
    ab::Snapshot s;
    ASSERT_EQ(ab::read_snapshot_file(path, &s, &err), ab::SnapshotRead::kOk) << "round " << round << ": " << err;
    ASSERT_EQ(s.runs.size(), 20000u);
    EXPECT_TRUE(s.runs[0].spent >= 0 && s.runs[0].spent <= 2);
    std::string bytes = read_file(path);
    EXPECT_TRUE(bytes == v0 || bytes == v1 || bytes == v2);
  }
  // A stale temporary file (a writer killed before its rename).
  write_file(path + ".tmp", "half a snapshot");
  ab::DaemonConfig cfg = host_config(host);
  auto d = start_daemon(cfg);
  ASSERT_EQ(d->outcome(), ab::OwnOutcome::kRestored);  // from the whole file
  ASSERT_TRUE(d->snapshot_now(&err)) << err;
  EXPECT_FALSE(fs::exists(path + ".tmp"));  // the rename took it
  ab::Snapshot s;
  ASSERT_EQ(ab::read_snapshot_file(path, &s, &err), ab::SnapshotRead::kOk) << err;
  EXPECT_EQ(s.runs.size(), 20000u);
}
