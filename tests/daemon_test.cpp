// agentbudgetd: configuration, create/adopt, events exactly once across a
// restart, refusing bad segments, and the real binary's signals.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sys/stat.h>
#include <chrono>
#include <fstream>
#include <thread>

#include "config.h"
#include "daemon.h"
#include "ledger_owner.h"
#include "test_ledger.h"

using namespace abtest;

namespace {

struct Capture : ab::EventSink {
  std::vector<ab::Event> events;
  void deliver(const ab::Event& e) override { events.push_back(e); }
  int count(ab::EventKind k) const {
    int n = 0;
    for (auto& e : events) n += e.kind == k;
    return n;
  }
};

ab::DaemonConfig config_for(const std::string& ledger) {
  ab::DaemonConfig c = ab::builtin_default_config();
  c.ledger = ledger;
  c.group = "";
  return c;
}

std::string write_temp(const std::string& text) {
  char path[] = "/tmp/abtest-config-XXXXXX";
  int fd = mkstemp(path);
  EXPECT_GE(fd, 0);
  EXPECT_EQ(write(fd, text.data(), text.size()), ssize_t(text.size()));
  close(fd);
  return path;
}

const std::string kDaemon = std::string(AB_BUILD_DIR) + "/daemon/agentbudgetd";

}  // namespace

TEST(Config, ParsesPoliciesAndMoneyExactly) {
  const char* text = R"(
ledger = "abtest-cfg"
run_capacity = 1024
group = ""
[[policy]]
name = "research"
hard = "2.50"
soft = [0.5, 0.8, 0.95]
match = { agent = "researcher" }
[[policy]]
name = "default"
hard = 0.1
unknown_model = "deny"
fallback_input_per_mtok = "30"
)";
  ab::DaemonConfig c;
  std::vector<std::string> errors;
  ASSERT_TRUE(ab::parse_config(text, "t.toml", &c, &errors)) << (errors.empty() ? "" : errors[0]);
  EXPECT_EQ(c.ledger, "abtest-cfg");
  EXPECT_EQ(c.run_capacity, 1024u);
  ASSERT_EQ(c.policies.size(), 2u);
  EXPECT_EQ(c.policies[0].name, "default");  // "default" becomes policy 0
  EXPECT_EQ(c.policies[0].hard, usd("0.10"));
  EXPECT_EQ(c.policies[0].unknown_model, ab::UnknownModel::kDeny);
  EXPECT_EQ(c.policies[0].fallback_input, 30'000'000'000);  // fUSD per token
  EXPECT_EQ(c.policies[1].hard, usd("2.50"));
  EXPECT_EQ(c.policies[1].soft_permille, (std::vector<uint32_t>{500, 800, 950}));
  ASSERT_EQ(c.policies[1].matches.size(), 1u);
  EXPECT_EQ(c.policies[1].matches[0].second, "researcher");
}

TEST(Config, PoliciesWithoutADefaultKeepTheBuiltInOne) {
  ab::DaemonConfig c;
  std::vector<std::string> errors;
  ASSERT_TRUE(ab::parse_config("[[policy]]\nname = \"research\"\nhard = \"0.10\"\nmatch = { agent = \"r\" }\n",
                               "t.toml", &c, &errors));
  ASSERT_EQ(c.policies.size(), 2u);
  EXPECT_EQ(c.policies[0].name, "default");  // unmatched runs do not get "research"
  EXPECT_EQ(c.policies[0].hard, ab::kNoLimit);
  EXPECT_EQ(c.policies[1].name, "research");
}

TEST(Config, PoolsAndPolicyLimits) {
  const char* text = R"(
[[pool]]
name = "team:support"
hard = "50.00"
soft = [0.8]
period = "day"
timezone = "Europe/Paris"
[[pool]]
name = "global"
hard = "1000"
period = "rolling"
rolling_s = 3600
[[policy]]
name = "default"
pools = ["global"]
max_calls = 200
max_in_flight = 4
loop_limit = 5
max_duration_s = 1800
max_tokens = 5000000
hold_lease_s = 120
)";
  ab::DaemonConfig c;
  std::vector<std::string> errors;
  ASSERT_TRUE(ab::parse_config(text, "t.toml", &c, &errors)) << errors[0];
  ASSERT_EQ(c.pools.size(), 2u);
  EXPECT_EQ(c.pools[0].name, "team:support");
  EXPECT_EQ(c.pools[0].hard, usd("50.00"));
  EXPECT_EQ(c.pools[0].period, "day");
  EXPECT_EQ(c.pools[1].rolling_s, 3600u);
  EXPECT_EQ(c.policies[0].pools, std::vector<std::string>{"global"});
  EXPECT_EQ(c.policies[0].max_calls, 200u);
  EXPECT_EQ(c.policies[0].max_in_flight, 4u);
  EXPECT_EQ(c.policies[0].loop_limit, 5u);
  EXPECT_EQ(c.policies[0].hold_lease_s, 120u);
}

TEST(Config, EveryErrorNamesFileLineAndKey) {
  struct Case {
    const char* text;
    const char* expect;
  } cases[] = {
      {"ledger = \"bad name\"\n", "t.toml:1: ledger:"},
      {"\n\nrun_capacity = 1000\n", "t.toml:3: run_capacity:"},
      {"[[policy]]\nname = \"p\"\nhard = \"-1\"\n", "t.toml:3: policy[0].hard:"},
      {"[[policy]]\nname = \"p\"\nhard = \"abc\"\n", "t.toml:3: policy[0].hard:"},
      // INT64_MAX nanos is the "no limit" sentinel: a limit that large must not become "unlimited".
      {"[[policy]]\nname = \"p\"\nhard = \"9223372036.854775807\"\n",
       "t.toml:3: policy[0].hard: must be a USD amount from 0 to 1000000000"},
      {"[[policy]]\nname = \"p\"\nhard = 1000000001\n",
       "t.toml:3: policy[0].hard: must be a USD amount from 0 to 1000000000"},
      {"[[pool]]\nname = \"p\"\nhard = \"2.5000000001\"\n",
       "t.toml:3: pool[0].hard: must be a USD amount from 0 to 1000000000 with at most 9 decimals"},
      {"[[policy]]\nname = \"p\"\nsoft = [1.5]\n", "t.toml:3: policy[0].soft:"},
      {"[[policy]]\nname = \"p\"\nunknown_model = \"free\"\n", "t.toml:3: policy[0].unknown_model:"},
      {"[[policy]]\nname = \"p\"\n[[policy]]\nname = \"p\"\n", "policy[1].name: duplicate"},
      {"colour = \"blue\"\n", "t.toml:1: colour: unknown key"},
      {"ledger = \n", "t.toml:1: syntax:"},
      {"[[policy]]\nname = \"p\"\nsoft = [0.1, 0.2, 0.3, 0.4]\n",
       "t.toml:3: policy[0].soft: must be an array of at most 3"},
      {"[[policy]]\nname = \"p\"\npools = [\"nope\"]\n", "t.toml:3: policy[0].pools: no [[pool]] named \"nope\""},
      {"[[pool]]\nname = \"p\"\nperiod = \"fortnight\"\n", "t.toml:3: pool[0].period:"},
      {"[[pool]]\nname = \"p\"\ntimezone = \"Mars/Olympus\"\n", "t.toml:3: pool[0].timezone:"},
      {"[[pool]]\nname = \"p\"\nperiod = \"rolling\"\n", "pool[0].rolling_s: a rolling period needs"},
      {"[[policy]]\nname = \"p\"\nmatch = { agent = \"has space\" }\n", "t.toml:3: policy[0].match.agent:"},
      {"[[policy]]\nname = \"p\"\nloop_limit = 1\n", "t.toml:3: policy[0].loop_limit:"},
      {"[[pool]]\nname = \"a\"\n[[policy]]\nname = \"p\"\npools = [\"a\", \"a\"]\n",
       "policy[0].pools: pool \"a\" is listed twice"},
      {"[[pool]]\nname = \"a\"\ntimezone = \"UTC\"\n", "t.toml:3: pool[0].timezone: only for period"},
      {"[[pool]]\nname = \"a\"\nrolling_s = 60\n", "t.toml:3: pool[0].rolling_s: only for period"},
  };
  for (auto& c : cases) {
    ab::DaemonConfig cfg;
    std::vector<std::string> errors;
    EXPECT_FALSE(ab::parse_config(c.text, "t.toml", &cfg, &errors)) << c.text;
    ASSERT_FALSE(errors.empty()) << c.text;
    EXPECT_NE(errors[0].find(c.expect), std::string::npos) << errors[0];
  }
}

TEST(Daemon, CheckFlagValidatesWithoutStarting) {
  std::string good = write_temp("[[policy]]\nname = \"default\"\nhard = \"1.00\"\n");
  std::string bad = write_temp("[[policy]]\nname = \"default\"\nhard = \"one dollar\"\n");
  std::string out;
  EXPECT_EQ(run_command(kDaemon + " --check --config " + good, &out), 0) << out;
  EXPECT_NE(out.find("OK"), std::string::npos);
  EXPECT_EQ(run_command(kDaemon + " --check --config " + bad, &out), 2);
  EXPECT_NE(out.find(bad + ":3: policy[0].hard"), std::string::npos) << out;
  // What the daemon would refuse to start with is refused by --check too.
  std::string nogroup = write_temp("group = \"no-such-group-xyz\"\n");
  std::string noprices = write_temp("price_table = \"/nonexistent/prices.json\"\n");
  std::string notjson = write_temp("price_table = \"/etc/passwd\"\n");
  std::string freefallback = write_temp("[[policy]]\nname = \"default\"\nfallback_input_per_mtok = \"0\"\n");
  EXPECT_EQ(run_command(kDaemon + " --check --config " + nogroup, &out), 2);
  EXPECT_NE(out.find("'no-such-group-xyz' does not exist"), std::string::npos) << out;
  EXPECT_EQ(run_command(kDaemon + " --check --config " + noprices, &out), 2);
  EXPECT_NE(out.find("price_table"), std::string::npos) << out;
  EXPECT_EQ(run_command(kDaemon + " --check --config " + notjson, &out), 2);
  EXPECT_EQ(run_command(kDaemon + " --check --config " + freefallback, &out), 2);
  EXPECT_NE(out.find("never free"), std::string::npos) << out;
  EXPECT_EQ(run_command(kDaemon + " --check --config /tmp", &out), 2);
  EXPECT_NE(out.find("is a directory"), std::string::npos) << out;
  for (auto& f : {good, bad, nogroup, noprices, notjson, freefallback}) unlink(f.c_str());
}

// Clients keep charging and begin new runs while no daemon runs; the next
// daemon adopts the live segment (nothing lost) and delivers the crossings
// that happened meanwhile exactly once.
TEST(Daemon, RestartAdoptsAndDeliversMissedEventsOnce) {
  std::string name = unique_ledger_name();
  Capture first, second;
  ab_ledger* l = nullptr;
  ab_run* r = nullptr;
  {
    ab::Daemon d(config_for(name));
    std::string msg;
    ASSERT_TRUE(d.start(&msg)) << msg;
    EXPECT_EQ(d.outcome(), ab::OwnOutcome::kCreated);
    d.add_sink(&first);
    ASSERT_EQ(ab_ledger_open(name.c_str(), &l), AB_OK);
    ab_begin_options o = AB_BEGIN_OPTIONS_INIT;
    o.hard_nanos = usd("1.00");
    ASSERT_EQ(ab_run_begin(l, "survivor", &o, &r), AB_OK);
    ASSERT_EQ(ab_charge(r, usd("0.60"), nullptr), AB_OK);  // crosses 50%
    d.tick(true);
  }  // daemon gone
  EXPECT_EQ(first.count(ab::EventKind::kSoftThreshold), 1);
  ASSERT_EQ(ab_charge(r, usd("0.50"), nullptr), AB_OK);  // crosses 80% and hard, daemon down
  ab_run* fresh = nullptr;
  ASSERT_EQ(ab_run_begin(l, "begun-while-down", nullptr, &fresh), AB_OK);
  ASSERT_EQ(ab_charge(fresh, 7, nullptr), AB_OK);
  {
    ab::Daemon d(config_for(name));
    std::string msg;
    ASSERT_TRUE(d.start(&msg)) << msg;
    EXPECT_EQ(d.outcome(), ab::OwnOutcome::kAdopted);
    d.add_sink(&second);
    d.tick(true);
    d.tick(true);
  }
  EXPECT_EQ(second.count(ab::EventKind::kSoftThreshold), 1);  // the 80% one only
  EXPECT_EQ(second.count(ab::EventKind::kHardLimit), 1);
  ab_run_status st;
  st.struct_size = sizeof st;
  ASSERT_EQ(ab_run_status_get(r, &st), AB_OK);
  EXPECT_EQ(st.spent_nanos, usd("1.10"));
  ASSERT_EQ(ab_run_status_get(fresh, &st), AB_OK);
  EXPECT_EQ(st.spent_nanos, 7);
  ab_run_detach(r);
  ab_run_detach(fresh);
  ab_ledger_close(l);
  remove_test_ledger(name);
}

TEST(Daemon, RefusesToAdoptAnIncompatibleSegment) {
  std::string name = unique_ledger_name();
  {
    ab::Daemon d(config_for(name));
    std::string msg;
    ASSERT_TRUE(d.start(&msg));
    d.ledger().header()->fingerprint ^= 1;  // as if written by another layout
  }
  ab::Daemon d(config_for(name));
  std::string msg;
  EXPECT_FALSE(d.start(&msg));
  EXPECT_NE(msg.find("refusing to adopt"), std::string::npos) << msg;
  // Refused, not purged: the segment is still there for the operator.
  EXPECT_EQ(access(("/dev/shm/" + name + ".v1").c_str(), F_OK), 0);
  remove_test_ledger(name);
}

TEST(Daemon, RecreatesASegmentLeftHalfInitialised) {
  std::string name = unique_ledger_name();
  {
    ab::Daemon d(config_for(name));
    std::string msg;
    ASSERT_TRUE(d.start(&msg));
    d.ledger().header()->ready.store(0);  // died before publishing
  }
  ab::Daemon d(config_for(name));
  std::string msg;
  ASSERT_TRUE(d.start(&msg)) << msg;
  EXPECT_EQ(d.outcome(), ab::OwnOutcome::kCreated);
  remove_test_ledger(name);
}

TEST(Daemon, SecondDaemonOnALiveLedgerIsRefused) {
  TestLedger t;
  ab::Daemon d2(config_for(t.name()));
  std::string msg;
  EXPECT_FALSE(d2.start(&msg));
  EXPECT_NE(msg.find("another agentbudgetd owns ledger"), std::string::npos) << msg;
  // Nor may anyone remove the ledger from under it.
  std::string out;
  EXPECT_EQ(run_command(kDaemon + " --ledger " + t.name() + " --remove-ledger", &out), 1);
  EXPECT_NE(out.find("refusing to remove"), std::string::npos) << out;
  EXPECT_EQ(access(("/dev/shm/" + t.name() + ".v1").c_str(), F_OK), 0);
}

TEST(Daemon, SimultaneousStartsYieldOneOwner) {
  for (int trial = 0; trial < 10; ++trial) {
    std::string name = unique_ledger_name();
    std::vector<pid_t> pids;
    for (int i = 0; i < 3; ++i) {
      pid_t p = fork();
      if (p == 0) {
        execl(kDaemon.c_str(), kDaemon.c_str(), "--ledger", name.c_str(), "--log-level", "error", (char*)nullptr);
        _exit(127);
      }
      pids.push_back(p);
    }
    // Two of them must give up; wait for that (a sanitizer build on a
    // loaded machine starts slowly), then the third must still be running.
    int refused = 0;
    std::vector<bool> exited(pids.size(), false);
    for (int i = 0; i < 6000 && refused < 2; ++i) {
      for (size_t k = 0; k < pids.size(); ++k) {
        int status = 0;
        if (exited[k] || waitpid(pids[k], &status, WNOHANG) != pids[k]) continue;
        exited[k] = true;
        ++refused;
        EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1) << "trial " << trial;  // refused
      }
      if (refused < 2) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    int running = 0;
    for (size_t k = 0; k < pids.size(); ++k)
      if (!exited[k] && waitpid(pids[k], nullptr, WNOHANG) == 0) ++running;  // the owner
    EXPECT_EQ(refused, 2) << "trial " << trial;
    EXPECT_EQ(running, 1) << "trial " << trial;
    for (pid_t p : pids) kill(p, SIGTERM);
    for (pid_t p : pids) waitpid(p, nullptr, 0);
    remove_test_ledger(name);
  }
}

TEST(Daemon, RefusesToAdoptSegmentsWithOtherModes) {
  std::string name = unique_ledger_name();
  {
    ab::Daemon d(config_for(name));
    std::string msg;
    ASSERT_TRUE(d.start(&msg));
  }
  // As if someone loosened the config segment so that clients could write it.
  ASSERT_EQ(chmod(("/dev/shm/" + name + ".v1.config").c_str(), 0666), 0);
  ab::Daemon d(config_for(name));
  std::string msg;
  EXPECT_FALSE(d.start(&msg));
  EXPECT_NE(msg.find("with mode 438"), std::string::npos) << msg;
  remove_test_ledger(name);
}

TEST(Daemon, BinaryStartsOnDefaultsAndStopsOnSigterm) {
  std::string name = unique_ledger_name();
  pid_t p = fork();
  if (p == 0) {
    execl(kDaemon.c_str(), kDaemon.c_str(), "--ledger", name.c_str(), "--log-level", "warn", (char*)nullptr);
    _exit(127);
  }
  // Whatever happens below, the daemon does not outlive the test.
  struct Reap {
    pid_t p;
    ~Reap() {
      if (p > 0 && waitpid(p, nullptr, WNOHANG) == 0) {
        kill(p, SIGKILL);
        waitpid(p, nullptr, 0);
      }
    }
  } reap{p};
  ab_ledger* l = nullptr;
  for (int i = 0; i < 3000 && ab_ledger_open(name.c_str(), &l) != AB_OK; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_NE(l, nullptr) << "daemon did not create the ledger";
  ab_run* r = nullptr;
  ASSERT_EQ(ab_run_begin(l, "binary-run", nullptr, &r), AB_OK);
  ASSERT_EQ(ab_charge(r, 42, nullptr), AB_OK);
  kill(p, SIGTERM);
  int status = 0;
  waitpid(p, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  // The ledger outlives the daemon; clients go on.
  ASSERT_EQ(ab_charge(r, 8, nullptr), AB_OK);
  ab_run_status st;
  st.struct_size = sizeof st;
  ASSERT_EQ(ab_run_status_get(r, &st), AB_OK);
  EXPECT_EQ(st.spent_nanos, 50);
  ab_run_detach(r);
  ab_ledger_close(l);
  remove_test_ledger(name);
}

TEST(Daemon, BadConfigFileExitsWithTheErrors) {
  std::string bad = write_temp("run_capacity = \"lots\"\n");
  std::string out;
  EXPECT_EQ(run_command(kDaemon + " --config " + bad, &out), 2);
  EXPECT_NE(out.find(":1: run_capacity"), std::string::npos) << out;
  EXPECT_EQ(run_command(kDaemon + " --config /nonexistent/x.toml", &out), 2);
  EXPECT_NE(out.find("cannot read"), std::string::npos) << out;
  unlink(bad.c_str());
}
