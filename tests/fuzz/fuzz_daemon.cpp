#include "fuzz_daemon.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include <spdlog/spdlog.h>

#include "ledger_owner.h"
#include "segment.h"

namespace abfuzz {

namespace {

std::unique_ptr<ab::Daemon> g_daemon;
std::string g_ledger, g_state_dir;

void cleanup() {
  g_daemon.reset();
  ab::remove_ledger(g_ledger);
  std::remove(("/dev/shm/" + ab::data_segment_name(g_ledger) + ".lock").c_str());
  std::error_code ec;
  std::filesystem::remove_all(g_state_dir, ec);
}

}  // namespace

ab::Daemon& daemon() {
  if (g_daemon) return *g_daemon;
  spdlog::set_level(spdlog::level::off);  // every refusal would log a line
  g_ledger = "abfuzz-" + std::to_string(getpid());
  std::string tmpl = (std::filesystem::temp_directory_path() / "abfuzz-XXXXXX").string();
  if (!mkdtemp(tmpl.data())) std::abort();
  g_state_dir = tmpl;
  ab::DaemonConfig cfg = ab::builtin_default_config();
  cfg.ledger = g_ledger;
  cfg.run_capacity = 16;
  cfg.hold_capacity = 16;
  cfg.group = "";
  cfg.group_required = false;
  cfg.state_dir = g_state_dir;
  cfg.control.socket = g_state_dir + "/control.sock";
  cfg.notify.log = false;
  ab::PoolConfig pool;
  pool.name = "team";
  pool.hard = 5'000'000'000;
  pool.soft_permille = {500};
  pool.period = "rolling";
  pool.rolling_s = 3600;
  cfg.pools.push_back(pool);
  ab::PolicyConfig p;
  p.name = "pooled";
  p.hard = 2'000'000'000;
  p.soft_permille = {500, 800};
  p.matches = {{"team", "a"}};
  p.pools = {"team"};
  p.loop_limit = 3;
  cfg.policies.push_back(p);
  g_daemon = std::make_unique<ab::Daemon>(cfg);
  std::string msg;
  if (!g_daemon->start(&msg)) {
    std::fprintf(stderr, "fuzz daemon did not start: %s\n", msg.c_str());
    std::abort();
  }
  std::atexit(cleanup);
  return *g_daemon;
}

}  // namespace abfuzz
