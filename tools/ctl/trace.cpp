#include "trace.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>

namespace fs = std::filesystem;
using nlohmann::json;

namespace ab {

static uint64_t count(const json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return 0;
  if (it->is_number_unsigned()) {
    uint64_t u = it->get<uint64_t>();
    if (u > (uint64_t(1) << 40)) throw std::runtime_error(std::string("field ") + key + " is out of range");
    return u;
  }
  if (!it->is_number_integer()) throw std::runtime_error(std::string("field ") + key + " is not an integer");
  int64_t v = it->get<int64_t>();
  if (v < 0) throw std::runtime_error(std::string("field ") + key + " is negative");
  return uint64_t(v);
}

static const json& sub(const json& obj, const char* key) {
  static const json empty = json::object();
  auto it = obj.find(key);
  return it != obj.end() && it->is_object() ? *it : empty;
}

// A string field, "" when absent or null.
static std::string text(const json& obj, const char* key) {
  auto it = obj.find(key);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// Recorded USD costs are JSON doubles; nanos to the nearest nano.
static std::optional<Nanos> usd_field(const json& obj, const char* key) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return std::nullopt;
  if (!it->is_number()) throw std::runtime_error(std::string("field ") + key + " is not a number");
  double d = it->get<double>();
  if (!std::isfinite(d) || d < 0 || d > 1e6) throw std::runtime_error(std::string("field ") + key + " is out of range");
  return Nanos(std::llround(d * 1e9));
}

bool parse_call_line(const std::string& line, TraceCall* call, std::string* run_id, std::string* error) {
  try {
    json j = json::parse(line);
    if (!j.is_object()) throw std::runtime_error("not a JSON object");
    *run_id = j.at("run_id").get<std::string>();
    call->seq = j.value("seq", 0);
    call->model = j.at("model").get<std::string>();
    call->recorded_cost = usd_field(j, "cost_usd");
    call->action_sha1 = text(j, "action_sha1");
    std::string provider = text(j, "provider");
    const json& u = sub(j, "raw_usage");
    ReportedUsage r;
    if (u.contains("prompt_tokens")) {
      r.shape = UsageShape::kOpenAI;
      r.input = count(u, "prompt_tokens");
      r.cached = count(sub(u, "prompt_tokens_details"), "cached_tokens");
      r.output = count(u, "completion_tokens");
      r.reasoning = count(sub(u, "completion_tokens_details"), "reasoning_tokens");
      r.reasoning_separate = provider == "google" || r.reasoning > r.output;
    } else if (u.contains("input_tokens")) {
      r.shape = UsageShape::kAnthropic;
      r.input = count(u, "input_tokens");
      r.cached = count(u, "cache_read_input_tokens");
      const json& cc = sub(u, "cache_creation");
      if (cc.contains("ephemeral_5m_input_tokens") || cc.contains("ephemeral_1h_input_tokens")) {
        r.cache_write_5m = count(cc, "ephemeral_5m_input_tokens");
        r.cache_write_1h = count(cc, "ephemeral_1h_input_tokens");
      } else {
        r.cache_write_5m = count(u, "cache_creation_input_tokens");
      }
      r.output = count(u, "output_tokens");
    } else {
      throw std::runtime_error("raw_usage has neither prompt_tokens nor input_tokens");
    }
    call->usage = r;
    return true;
  } catch (const std::exception& e) {
    *error = e.what();
    return false;
  }
}

static bool load_run_totals(const fs::path& file, std::map<std::string, Nanos>* totals, std::string* error) {
  std::ifstream in(file);
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;  // blank line
    try {
      json j = json::parse(line);
      auto t = usd_field(j, "total_cost_usd");
      if (t) (*totals)[j.at("run_id").get<std::string>()] = *t;
    } catch (const std::exception& e) {
      *error = file.string() + ":" + std::to_string(n) + ": " + e.what();
      return false;
    }
  }
  return true;
}

bool load_traces(const std::string& dir, std::vector<TraceRun>* runs, std::string* error) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    *error = dir + ": not a directory";
    return false;
  }
  std::vector<fs::path> files;
  for (auto& e : fs::recursive_directory_iterator(dir, ec))
    if (e.is_regular_file() && e.path().filename() == "calls.jsonl") files.push_back(e.path());
  if (ec) {
    *error = dir + ": " + ec.message();
    return false;
  }
  std::sort(files.begin(), files.end());
  if (files.empty()) {
    *error = dir + ": no calls.jsonl found";
    return false;
  }
  for (auto& file : files) {
    std::map<std::string, Nanos> totals;
    fs::path runs_file = file.parent_path() / "runs.jsonl";
    if (fs::exists(runs_file) && !load_run_totals(runs_file, &totals, error)) return false;
    std::ifstream in(file);
    std::map<std::string, size_t> index;
    std::string line, run_id;
    for (int n = 1; std::getline(in, line); ++n) {
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;  // blank line
      TraceCall c;
      if (!parse_call_line(line, &c, &run_id, error)) {
        *error = file.string() + ":" + std::to_string(n) + ": " + *error;
        return false;
      }
      auto [it, fresh] = index.emplace(run_id, runs->size());
      if (fresh) {
        TraceRun r;
        r.run_id = run_id;
        r.source = file.parent_path().filename().string();
        if (auto t = totals.find(run_id); t != totals.end()) r.recorded_total = t->second;
        runs->push_back(std::move(r));
      }
      (*runs)[it->second].calls.push_back(std::move(c));
    }
    for (auto& [id, i] : index)
      std::stable_sort((*runs)[i].calls.begin(), (*runs)[i].calls.end(),
                       [](const TraceCall& a, const TraceCall& b) { return a.seq < b.seq; });
  }
  return true;
}

}  // namespace ab
