// systemd integration: the real agentbudgetd binary's sd_notify messages
// (READY only once the ledger exists, WATCHDOG, RELOADING/READY on SIGHUP,
// STOPPING on SIGTERM), the in-process helpers, and the shipped files.
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "config.h"
#include "systemd_notify.h"
#include "test_ledger.h"

using namespace abtest;

namespace {

const std::string kDaemon = std::string(AB_BUILD_DIR) + "/daemon/agentbudgetd";
const std::string kSource = std::string(AB_TEST_DATA_DIR) + "/..";

// The receiving end of NOTIFY_SOCKET: an AF_UNIX datagram socket in a
// private folder.
class NotifySocket {
 public:
  NotifySocket() : dir_(make_temp_dir()), path_(dir_ + "/notify.sock") {
    fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::snprintf(a.sun_path, sizeof a.sun_path, "%s", path_.c_str());
    if (fd_ < 0 || bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) std::abort();
  }
  ~NotifySocket() {
    close(fd_);
    std::filesystem::remove_all(dir_);
  }
  const std::string& path() const { return path_; }
  const std::string& dir() const { return dir_; }

  // The next message that contains `what` (others are kept in seen());
  // empty if none came within a generous safety limit.
  std::string wait_for(const std::string& what, int limit_ms = 30000) {
    for (int waited = 0; waited < limit_ms; waited += 100) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 100) != 1) continue;
      char buf[4096];
      ssize_t n = recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) continue;
      std::string m(buf, size_t(n));
      seen_.push_back(m);
      if (m.find(what) != std::string::npos) return m;
    }
    return "";
  }
  const std::vector<std::string>& seen() const { return seen_; }

 private:
  std::string dir_, path_;
  int fd_ = -1;
  std::vector<std::string> seen_;
};

// Field VALUE of a notification such as "READY=1\nMAINPID=42".
std::string field(const std::string& msg, const std::string& key) {
  std::istringstream in(msg);
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(key + "=", 0) == 0) return line.substr(key.size() + 1);
  return "";
}

// Starts the binary on a private ledger with NOTIFY_SOCKET and the given
// extra environment ("NAME=VALUE"; "WATCHDOG_PID=self" means its own pid).
pid_t start_daemon(const NotifySocket& ns, const std::string& ledger, const std::vector<std::string>& env,
                   const std::string& config = "") {
  pid_t p = fork();
  if (p == 0) {
    setenv("NOTIFY_SOCKET", ns.path().c_str(), 1);
    // Snapshots, history and the control socket in the test's folder.
    setenv("STATE_DIRECTORY", ns.dir().c_str(), 1);
    setenv("RUNTIME_DIRECTORY", ns.dir().c_str(), 1);
    unsetenv("WATCHDOG_USEC");
    unsetenv("WATCHDOG_PID");
    for (const std::string& e : env) {
      std::string k = e.substr(0, e.find('=')), v = e.substr(e.find('=') + 1);
      if (v == "self") v = std::to_string(getpid());  // exec keeps the pid
      setenv(k.c_str(), v.c_str(), 1);
    }
    if (config.empty())
      execl(kDaemon.c_str(), kDaemon.c_str(), "--ledger", ledger.c_str(), "--log-level", "warn", (char*)nullptr);
    else
      execl(kDaemon.c_str(), kDaemon.c_str(), "--ledger", ledger.c_str(), "--config", config.c_str(), "--log-level",
            "warn", (char*)nullptr);
    _exit(127);
  }
  return p;
}

int wait_exit(pid_t p) {
  int status = 0;
  waitpid(p, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

uint64_t monotonic_usec() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1'000'000u + uint64_t(ts.tv_nsec) / 1000u;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

TEST(SystemdNotify, BinaryReadyAfterTheLedgerThenWatchdogThenStopping) {
  NotifySocket ns;
  std::string name = unique_ledger_name();
  pid_t p = start_daemon(ns, name, {"WATCHDOG_USEC=200000", "WATCHDOG_PID=self"});
  std::string ready = ns.wait_for("READY=1");
  ASSERT_FALSE(ready.empty()) << "no READY=1";
  // READY only once the ledger exists: it is there when the message is.
  EXPECT_EQ(access(("/dev/shm/" + name + ".v1").c_str(), F_OK), 0);
  EXPECT_EQ(access(("/dev/shm/" + name + ".v1.config").c_str(), F_OK), 0);
  EXPECT_EQ(field(ready, "MAINPID"), std::to_string(p));
  EXPECT_NE(field(ready, "STATUS").find(name), std::string::npos) << ready;
  EXPECT_EQ(ns.seen().size(), 1u) << "READY=1 is the first message";
  EXPECT_EQ(ns.wait_for("WATCHDOG=1"), "WATCHDOG=1");
  kill(p, SIGTERM);
  EXPECT_NE(ns.wait_for("STOPPING=1"), "");
  EXPECT_EQ(wait_exit(p), 0);
  remove_test_ledger(name);
}

TEST(SystemdNotify, NoWatchdogPingsForAnotherPid) {
  NotifySocket ns;
  std::string name = unique_ledger_name();
  // WATCHDOG_PID names another process: the watchdog is not ours.
  pid_t p = start_daemon(ns, name, {"WATCHDOG_USEC=200000", "WATCHDOG_PID=1"});
  ASSERT_NE(ns.wait_for("READY=1"), "");
  kill(p, SIGTERM);
  EXPECT_NE(ns.wait_for("STOPPING=1"), "");
  EXPECT_EQ(wait_exit(p), 0);
  for (auto& m : ns.seen()) EXPECT_EQ(m.find("WATCHDOG=1"), std::string::npos) << m;
  remove_test_ledger(name);
}

TEST(SystemdNotify, SighupSendsReloadingThenReady) {
  NotifySocket ns;
  std::string name = unique_ledger_name();
  std::string config = ns.dir() + "/agentbudgetd.toml";
  std::ofstream(config) << "group = \"\"\n[[policy]]\nname = \"default\"\nhard = \"1.00\"\n";
  pid_t p = start_daemon(ns, name, {"WATCHDOG_USEC=200000"}, config);  // WATCHDOG_PID unset: ours
  ASSERT_NE(ns.wait_for("READY=1"), "");
  ASSERT_EQ(ns.wait_for("WATCHDOG=1"), "WATCHDOG=1");
  uint64_t before = monotonic_usec();
  kill(p, SIGHUP);
  std::string reloading = ns.wait_for("RELOADING=1");
  ASSERT_NE(reloading, "");
  EXPECT_GE(std::stoull(field(reloading, "MONOTONIC_USEC")), before);
  std::string ready = ns.wait_for("READY=1");
  ASSERT_NE(ready, "") << "no READY=1 after the reload";
  EXPECT_EQ(field(ready, "STATUS"), "running; configuration " + config);
  kill(p, SIGTERM);
  EXPECT_NE(ns.wait_for("STOPPING=1"), "");
  EXPECT_EQ(wait_exit(p), 0);
  remove_test_ledger(name);
}

TEST(SystemdNotify, InProcessMessagesAndNoOpWithoutSocket) {
  unsetenv("NOTIFY_SOCKET");
  unsetenv("WATCHDOG_USEC");
  unsetenv("WATCHDOG_PID");
  ab::notify_ready("nothing listens");  // no socket: nothing happens
  ab::notify_watchdog();
  EXPECT_EQ(ab::watchdog_ping_interval_ns(), 0u);

  NotifySocket ns;
  setenv("NOTIFY_SOCKET", ns.path().c_str(), 1);
  uint64_t before = monotonic_usec();
  ab::notify_reloading();
  std::string m = ns.wait_for("RELOADING=1");
  uint64_t after = monotonic_usec();
  uint64_t usec = std::stoull(field(m, "MONOTONIC_USEC"));
  EXPECT_GE(usec, before);
  EXPECT_LE(usec, after);
  ab::notify_ready("ok");
  m = ns.wait_for("READY=1");
  EXPECT_EQ(field(m, "STATUS"), "ok");
  EXPECT_EQ(field(m, "MAINPID"), std::to_string(getpid()));
  ab::notify_stopping();
  EXPECT_NE(ns.wait_for("STOPPING=1"), "");
  unsetenv("NOTIFY_SOCKET");

  setenv("WATCHDOG_USEC", "3000000", 1);
  EXPECT_EQ(ab::watchdog_ping_interval_ns(), 1'500'000'000u);
  setenv("WATCHDOG_PID", std::to_string(getpid()).c_str(), 1);
  EXPECT_EQ(ab::watchdog_ping_interval_ns(), 1'500'000'000u);
  setenv("WATCHDOG_PID", "1", 1);
  EXPECT_EQ(ab::watchdog_ping_interval_ns(), 0u);
  unsetenv("WATCHDOG_USEC");
  unsetenv("WATCHDOG_PID");
}

// --config-optional: the unit's missing config file means the built-in
// configuration; a present one is read (and a bad one still refused).
TEST(SystemdFiles, ConfigOptionalAcceptsAMissingFileOnly) {
  std::string out;
  EXPECT_EQ(run_command(kDaemon + " --check --config /nonexistent/agentbudgetd.toml --config-optional", &out), 0)
      << out;
  EXPECT_NE(out.find("<built-in default>: OK"), std::string::npos) << out;
  EXPECT_EQ(run_command(kDaemon + " --check --config /nonexistent/agentbudgetd.toml", &out), 2) << out;
  std::string dir = make_temp_dir();
  std::ofstream(dir + "/bad.toml") << "tick_ms = \"fast\"\n";
  EXPECT_EQ(run_command(kDaemon + " --check --config " + dir + "/bad.toml --config-optional", &out), 2) << out;
  EXPECT_NE(out.find("tick_ms"), std::string::npos) << out;
  std::filesystem::remove_all(dir);
}

// The example config parses as shipped (all commented: the built-in
// configuration), parses with every setting uncommented, and names every key
// config.cpp knows.
TEST(SystemdFiles, ExampleConfigCoversEveryKeyAndParses) {
  std::string example = read_file(kSource + "/daemon/systemd/agentbudgetd.toml.example");
  ASSERT_FALSE(example.empty());
  ab::DaemonConfig c;
  std::vector<std::string> errors;
  ASSERT_TRUE(ab::parse_config(example, "example", &c, &errors)) << errors[0];
  EXPECT_EQ(c.policies.size(), 1u);
  EXPECT_TRUE(c.metrics.listen.empty());

  std::string uncommented = std::regex_replace(example, std::regex("(^|\n)# "), "$1");
  ASSERT_TRUE(ab::parse_config(uncommented, "example", &c, &errors)) << errors[0];
  EXPECT_EQ(c.metrics.listen, "127.0.0.1:9464");
  EXPECT_EQ(c.pools.size(), 2u);
  EXPECT_EQ(c.policies.size(), 2u);
  EXPECT_EQ(c.notify.webhooks.size(), 1u);
  EXPECT_EQ(c.notify.exec.size(), 1u);

  std::string source = read_file(kSource + "/daemon/config.cpp");
  std::regex key("k == \"([a-z_]+)\"");
  std::set<std::string> keys;
  for (auto it = std::sregex_iterator(source.begin(), source.end(), key); it != std::sregex_iterator(); ++it)
    keys.insert((*it)[1]);
  EXPECT_GT(keys.size(), 40u);
  for (auto& k : keys)
    EXPECT_TRUE(std::regex_search(uncommented, std::regex("(^|\n|\\[|\\.)" + k + "( =|\\]|\n)")))
        << "missing key " << k;
}

TEST(SystemdFiles, UnitKeepsTheLedgerVisibleAndNotifies) {
  std::string unit = read_file(std::string(AB_BUILD_DIR) + "/daemon/agentbudgetd.service");
  ASSERT_FALSE(unit.empty());
  auto has = [&](const std::string& line) { return unit.find("\n" + line + "\n") != std::string::npos; };
  EXPECT_TRUE(has("Type=notify"));
  EXPECT_TRUE(has("RemoveIPC=no"));
  EXPECT_TRUE(has("WatchdogSec=10"));
  EXPECT_TRUE(has("RuntimeDirectoryPreserve=yes"));
  EXPECT_TRUE(has("ReadWritePaths=/dev/shm"));
  EXPECT_NE(unit.find("agentbudgetd --config /etc/agentbudget/agentbudgetd.toml --config-optional\n"),
            std::string::npos);
  // Settings that would hide or delete the ledger in /dev/shm.
  for (const char* bad : {"\nPrivateIPC=", "\nPrivateDevices=", "\nDynamicUser=", "\nProtectProc="})
    EXPECT_EQ(unit.find(bad), std::string::npos) << bad;
}
