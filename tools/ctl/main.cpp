// agentbudgetctl: replay real traces through the ledger; inspect it.
#include <CLI/CLI.hpp>
#include <iostream>

#include "control_cmds.h"
#include "inspect.h"
#include "labels.h"
#include "money.h"
#include "replay.h"
#include "run_id.h"

int main(int argc, char** argv) {
  CLI::App app{"agentbudgetctl: inspect agentbudget ledgers and replay agent traces"};
  app.require_subcommand(1);
  std::string ledger;
  bool as_json = false;
  app.add_option("--ledger", ledger, "ledger name (default: $AGENTBUDGET_LEDGER or agentbudget)")
      ->check(CLI::Validator(
          [](std::string& v) { return v.empty() ? std::string("must not be empty") : std::string(); }, "NAME"));
  app.add_flag("--json", as_json, "machine-readable output");

  auto* status = app.add_subcommand("status", "daemon and ledger health");
  auto* runs = app.add_subcommand("runs", "runs by spend");
  bool closed = false;
  size_t limit = 50;
  runs->add_flag("--closed", closed, "include ended runs");
  runs->add_option("--limit", limit, "rows to show")->check(CLI::Range(size_t(1), size_t(1) << 24));

  auto* adjust = app.add_subcommand("adjust", "operator correction of a run's spend (audited; negative = refund)");
  std::string adj_run, adj_amount, adj_reason, audit_log;
  adjust->add_option("run", adj_run, "run id")->required();
  adjust->add_option("amount", adj_amount, "USD to add, e.g. -76.16")->required()->allow_extra_args(false);
  adjust->add_option("--reason", adj_reason, "why (kept in the audit log)")->required();
  adjust->add_option("--audit-log", audit_log,
                     "audit log (default: $AGENTBUDGET_AUDIT_LOG, else the daemon's state folder/audit.jsonl)");

  auto* replay = app.add_subcommand("replay", "replay recorded agent runs through the live ledger");
  ab::ReplayOptions ro;
  std::string budget, soft;
  replay->add_option("--traces", ro.traces, "directory with calls.jsonl (+ runs.jsonl) files")->required();
  replay->add_option("--budget", budget, "hard limit per run, USD");
  replay->add_option("--soft", soft, "soft threshold per run, USD");
  replay->add_option("--workers", ro.workers, "worker processes (default: cores)")->check(CLI::Range(1, 256));
  replay->add_option("--labels", ro.labels, "labels for each run, key=value[,key=value]");
  replay->add_option("--prefix", ro.prefix, "run id prefix (default: replay-<pid>)");
  replay->add_flag("--quiet", ro.quiet, "summary only");
  std::string mode = "charge";
  replay->add_option("--mode", mode, "charge: admit, then charge each call; reserve: reserve the worst case first")
      ->check(CLI::IsMember({"charge", "reserve"}));
  replay->add_option("--loop-limit", ro.loop_limit, "deny the call that makes N identical actions in a row")
      ->check(CLI::Range(2, 65535));
  replay->add_option("--max-output-tokens", ro.max_output_tokens,
                     "reserve mode: the agent's max_tokens (default: the model's maximum output)");
  replay->add_flag("--json", as_json, "print the summary as one JSON object");

  ab::ControlCommands control(app, ledger, as_json);  // after status and runs: it extends them
  CLI11_PARSE(app, argc, argv);
  if (int rc = 0; control.dispatch(&rc)) return rc;
  if (*status) return ab::show_status(ledger, as_json);
  if (*adjust) return ab::adjust_run(ledger, adj_run, adj_amount, adj_reason, audit_log, as_json);
  if (*runs) return ab::show_runs(ledger, as_json, closed, limit);
  if (*replay) {
    auto parse = [&](const std::string& text, const char* what, ab::Nanos* out) {
      if (text.empty())
        return !replay->get_option(std::string("--") + what)->count() ||
               (std::cerr << "replay: --" << what << " is empty\n", false);
      auto v = ab::parse_usd(text);
      if (!v) {
        std::cerr << "replay: --" << what << " '" << text << "' is not a non-negative USD amount\n";
        return false;
      }
      *out = *v;
      return true;
    };
    if (!parse(budget, "budget", &ro.budget) || !parse(soft, "soft", &ro.soft)) return 2;
    ab::LabelSet labels;
    if (!ab::parse_labels(ro.labels, &labels)) {
      std::cerr << "replay: --labels '" << ro.labels << "' is not key=value[,key=value...]\n";
      return 2;
    }
    if (!ro.prefix.empty() && (!ab::valid_run_id(ro.prefix) || ro.prefix.size() > 64)) {
      std::cerr << "replay: --prefix must be 1-64 printable ASCII characters without spaces\n";
      return 2;
    }
    ro.ledger = ledger;
    ro.reserve = mode == "reserve";
    ro.json = as_json;
    return ab::run_replay(ro);
  }
  return 2;
}
