// A client of agentbudgetd's control socket: one JSON request per line, one
// JSON reply per line (see daemon/control_commands.cpp).
#pragma once
#include <string>

#include <nlohmann/json.hpp>

namespace ab {

// The socket to use: `flag` if set, else $AGENTBUDGET_SOCKET, else the
// daemon's default for `ledger` (default_control_socket).
std::string resolve_socket_path(const std::string& flag, const std::string& ledger);

class ControlClient {
 public:
  ControlClient() = default;
  ~ControlClient();
  ControlClient(const ControlClient&) = delete;
  ControlClient& operator=(const ControlClient&) = delete;

  // Connects; on failure *error reads "no agentbudgetd answers on PATH: ...".
  bool connect(const std::string& path, std::string* error);
  // Sends `req` and reads one reply line into *reply (a JSON object).
  // False with *error on a broken connection or a reply that is not JSON; a
  // daemon's {"ok": false} is a reply like any other.
  bool request(const nlohmann::json& req, nlohmann::json* reply, std::string* error, int timeout_ms = 30000);
  // Reads the next line (watch); timeout_ms < 0 waits for ever.
  bool read_line(std::string* line, std::string* error, int timeout_ms = -1);

 private:
  int fd_ = -1;
  std::string path_;
  std::string buf_;  // bytes received past the last line
};

}  // namespace ab
