#include "replay.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "agentbudget.h"
#include "trace.h"

using nlohmann::json;

namespace ab {
namespace {

struct RunResult {
  size_t index = 0;
  std::string ledger_id;
  uint64_t calls_made = 0;
  Nanos charged = 0;              // sum of what each charge recorded
  Nanos spent = 0;                // the ledger's counter at the end
  Nanos charged_on_recorded = 0;  // charged for calls that carry a recorded cost
  int stopped_at = 0;             // 1-based call that was refused; 0 = completed
  std::string stop_reason;
  Nanos avoided = 0;  // price of the calls not made
  int unpriced_calls = 0;
  Nanos overshoot = 0;  // the ledger's spent past the budget, at the end
  std::string error;
};

// The call's fingerprint for the loop guard: its action's hash from the
// trace (the first 48 bits of SHA-1 over the exact action text), 0 if none.
uint64_t fingerprint(const TraceCall& c) {
  if (c.action_sha1.empty()) return 0;
  return std::strtoull(c.action_sha1.substr(0, 12).c_str(), nullptr, 16);
}

// All prompt tokens of the call, whatever the usage shape.
uint64_t prompt_tokens(const ReportedUsage& u) {
  return u.shape == UsageShape::kAnthropic ? u.input + u.cached + u.cache_write_5m + u.cache_write_1h : u.input;
}

ab_usage to_c(const ReportedUsage& r) {
  ab_usage u = AB_USAGE_INIT;
  u.shape = r.shape == UsageShape::kAnthropic ? AB_USAGE_ANTHROPIC : AB_USAGE_OPENAI;
  u.input_tokens = r.input;
  u.cached_tokens = r.cached;
  u.cache_write_5m_tokens = r.cache_write_5m;
  u.cache_write_1h_tokens = r.cache_write_1h;
  u.output_tokens = r.output;
  u.reasoning_tokens = r.reasoning;
  u.flags = r.reasoning_separate ? AB_USAGE_REASONING_SEPARATE : 0;
  return u;
}

// Replays one run: admit, then charge from recorded usage, call by call.
RunResult replay_run(ab_ledger* l, const TraceRun& run, size_t index, const ReplayOptions& o) {
  RunResult r;
  r.index = index;
  r.ledger_id = o.prefix + "-" + run.run_id;
  if (r.ledger_id.size() > AB_RUN_ID_MAX) {
    // Keep ids unique: replace the tail with a hash of the whole id.
    char tail[18];
    std::snprintf(tail, sizeof tail, "-%016llx", (unsigned long long)std::hash<std::string>{}(r.ledger_id));
    r.ledger_id = r.ledger_id.substr(0, AB_RUN_ID_MAX - 17) + tail;
  }
  ab_begin_options opts = AB_BEGIN_OPTIONS_INIT;
  opts.hard_nanos = o.budget;
  opts.soft_nanos = o.soft;
  opts.labels = o.labels.empty() ? nullptr : o.labels.c_str();
  opts.loop_limit = o.loop_limit;
  ab_run* h = nullptr;
  int rc = ab_run_begin(l, r.ledger_id.c_str(), &opts, &h);
  if (rc != AB_OK) {
    r.error = std::string("begin: ") + ab_status_name(rc) + " " + ab_last_error_detail();
    return r;
  }
  for (size_t k = 0; k < run.calls.size(); ++k) {
    const TraceCall& c = run.calls[k];
    ab_usage u = to_c(c.usage);
    int32_t reason = 0;
    int64_t cost = 0;
    uint32_t flags = 0;
    if (o.reserve) {
      // Reserve the call's worst case first: granted only if it fits.
      int64_t estimate = 0;
      rc = ab_estimate_for_run(h, c.model.c_str(), prompt_tokens(c.usage), o.max_output_tokens, &estimate);
      if (rc == AB_OK) {
        ab_hold hold;
        rc = ab_reserve(h, estimate, fingerprint(c), &hold, &reason);
        if (rc == AB_OK) rc = ab_commit_usage(h, hold, c.model.c_str(), &u, &cost, &flags);
      }
    } else {
      rc = ab_admit_fp(h, 0, fingerprint(c), &reason);
      if (rc == AB_OK) rc = ab_charge_usage(h, c.model.c_str(), &u, &cost, &flags);
    }
    if (rc == AB_OK) {
      ++r.calls_made;
      r.charged += cost;
      if (c.recorded_cost) r.charged_on_recorded += cost;
      if (flags & AB_CHARGE_UNPRICED) ++r.unpriced_calls;
      continue;
    }
    if (rc == AB_DENIED) {
      r.stop_reason = ab_reason_name(reason);
    } else if (rc == AB_ERR_UNKNOWN_MODEL) {
      r.stop_reason = ab_status_name(rc);
    } else {
      r.error = std::string("call ") + std::to_string(k + 1) + ": " + ab_status_name(rc);
      break;
    }
    // Refused: the agent stops here. What it would have spent is avoided.
    r.stopped_at = int(k + 1);
    for (size_t j = k; j < run.calls.size(); ++j) {
      ab_usage uj = to_c(run.calls[j].usage);
      int64_t p = 0;
      if (ab_price(l, run.calls[j].model.c_str(), &uj, &p) == AB_OK) r.avoided += p;
    }
    break;
  }
  ab_run_status st;
  st.struct_size = sizeof st;
  if (ab_run_status_get(h, &st) == AB_OK) {
    r.spent = st.spent_nanos;
    if (st.hard_nanos != AB_NO_LIMIT && st.spent_nanos > st.hard_nanos) r.overshoot = st.spent_nanos - st.hard_nanos;
  }
  ab_run_end(h);
  return r;
}

json to_json(const RunResult& r) {
  return {{"i", r.index},
          {"id", r.ledger_id},
          {"calls", r.calls_made},
          {"charged", r.charged},
          {"spent", r.spent},
          {"charged_on_recorded", r.charged_on_recorded},
          {"stopped_at", r.stopped_at},
          {"reason", r.stop_reason},
          {"avoided", r.avoided},
          {"unpriced", r.unpriced_calls},
          {"overshoot", r.overshoot},
          {"error", r.error}};
}

RunResult from_json(const json& j) {
  RunResult r;
  r.index = j["i"];
  r.ledger_id = j["id"];
  r.calls_made = j["calls"];
  r.charged = j["charged"];
  r.spent = j["spent"];
  r.charged_on_recorded = j["charged_on_recorded"];
  r.stopped_at = j["stopped_at"];
  r.stop_reason = j["reason"];
  r.avoided = j["avoided"];
  r.unpriced_calls = j["unpriced"];
  r.overshoot = j["overshoot"];
  r.error = j["error"];
  return r;
}

// One worker process: its own library instance, runs i with i % n == w.
int worker(const std::vector<TraceRun>& runs, int w, int n, const ReplayOptions& o, const std::string& out_path) {
  ab_ledger* l = nullptr;
  int rc = ab_ledger_open(o.ledger.empty() ? nullptr : o.ledger.c_str(), &l);
  if (rc != AB_OK) {
    std::fprintf(stderr, "worker %d: cannot open ledger: %s (%s)\n", w, ab_strerror(rc), ab_last_error_detail());
    return 3;
  }
  std::ofstream out(out_path);
  for (size_t i = size_t(w); i < runs.size(); i += size_t(n))
    out << to_json(replay_run(l, runs[i], i, o)).dump() << "\n";
  ab_ledger_close(l);
  return out.good() ? 0 : 4;
}

std::string usd(Nanos n) { return "$" + format_usd(n, 4); }

}  // namespace

int run_replay(const ReplayOptions& opt) {
  ReplayOptions o = opt;
  if (o.workers <= 0) o.workers = int(std::max(1u, std::thread::hardware_concurrency()));
  if (o.prefix.empty()) o.prefix = "replay-" + std::to_string(getpid());
  std::vector<TraceRun> runs;
  std::string err;
  if (!load_traces(o.traces, &runs, &err)) {
    std::cerr << "replay: " << err << "\n";
    return 2;
  }
  // Fail early, in the parent, if there is no ledger to charge.
  ab_ledger* probe = nullptr;
  if (int rc = ab_ledger_open(o.ledger.empty() ? nullptr : o.ledger.c_str(), &probe); rc != AB_OK) {
    std::cerr << "replay: cannot open ledger: " << ab_strerror(rc) << " (" << ab_last_error_detail() << ")\n";
    return 3;
  }
  ab_ledger_close(probe);

  std::vector<pid_t> pids;
  std::vector<std::string> outs;
  char tmpl[] = "/tmp/agentbudget-replay-XXXXXX";
  if (!mkdtemp(tmpl)) {
    std::perror("replay: mkdtemp");
    return 3;
  }
  for (int w = 0; w < o.workers; ++w) {
    outs.push_back(std::string(tmpl) + "/worker-" + std::to_string(w) + ".jsonl");
    std::fflush(nullptr);
    pid_t pid = fork();
    if (pid == 0) _exit(worker(runs, w, o.workers, o, outs.back()));
    if (pid < 0) {
      std::perror("replay: fork");
      return 3;
    }
    pids.push_back(pid);
  }
  int failed_workers = 0;
  for (pid_t p : pids) {
    int status = 0;
    waitpid(p, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) ++failed_workers;
  }
  std::vector<RunResult> results(runs.size());
  for (auto& path : outs) {
    std::ifstream in(path);
    std::string line;
    while (std::getline(in, line)) {
      RunResult r = from_json(json::parse(line));
      if (r.index < results.size()) results[r.index] = r;
    }
    std::remove(path.c_str());
  }
  rmdir(tmpl);

  Nanos recorded = 0, recorded_calls = 0, charged = 0, charged_on_recorded = 0, avoided = 0, overshoot = 0;
  uint64_t calls = 0, total_calls = 0, stopped = 0, errors = 0, unpriced = 0, mismatched = 0;
  std::map<std::string, uint64_t> stopped_by;
  for (size_t i = 0; i < runs.size(); ++i) {
    const TraceRun& t = runs[i];
    const RunResult& r = results[i];
    Nanos rec_calls = 0;
    for (auto& c : t.calls) rec_calls += c.recorded_cost.value_or(0);
    recorded += t.recorded_total.value_or(rec_calls);
    recorded_calls += rec_calls;
    charged += r.charged;
    charged_on_recorded += r.charged_on_recorded;
    avoided += r.avoided;
    calls += r.calls_made;
    total_calls += t.calls.size();
    unpriced += uint64_t(r.unpriced_calls);
    if (r.spent != r.charged) ++mismatched;  // the ledger must hold exactly what was charged
    if (r.stopped_at) ++stopped;
    if (!r.error.empty()) ++errors;
    overshoot = std::max(overshoot, r.overshoot);
    if (r.stopped_at) ++stopped_by[r.stop_reason];
    if (!o.json && !o.quiet) {
      std::ostringstream line;
      line << t.run_id.substr(0, 60) << "  [" << t.source << "]  recorded "
           << (t.recorded_total ? usd(*t.recorded_total) : std::string("n/a")) << "  charged " << usd(r.charged)
           << "  calls " << r.calls_made << "/" << t.calls.size();
      if (r.stopped_at)
        line << "  STOPPED at call " << r.stopped_at << " (" << r.stop_reason << "), avoided " << usd(r.avoided);
      if (r.unpriced_calls) line << "  unpriced calls " << r.unpriced_calls;
      if (!r.error.empty()) line << "  ERROR " << r.error;
      std::cout << line.str() << "\n";
    }
  }
  json summary = {
      {"runs", runs.size()},
      {"calls", calls},
      {"calls_in_traces", total_calls},
      {"workers", o.workers},
      {"budget_usd", o.budget >= 0 ? json(double(o.budget) / 1e9) : json(nullptr)},
      {"recorded_usd", double(recorded) / 1e9},
      {"recorded_calls_usd", double(recorded_calls) / 1e9},
      {"charged_usd", double(charged) / 1e9},
      {"charged_on_recorded_calls_usd", double(charged_on_recorded) / 1e9},
      {"charged_nanos", charged},
      {"recorded_calls_nanos", recorded_calls},
      {"charged_on_recorded_calls_nanos", charged_on_recorded},
      {"mode", o.reserve ? "reserve" : "charge"},
      {"loop_limit", o.loop_limit},
      {"stopped_runs", stopped},
      {"stopped_by", stopped_by},
      {"avoided_usd", double(avoided) / 1e9},
      {"max_overshoot_usd", double(overshoot) / 1e9},
      {"unpriced_calls", unpriced},
      {"ledger_mismatches", mismatched},
      {"errors", errors + uint64_t(failed_workers)},
  };
  if (o.json) {
    std::cout << summary.dump() << "\n";
  } else {
    std::cout << "\n"
              << runs.size() << " runs, " << calls << " of " << total_calls << " calls made, " << o.workers
              << " worker processes\n"
              << "  recorded by the agents: " << usd(recorded) << " (per-call recorded: " << usd(recorded_calls)
              << ")\n"
              << "  charged by agentbudget: " << usd(charged);
    if (stopped == 0)  // with every call made, the two must agree call for call
      std::cout << " (on the calls that carry a recorded cost: " << usd(charged_on_recorded) << ", difference "
                << format_usd(charged_on_recorded - recorded_calls, 9) << " USD)";
    std::cout << "\n";
    if (stopped) {
      std::cout << "  " << (o.reserve ? "reserve" : "charge") << " mode: " << stopped
                << (stopped == 1 ? " run" : " runs") << " stopped (";
      const char* sep = "";
      for (auto& [why, n] : stopped_by) std::cout << sep << why << " " << n, sep = ", ";
      std::cout << "), " << usd(avoided) << " avoided\n";
    }
    if (o.budget >= 0)
      std::cout << "  budget " << usd(o.budget) << " per run: max overshoot " << usd(overshoot) << "\n";
    if (unpriced)
      std::cout << "  " << unpriced << (unpriced == 1 ? " call" : " calls")
                << " priced at the fallback rate (unknown model)\n";
    if (mismatched || errors || failed_workers)
      std::cout << "  PROBLEMS: " << mismatched << " ledger mismatches, " << errors + failed_workers << " errors\n";
  }
  return (mismatched || errors || failed_workers) ? 1 : 0;
}

}  // namespace ab
