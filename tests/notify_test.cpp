// Notification sinks and the hard-limit signal: webhooks (delivery, retries,
// no retry on 4xx, a server that is down), exec hooks (environment, stdin,
// timeout), event filters, exactly-once delivery, and on_hard_signal
// stopping the processes of a run. Every wait below is "until it happened",
// bounded only to fail instead of hanging; nothing asserts a duration.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>

// Debian's libcpp-httplib is compiled with these; the class layouts depend on them.
#ifndef CPPHTTPLIB_OPENSSL_SUPPORT
#define CPPHTTPLIB_OPENSSL_SUPPORT
#endif
#ifndef CPPHTTPLIB_ZLIB_SUPPORT
#define CPPHTTPLIB_ZLIB_SUPPORT
#endif
#ifndef CPPHTTPLIB_BROTLI_SUPPORT
#define CPPHTTPLIB_BROTLI_SUPPORT
#endif
#include <httplib.h>
#include <nlohmann/json.hpp>

#include "config.h"
#include "daemon.h"
#include "event_json.h"
#include "notify_sink.h"
#include "test_ledger.h"

using namespace abtest;
using nlohmann::json;

namespace {

// Polls `done` until it holds; false after a generous bound (a broken
// feature fails the test rather than hanging it).
bool eventually(const std::function<bool()>& done) {
  auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!done()) {
    if (std::chrono::steady_clock::now() > give_up) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

// A webhook receiver on 127.0.0.1, a free port, serving in its own thread.
// `status_for(n)` answers the n-th request (1-based).
class HookServer {
 public:
  struct Request {
    std::string body, content_type, event_header;
  };
  explicit HookServer(std::function<int(int)> status_for = [](int) { return 200; })
      : status_for_(std::move(status_for)) {
    server_.Post("/hook", [this](const httplib::Request& rq, httplib::Response& rs) {
      int n;
      {
        std::lock_guard lk(mu_);
        requests_.push_back({rq.body, rq.get_header_value("Content-Type"), rq.get_header_value("X-AgentBudget-Event")});
        n = int(requests_.size());
      }
      rs.status = status_for_(n);
      rs.set_content("ok", "text/plain");
    });
    port_ = server_.bind_to_any_port("127.0.0.1");  // listening from here on
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  ~HookServer() {
    server_.stop();
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/hook"; }
  size_t count() const {
    std::lock_guard lk(mu_);
    return requests_.size();
  }
  std::vector<Request> requests() const {
    std::lock_guard lk(mu_);
    return requests_;
  }

 private:
  std::function<int(int)> status_for_;
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
  mutable std::mutex mu_;
  std::vector<Request> requests_;
};

// A port nothing listens on: bound, read, closed.
int closed_port() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  EXPECT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len), 0);
  close(fd);
  return ntohs(a.sin_port);
}

ab::PolicyConfig capped_policy(const std::string& name, int signal = 0) {
  ab::PolicyConfig p;
  p.name = name;
  p.hard = usd("1.00");
  p.soft_permille = {500};
  p.on_hard_signal = signal;
  return p;
}

// The default configuration plus a policy "capped" ($1 hard, soft at 50 %),
// and no log sink (test output stays quiet).
ab::DaemonConfig notify_config() {
  ab::DaemonConfig c = ab::builtin_default_config();
  c.policies.push_back(capped_policy("capped"));
  c.notify.log = false;
  return c;
}

ab::WebhookConfig webhook(const std::string& url, ab::EventFilter events = {"hard_limit"}) {
  ab::WebhookConfig w;
  w.url = url;
  w.retries = 3;
  w.backoff_ms = 1;  // keeps the tests quick; doubling is still exercised
  w.timeout_ms = 5000;
  w.events = std::move(events);
  return w;
}

// Begins RUN under policy "capped" and charges AMOUNT ("1.50": past its
// soft line and its hard limit).
void charge_run(ab_ledger* l, const std::string& run, const char* amount) {
  ab_begin_options o = AB_BEGIN_OPTIONS_INIT;
  o.labels = "policy=capped";
  ab_run* r = nullptr;
  ASSERT_EQ(ab_run_begin(l, run.c_str(), &o, &r), AB_OK);
  ASSERT_EQ(ab_charge(r, usd(amount), nullptr), AB_OK);
  ab_run_detach(r);
}

std::string read_file(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::map<std::string, std::string> parse_env(const std::string& text) {
  std::map<std::string, std::string> env;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    size_t eq = line.find('=');
    if (eq != std::string::npos) env[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return env;
}

}  // namespace

TEST(EventJson, RendersEveryFieldAndNullsWhatDoesNotApply) {
  ab::Event e;
  e.kind = ab::EventKind::kSoftThreshold;
  e.run_id = "r1";
  e.policy = "capped";
  e.threshold = 0;
  e.threshold_nanos = usd("0.50");
  e.spent = usd("0.75");
  e.hard = ab::kNoLimit;
  e.calls = 3;
  e.unix_ns = 1'700'000'000'123'456'789ull;
  json j = ab::event_to_json(e);
  EXPECT_EQ(j["kind"], "soft_threshold");
  EXPECT_EQ(j["run_id"], "r1");
  EXPECT_TRUE(j["pool"].is_null());
  EXPECT_TRUE(j["period"].is_null());
  EXPECT_EQ(j["threshold"], 0);
  EXPECT_EQ(j["threshold_nanos"], 500'000'000);
  EXPECT_EQ(j["threshold_usd"], "0.50");
  EXPECT_EQ(j["spent_nanos"], 750'000'000);
  EXPECT_EQ(j["spent_usd"], "0.75");
  EXPECT_TRUE(j["hard_nanos"].is_null());
  EXPECT_TRUE(j["hard_usd"].is_null());
  EXPECT_EQ(j["calls"], 3);
  EXPECT_TRUE(j["reason"].is_null());
  EXPECT_TRUE(j["forecast_final_usd"].is_null());
  EXPECT_EQ(j["unix_ns"], 1'700'000'000'123'456'789ull);
  EXPECT_EQ(j["unix_s"], 1'700'000'000u);

  auto env = ab::event_env(e);
  std::map<std::string, std::string> m(env.begin(), env.end());
  EXPECT_EQ(m["AB_EVENT_KIND"], "soft_threshold");
  EXPECT_EQ(m["AB_THRESHOLD"], "0");
  EXPECT_EQ(m["AB_THRESHOLD_USD"], "0.50");
  EXPECT_EQ(m["AB_SPENT_NANOS"], "750000000");
  EXPECT_EQ(m.count("AB_HARD_USD"), 0u);  // no limit: left out
  EXPECT_EQ(m.count("AB_POOL"), 0u);

  ab::Event f;
  f.kind = ab::EventKind::kForecastOverBudget;
  f.run_id = "r2";
  f.forecast_final = usd("12.5");
  f.exhaust_in_s = 42;
  f.hard = usd("10");
  json k = ab::event_to_json(f);
  EXPECT_EQ(k["forecast_final_usd"], "12.50");
  EXPECT_EQ(k["exhaust_in_s"], 42);
  EXPECT_EQ(k["hard_usd"], "10.00");
  EXPECT_TRUE(k["threshold_usd"].is_null());
}

TEST(EventFilter, AcceptsOnlyListedKinds) {
  ab::KindFilter all({});
  ab::KindFilter hard({"hard_limit", "pool_hard_limit"});
  for (int k = 0; k < ab::kEventKindCount; ++k) EXPECT_TRUE(all.accepts(ab::EventKind(k)));
  EXPECT_TRUE(hard.accepts(ab::EventKind::kHardLimit));
  EXPECT_TRUE(hard.accepts(ab::EventKind::kPoolHardLimit));
  EXPECT_FALSE(hard.accepts(ab::EventKind::kSoftThreshold));
  EXPECT_FALSE(hard.accepts(ab::EventKind::kRunClosed));
}

TEST(Webhook, PostsTheEventAsJsonFieldByField) {
  HookServer server;
  ab::DaemonConfig c = notify_config();
  c.notify.webhooks.push_back(webhook(server.url()));
  TestLedger t(c);
  ab_ledger* l = t.open();
  charge_run(l, "wh-run", "1.50");
  t.daemon().tick(true);
  ASSERT_TRUE(eventually([&] { return server.count() == 1; }));
  auto req = server.requests()[0];
  EXPECT_EQ(req.content_type, "application/json");
  EXPECT_EQ(req.event_header, "hard_limit");
  json j = json::parse(req.body);
  EXPECT_EQ(j["version"], 1);
  EXPECT_EQ(j["kind"], "hard_limit");
  EXPECT_EQ(j["run_id"], "wh-run");
  EXPECT_EQ(j["policy"], "capped");
  EXPECT_TRUE(j["pool"].is_null());
  EXPECT_TRUE(j["threshold"].is_null());
  EXPECT_EQ(j["threshold_nanos"], 1'000'000'000);
  EXPECT_EQ(j["threshold_usd"], "1.00");
  EXPECT_EQ(j["spent_nanos"], 1'500'000'000);
  EXPECT_EQ(j["spent_usd"], "1.50");
  EXPECT_EQ(j["hard_nanos"], 1'000'000'000);
  EXPECT_EQ(j["hard_usd"], "1.00");
  EXPECT_EQ(j["calls"], 1);
  EXPECT_TRUE(j["reason"].is_null());
  EXPECT_GT(j["unix_ns"].get<uint64_t>(), 1'600'000'000'000'000'000ull);
  EXPECT_EQ(j["summary"].get<std::string>().rfind("hard_limit run=wh-run", 0), 0u);
  ASSERT_TRUE(eventually([&] { return t.daemon().webhook_stats()[0].sent == 1; }));
  auto s = t.daemon().webhook_stats()[0];
  EXPECT_EQ(s.target, server.url());
  EXPECT_EQ(s.retried, 0u);
  EXPECT_EQ(s.failed, 0u);
  EXPECT_EQ(s.dropped, 0u);
  ab_ledger_close(l);
}

TEST(Webhook, DeliversEachEventExactlyOnceAcrossManyTicks) {
  HookServer server;
  ab::DaemonConfig c = notify_config();
  c.notify.webhooks.push_back(webhook(server.url()));
  TestLedger t(c);
  ab_ledger* l = t.open();
  charge_run(l, "once-a", "1.50");
  for (int i = 0; i < 20; ++i) t.daemon().tick(true);
  // A second event behind the first: once it has arrived, any repeat of the
  // first (delivered in order) would have arrived before it.
  charge_run(l, "once-b", "2.00");
  for (int i = 0; i < 20; ++i) t.daemon().tick(true);
  ASSERT_TRUE(eventually([&] { return server.count() >= 2; }));
  auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 2u);
  EXPECT_EQ(json::parse(reqs[0].body)["run_id"], "once-a");
  EXPECT_EQ(json::parse(reqs[1].body)["run_id"], "once-b");
  ASSERT_TRUE(eventually([&] { return t.daemon().webhook_stats()[0].sent == 2; }));
  ab_ledger_close(l);
}

TEST(Webhook, RetriesServerErrorsUntilAccepted) {
  HookServer server([](int n) { return n <= 2 ? 500 : 200; });
  ab::DaemonConfig c = notify_config();
  c.notify.webhooks.push_back(webhook(server.url()));
  TestLedger t(c);
  ab_ledger* l = t.open();
  charge_run(l, "retry-run", "1.50");
  t.daemon().tick(true);
  ASSERT_TRUE(eventually([&] { return t.daemon().webhook_stats()[0].sent == 1; }));
  auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 3u);                            // 500, 500, then 200: exactly three attempts
  for (auto& r : reqs) EXPECT_EQ(r.body, reqs[0].body);  // the same event each time
  EXPECT_EQ(json::parse(reqs[2].body)["run_id"], "retry-run");
  auto s = t.daemon().webhook_stats()[0];
  EXPECT_EQ(s.retried, 2u);
  EXPECT_EQ(s.failed, 0u);
  ab_ledger_close(l);
}

TEST(Webhook, TooManyRequestsIsRetriedOtherClientErrorsAreNot) {
  HookServer limited([](int n) { return n == 1 ? 429 : 200; });
  HookServer refusing([](int) { return 400; });
  ab::DaemonConfig c = notify_config();
  c.notify.webhooks.push_back(webhook(limited.url()));
  c.notify.webhooks.push_back(webhook(refusing.url()));
  TestLedger t(c);
  ab_ledger* l = t.open();
  charge_run(l, "4xx-a", "1.50");
  t.daemon().tick(true);
  ASSERT_TRUE(eventually([&] { return t.daemon().webhook_stats()[1].failed == 1; }));
  charge_run(l, "4xx-b", "1.50");
  t.daemon().tick(true);
  ASSERT_TRUE(eventually([&] { return t.daemon().webhook_stats()[1].failed == 2; }));
  // One attempt per event at the 400 server: given up at once, never retried.
  auto refused = refusing.requests();
  ASSERT_EQ(refused.size(), 2u);
  EXPECT_EQ(json::parse(refused[0].body)["run_id"], "4xx-a");
  EXPECT_EQ(json::parse(refused[1].body)["run_id"], "4xx-b");
  EXPECT_EQ(t.daemon().webhook_stats()[1].retried, 0u);
  EXPECT_EQ(t.daemon().webhook_stats()[1].sent, 0u);
  // The 429 was retried once, then both events went through.
  ASSERT_TRUE(eventually([&] { return t.daemon().webhook_stats()[0].sent == 2; }));
  EXPECT_EQ(limited.count(), 3u);
  EXPECT_EQ(t.daemon().webhook_stats()[0].retried, 1u);
  ab_ledger_close(l);
}

TEST(Webhook, GivesUpOnADownServerAfterItsRetries) {
  ab::DaemonConfig c = notify_config();
  ab::WebhookConfig w = webhook("http://127.0.0.1:" + std::to_string(closed_port()) + "/hook");
  w.retries = 2;
  c.notify.webhooks.push_back(w);
  TestLedger t(c);
  ab_ledger* l = t.open();
  charge_run(l, "down-run", "1.50");
  t.daemon().tick(true);
  ASSERT_TRUE(eventually([&] { return t.daemon().webhook_stats()[0].failed == 1; }));
  auto s = t.daemon().webhook_stats()[0];
  EXPECT_EQ(s.retried, 2u);  // the first attempt and two more
  EXPECT_EQ(s.sent, 0u);
  EXPECT_EQ(s.dropped, 0u);
  ab_ledger_close(l);
}

TEST(Webhook, FilterPassesOnlyTheListedKinds) {
  HookServer soft_only, everything;
  ab::DaemonConfig c = notify_config();
  c.notify.webhooks.push_back(webhook(soft_only.url(), {"soft_threshold"}));
  c.notify.webhooks.push_back(webhook(everything.url(), {}));
  TestLedger t(c);
  ab_ledger* l = t.open();
  charge_run(l, "filter-run", "1.50");  // crosses the 50 % soft line and the hard limit
  t.daemon().tick(true);
  ASSERT_TRUE(eventually([&] { return t.daemon().webhook_stats()[1].sent == 2; }));
  ASSERT_TRUE(eventually([&] { return t.daemon().webhook_stats()[0].sent == 1; }));
  auto all = everything.requests();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(json::parse(all[0].body)["kind"], "soft_threshold");
  EXPECT_EQ(json::parse(all[1].body)["kind"], "hard_limit");
  auto soft = soft_only.requests();
  ASSERT_EQ(soft.size(), 1u);
  json j = json::parse(soft[0].body);
  EXPECT_EQ(j["kind"], "soft_threshold");
  EXPECT_EQ(j["threshold"], 0);
  EXPECT_EQ(j["threshold_usd"], "0.50");
  ab_ledger_close(l);
}

TEST(ExecHook, GetsTheEventInItsEnvironmentAndOnStdin) {
  std::string dir = make_temp_dir();
  ab::DaemonConfig c = notify_config();
  ab::ExecSinkConfig x;
  x.command = "env | grep '^AB_' > '" + dir + "/env.txt'; cat > '" + dir + "/stdin.json'";
  x.events = {"hard_limit"};
  c.notify.exec.push_back(x);
  TestLedger t(c);
  ab_ledger* l = t.open();
  charge_run(l, "exec-run", "1.50");
  t.daemon().tick(true);
  ASSERT_TRUE(eventually([&] { return t.daemon().exec_stats()[0].sent == 1; }));
  auto env = parse_env(read_file(dir + "/env.txt"));
  EXPECT_EQ(env["AB_EVENT_KIND"], "hard_limit");
  EXPECT_EQ(env["AB_RUN_ID"], "exec-run");
  EXPECT_EQ(env["AB_POLICY"], "capped");
  EXPECT_EQ(env["AB_SPENT_USD"], "1.50");
  EXPECT_EQ(env["AB_SPENT_NANOS"], "1500000000");
  EXPECT_EQ(env["AB_HARD_USD"], "1.00");
  EXPECT_EQ(env["AB_THRESHOLD_USD"], "1.00");
  EXPECT_EQ(env["AB_CALLS"], "1");
  EXPECT_EQ(env.count("AB_REASON"), 0u);
  EXPECT_EQ(env.count("AB_POOL"), 0u);
  json j = json::parse(read_file(dir + "/stdin.json"));
  EXPECT_EQ(j["kind"], "hard_limit");
  EXPECT_EQ(j["run_id"], "exec-run");
  EXPECT_EQ(j["spent_nanos"], 1'500'000'000);
  EXPECT_EQ(j["hard_usd"], "1.00");
  auto s = t.daemon().exec_stats()[0];
  EXPECT_EQ(s.failed, 0u);
  EXPECT_EQ(s.timed_out, 0u);
  ab_ledger_close(l);
  std::filesystem::remove_all(dir);
}

TEST(ExecHook, AHookPastItsTimeoutIsKilledAndTheNextEventStillRuns) {
  std::string dir = make_temp_dir();
  ab::DaemonConfig c = notify_config();
  ab::ExecSinkConfig x;
  // The slow run's hook never ends (a child of sh, in its process group).
  x.command = "if [ \"$AB_RUN_ID\" = slow ]; then sleep 100000; fi; echo \"$AB_RUN_ID\" >> '" + dir + "/out.txt'";
  x.timeout_ms = 1500;  // ample for the fast hook, even on a loaded machine
  x.events = {"hard_limit"};
  c.notify.exec.push_back(x);
  TestLedger t(c);
  ab_ledger* l = t.open();
  charge_run(l, "slow", "1.50");
  t.daemon().tick(true);
  charge_run(l, "fast", "1.50");
  t.daemon().tick(true);
  ASSERT_TRUE(eventually([&] { return t.daemon().exec_stats()[0].sent == 1; }));
  auto s = t.daemon().exec_stats()[0];
  EXPECT_EQ(s.timed_out, 1u);
  EXPECT_EQ(s.failed, 1u);
  EXPECT_EQ(read_file(dir + "/out.txt"), "fast\n");
  ab_ledger_close(l);
  std::filesystem::remove_all(dir);
}

TEST(ExecHook, NonZeroExitCountsAsFailed) {
  ab::DaemonConfig c = notify_config();
  ab::ExecSinkConfig x;
  x.command = "exit 3";
  c.notify.exec.push_back(x);
  TestLedger t(c);
  ab_ledger* l = t.open();
  charge_run(l, "exit-run", "1.50");
  t.daemon().tick(true);  // soft_threshold and hard_limit: two hooks
  ASSERT_TRUE(eventually([&] { return t.daemon().exec_stats()[0].failed == 2; }));
  EXPECT_EQ(t.daemon().exec_stats()[0].sent, 0u);
  ab_ledger_close(l);
}

// on_hard_signal: the process that began the run and a process holding a
// reservation on it get SIGTERM once the daemon delivers hard_limit; the
// process of a run whose policy names no signal is left alone.
TEST(HardSignal, StopsTheRunsProcessesOnlyWhenThePolicySaysSo) {
  ab::DaemonConfig c = notify_config();
  c.policies.push_back(capped_policy("stop", SIGTERM));
  c.policies.push_back(capped_policy("keep"));
  TestLedger t(c);
  auto* step = shared_array<std::atomic<int>>(4);
  auto wait_step = [&](int i) {
    while (step[i].load() == 0) usleep(1000);
  };
  auto begin = [&](const char* run, const char* labels) {
    ab_ledger* l = t.open();
    ab_begin_options o = AB_BEGIN_OPTIONS_INIT;
    o.labels = labels;
    ab_run* r = nullptr;
    if (ab_run_begin(l, run, &o, &r) != AB_OK) _exit(10);
    return r;
  };
  std::vector<pid_t> pids = fork_children(3, [&](int i) {
    if (i == 0) {  // begins the run, waits for the reservation, charges past the limit
      ab_run* r = begin("sig-run", "policy=stop");
      step[0] = 1;
      wait_step(1);
      if (ab_charge(r, usd("2.00"), nullptr) != AB_OK) return 11;
      step[2] = 1;
    } else if (i == 1) {  // attaches and holds a reservation
      wait_step(0);
      ab_run* r = begin("sig-run", "policy=stop");
      ab_hold h;
      if (ab_reserve(r, usd("0.10"), 0, &h, nullptr) != AB_OK) return 12;
      step[1] = 1;
    } else {  // a run past its limit under a policy without a signal
      ab_run* r = begin("keep-run", "policy=keep");
      if (ab_charge(r, usd("2.00"), nullptr) != AB_OK) return 13;
      step[3] = 1;
    }
    for (;;) pause();
  });
  struct Reap {  // never leave a child behind, whatever fails
    std::vector<pid_t>& pids;
    ~Reap() {
      for (pid_t p : pids)
        if (p > 0) kill(p, SIGKILL), waitpid(p, nullptr, 0);
    }
  } reap{pids};
  for (int i : {2, 3}) ASSERT_TRUE(eventually([&] { return step[i].load() == 1; }));

  t.daemon().tick(true);
  EXPECT_EQ(t.daemon().signals_sent(), 2u);
  for (int i : {0, 1}) {
    int status = 0;  // polled: a missing signal fails the test instead of hanging it
    ASSERT_TRUE(eventually([&] { return waitpid(pids[i], &status, WNOHANG) == pids[i]; })) << "child " << i;
    pids[i] = -1;
    ASSERT_TRUE(WIFSIGNALED(status)) << "child " << i << " status " << status;
    EXPECT_EQ(WTERMSIG(status), SIGTERM) << "child " << i;
  }
  // The signaller works inside tick(): any signal for keep-run was sent by now.
  int status = 0;
  EXPECT_EQ(waitpid(pids[2], &status, WNOHANG), 0) << "the run without a signal policy was stopped";
  for (int i = 0; i < 5; ++i) t.daemon().tick(true);
  EXPECT_EQ(t.daemon().signals_sent(), 2u);  // hard_limit is delivered once, so signalled once
  kill(pids[2], SIGKILL);
  ASSERT_EQ(waitpid(pids[2], &status, 0), pids[2]);
  pids[2] = -1;
  EXPECT_EQ(WTERMSIG(status), SIGKILL);
}

// A run begun by the daemon's own process is never signalled.
TEST(HardSignal, NeverSignalsTheDaemonItself) {
  ab::DaemonConfig c = notify_config();
  c.policies.push_back(capped_policy("stop", SIGTERM));
  TestLedger t(c);
  ab_ledger* l = t.open();
  ab_begin_options o = AB_BEGIN_OPTIONS_INIT;
  o.labels = "policy=stop";
  ab_run* r = nullptr;
  ASSERT_EQ(ab_run_begin(l, "self-run", &o, &r), AB_OK);
  ASSERT_EQ(ab_charge(r, usd("2.00"), nullptr), AB_OK);
  EXPECT_GE(t.daemon().tick(true), 1u);
  EXPECT_EQ(t.daemon().signals_sent(), 0u);  // and this test process is still here
  ab_run_detach(r);
  ab_ledger_close(l);
}
