// Real agent traces (the layout of data/traces/*/: calls.jsonl joined to
// runs.jsonl on run_id), parsed into runs of calls with provider usage.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "money.h"
#include "usage.h"

namespace ab {

struct TraceCall {
  int seq = 0;
  std::string model;
  ReportedUsage usage;
  std::optional<Nanos> recorded_cost;  // the source's own per-call cost, if any
  std::string action_sha1;
};

struct TraceRun {
  std::string run_id;
  std::string source;  // subfolder name, e.g. "mini_swe_agent_gemini3pro"
  std::vector<TraceCall> calls;
  std::optional<Nanos> recorded_total;  // runs.jsonl total_cost_usd
};

// Reads one calls.jsonl line's usage: raw_usage in either the OpenAI shape
// (prompt_tokens, includes cached) or the Anthropic shape (input_tokens,
// excludes cache). Google's own OpenAI-compatible endpoint (provider
// "google") reports reasoning outside completion_tokens, as does any call
// whose reasoning exceeds its completion; those set reasoning_separate.
// Returns false with *error on a malformed line.
bool parse_call_line(const std::string& line, TraceCall* call, std::string* run_id, std::string* error);

// Loads every calls.jsonl under `dir` (recursively, sorted by path), joined
// with the runs.jsonl next to it. Runs keep file order; calls are sorted by
// seq. Returns false with *error naming file and line on bad input.
bool load_traces(const std::string& dir, std::vector<TraceRun>* runs, std::string* error);

}  // namespace ab
