// Prometheus metrics: exact values from a ledger with known charges, a
// valid exposition, the HTTP endpoint, and a port in use.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <regex>
#include <set>
#include <thread>

#include <httplib.h>

#include "clock.h"
#include "config.h"
#include "daemon.h"
#include "metrics.h"
#include "pool_period.h"
#include "test_ledger.h"

using namespace abtest;

namespace {

// A parsed exposition: every sample by name and labels (values unescaped).
struct Exposition {
  using Labels = std::map<std::string, std::string>;
  std::map<std::string, std::string> types;                 // family -> counter | gauge
  std::map<std::string, std::map<Labels, double>> samples;  // name -> labels -> value
  std::vector<std::string> errors;

  double get(const std::string& name, const Labels& labels = {}) const {
    auto f = samples.find(name);
    if (f == samples.end()) return -1e300;
    auto s = f->second.find(labels);
    return s == f->second.end() ? -1e300 : s->second;
  }
};

// Parses text format 0.0.4 strictly enough to catch what Prometheus would
// reject: names, label syntax and escapes, values, and a TYPE line before
// the samples of each family (samples of a family kept together).
Exposition parse(const std::string& text) {
  static const std::regex kName("[a-zA-Z_:][a-zA-Z0-9_:]*");
  static const std::regex kLabel("[a-zA-Z_][a-zA-Z0-9_]*");
  Exposition x;
  std::string current;  // family of the last TYPE line
  std::set<std::string> finished;
  size_t pos = 0;
  int line_no = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) {
      x.errors.push_back("last line has no newline");
      break;
    }
    std::string line = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    auto err = [&](const std::string& what) {
      x.errors.push_back(std::to_string(line_no) + ": " + what + ": " + line);
    };
    if (line.rfind("# TYPE ", 0) == 0) {
      std::string rest = line.substr(7);
      size_t sp = rest.find(' ');
      std::string name = rest.substr(0, sp), type = sp == std::string::npos ? "" : rest.substr(sp + 1);
      if (!std::regex_match(name, kName)) err("bad family name");
      if (type != "counter" && type != "gauge") err("bad type");
      if (x.types.count(name)) err("second TYPE");
      if (!current.empty()) finished.insert(current);
      x.types[name] = type;
      current = name;
      continue;
    }
    if (line.rfind("# HELP ", 0) == 0) {
      std::string name = line.substr(7, line.find(' ', 7) - 7);
      if (!std::regex_match(name, kName)) err("bad HELP name");
      continue;
    }
    if (line.empty() || line[0] == '#') continue;
    size_t i = 0;
    while (i < line.size() && line[i] != '{' && line[i] != ' ') ++i;
    std::string name = line.substr(0, i);
    if (!std::regex_match(name, kName)) err("bad sample name");
    if (name != current || finished.count(name)) err("sample not under its family's TYPE");
    Exposition::Labels labels;
    if (i < line.size() && line[i] == '{') {
      ++i;
      while (i < line.size() && line[i] != '}') {
        size_t eq = line.find('=', i);
        if (eq == std::string::npos || eq + 1 >= line.size() || line[eq + 1] != '"') {
          err("bad label");
          break;
        }
        std::string key = line.substr(i, eq - i), value;
        if (!std::regex_match(key, kLabel)) err("bad label name");
        size_t j = eq + 2;
        for (; j < line.size() && line[j] != '"'; ++j) {
          if (line[j] == '\\' && j + 1 < line.size()) {
            char c = line[++j];
            if (c == 'n')
              value += '\n';
            else if (c == '\\' || c == '"')
              value += c;
            else
              err("bad escape");
          } else {
            value += line[j];
          }
        }
        if (!labels.emplace(key, value).second) err("label repeated");
        i = j + 1;
        if (i < line.size() && line[i] == ',') ++i;
      }
      ++i;  // '}'
    }
    if (i >= line.size() || line[i] != ' ') {
      err("no value");
      continue;
    }
    std::string v = line.substr(i + 1);
    char* stop = nullptr;
    double d = std::strtod(v.c_str(), &stop);
    if (v.empty() || *stop) err("bad value");
    if (!x.samples[name].emplace(labels, d).second) err("series repeated");
  }
  return x;
}

struct Capture : ab::EventSink {
  int counts[ab::kEventKindCount] = {};
  void deliver(const ab::Event& e) override { ++counts[int(e.kind)]; }
};

ab::DaemonConfig config_from(const std::string& toml) {
  ab::DaemonConfig c;
  std::vector<std::string> errors;
  if (!ab::parse_config(toml, "metrics_test.toml", &c, &errors)) {
    for (auto& e : errors) std::fprintf(stderr, "%s\n", e.c_str());
    std::abort();
  }
  return c;
}

const char* kConfig = R"(
[[pool]]
name = "team"
hard = "10"
[[pool]]
name = "daily"
hard = "100"
period = "day"
timezone = "UTC"
[[policy]]
name = "research"
match = { agent = "researcher" }
pools = ["team", "daily"]
[[policy]]
name = "q\"uote\\back"
match = { agent = "odd" }
[[policy]]
name = "default"
soft = [0.5, 0.8]
)";

ab_run* begin(ab_ledger* l, const char* id, const char* labels, int64_t hard = -1) {
  ab_begin_options o = AB_BEGIN_OPTIONS_INIT;
  o.labels = labels;
  o.hard_nanos = hard;
  ab_run* r = nullptr;
  EXPECT_EQ(ab_run_begin(l, id, &o, &r), AB_OK) << id;
  return r;
}

// A listening TCP socket on a free loopback port; returns the fd.
int listen_any(int* port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(fd, 1) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0)
    std::abort();
  *port = ntohs(a.sin_port);
  return fd;
}

// A daemon config for a private ledger that TestLedger does not own.
ab::DaemonConfig private_config(const std::string& ledger, const std::string& dir) {
  ab::DaemonConfig c = ab::builtin_default_config();
  c.ledger = ledger;
  c.group = "";
  c.state_dir = dir;
  c.control.socket = dir + "/control.sock";
  return c;
}

}  // namespace

TEST(Metrics, ExactValuesPerPolicyAndPool) {
  TestLedger t(config_from(kConfig));
  Capture capture;
  t.daemon().add_sink(&capture);
  ab_ledger* l = t.open();
  ab_run* r1 = begin(l, "m-r1", "agent=researcher");
  ASSERT_EQ(ab_charge(r1, usd("1.25"), nullptr), AB_OK);
  ASSERT_EQ(ab_charge(r1, usd("0.50"), nullptr), AB_OK);
  ab_hold hold;
  int32_t reason = 0;
  ASSERT_EQ(ab_reserve(r1, usd("0.30"), 0, &hold, &reason), AB_OK);
  ab_run* r2 = begin(l, "m-r2", "agent=researcher");
  ASSERT_EQ(ab_charge(r2, usd("2.00"), nullptr), AB_OK);
  ASSERT_EQ(ab_run_end(r2), AB_OK);
  ab_run* r3 = begin(l, "m-r3", "");
  ASSERT_EQ(ab_charge(r3, usd("0.10"), nullptr), AB_OK);
  ab_run* r4 = begin(l, "m-r4", "agent=odd", usd("0.05"));
  ASSERT_EQ(ab_charge(r4, usd("0.05"), nullptr), AB_OK);
  ASSERT_EQ(ab_admit(r4, 0, &reason), AB_DENIED);
  t.daemon().tick(true);

  uint64_t now = ab::unix_ns();
  Exposition x = parse(ab::render_metrics(t.daemon(), now));
  ASSERT_TRUE(x.errors.empty()) << x.errors[0];
  EXPECT_EQ(x.get("agentbudget_runs_active"), 3);
  EXPECT_EQ(x.get("agentbudget_runs_closed"), 1);
  EXPECT_EQ(x.get("agentbudget_run_capacity"), 65536);
  EXPECT_EQ(x.get("agentbudget_spend_nanousd_total", {{"policy", "default"}}), 100'000'000);
  EXPECT_EQ(x.get("agentbudget_spend_nanousd_total", {{"policy", "research"}}), 3'750'000'000);
  EXPECT_EQ(x.get("agentbudget_spend_nanousd_total", {{"policy", "q\"uote\\back"}}), 50'000'000);
  EXPECT_EQ(x.samples["agentbudget_spend_nanousd_total"].size(), 3u);
  for (const char* pool : {"team", "daily"}) {
    EXPECT_EQ(x.get("agentbudget_pool_spend_nanousd", {{"pool", pool}}), 3'750'000'000) << pool;
    EXPECT_EQ(x.get("agentbudget_held_nanousd", {{"pool", pool}}), 300'000'000) << pool;
  }
  EXPECT_EQ(x.get("agentbudget_pool_hard_limit_nanousd", {{"pool", "team"}}), 10'000'000'000);
  EXPECT_EQ(x.get("agentbudget_pool_hard_limit_nanousd", {{"pool", "daily"}}), 100'000'000'000);
  EXPECT_EQ(x.get("agentbudget_pool_period", {{"pool", "team"}}), 0);
  uint64_t day = ab::period_of(t.daemon().ledger().pool_defs()[1], int64_t(now / 1'000'000'000u));
  EXPECT_GT(day, 0u);
  EXPECT_EQ(x.get("agentbudget_pool_period", {{"pool", "daily"}}), double(day));

  // One denied run (r4, at its own hard limit), counted once.
  EXPECT_EQ(x.get("agentbudget_runs_denied_total", {{"reason", "run_hard_limit"}}), 1);
  double denied = 0;
  for (auto& [labels, v] : x.samples["agentbudget_runs_denied_total"]) denied += v;
  EXPECT_EQ(denied, 1);
  // Events: exactly what the daemon delivered to its sinks.
  EXPECT_EQ(capture.counts[int(ab::EventKind::kCallDenied)], 1);
  EXPECT_EQ(capture.counts[int(ab::EventKind::kRunClosed)], 1);
  EXPECT_EQ(capture.counts[int(ab::EventKind::kHardLimit)], 1);
  for (int k = 0; k < ab::kEventKindCount; ++k)
    EXPECT_EQ(x.get("agentbudget_events_total", {{"kind", ab::event_kind_name(ab::EventKind(k))}}), capture.counts[k])
        << ab::event_kind_name(ab::EventKind(k));
  EXPECT_EQ(x.get("agentbudget_ticks_total"), 1);
  EXPECT_EQ(x.get("agentbudget_holds_reclaimed_total", {{"cause", "dead_process"}}), 0);
  EXPECT_EQ(x.get("agentbudget_config_reloads_total"), 0);
  EXPECT_GE(x.get("agentbudget_heartbeat_age_seconds"), 0);
  EXPECT_GT(x.get("agentbudget_start_time_seconds"), 1.7e9);
  EXPECT_EQ(x.types["agentbudget_events_total"], "counter");
  EXPECT_EQ(x.types["agentbudget_runs_active"], "gauge");

  ASSERT_EQ(ab_release(r1, hold), AB_OK);
  EXPECT_EQ(parse(ab::render_metrics(t.daemon(), ab::unix_ns())).get("agentbudget_held_nanousd", {{"pool", "team"}}),
            0);
  for (ab_run* r : {r1, r3, r4}) ab_run_detach(r);
  ab_ledger_close(l);
}

TEST(Metrics, UnknownDenialReasonsCountAsOther) {
  ab::DaemonMetrics m;
  ab::Event e{};
  e.kind = ab::EventKind::kCallDenied;
  e.reason = "max_calls";
  m.deliver(e);
  e.reason = "from-a-newer-client";
  m.deliver(e);
  EXPECT_EQ(m.denied_runs(int(ab::Reason::kCalls)), 1u);
  EXPECT_EQ(m.denied_runs(ab::DaemonMetrics::kReasonSlots - 1), 1u);
  EXPECT_EQ(m.events(ab::EventKind::kCallDenied), 2u);
}

TEST(Metrics, HttpServesMetricsAndNothingElse) {
  ab::DaemonConfig cfg = ab::builtin_default_config();
  cfg.metrics.listen = "127.0.0.1:0";  // any free port
  TestLedger t(cfg);
  int port = t.daemon().metrics_port();
  ASSERT_GT(port, 0);
  ab_ledger* l = t.open();
  ab_run* r = begin(l, "http-run", "");
  ASSERT_EQ(ab_charge(r, 1234, nullptr), AB_OK);

  httplib::Client cli("127.0.0.1", port);
  auto res = cli.Get("/metrics");
  ASSERT_TRUE(res) << httplib::to_string(res.error());
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->get_header_value("Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
  Exposition x = parse(res->body);
  ASSERT_TRUE(x.errors.empty()) << x.errors[0];
  EXPECT_EQ(x.get("agentbudget_runs_active"), 1);
  EXPECT_EQ(x.get("agentbudget_spend_nanousd_total", {{"policy", "default"}}), 1234);
  for (const char* path : {"/", "/metricsx", "/metrics/x"}) {
    auto other = cli.Get(path);
    ASSERT_TRUE(other) << path;
    EXPECT_EQ(other->status, 404) << path;
  }
  ab_run_detach(r);
  ab_ledger_close(l);
}

TEST(Metrics, PortInUseIsAClearStartErrorAndMakesNothing) {
  int port = 0;
  int fd = listen_any(&port);
  std::string dir = make_temp_dir(), name = unique_ledger_name();
  ab::DaemonConfig cfg = private_config(name, dir);
  cfg.metrics.listen = "127.0.0.1:" + std::to_string(port);
  {
    ab::Daemon d(cfg);
    std::string msg;
    EXPECT_FALSE(d.start(&msg));
    EXPECT_NE(msg.find("metrics: cannot listen on 127.0.0.1:" + std::to_string(port) + ": Address already in use"),
              std::string::npos)
        << msg;
  }
  EXPECT_NE(access(("/dev/shm/" + name + ".v1").c_str(), F_OK), 0);  // no ledger made
  close(fd);
  remove_test_ledger(name);
  std::filesystem::remove_all(dir);
}

TEST(Metrics, StartFailingAfterTheBindReleasesThePort) {
  int port = 0;
  close(listen_any(&port));  // a port that was free a moment ago
  std::string dir = make_temp_dir(), name = unique_ledger_name();
  ab::DaemonConfig cfg = private_config(name, dir);
  cfg.metrics.listen = "127.0.0.1:" + std::to_string(port);
  cfg.group = "no-such-group-xyz";  // own_ledger refuses, after the bind
  cfg.group_required = true;
  {
    ab::Daemon d(cfg);
    std::string msg;
    EXPECT_FALSE(d.start(&msg));
    EXPECT_NE(msg.find("no-such-group-xyz"), std::string::npos) << msg;
  }
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(uint16_t(port));
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0) << "the failed daemon kept port " << port;
  close(fd);
  remove_test_ledger(name);
  std::filesystem::remove_all(dir);
}

// The scrape reads the whole run table once; this reports what that costs
// for a full-size table (values asserted, the time only printed).
TEST(Metrics, ScrapeOfAFullSizeTable) {
  TestLedger t;  // 65,536 slots
  ab_ledger* l = t.open();
  auto time_render = [&](Exposition* x) {
    std::string text = ab::render_metrics(t.daemon(), ab::unix_ns());  // first touch of the pages
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < 20; ++i) text = ab::render_metrics(t.daemon(), ab::unix_ns());
    double us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count() / 20;
    *x = parse(text);
    return us;
  };
  Exposition empty, full;
  double empty_us = time_render(&empty);
  const int kRuns = 60'000;
  for (int i = 0; i < kRuns; ++i) {
    ab_run* r = begin(l, ("scrape-" + std::to_string(i)).c_str(), "");
    ASSERT_EQ(ab_charge(r, 1, nullptr), AB_OK);
    if (i % 2)
      ab_run_end(r);
    else
      ab_run_detach(r);
  }
  double full_us = time_render(&full);
  EXPECT_EQ(empty.get("agentbudget_runs_active"), 0);
  EXPECT_EQ(full.get("agentbudget_runs_active"), kRuns / 2);
  EXPECT_EQ(full.get("agentbudget_runs_closed"), kRuns / 2);
  EXPECT_EQ(full.get("agentbudget_spend_nanousd_total", {{"policy", "default"}}), kRuns);
  std::printf("scrape of 65536 slots: %.0f us empty, %.0f us with %d runs\n", empty_us, full_us, kRuns);
  RecordProperty("scrape_us_empty", int(empty_us));
  RecordProperty("scrape_us_60k_runs", int(full_us));
  ab_ledger_close(l);
}

// Scrapes over HTTP while the daemon's loop ticks and clients charge (the
// TSan build runs Threads.*): the final scrape has the exact totals.
TEST(Threads, MetricsScrapedWhileTheDaemonRuns) {
  ab::DaemonConfig cfg = ab::builtin_default_config();
  cfg.metrics.listen = "127.0.0.1:0";
  cfg.tick_ms = 1;
  TestLedger t(cfg);
  std::thread loop([&] { t.daemon().run(); });
  ab_ledger* l = t.open();
  std::atomic<bool> done{false};
  std::thread scraper([&] {
    httplib::Client cli("127.0.0.1", t.daemon().metrics_port());
    while (!done.load()) {
      auto res = cli.Get("/metrics");
      if (!res || res->status != 200 || !parse(res->body).errors.empty()) std::abort();
    }
  });
  const int kRuns = 200;
  for (int i = 0; i < kRuns; ++i) {
    ab_run* r = begin(l, ("busy-" + std::to_string(i)).c_str(), "");
    ASSERT_EQ(ab_charge(r, 7, nullptr), AB_OK);
    ASSERT_EQ(ab_run_end(r), AB_OK);
  }
  done.store(true);
  scraper.join();
  t.daemon().stop();
  loop.join();  // its last tick delivers every run_closed event
  httplib::Client cli("127.0.0.1", t.daemon().metrics_port());
  auto res = cli.Get("/metrics");
  ASSERT_TRUE(res);
  Exposition x = parse(res->body);
  EXPECT_EQ(x.get("agentbudget_runs_closed"), kRuns);
  EXPECT_EQ(x.get("agentbudget_spend_nanousd_total", {{"policy", "default"}}), 7 * kRuns);
  EXPECT_EQ(x.get("agentbudget_events_total", {{"kind", "run_closed"}}), kRuns);
  ab_ledger_close(l);
}
