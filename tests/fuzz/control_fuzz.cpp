// The control-socket protocol: each input is what a peer sends on one
// connection, split into request lines as the server splits them, answered
// for an admin peer (root) or a reader (nobody), depending on the first
// byte. Every reply must be one JSON object with a boolean "ok"; nothing
// may crash, whatever the request.
#include <cstdint>
#include <cstdlib>
#include <string>

#include <nlohmann/json.hpp>

#include "agentbudget.h"
#include "control_server.h"
#include "fuzz_daemon.h"

namespace {

ab::ControlServer& server() {
  static ab::ControlServer s(abfuzz::daemon());  // not started: handle() only
  return s;
}

// A few runs for the commands to find: one plain, one in the pool, one with
// a reservation outstanding. Begun again (attached) for every input.
void seed_runs() {
  static ab_ledger* l = [] {
    ab_ledger* h = nullptr;
    if (ab_ledger_open(abfuzz::daemon().ledger().name().c_str(), &h) != AB_OK) std::abort();
    return h;
  }();
  const char* ids[] = {"r-plain", "r-team", "r-held"};
  const char* labels[] = {nullptr, "team=a", nullptr};
  for (int i = 0; i < 3; ++i) {
    ab_begin_options o = AB_BEGIN_OPTIONS_INIT;
    o.labels = labels[i];
    ab_run* r = nullptr;
    if (ab_run_begin(l, ids[i], &o, &r) != AB_OK) continue;  // ended by an earlier input
    ab_charge(r, 1'000'000, nullptr);
    ab_hold h;
    if (i == 2) ab_reserve(r, 2'000'000, 0, &h, nullptr);
    ab_run_detach(r);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  seed_runs();
  ab::Peer peer;
  peer.pid = 1;
  peer.uid = data[0] & 1 ? 0 : 65534;
  peer.gid = data[0] & 1 ? 0 : 65534;
  std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
  size_t start = 0;
  while (start <= text.size()) {
    size_t nl = text.find('\n', start);
    std::string line = text.substr(start, nl == std::string::npos ? std::string::npos : nl - start);
    if (line.size() <= ab::ControlServer::kMaxRequest) {
      bool watch = false;
      std::string reply = server().handle(line, peer, &watch);
      auto j = nlohmann::json::parse(reply, nullptr, false);
      if (j.is_discarded() || !j.is_object() || !j.contains("ok") || !j["ok"].is_boolean()) std::abort();
    }
    if (nl == std::string::npos) break;
    start = nl + 1;
  }
  abfuzz::daemon().tick(true);
  return 0;
}
