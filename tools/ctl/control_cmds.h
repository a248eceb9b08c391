// agentbudgetctl's operator commands over the daemon's control socket
// (status, runs, run, pools, set, end, reset, reload, watch, history,
// suggest) and `top`, a live view that reads the ledger directly.
#pragma once
#include <string>

#include <CLI/CLI.hpp>

namespace ab {

class ControlCommands {
 public:
  // Adds --socket and the subcommands to `app`; `status` and `runs` must be
  // there already (they gain the socket and filters, and fall back to
  // reading the ledger when no daemon answers). `ledger` and `json` are the
  // program's --ledger and --json.
  ControlCommands(CLI::App& app, std::string& ledger, bool& json);
  // After parsing: runs the chosen subcommand if it is one of these and
  // returns true with its exit code in *rc (0 ok, 1 the daemon refused,
  // 2 bad usage, 3 no daemon or ledger).
  bool dispatch(int* rc);

 private:
  CLI::App& app_;
  std::string& ledger_;
  bool& json_;
  std::string socket_;
  CLI::App *status_ = nullptr, *runs_ = nullptr, *run_ = nullptr, *pools_ = nullptr, *set_ = nullptr, *end_ = nullptr,
           *reset_ = nullptr, *reload_ = nullptr, *watch_ = nullptr, *history_ = nullptr, *suggest_ = nullptr,
           *top_ = nullptr;
  // Arguments of the subcommands.
  std::string state_, policy_, prefix_, sort_ = "spent", id_, target_, name_, hard_, soft_, reason_, to_, by_;
  std::string run_filter_, pool_filter_, kind_;
  size_t hist_limit_ = 50, top_limit_ = 20;
  double days_ = 0, margin_ = 0.20, interval_ = 1.0;
  bool closed_runs_ = false, by_spend_ = false, once_ = false;
  size_t count_ = 0;
};

}  // namespace ab
