// The control socket of agentbudgetd (daemon/control_server.h) and the
// operator commands of agentbudgetctl that use it.
#include <grp.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "agentbudget.h"
#include "control_server.h"
#include "test_ledger.h"

using abtest::TestLedger;
using abtest::usd;
using nlohmann::json;

namespace {

const std::string kCtl = std::string(AB_BUILD_DIR) + "/tools/agentbudgetctl";

// A raw connection: tests send arbitrary bytes and read reply lines.
class Conn {
 public:
  explicit Conn(const std::string& path) {
    fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strncpy(a.sun_path, path.c_str(), sizeof a.sun_path - 1);
    if (connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
      close(fd_);
      fd_ = -1;
    }
  }
  ~Conn() {
    if (fd_ >= 0) close(fd_);
  }
  bool ok() const { return fd_ >= 0; }
  bool send_raw(const std::string& bytes) {
    size_t done = 0;
    while (done < bytes.size()) {
      ssize_t w = ::send(fd_, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
      if (w <= 0) return false;
      done += size_t(w);
    }
    return true;
  }
  // The next line, or "" on EOF or after a generous bound (never asserted as a time).
  std::string line() {
    for (;;) {
      if (size_t nl = buf_.find('\n'); nl != std::string::npos) {
        std::string l = buf_.substr(0, nl);
        buf_.erase(0, nl + 1);
        return l;
      }
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 20000) <= 0) return "";
      char chunk[65536];
      ssize_t r = read(fd_, chunk, sizeof chunk);
      if (r <= 0) return "";
      buf_.append(chunk, size_t(r));
    }
  }
  json ask(const json& req) { return ask_raw(req.dump() + "\n"); }
  json ask_raw(const std::string& bytes) {
    if (!send_raw(bytes)) return json();
    json j = json::parse(line(), nullptr, false);
    return j.is_discarded() ? json() : j;
  }
  // True once the daemon has closed this connection.
  bool closed_by_peer() {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, 20000) <= 0) return false;
    char c;
    return read(fd_, &c, 1) == 0;
  }

 private:
  int fd_ = -1;
  std::string buf_;
};

// Two policies and a pool: "default" ($10, soft 50 % and 80 %) and "team"
// (runs labelled team=a, $3, member of pool "shared" of $5).
ab::DaemonConfig test_config() {
  ab::DaemonConfig cfg = ab::builtin_default_config();
  cfg.policies[0].hard = usd("10");
  cfg.policies[0].soft_permille = {500, 800};
  ab::PoolConfig pool;
  pool.name = "shared";
  pool.hard = usd("5");
  cfg.pools.push_back(pool);
  ab::PolicyConfig team = cfg.policies[0];
  team.name = "team";
  team.hard = usd("3");
  team.matches = {{"team", "a"}};
  team.pools = {"shared"};
  cfg.policies.push_back(team);
  cfg.control.mode = 0666;  // the permission test connects as nobody
  // Run as another user than root, the tests administer through their own group.
  if (geteuid() != 0)
    if (group* g = getgrgid(getegid())) cfg.control.admin_group = g->gr_name;
  return cfg;
}

struct Run {
  ab_run* r = nullptr;
  Run(ab_ledger* l, const char* id, const char* labels = nullptr) {
    ab_begin_options o = AB_BEGIN_OPTIONS_INIT;
    o.labels = labels;
    EXPECT_EQ(ab_run_begin(l, id, &o, &r), AB_OK) << id;
  }
  ~Run() {
    if (r) ab_run_detach(r);
  }
  int end() {  // ab_run_end frees the handle
    int rc = ab_run_end(r);
    r = nullptr;
    return rc;
  }
  int admit(int32_t* reason = nullptr) {
    int32_t why = 0;
    int rc = ab_admit(r, 0, &why);
    if (reason) *reason = why;
    return rc;
  }
  int64_t spent() {
    ab_run_status st{};
    st.struct_size = sizeof st;
    ab_run_status_get(r, &st);
    return st.spent_nanos;
  }
  int64_t hard() {
    ab_run_status st{};
    st.struct_size = sizeof st;
    ab_run_status_get(r, &st);
    return st.hard_nanos;
  }
};

// The fixture's ledger: r-alpha ($1.25 twice, default), r-beta ($0.75,
// team, and a $0.20 hold), r-gamma ($0.10, default, ended).
struct Handle {  // closed after the runs below are detached
  ab_ledger* l;
  ~Handle() { ab_ledger_close(l); }
};

struct Fixture {
  TestLedger t{test_config()};
  Handle h{t.open()};
  ab_ledger* l = h.l;
  Run alpha{l, "r-alpha"}, beta{l, "r-beta", "team=a"}, gamma{l, "r-gamma"};
  ab_hold hold{};
  Fixture() {
    EXPECT_EQ(ab_charge(alpha.r, usd("1.25"), nullptr), AB_OK);
    EXPECT_EQ(ab_charge(alpha.r, usd("1.25"), nullptr), AB_OK);
    EXPECT_EQ(ab_charge(beta.r, usd("0.75"), nullptr), AB_OK);
    EXPECT_EQ(ab_reserve(beta.r, usd("0.20"), 0, &hold, nullptr), AB_OK);
    EXPECT_EQ(ab_charge(gamma.r, usd("0.10"), nullptr), AB_OK);
    EXPECT_EQ(gamma.end(), AB_OK);
    t.daemon().tick(true);
  }
  std::string socket() const { return ab::control_socket_path(const_cast<TestLedger&>(t).daemon().config()); }
  std::string ctl(const std::string& args) const {
    return kCtl + " --ledger " + t.name() + " --socket " + socket() + " " + args;
  }
};

}  // namespace

TEST(Control, StatusRunsRunPoolsExactValues) {
  Fixture f;
  Conn c(f.socket());
  ASSERT_TRUE(c.ok());

  json s = c.ask({{"cmd", "status"}});
  ASSERT_TRUE(s.value("ok", false)) << s;
  EXPECT_EQ(s["ledger"], f.t.name());
  EXPECT_EQ(s["outcome"], "created");
  EXPECT_EQ(s["daemon_pid"], getpid());
  EXPECT_EQ(s["config_source"], "<built-in default>");
  EXPECT_EQ(s["runs_active"], 2);
  EXPECT_EQ(s["runs_closed"], 1);
  EXPECT_EQ(s["holds_active"], 1);
  EXPECT_EQ(s["policies"], 2);
  EXPECT_EQ(s["pools"], 1);
  EXPECT_TRUE(s["last_reload_error"].is_null());
  EXPECT_EQ(s["events"]["run_closed"], 1);
  EXPECT_EQ(s["control"]["socket"], f.socket());

  json r = c.ask({{"cmd", "runs"}});
  ASSERT_TRUE(r.value("ok", false)) << r;
  EXPECT_EQ(r["total"], 2);
  ASSERT_EQ(r["runs"].size(), 2u);
  EXPECT_EQ(r["runs"][0]["run_id"], "r-alpha");
  EXPECT_EQ(r["runs"][0]["spent_nanos"], 2'500'000'000);
  EXPECT_EQ(r["runs"][0]["calls"], 2);
  EXPECT_EQ(r["runs"][0]["hard_nanos"], 10'000'000'000);
  EXPECT_EQ(r["runs"][0]["policy"], "default");
  EXPECT_EQ(r["runs"][1]["run_id"], "r-beta");
  EXPECT_EQ(r["runs"][1]["spent_nanos"], 750'000'000);
  EXPECT_EQ(r["runs"][1]["held_nanos"], 200'000'000);
  EXPECT_EQ(r["runs"][1]["hard_nanos"], 3'000'000'000);
  EXPECT_EQ(r["runs"][1]["policy"], "team");

  EXPECT_EQ(c.ask({{"cmd", "runs"}, {"state", "all"}})["total"], 3);
  json g = c.ask({{"cmd", "runs"}, {"state", "closed"}});
  ASSERT_EQ(g["runs"].size(), 1u);
  EXPECT_EQ(g["runs"][0]["run_id"], "r-gamma");
  EXPECT_EQ(g["runs"][0]["state"], "closed");
  EXPECT_EQ(g["runs"][0]["spent_nanos"], 100'000'000);
  json byp = c.ask({{"cmd", "runs"}, {"policy", "team"}});
  ASSERT_EQ(byp["runs"].size(), 1u);
  EXPECT_EQ(byp["runs"][0]["run_id"], "r-beta");
  EXPECT_EQ(c.ask({{"cmd", "runs"}, {"prefix", "r-g"}, {"state", "all"}})["runs"][0]["run_id"], "r-gamma");
  json lim = c.ask({{"cmd", "runs"}, {"limit", 1}, {"sort", "id"}});
  EXPECT_EQ(lim["total"], 2);
  ASSERT_EQ(lim["runs"].size(), 1u);
  EXPECT_EQ(lim["runs"][0]["run_id"], "r-alpha");

  json d = c.ask({{"cmd", "run"}, {"id", "r-beta"}});
  ASSERT_TRUE(d.value("ok", false)) << d;
  const json& run = d["run"];
  EXPECT_EQ(run["spent_nanos"], 750'000'000);
  EXPECT_EQ(run["held_nanos"], 200'000'000);
  EXPECT_EQ(run["hard_nanos"], 3'000'000'000);
  EXPECT_EQ(run["policy_hard_nanos"], 3'000'000'000);
  EXPECT_TRUE(run["client_hard_nanos"].is_null());
  EXPECT_EQ(run["soft_nanos"], json::array({1'500'000'000, 2'400'000'000}));
  EXPECT_EQ(run["pools"], json::array({"shared"}));
  EXPECT_EQ(run["calls"], 2);  // the charge and the reservation
  EXPECT_EQ(run["in_flight"], 1);
  ASSERT_EQ(run["holds"].size(), 1u);
  EXPECT_EQ(run["holds"][0]["estimate_nanos"], 200'000'000);
  EXPECT_EQ(run["holds"][0]["state"], "active");
  EXPECT_EQ(run["holds"][0]["owner_pid"], getpid());
  EXPECT_TRUE(run["last_denial"].is_null());
  EXPECT_EQ(run["state"], "active");

  json p = c.ask({{"cmd", "pools"}});
  ASSERT_TRUE(p.value("ok", false)) << p;
  ASSERT_EQ(p["pools"].size(), 1u);
  EXPECT_EQ(p["pools"][0]["name"], "shared");
  EXPECT_EQ(p["pools"][0]["spent_nanos"], 750'000'000);
  EXPECT_EQ(p["pools"][0]["held_nanos"], 200'000'000);
  EXPECT_EQ(p["pools"][0]["hard_nanos"], 5'000'000'000);
  EXPECT_EQ(p["pools"][0]["period"], "none");

  json missing = c.ask({{"cmd", "run"}, {"id", "no-such-run"}});
  EXPECT_FALSE(missing.value("ok", true));
  EXPECT_NE(missing["error"].get<std::string>().find("no run 'no-such-run'"), std::string::npos) << missing;
}

TEST(Control, SetBindsExistingRunsAtOnce) {
  Fixture f;
  Conn c(f.socket());
  int32_t reason = 0;
  ASSERT_EQ(f.alpha.admit(), AB_OK);
  json r = c.ask({{"cmd", "set"}, {"target", "policy"}, {"name", "default"}, {"hard", "2.00"}});
  ASSERT_TRUE(r.value("ok", false)) << r;
  EXPECT_EQ(r["previous"]["hard_nanos"], 10'000'000'000);
  EXPECT_EQ(r["now"]["hard_nanos"], 2'000'000'000);
  EXPECT_EQ(f.alpha.admit(&reason), AB_DENIED);  // $2.50 spent against $2.00, at once
  EXPECT_EQ(reason, AB_REASON_RUN_HARD);
  EXPECT_EQ(f.alpha.hard(), usd("2"));
  // Back to no limit: allowed again.
  ASSERT_TRUE(c.ask({{"cmd", "set"}, {"target", "policy"}, {"name", "default"}, {"hard", "none"}})["ok"]);
  EXPECT_EQ(f.alpha.admit(), AB_OK);
  EXPECT_EQ(f.alpha.hard(), AB_NO_LIMIT);

  // A pool: r-beta has $0.75 + $0.20 held of the pool's $5.
  ASSERT_EQ(f.beta.admit(), AB_OK);
  r = c.ask({{"cmd", "set"}, {"target", "pool"}, {"name", "shared"}, {"hard", "0.90"}, {"soft", {0.5}}});
  ASSERT_TRUE(r.value("ok", false)) << r;
  EXPECT_EQ(r["now"]["soft_permille"], json::array({500}));
  EXPECT_EQ(f.beta.admit(&reason), AB_DENIED);
  EXPECT_EQ(reason, AB_REASON_POOL);
  EXPECT_EQ(c.ask({{"cmd", "pools"}})["pools"][0]["hard_nanos"], 900'000'000);

  // A run: lowered at once; never above its policy's ($3).
  ASSERT_TRUE(c.ask({{"cmd", "set"}, {"target", "pool"}, {"name", "shared"}, {"hard", "none"}})["ok"]);
  ASSERT_EQ(f.beta.admit(), AB_OK);
  json above = c.ask({{"cmd", "set"}, {"target", "run"}, {"name", "r-beta"}, {"hard", "4.00"}});
  EXPECT_FALSE(above.value("ok", true));
  EXPECT_NE(above["error"].get<std::string>().find("cannot exceed its policy's ($3.00)"), std::string::npos) << above;
  EXPECT_EQ(f.beta.hard(), usd("3"));
  r = c.ask({{"cmd", "set"}, {"target", "run"}, {"name", "r-beta"}, {"hard", "0.80"}});
  ASSERT_TRUE(r.value("ok", false)) << r;
  EXPECT_EQ(r["previous_hard_nanos"], 3'000'000'000);
  EXPECT_EQ(r["hard_nanos"], 800'000'000);
  EXPECT_EQ(f.beta.admit(&reason), AB_DENIED);  // $0.75 + $0.20 held of $0.80
  EXPECT_EQ(reason, AB_REASON_RUN_HARD);
  // Its soft thresholds follow the new limit (50 % and 80 % of $0.80).
  EXPECT_EQ(c.ask({{"cmd", "run"}, {"id", "r-beta"}})["run"]["soft_nanos"], json::array({400'000'000, 640'000'000}));
  // "none": the run follows its policy again.
  ASSERT_TRUE(c.ask({{"cmd", "set"}, {"target", "run"}, {"name", "r-beta"}, {"hard", "none"}})["ok"]);
  EXPECT_EQ(f.beta.hard(), usd("3"));
  EXPECT_EQ(f.beta.admit(), AB_OK);

  json nope = c.ask({{"cmd", "set"}, {"target", "policy"}, {"name", "nope"}, {"hard", "1"}});
  EXPECT_EQ(nope["error"], "set: no policy 'nope'");
}

TEST(Control, EndAndResetAreAppliedAndAudited) {
  Fixture f;
  Conn c(f.socket());
  json e = c.ask({{"cmd", "end"}, {"id", "r-alpha"}});
  ASSERT_TRUE(e.value("ok", false)) << e;
  EXPECT_EQ(e["was_active"], true);
  EXPECT_EQ(e["spent_nanos"], 2'500'000'000);
  int32_t reason = 0;
  EXPECT_EQ(f.alpha.admit(&reason), AB_DENIED);
  EXPECT_EQ(reason, AB_REASON_CLOSED);
  EXPECT_EQ(c.ask({{"cmd", "end"}, {"id", "r-alpha"}})["was_active"], false);  // idempotent

  json r = c.ask({{"cmd", "reset"}, {"id", "r-beta"}, {"reason", "refund: duplicate call"}});
  ASSERT_TRUE(r.value("ok", false)) << r;
  EXPECT_EQ(r["spent_before_nanos"], 750'000'000);
  EXPECT_EQ(r["spent_after_nanos"], 0);
  EXPECT_EQ(r["delta_nanos"], -750'000'000);
  EXPECT_EQ(f.beta.spent(), 0);
  EXPECT_EQ(c.ask({{"cmd", "pools"}})["pools"][0]["spent_nanos"], 0);  // the pool follows
  r = c.ask({{"cmd", "reset"}, {"id", "r-beta"}, {"reason", "back"}, {"delta", "0.30"}});
  EXPECT_EQ(r["spent_after_nanos"], 300'000'000) << r;
  EXPECT_EQ(f.beta.spent(), usd("0.30"));
  r = c.ask({{"cmd", "reset"}, {"id", "r-beta"}, {"reason", "x"}, {"delta", "-1.00"}});
  EXPECT_FALSE(r.value("ok", true));
  EXPECT_EQ(f.beta.spent(), usd("0.30"));

  std::ifstream in(f.t.state_dir() + "/audit.jsonl");
  std::vector<json> recs;
  for (std::string line; std::getline(in, line);) recs.push_back(json::parse(line));
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_EQ(recs[0]["kind"], "adjustment");
  EXPECT_EQ(recs[0]["run_id"], "r-beta");
  EXPECT_EQ(recs[0]["delta_nanos"], -750'000'000);
  EXPECT_EQ(recs[0]["spent_before_nanos"], 750'000'000);
  EXPECT_EQ(recs[0]["reason"], "refund: duplicate call");
  EXPECT_EQ(recs[0]["uid"], getuid());
  EXPECT_EQ(recs[1]["delta_nanos"], 300'000'000);
}

TEST(Control, NonAdminPeerCannotWrite) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to become nobody";
  Fixture f;
  ASSERT_EQ(chmod(f.t.state_dir().c_str(), 0755), 0);  // nobody must reach the socket
  std::string path = f.socket();
  pid_t pid = fork();
  if (pid == 0) {
    if (setgroups(0, nullptr) != 0 || setgid(65534) != 0 || setuid(65534) != 0) _exit(10);
    Conn c(path);
    if (!c.ok()) _exit(11);
    if (!c.ask({{"cmd", "status"}}).value("ok", false)) _exit(12);  // reading is for anyone
    const json writes[] = {{{"cmd", "set"}, {"target", "policy"}, {"name", "default"}, {"hard", "0.01"}},
                           {{"cmd", "set"}, {"target", "run"}, {"name", "r-alpha"}, {"hard", "0.01"}},
                           {{"cmd", "end"}, {"id", "r-alpha"}},
                           {{"cmd", "reset"}, {"id", "r-alpha"}, {"reason", "x"}},
                           {{"cmd", "reload"}}};
    int code = 20;
    for (const json& w : writes) {
      json r = c.ask(w);
      std::string err = r.value("error", "");
      if (r.value("ok", true) || err.rfind("permission denied: ", 0) != 0 || err.find("uid 65534") == std::string::npos)
        _exit(code);
      ++code;
    }
    _exit(0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  // Nothing changed.
  EXPECT_EQ(f.alpha.spent(), usd("2.50"));
  EXPECT_EQ(f.alpha.hard(), usd("10"));
  EXPECT_EQ(f.alpha.admit(), AB_OK);
  std::ifstream audit(f.t.state_dir() + "/audit.jsonl");
  EXPECT_FALSE(audit.good());
}

TEST(Control, BadInputIsRefusedAndChangesNothing) {
  Fixture f;
  Conn c(f.socket());
  auto err = [&](const std::string& bytes) {
    json r = c.ask_raw(bytes);
    EXPECT_FALSE(r.value("ok", true)) << bytes;
    return r.value("error", "");
  };
  EXPECT_EQ(err(std::string("\x00\xff\xfe{{{\x01garbage", 15) + "\n").rfind("bad request: not valid JSON", 0), 0u);
  EXPECT_EQ(err("{\"cmd\":\"run\",\"id\":\"\xff\xfe\"}\n").rfind("bad request: not valid JSON", 0), 0u);
  EXPECT_EQ(err("[1,2,3]\n"), "bad request: expected a JSON object with a string \"cmd\"");
  EXPECT_EQ(err("{\"cmd\":5}\n"), "bad request: expected a JSON object with a string \"cmd\"");
  EXPECT_EQ(err("{\"cmd\":\"explode\"}\n").rfind("unknown command 'explode'", 0), 0u);
  EXPECT_EQ(err("{\"cmd\":\"run\"}\n"), "run: missing \"id\"");
  EXPECT_EQ(err("{\"cmd\":\"run\",\"id\":42}\n"), "run: \"id\" must be a string");
  EXPECT_EQ(err("{\"cmd\":\"runs\",\"limit\":\"ten\"}\n"), "runs: \"limit\" must be an integer from 1 to 1000000");
  EXPECT_EQ(err("{\"cmd\":\"runs\",\"state\":\"zombie\"}\n"), "runs: \"state\" must be one of active, closed, all");
  EXPECT_EQ(err("{\"cmd\":\"runs\",\"colour\":\"red\"}\n").rfind("runs: unknown argument 'colour'", 0), 0u);
  EXPECT_NE(
      err("{\"cmd\":\"set\",\"target\":\"policy\",\"name\":\"default\",\"hard\":2.5}\n").find("USD amount string"),
      std::string::npos);
  EXPECT_NE(err("{\"cmd\":\"set\",\"target\":\"policy\",\"name\":\"default\",\"hard\":\"-1\"}\n").find("USD amount"),
            std::string::npos);
  EXPECT_NE(err("{\"cmd\":\"set\",\"target\":\"policy\",\"name\":\"default\",\"hard\":\"1000000000.01\"}\n")
                .find("USD amount string up to 1000000000"),
            std::string::npos);
  EXPECT_EQ(err("{\"cmd\":\"set\",\"target\":\"policy\",\"name\":\"default\"}\n"),
            "set: give \"hard\" and/or \"soft\"");
  EXPECT_EQ(err("{\"cmd\":\"set\",\"target\":\"policy\",\"name\":\"default\",\"soft\":[0.5,1.5]}\n"),
            "set: each \"soft\" fraction must be a number in (0, 1]");
  EXPECT_EQ(err("{\"cmd\":\"set\",\"target\":\"galaxy\",\"name\":\"x\",\"hard\":\"1\"}\n"),
            "set: \"target\" must be one of run, pool, policy");
  EXPECT_EQ(err("{\"cmd\":\"reset\",\"id\":\"r-alpha\"}\n"), "reset: missing \"reason\"");
  EXPECT_EQ(err("{\"cmd\":\"reset\",\"id\":\"r-alpha\",\"reason\":\"x\",\"to\":\"1\",\"delta\":\"1\"}\n"),
            "reset: give \"to\" or \"delta\", not both");
  EXPECT_EQ(err("{\"cmd\":\"end\",\"id\":\"\"}\n"), "end: \"id\" must not be empty");
  EXPECT_EQ(err("{\"cmd\":\"history\",\"kind\":\"boom\"}\n"), "history: unknown event kind 'boom'");
  EXPECT_TRUE(c.ask({{"cmd", "status"}}).value("ok", false));  // the same connection still answers

  // An oversize line: a clear error, then the daemon hangs up (the stream
  // cannot be resynchronised); new connections are served as before.
  {
    Conn big(f.socket());
    json r = big.ask_raw("{\"cmd\":\"status\",\"pad\":\"" + std::string(70 * 1024, 'x') + "\"}\n");
    EXPECT_EQ(r["error"], "request too long: over 65536 bytes");
    EXPECT_TRUE(big.closed_by_peer());
  }
  Conn after(f.socket());
  json s = after.ask({{"cmd", "status"}});
  ASSERT_TRUE(s.value("ok", false));
  EXPECT_GE(s["control"]["errors"].get<uint64_t>(), 20u);
  // Nothing changed.
  EXPECT_EQ(f.alpha.spent(), usd("2.50"));
  EXPECT_EQ(f.alpha.hard(), usd("10"));
  EXPECT_EQ(f.beta.spent(), usd("0.75"));
  EXPECT_EQ(f.alpha.admit(), AB_OK);
}

TEST(Control, WatchReceivesEventsAsDelivered) {
  Fixture f;
  Conn w(f.socket());
  json hello = w.ask({{"cmd", "watch"}});
  ASSERT_EQ(hello, json({{"ok", true}, {"watching", true}}));
  // $2.50 + $3.00 = $5.50 crosses the 50 % threshold ($5.00) of r-alpha.
  uint32_t flags = 0;
  ASSERT_EQ(ab_charge(f.alpha.r, usd("3.00"), &flags), AB_OK);
  f.t.daemon().tick(true);
  json e = json::parse(w.line(), nullptr, false);
  ASSERT_TRUE(e.is_object()) << e;
  EXPECT_EQ(e["kind"], "soft_threshold");
  EXPECT_EQ(e["run_id"], "r-alpha");
  EXPECT_EQ(e["threshold_nanos"], 5'000'000'000);
  EXPECT_EQ(e["spent_nanos"], 5'500'000'000);
  // Ending a run announces it too.
  ASSERT_EQ(f.beta.end(), AB_OK);
  f.t.daemon().tick(true);
  json closed = json::parse(w.line(), nullptr, false);
  EXPECT_EQ(closed["kind"], "run_closed");
  EXPECT_EQ(closed["run_id"], "r-beta");
}

TEST(Control, WatchHubDropsASubscriberThatFallsBehind) {
  ab::WatchHub hub;
  auto slow = hub.subscribe();
  ab::Event e{};
  e.kind = ab::EventKind::kHardLimit;
  e.run_id = "r";
  for (size_t i = 0; i < ab::WatchHub::kMaxQueued; ++i) hub.deliver(e);
  std::vector<std::string> lines;
  auto fast = hub.subscribe();
  hub.deliver(e);  // one too many for `slow`; `fast` has room
  EXPECT_TRUE(hub.take(*slow, 10, &lines));
  EXPECT_TRUE(lines.empty());
  EXPECT_FALSE(hub.take(*fast, 10, &lines));
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(json::parse(lines[0])["kind"], "hard_limit");
  EXPECT_EQ(hub.counts()[size_t(ab::EventKind::kHardLimit)], ab::WatchHub::kMaxQueued + 1);
}

TEST(Control, HistoryAndSuggestComeFromTheDaemonsHistory) {
  Fixture f;
  Conn c(f.socket());
  json h = c.ask({{"cmd", "history"}, {"run", "r-gamma"}});
  ASSERT_TRUE(h.value("ok", false)) << h;
  ASSERT_EQ(h["events"].size(), 1u);
  EXPECT_EQ(h["events"][0]["kind"], "run_closed");
  EXPECT_EQ(h["events"][0]["spent_nanos"], 100'000'000);
  json runs = c.ask({{"cmd", "history"}, {"what", "runs"}});
  ASSERT_EQ(runs["runs"].size(), 1u) << runs;
  EXPECT_EQ(runs["runs"][0]["run_id"], "r-gamma");
  json d = c.ask({{"cmd", "run"}, {"id", "r-gamma"}});
  ASSERT_EQ(d["events"].size(), 1u) << d;
  json s = c.ask({{"cmd", "suggest"}, {"policy", "default"}});
  ASSERT_TRUE(s.value("ok", false)) << s;
  ASSERT_EQ(s["suggestions"].size(), 1u);
  EXPECT_EQ(s["suggestions"][0]["runs"], 1);
  EXPECT_EQ(s["suggestions"][0]["p95_nanos"], 100'000'000);
  EXPECT_EQ(c.ask({{"cmd", "suggest"}})["suggestions"].size(), 2u);  // every policy
  EXPECT_EQ(c.ask({{"cmd", "suggest"}, {"policy", "nope"}})["error"], "suggest: no policy 'nope'");
}

TEST(Control, ReloadReportsWhyItCannot) {
  Fixture f;
  Conn c(f.socket());
  json r = c.ask({{"cmd", "reload"}});
  EXPECT_FALSE(r.value("ok", true));
  EXPECT_NE(r["error"].get<std::string>().find("no file to reload"), std::string::npos) << r;
  EXPECT_EQ(c.ask({{"cmd", "status"}})["last_reload_error"],
            "running on the built-in configuration: there is no file to reload");
}

TEST(Control, CtlEndToEnd) {
  Fixture f;
  std::string out;
  ASSERT_EQ(abtest::run_command(f.ctl("status --json"), &out), 0) << out;
  json s = json::parse(out);
  EXPECT_EQ(s["runs_active"], 2);
  EXPECT_EQ(s["ledger"], f.t.name());

  ASSERT_EQ(abtest::run_command(f.ctl("runs"), &out), 0) << out;
  EXPECT_NE(out.find("r-alpha"), std::string::npos) << out;
  EXPECT_NE(out.find("$2.5000"), std::string::npos) << out;
  EXPECT_LT(out.find("r-alpha"), out.find("r-beta")) << out;  // by spend

  ASSERT_EQ(abtest::run_command(f.ctl("run r-beta --json"), &out), 0) << out;
  EXPECT_EQ(json::parse(out)["run"]["spent_nanos"], 750'000'000);
  ASSERT_EQ(abtest::run_command(f.ctl("run r-beta"), &out), 0) << out;
  EXPECT_NE(out.find("hold        active $0.2000"), std::string::npos) << out;

  ASSERT_EQ(abtest::run_command(f.ctl("pools"), &out), 0) << out;
  EXPECT_NE(out.find("shared"), std::string::npos) << out;

  ASSERT_EQ(abtest::run_command(f.ctl("set policy default --hard 2.00"), &out), 0) << out;
  EXPECT_NE(out.find("policy default: hard $10.00 -> $2.00"), std::string::npos) << out;
  EXPECT_EQ(f.alpha.admit(), AB_DENIED);
  EXPECT_EQ(abtest::run_command(f.ctl("set policy nope --hard 2.00"), &out), 1);
  EXPECT_NE(out.find("set: no policy 'nope'"), std::string::npos) << out;

  ASSERT_EQ(abtest::run_command(f.ctl("reset r-beta --reason 'test refund' --json"), &out), 0) << out;
  EXPECT_EQ(json::parse(out)["spent_after_nanos"], 0);
  ASSERT_EQ(abtest::run_command(f.ctl("end r-beta"), &out), 0) << out;
  EXPECT_NE(out.find("ended run r-beta"), std::string::npos) << out;

  // top reads the ledger itself: no socket involved.
  ASSERT_EQ(abtest::run_command(kCtl + " --ledger " + f.t.name() + " top --once", &out), 0) << out;
  EXPECT_NE(out.find("1 active runs"), std::string::npos) << out;
  EXPECT_NE(out.find("r-alpha"), std::string::npos) << out;
  EXPECT_NE(out.find("[####################] 125%"), std::string::npos) << out;  // $2.50 of $2.00
  EXPECT_EQ(out.find("\033["), std::string::npos);                               // --once: no escape codes

  // No daemon on the socket: a clear error; status falls back to the ledger.
  std::string none = kCtl + " --ledger " + f.t.name() + " --socket " + f.t.state_dir() + "/none.sock ";
  EXPECT_EQ(abtest::run_command(none + "pools", &out), 3);
  EXPECT_NE(out.find("no agentbudgetd answers on " + f.t.state_dir() + "/none.sock: is it running?"), std::string::npos)
      << out;
  EXPECT_EQ(abtest::run_command(none + "status", &out), 0) << out;
  EXPECT_NE(out.find("reading the ledger directly"), std::string::npos) << out;
}

// `adjust` (straight on the ledger) and `reset` (through the daemon) keep one
// audit log by default: the state folder's audit.jsonl, mode 0640.
TEST(Control, AdjustWritesTheAuditLogInTheStateFolder) {
  Fixture f;
  std::string dir = abtest::make_temp_dir();
  std::string out;
  ASSERT_EQ(abtest::run_command("env -u AGENTBUDGET_AUDIT_LOG STATE_DIRECTORY=" + dir + " " + kCtl + " --ledger " +
                                    f.t.name() + " --json adjust r-alpha -0.50 --reason 'double charge'",
                                &out),
            0)
      << out;
  EXPECT_EQ(json::parse(out)["audit_log"], dir + "/audit.jsonl");
  struct stat st {};
  ASSERT_EQ(stat((dir + "/audit.jsonl").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0640u);
  std::ifstream in(dir + "/audit.jsonl");
  std::string line;
  std::getline(in, line);
  json rec = json::parse(line);
  EXPECT_EQ(rec["run_id"], "r-alpha");
  EXPECT_EQ(rec["delta_nanos"], -500'000'000);
  EXPECT_EQ(rec["reason"], "double charge");
  std::filesystem::remove_all(dir);
}
