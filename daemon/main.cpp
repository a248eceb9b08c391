// agentbudgetd: a thin main over the Daemon library.
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <iostream>

#include <spdlog/spdlog.h>

#include "daemon.h"
#include "segment.h"
#include "systemd_notify.h"

// The handlers are installed before the ledger exists, so a SIGTERM that
// arrives while the daemon starts (a client may already see the ledger) is
// kept and honoured as soon as the loop begins, instead of killing it.
static std::atomic<ab::Daemon*> g_daemon{nullptr};
static volatile sig_atomic_t g_stop_requested = 0;

extern "C" void on_signal(int) {
  g_stop_requested = 1;
  if (ab::Daemon* d = g_daemon.load()) d->stop();
}

extern "C" void on_sighup(int) {
  if (ab::Daemon* d = g_daemon.load()) d->request_reload();
}

int main(int argc, char** argv) {
  CLI::App app{"agentbudgetd: owns the agentbudget shared-memory ledger of run budgets"};
  std::string config_path, ledger, log_level = "info";
  bool check = false, remove = false;
  std::string message;
  app.add_option("-c,--config", config_path, "TOML configuration file (default: built-in configuration)");
  app.add_option("--ledger", ledger, "ledger name (overrides the config and $AGENTBUDGET_LEDGER)")
      ->check(CLI::Validator(
          [](std::string& v) { return v.empty() ? std::string("must not be empty") : std::string(); }, "NAME"));
  app.add_flag("--check", check, "validate the configuration and exit");
  app.add_flag("--remove-ledger", remove, "remove the ledger's segments (losing its runs) and exit");
  bool discard_snapshot = false;
  app.add_flag("--discard-snapshot", discard_snapshot,
               "if the snapshot cannot be read, rename it FILE.corrupt-<unix time> and start with an empty ledger");
  bool config_optional = false;
  app.add_flag("--config-optional", config_optional,
               "with --config: if the file does not exist, run on the built-in configuration (service units)");
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}));
  CLI11_PARSE(app, argc, argv);
  spdlog::set_level(spdlog::level::from_str(log_level));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ agentbudgetd: %v");

  // The unit passes its config path whether or not the operator wrote one.
  if (config_optional && !config_path.empty() && access(config_path.c_str(), F_OK) != 0 && errno == ENOENT) {
    spdlog::info("{} does not exist: running on the built-in configuration", config_path);
    config_path.clear();
  }
  ab::DaemonConfig cfg = ab::builtin_default_config();
  if (!config_path.empty()) {
    std::vector<std::string> errors;
    if (!ab::load_config_file(config_path, &cfg, &errors)) {
      for (auto& e : errors) std::cerr << e << "\n";
      return 2;
    }
  }
  if (check) {
    // Everything start() would refuse: the price table and the group too.
    std::vector<std::string> problems = ab::check_startable(cfg);
    for (auto& p : problems) std::cerr << cfg.source << ": " << p << "\n";
    if (!problems.empty()) return 2;
    std::cout << cfg.source << ": OK (" << cfg.policies.size() << " policies, " << cfg.pools.size() << " pools)\n";
    return 0;
  }
  // --ledger, then $AGENTBUDGET_LEDGER, then the config file, then "agentbudget".
  if (const char* env = std::getenv("AGENTBUDGET_LEDGER"); ledger.empty() && env && *env) ledger = env;
  if (!ledger.empty()) cfg.ledger = ledger;
  if (!ab::valid_ledger_name(cfg.ledger)) {
    std::cerr << "invalid ledger name '" << cfg.ledger << "'\n";
    return 2;
  }
  if (remove) {
    ab::InstanceLock lock;  // never pull a ledger from under a running daemon
    if (!lock.acquire(cfg.ledger, &message)) {
      std::cerr << "refusing to remove: " << message << "\n";
      return 1;
    }
    if (!ab::remove_ledger(cfg.ledger)) {
      std::cerr << "no ledger '" << cfg.ledger << "' to remove\n";
      return 1;
    }
    std::cout << "removed ledger '" << cfg.ledger << "'\n";
    return 0;
  }

  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  struct sigaction hup {};
  hup.sa_handler = on_sighup;
  sigemptyset(&hup.sa_mask);
  sigaction(SIGHUP, &hup, nullptr);

  ab::Daemon daemon(cfg);
  daemon.set_discard_bad_snapshot(discard_snapshot);
  if (!daemon.start(&message)) {
    spdlog::error("{}", message);
    return 1;
  }
  g_daemon.store(&daemon);
  if (g_stop_requested) daemon.stop();  // asked while starting: run() stops at once, cleanly
  // systemd (Type=notify): the ledger exists and clients may use it.
  ab::notify_ready("serving ledger '" + cfg.ledger + "' (" + std::to_string(daemon.ledger().capacity()) +
                   " run slots)");
  daemon.run();
  g_daemon.store(nullptr);
  return 0;
}
