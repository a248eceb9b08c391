// Crash tests at named points (libcore/crash_point.h; built only with
// -DAB_CRASH_POINTS=ON): a process is SIGKILLed exactly there — beginning a
// run, between a run's update and its pool's, during a snapshot, during the
// daemon's reclaim of a dead process's hold — and the invariants are
// checked afterwards: the id stays usable, every aggregate equals the sum of
// its truth, no hold is left, the snapshot on disk is whole.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <thread>

#include "crash_point.h"
#include "ledger_owner.h"
#include "snapshot.h"
#include "test_ledger.h"

using namespace abtest;
namespace fs = std::filesystem;

namespace {

const std::string kDaemon = std::string(AB_BUILD_DIR) + "/daemon/agentbudgetd";

bool eventually(const std::function<bool()>& done) {
  auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!done()) {
    if (std::chrono::steady_clock::now() > give_up) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

// Runs fn in a child process armed to die at `point`; true if the child
// died by SIGKILL (so it reached the point), false if it got through.
bool killed_at(const char* point, const std::function<void()>& fn) {
  pid_t p = fork();
  if (p == 0) {
    setenv("AB_CRASH_AT", point, 1);
    fn();
    _exit(0);
  }
  int status = 0;
  waitpid(p, &status, 0);
  return WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
}

ab::DaemonConfig pooled_config() {
  ab::DaemonConfig c = ab::builtin_default_config();
  add_team_pool(&c, "10.00", "t");
  return c;
}

ab_run* begin(ab_ledger* l, const char* id, const char* labels = nullptr, const char* parent = nullptr) {
  ab_begin_options o = AB_BEGIN_OPTIONS_INIT;
  o.labels = labels;
  o.parent = parent;
  ab_run* r = nullptr;
  int rc = ab_run_begin(l, id, &o, &r);
  EXPECT_EQ(rc, AB_OK) << id << ": " << ab_status_name(rc);
  return r;
}

// Every aggregate equals the sum of its truth: pools' spent and held, the
// parent's child_spent, each run's held and in_flight; and no hold is left.
void expect_consistent(ab::Ledger& l, const char* when) {
  int64_t pool_spent = 0;
  for (uint32_t i = 0; i < l.capacity(); ++i) {
    const ab::RunSlot& s = l.slots()[i];
    ab::SlotState st = ab::word_state(s.word.load());
    if (st != ab::SlotState::kActive && st != ab::SlotState::kClosed) continue;
    EXPECT_EQ(s.held.load(), 0) << when << ": run " << s.id;
    EXPECT_EQ(s.in_flight.load(), 0u) << when << ": run " << s.id;
    if (s.pools[0] == 0) pool_spent += s.spent.load();
  }
  for (uint32_t i = 0; i < l.hold_capacity(); ++i)
    EXPECT_EQ(ab::hold_state(l.holds()[i].word.load()), ab::HoldState::kFree) << when << ": hold " << i;
  const ab::PoolSlot& p = l.pools()[0];
  EXPECT_EQ(p.total_spent.load() - p.archived_spent.load(), pool_spent) << when;
  EXPECT_EQ(p.held.load(), 0) << when;  // no hold is left, so nothing is held
}

int active_runs_named(ab::Ledger& l, const std::string& id) {
  int n = 0;
  for (uint32_t i = 0; i < l.capacity(); ++i) {
    const ab::RunSlot& s = l.slots()[i];
    if (ab::word_state(s.word.load()) == ab::SlotState::kActive && id == s.id) ++n;
  }
  return n;
}

}  // namespace

// Killed after claiming a slot, and after filling it: the next process to
// begin the same id is not blocked and gets the one run of that id.
TEST(CrashPoints, BeginKilledAtEachStepLeavesTheIdUsable) {
  TestLedger t;
  ab_ledger* l = t.open();
  for (const char* point : {"begin.claimed", "begin.filled"}) {
    std::string id = std::string("victim-") + point;
    ASSERT_TRUE(killed_at(point,
                          [&] {
                            ab_ledger* cl = nullptr;
                            if (ab_ledger_open(t.name().c_str(), &cl) != AB_OK) _exit(2);
                            ab_run* r = nullptr;
                            ab_run_begin(cl, id.c_str(), nullptr, &r);
                          }))
        << point << " was not reached";
    ab_run* r = begin(l, id.c_str());
    ASSERT_NE(r, nullptr) << point;
    EXPECT_EQ(ab_run_created(r), 1) << point;  // the dead claim never became a run
    ASSERT_EQ(ab_charge(r, 5, nullptr), AB_OK);
    EXPECT_EQ(active_runs_named(t.daemon().ledger(), id), 1) << point;
    t.daemon().tick(true);
    ab_run* again = begin(l, id.c_str());
    EXPECT_EQ(ab_run_created(again), 0) << point;
    ab_run_status st;
    st.struct_size = sizeof st;
    ASSERT_EQ(ab_run_status_get(again, &st), AB_OK);
    EXPECT_EQ(st.spent_nanos, 5) << point;
    ab_run_detach(again);
    ab_run_detach(r);
  }
  ab_ledger_close(l);
}

// Killed between a run's update and its pool's (and its parent's), in a
// charge, a reservation and a commit: the daemon's next passes repair every
// aggregate from the truth, and the money the run recorded is in the pool.
TEST(CrashPoints, KilledBetweenRunAndPoolIsRepaired) {
  TestLedger t(pooled_config());
  ab_ledger* l = t.open();
  ab_run* parent = begin(l, "parent", "team=t");
  ab_run* child = begin(l, "child", nullptr, "parent");
  const int64_t amount = usd("0.25");
  auto in_child = [&](const char* point, const std::function<void(ab_run*)>& op) {
    return killed_at(point, [&] {
      ab_ledger* cl = nullptr;
      if (ab_ledger_open(t.name().c_str(), &cl) != AB_OK) _exit(2);
      ab_run* r = nullptr;
      if (ab_run_begin(cl, "child", nullptr, &r) != AB_OK) _exit(3);
      op(r);
    });
  };
  ASSERT_TRUE(in_child("charge.run_recorded", [&](ab_run* r) { ab_charge(r, amount, nullptr); }));
  ASSERT_TRUE(in_child("reserve.run_held", [&](ab_run* r) {
    ab_hold h;
    ab_reserve(r, amount, 0, &h, nullptr);
  }));
  ASSERT_TRUE(in_child("commit.run_recorded", [&](ab_run* r) {
    ab_hold h;
    if (ab_reserve(r, amount, 0, &h, nullptr) != AB_OK) _exit(4);
    ab_commit(r, h, amount, nullptr);
  }));
  // The interrupted operations left the run ahead of its levels.
  ab::Ledger& core = t.daemon().ledger();
  ab::RunRef ref;
  ASSERT_EQ(core.find("child", &ref), ab::Status::kOk);
  EXPECT_EQ(ref.slot->spent.load(), 2 * amount);  // the charge and the commit: the truth
  EXPECT_LT(core.pools()[0].total_spent.load(), 2 * amount);
  // The daemon's passes: dead holders' holds released, aggregates repaired.
  ASSERT_TRUE(eventually([&] {
    t.daemon().tick(true);
    ab::RunRef p;
    core.find("parent", &p);
    return core.pools()[0].total_spent.load() == 2 * amount && p.slot->child_spent.load() == 2 * amount &&
           core.pools()[0].held.load() == 0 && ref.slot->held.load() == 0 && ref.slot->in_flight.load() == 0;
  }));
  expect_consistent(core, "after repair");
  ab_pool_status ps;
  ps.struct_size = sizeof ps;
  ASSERT_EQ(ab_pool_status_get(l, "team", &ps), AB_OK);
  EXPECT_EQ(ps.spent_nanos, 2 * amount);
  EXPECT_EQ(ps.held_nanos, 0);
  ab_run_detach(child);
  ab_run_detach(parent);
  ab_ledger_close(l);
}

namespace {

// A daemon binary on a private ledger, with a config file and a log.
struct BinaryDaemon {
  std::string name = unique_ledger_name();
  std::string dir = make_temp_dir();
  std::string config = dir + "/agentbudgetd.toml";
  pid_t pid = -1;
  BinaryDaemon() {
    std::ofstream(config) << "ledger = \"" << name << "\"\ngroup = \"\"\nstate_dir = \"" << dir
                          << "\"\nsnapshot_interval_ms = 50\ntick_ms = 20\n"
                          << "[[pool]]\nname = \"team\"\nhard = \"10.00\"\n"
                          << "[[policy]]\nname = \"pooled\"\nmatch = { team = \"t\" }\npools = [\"team\"]\n"
                          << "[control]\nsocket = \"" << dir << "/control.sock\"\n";
  }
  ~BinaryDaemon() {
    if (pid > 0) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
    remove_test_ledger(name);
    fs::remove_all(dir);
  }
  std::string snapshot() const { return dir + "/" + name + ".snapshot"; }
  void start(const char* crash_at) {
    pid = fork();
    if (pid == 0) {
      int fd = open((dir + "/daemon.log").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
      dup2(fd, 1);
      dup2(fd, 2);
      if (crash_at) setenv("AB_CRASH_AT", crash_at, 1);
      execl(kDaemon.c_str(), kDaemon.c_str(), "--config", config.c_str(), (char*)nullptr);
      _exit(127);
    }
  }
  // Waits (up to a minute) for the daemon to exit; true if SIGKILL ended it.
  bool died_by_sigkill() {
    int status = 0;
    pid_t done = 0;
    for (int i = 0; i < 6000 && (done = waitpid(pid, &status, WNOHANG)) == 0; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    if (done != pid) return false;  // still running: the destructor kills it
    pid = -1;
    return WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
  }
  void stop() {
    kill(pid, SIGTERM);
    waitpid(pid, nullptr, 0);
    pid = -1;
  }
  ab_ledger* open_ledger() {
    ab_ledger* l = nullptr;
    for (int i = 0; i < 1000 && ab_ledger_open(name.c_str(), &l) != AB_OK; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    return l;
  }
};

int64_t snapshot_spent(const std::string& path, const std::string& run_id) {
  ab::Snapshot s;
  std::string err;
  if (ab::read_snapshot_file(path, &s, &err) != ab::SnapshotRead::kOk) return -1;
  for (auto& r : s.runs)
    if (r.id == run_id) return r.spent;
  return -2;
}

}  // namespace

// agentbudgetd SIGKILLed with its next snapshot written to FILE.tmp but not
// renamed, while a client keeps charging: the file on disk is the previous
// snapshot, whole; after a reboot (segments gone) the next daemon restores
// exactly what that file holds.
TEST(CrashPoints, DaemonKilledMidSnapshotLeavesTheLastWholeFile) {
  BinaryDaemon d;
  d.start("snapshot.tmp_written:5");  // a snapshot is written only when the ledger changed
  ab_ledger* l = d.open_ledger();
  ASSERT_NE(l, nullptr);
  ab_run* r = begin(l, "kept", "team=t");
  ASSERT_EQ(ab_charge(r, 1234, nullptr), AB_OK);
  ab_run_detach(r);
  pid_t client = fork();
  if (client == 0) {
    ab_ledger* cl = nullptr;
    ab_run* busy = nullptr;
    if (ab_ledger_open(d.name.c_str(), &cl) != AB_OK || ab_run_begin(cl, "busy", nullptr, &busy) != AB_OK) _exit(2);
    for (int i = 0; i < 60'000; ++i) {  // a minute at most
      ab_charge(busy, 1, nullptr);
      usleep(1000);
    }
    _exit(0);
  }
  ASSERT_TRUE(d.died_by_sigkill()) << "the daemon did not die at snapshot.tmp_written";
  kill(client, SIGKILL);
  waitpid(client, nullptr, 0);
  EXPECT_TRUE(fs::exists(d.snapshot() + ".tmp"));  // the interrupted write
  const int64_t busy_on_disk = snapshot_spent(d.snapshot(), "busy");
  EXPECT_EQ(snapshot_spent(d.snapshot(), "kept"), 1234);  // the file is whole: it decodes
  EXPECT_GT(busy_on_disk, 0);
  ab_ledger_close(l);
  ab::remove_ledger(d.name);  // the reboot
  d.start(nullptr);
  l = d.open_ledger();
  ASSERT_NE(l, nullptr);
  ab_run_status st;
  st.struct_size = sizeof st;
  r = begin(l, "kept", "team=t");
  EXPECT_EQ(ab_run_created(r), 0);  // restored, not new
  ASSERT_EQ(ab_run_status_get(r, &st), AB_OK);
  EXPECT_EQ(st.spent_nanos, 1234);
  ab_run_detach(r);
  r = begin(l, "busy");
  ASSERT_EQ(ab_run_status_get(r, &st), AB_OK);
  EXPECT_EQ(st.spent_nanos, busy_on_disk);
  ab_run_detach(r);
  ab_pool_status ps;
  ps.struct_size = sizeof ps;
  ASSERT_EQ(ab_pool_status_get(l, "team", &ps), AB_OK);
  EXPECT_EQ(ps.spent_nanos, 1234);
  ab_ledger_close(l);
  d.stop();
}

// agentbudgetd SIGKILLed while it reclaims the hold of a dead client: once
// right after taking the hold, once between the run's release and the
// pool's. The next daemon finishes the job: no hold left, every counter
// consistent, the pool's budget free again.
TEST(CrashPoints, DaemonKilledMidReclaimIsRepairedByTheNext) {
  for (const char* point : {"reclaim.marked", "reclaim.run_released"}) {
    BinaryDaemon d;
    d.start(point);
    ab_ledger* l = d.open_ledger();
    ASSERT_NE(l, nullptr);
    ab_run* r = begin(l, "held", "team=t");
    // A client that reserves and dies holding it.
    pid_t c = fork();
    if (c == 0) {
      ab_ledger* cl = nullptr;
      ab_run* cr = nullptr;
      ab_hold h;
      if (ab_ledger_open(d.name.c_str(), &cl) != AB_OK || ab_run_begin(cl, "held", nullptr, &cr) != AB_OK ||
          ab_reserve(cr, usd("2.00"), 0, &h, nullptr) != AB_OK)
        _exit(2);
      raise(SIGKILL);
    }
    int cs = 0;
    waitpid(c, &cs, 0);
    ASSERT_TRUE(WIFSIGNALED(cs)) << point;
    ASSERT_TRUE(d.died_by_sigkill()) << point << " was not reached";
    // The new daemon repairs what the old one left half done.
    d.start(nullptr);
    std::unique_ptr<ab::Ledger> view;
    std::string msg;
    ASSERT_EQ(ab::Ledger::open(d.name, false, &view, &msg), ab::Status::kOk) << msg;
    ab_pool_status ps;
    ps.struct_size = sizeof ps;
    ASSERT_TRUE(eventually([&] {
      ab_run_status st;
      st.struct_size = sizeof st;
      ab_run_status_get(r, &st);
      ab_pool_status_get(l, "team", &ps);
      bool free_holds = true;
      for (uint32_t i = 0; i < view->hold_capacity(); ++i)
        free_holds = free_holds && ab::hold_state(view->holds()[i].word.load()) == ab::HoldState::kFree;
      return free_holds && st.held_nanos == 0 && st.in_flight == 0 && ps.held_nanos == 0;
    })) << point;
    expect_consistent(*view, point);
    // The budget is whole again: a reservation of the pool's full $10 fits.
    ab_hold h;
    EXPECT_EQ(ab_reserve(r, usd("10.00"), 0, &h, nullptr), AB_OK) << point;
    EXPECT_EQ(ab_release(r, h), AB_OK);
    ab_run_detach(r);
    ab_ledger_close(l);
    d.stop();
  }
}
