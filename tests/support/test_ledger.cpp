#include "test_ledger.h"

#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include <spdlog/spdlog.h>

#include "ledger_owner.h"
#include "money.h"
#include "segment.h"

namespace abtest {

namespace {

// Every daemon a test starts, in-process or as a child process, keeps its
// snapshot, history and control socket in one folder of this test process
// (as systemd's StateDirectory and RuntimeDirectory would), never in the
// host's /var/lib/agentbudget. Removed when the test process exits.
struct PrivateDaemonFolders {
  std::string dir;
  pid_t owner = getpid();
  PrivateDaemonFolders() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "abtest-state-XXXXXX").string();
    if (!mkdtemp(tmpl.data())) std::abort();
    dir = tmpl;
    setenv("STATE_DIRECTORY", dir.c_str(), 1);
    setenv("RUNTIME_DIRECTORY", dir.c_str(), 1);
  }
  ~PrivateDaemonFolders() {
    if (getpid() != owner) return;  // forked children leave it to their parent
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
} g_private_folders;

}  // namespace

std::string unique_ledger_name() {
  static std::atomic<int> n{0};
  return "abtest-" + std::to_string(getpid()) + "-" + std::to_string(n++);
}

TestLedger::TestLedger(ab::DaemonConfig cfg) : name_(unique_ledger_name()) {
  // Event lines would drown test output; AB_TEST_LOG=1 shows them.
  if (!std::getenv("AB_TEST_LOG")) spdlog::set_level(spdlog::level::err);
  cfg.ledger = name_;
  // Snapshots, history and the control socket go to a private folder, so
  // tests run side by side and leave nothing behind.
  if (cfg.state_dir.empty()) {
    state_dir_ = make_temp_dir();
    cfg.state_dir = state_dir_;
  }
  if (cfg.control.socket.empty()) cfg.control.socket = cfg.state_dir + "/control.sock";
  cfg.group = "";
  cfg.group_required = false;
  daemon_ = std::make_unique<ab::Daemon>(cfg);
  std::string msg;
  if (!daemon_->start(&msg)) {
    std::fprintf(stderr, "TestLedger: daemon start failed: %s\n", msg.c_str());
    std::abort();
  }
}

void remove_test_ledger(const std::string& name) {
  ab::remove_ledger(name);
  // No other daemon can race for a test's private ledger: drop the lock file too.
  std::remove(("/dev/shm/" + ab::data_segment_name(name) + ".lock").c_str());
}

TestLedger::~TestLedger() {
  daemon_.reset();
  remove_test_ledger(name_);
  if (!state_dir_.empty()) std::filesystem::remove_all(state_dir_);
}

void wait_until_started(const std::atomic<int>& started, int n, const std::vector<pid_t>& pids) {
  for (int i = 0; i < 100'000 && started.load() < n; ++i) {
    for (pid_t p : pids) {
      siginfo_t info{};
      if (waitid(P_PID, id_t(p), &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == p) return;
    }
    usleep(100);
  }
}

ab::PoolConfig& add_team_pool(ab::DaemonConfig* c, const char* hard, const char* team, const char* period,
                              uint64_t rolling_s) {
  ab::PoolConfig pool;
  pool.name = "team";
  pool.hard = usd(hard);
  pool.period = period;
  pool.rolling_s = rolling_s;
  c->pools.push_back(pool);
  ab::PolicyConfig p;
  p.name = "pooled";
  p.matches = {{"team", team}};
  p.pools = {"team"};
  c->policies.push_back(p);
  return c->pools.back();
}

std::string make_temp_dir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "abtest-XXXXXX").string();
  if (!mkdtemp(tmpl.data())) std::abort();
  return tmpl;
}

ab_ledger* TestLedger::open() const {
  ab_ledger* l = nullptr;
  int rc = ab_ledger_open(name_.c_str(), &l);
  if (rc != AB_OK) {
    std::fprintf(stderr, "ab_ledger_open(%s): %s %s\n", name_.c_str(), ab_strerror(rc), ab_last_error_detail());
    std::abort();
  }
  return l;
}

std::vector<pid_t> fork_children(int n, const std::function<int(int)>& fn) {
  std::vector<pid_t> pids;
  for (int i = 0; i < n; ++i) {
    std::fflush(nullptr);
    pid_t p = fork();
    if (p == 0) _exit(fn(i));
    pids.push_back(p);
  }
  return pids;
}

int wait_all(const std::vector<pid_t>& pids) {
  int ok = 0;
  for (pid_t p : pids) {
    int status = 0;
    if (waitpid(p, &status, 0) == p && WIFEXITED(status) && WEXITSTATUS(status) == 0) ++ok;
  }
  return ok;
}

int run_command(const std::string& cmd, std::string* out) {
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  char buf[4096];
  size_t n;
  out->clear();
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out->append(buf, n);
  int status = pclose(p);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int64_t usd(const char* text) {
  auto v = ab::parse_usd(text);
  if (!v) std::abort();
  return *v;
}

}  // namespace abtest
