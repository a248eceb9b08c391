// Live reload: a valid file applies whole and binds existing runs at once;
// each kind of invalid file is refused with its reason (file, line, key)
// and the running configuration stays, exactly as it was; edits of the file
// and SIGHUP (request_reload) are picked up by the daemon's own loop.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <thread>

#include "config.h"
#include "test_ledger.h"

using namespace abtest;

namespace {

bool eventually(const std::function<bool()>& done) {
  auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!done()) {
    if (std::chrono::steady_clock::now() > give_up) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

// A configuration file in a private folder; the settings that only a
// restart may change are pinned so that every rewrite keeps them.
class ConfigFile {
 public:
  ConfigFile() : dir_(make_temp_dir()), path_(dir_ + "/agentbudgetd.toml") {}
  ~ConfigFile() { std::filesystem::remove_all(dir_); }
  const std::string& path() const { return path_; }
  // Replaces the file by rename, as editors and config management do. The
  // body starts at line 4.
  void write(const std::string& body) const {
    std::string tmp = path_ + ".tmp";
    std::ofstream(tmp) << "group = \"\"\nstate_dir = \"" << dir_ << "\"\ntick_ms = 20\n"
                       << body << "\n[control]\nsocket = \"" << dir_ << "/control.sock\"\n";
    std::filesystem::rename(tmp, path_);
  }
  ab::DaemonConfig load() const {
    ab::DaemonConfig c;
    std::vector<std::string> errors;
    EXPECT_TRUE(ab::load_config_file(path_, &c, &errors)) << (errors.empty() ? "" : errors[0]);
    return c;
  }

 private:
  std::string dir_, path_;
};

const char* kPolicies = R"(
[[pool]]
name = "team"
hard = "20.00"

[[policy]]
name = "default"
hard = "5.00"
soft = [0.5]

[[policy]]
name = "support"
hard = "3.00"
match = { team = "support" }
pools = ["team"]
)";

ab_run* begin(ab_ledger* l, const char* id, const char* labels = nullptr) {
  ab_begin_options o = AB_BEGIN_OPTIONS_INIT;
  o.labels = labels;
  ab_run* r = nullptr;
  EXPECT_EQ(ab_run_begin(l, id, &o, &r), AB_OK) << id;
  return r;
}

int64_t hard_of(ab_run* r) {
  ab_run_status st;
  st.struct_size = sizeof st;
  EXPECT_EQ(ab_run_status_get(r, &st), AB_OK);
  return st.hard_nanos;
}

int32_t reason_of_admit(ab_run* r, const char* estimate) {
  int32_t reason = -1;
  int rc = ab_admit(r, usd(estimate), &reason);
  EXPECT_TRUE(rc == AB_OK || rc == AB_DENIED) << ab_status_name(rc);
  return reason;
}

}  // namespace

TEST(Reload, ValidFileBindsExistingRunsAtOnce) {
  ConfigFile f;
  f.write(kPolicies);
  TestLedger t(f.load());
  ab_ledger* l = t.open();
  ab_run* plain = begin(l, "plain");
  ab_run* support = begin(l, "support-1", "team=support");
  ASSERT_EQ(ab_charge(plain, usd("3.00"), nullptr), AB_OK);
  ASSERT_EQ(ab_charge(support, usd("1.00"), nullptr), AB_OK);
  EXPECT_EQ(hard_of(plain), usd("5.00"));
  EXPECT_EQ(reason_of_admit(plain, "1.00"), AB_REASON_NONE);

  // Lower the default policy under what the run spent, shrink the pool, and
  // add a policy and a pool that did not exist.
  f.write(R"(
[[pool]]
name = "team"
hard = "1.50"

[[pool]]
name = "research"
hard = "7.00"

[[policy]]
name = "default"
hard = "2.00"
soft = [0.5]

[[policy]]
name = "support"
hard = "3.00"
match = { team = "support" }
pools = ["team"]

[[policy]]
name = "research"
hard = "4.00"
match = { team = "research" }
pools = ["research"]
)");
  std::string err;
  ASSERT_TRUE(t.daemon().reload(&err)) << err;
  EXPECT_EQ(t.daemon().last_reload_error(), "");
  EXPECT_EQ(t.daemon().reloads(), 1u);
  // The existing runs are bound by the new limits at once.
  EXPECT_EQ(hard_of(plain), usd("2.00"));
  EXPECT_EQ(reason_of_admit(plain, "0"), AB_REASON_RUN_HARD);
  EXPECT_EQ(reason_of_admit(support, "0.60"), AB_REASON_POOL);  // $1.00 of $1.50 spent
  EXPECT_EQ(reason_of_admit(support, "0.50"), AB_REASON_NONE);
  // New runs pick the new policy and pool by their labels.
  ab_run* research = begin(l, "research-1", "team=research");
  EXPECT_EQ(hard_of(research), usd("4.00"));
  ab_pool_status ps;
  ps.struct_size = sizeof ps;
  ASSERT_EQ(ab_pool_status_get(l, "research", &ps), AB_OK);
  EXPECT_EQ(ps.hard_nanos, usd("7.00"));
  for (ab_run* r : {plain, support, research}) ab_run_detach(r);
  ab_ledger_close(l);
}

// Each kind of invalid file, then a valid one again. The run's limits, its
// admission and the policies stay exactly as before every refusal.
TEST(Reload, EachKindOfInvalidFileIsRefusedAndTheOldConfigurationRuns) {
  ConfigFile f;
  f.write(kPolicies);
  TestLedger t(f.load());
  ab_ledger* l = t.open();
  ab_run* plain = begin(l, "plain");
  ab_run* support = begin(l, "support-1", "team=support");
  ASSERT_EQ(ab_charge(plain, usd("4.00"), nullptr), AB_OK);
  struct Case {
    std::string body;
    std::string expect;  // in the error
  } cases[] = {
      {"[[policy]]\nname = \"default\"\nhard = \n", "agentbudgetd.toml:6: syntax:"},
      {"colour = \"blue\"\n", "agentbudgetd.toml:4: colour: unknown key"},
      {"[[policy]]\nname = \"default\"\nhard = \"2.5.0\"\n", "agentbudgetd.toml:6: policy[0].hard:"},
      {"[[policy]]\nname = \"default\"\nhard = \"-1\"\n", "agentbudgetd.toml:6: policy[0].hard:"},
      {"[[policy]]\nname = \"default\"\nsoft = [1.5]\n", "agentbudgetd.toml:6: policy[0].soft:"},
      {"[[policy]]\nname = \"default\"\npools = [\"nope\"]\n", "policy[0].pools: no [[pool]] named \"nope\""},
      {"[[policy]]\nname = \"p\"\n[[policy]]\nname = \"p\"\n", "policy[1].name: duplicate"},
      {"run_capacity = 1024\n", "run_capacity: changed from \"65536\" to \"1024\"; only a restart applies it"},
      {"price_table = \"/nonexistent/prices.json\"\n", "price_table:"},
  };
  uint64_t failures = 0;
  for (const Case& c : cases) {
    f.write(c.body);
    std::string err;
    EXPECT_FALSE(t.daemon().reload(&err)) << c.body;
    EXPECT_NE(err.find(c.expect), std::string::npos) << "got: " << err << "\nfor:\n" << c.body;
    EXPECT_EQ(t.daemon().last_reload_error(), err);
    EXPECT_EQ(t.daemon().reload_failures(), ++failures);
    // Nothing changed: limits, admission, the pool and the policies.
    EXPECT_EQ(hard_of(plain), usd("5.00")) << c.body;
    EXPECT_EQ(hard_of(support), usd("3.00")) << c.body;
    EXPECT_EQ(reason_of_admit(plain, "1.00"), AB_REASON_NONE) << c.body;
    EXPECT_EQ(reason_of_admit(plain, "1.01"), AB_REASON_RUN_HARD) << c.body;
    ab_pool_status ps;
    ps.struct_size = sizeof ps;
    EXPECT_EQ(ab_pool_status_get(l, "team", &ps), AB_OK);
    EXPECT_EQ(ps.hard_nanos, usd("20.00"));
    EXPECT_EQ(t.daemon().config().policies.size(), 2u);
  }
  // A deleted file is refused too.
  std::filesystem::remove(f.path());
  std::string err;
  EXPECT_FALSE(t.daemon().reload(&err));
  EXPECT_NE(err.find(f.path()), std::string::npos) << err;
  EXPECT_EQ(hard_of(plain), usd("5.00"));
  // A valid file applies again and clears the error.
  f.write(std::string(kPolicies) + "\n");
  ASSERT_TRUE(t.daemon().reload(&err)) << err;
  EXPECT_EQ(t.daemon().last_reload_error(), "");
  EXPECT_EQ(t.daemon().reload_failures(), failures + 1);
  for (ab_run* r : {plain, support}) ab_run_detach(r);
  ab_ledger_close(l);
}

// With the loop running: an edited file is noticed by itself, and a SIGHUP
// (request_reload) reloads even an unchanged file.
TEST(Reload, TheLoopPicksUpEditsAndSighup) {
  ConfigFile f;
  f.write(kPolicies);
  TestLedger t(f.load());
  ab_ledger* l = t.open();
  ab_run* plain = begin(l, "plain");
  std::thread loop([&] { t.daemon().run(); });
  f.write(std::string(kPolicies).replace(std::string(kPolicies).find("5.00"), 4, "4.25"));
  // The segment is rewritten before the counter moves: wait for both.
  EXPECT_TRUE(eventually([&] { return hard_of(plain) == usd("4.25") && t.daemon().reloads() == 1u; }));
  t.daemon().request_reload();
  EXPECT_TRUE(eventually([&] { return t.daemon().reloads() == 2u; }));
  // A bad edit is refused by the loop too, and the limit stays.
  f.write("colour = \"blue\"\n");
  EXPECT_TRUE(eventually([&] { return t.daemon().reload_failures() == 1u; }));
  EXPECT_NE(t.daemon().last_reload_error().find("colour: unknown key"), std::string::npos);
  EXPECT_EQ(hard_of(plain), usd("4.25"));
  t.daemon().stop();
  loop.join();
  ab_run_detach(plain);
  ab_ledger_close(l);
}

// [notify] reloads too: a hook added by a reload runs for the next event.
TEST(Reload, NotificationSinksFollowTheFile) {
  ConfigFile f;
  f.write(kPolicies);
  TestLedger t(f.load());
  ab_ledger* l = t.open();
  const std::string out = t.state_dir() + "/hook.out";
  f.write(std::string(kPolicies) + "\n[[notify.exec]]\ncommand = \"cat >> " + out + "\"\nevents = [\"hard_limit\"]\n");
  std::string err;
  ASSERT_TRUE(t.daemon().reload(&err)) << err;
  ab_run* plain = begin(l, "plain");
  ASSERT_EQ(ab_charge(plain, usd("5.00"), nullptr), AB_OK);  // reaches the $5 cap
  t.daemon().tick(true);
  std::string text;
  EXPECT_TRUE(eventually([&] {
    std::ifstream in(out);
    std::getline(in, text);
    return text.find("\"kind\":\"hard_limit\"") != std::string::npos;
  })) << text;
  EXPECT_NE(text.find("\"run_id\":\"plain\""), std::string::npos) << text;
  ab_run_detach(plain);
  ab_ledger_close(l);
}
