#include "control_client.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "config.h"

namespace ab {

std::string resolve_socket_path(const std::string& flag, const std::string& ledger) {
  if (!flag.empty()) return flag;
  if (const char* env = std::getenv("AGENTBUDGET_SOCKET"); env && *env) return env;
  return default_control_socket(ledger);
}

ControlClient::~ControlClient() {
  if (fd_ >= 0) close(fd_);
}

bool ControlClient::connect(const std::string& path, std::string* error) {
  path_ = path;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof addr.sun_path) {
    *error = "control socket path '" + path + "' is too long or empty";
    return false;
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0 || ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    int e = errno;
    *error = "no agentbudgetd answers on " + path + ": is it running? (" + std::strerror(e) + ")";
    if (e == EACCES) *error = "cannot connect to " + path + ": permission denied (is this user in the clients' group?)";
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
    return false;
  }
  return true;
}

bool ControlClient::read_line(std::string* line, std::string* error, int timeout_ms) {
  for (;;) {
    if (size_t nl = buf_.find('\n'); nl != std::string::npos) {
      *line = buf_.substr(0, nl);
      buf_.erase(0, nl + 1);
      return true;
    }
    pollfd p{fd_, POLLIN, 0};
    int n = poll(&p, 1, timeout_ms);
    if (n < 0 && errno == EINTR) continue;
    if (n == 0) {
      *error = "agentbudgetd on " + path_ + " did not answer in time";
      return false;
    }
    char chunk[65536];
    ssize_t r = n < 0 ? -1 : read(fd_, chunk, sizeof chunk);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      *error = "agentbudgetd on " + path_ + " closed the connection";
      return false;
    }
    buf_.append(chunk, size_t(r));
  }
}

bool ControlClient::request(const nlohmann::json& req, nlohmann::json* reply, std::string* error, int timeout_ms) {
  if (fd_ < 0) {
    *error = "not connected";
    return false;
  }
  std::string out = req.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  for (size_t done = 0; done < out.size();) {
    ssize_t w = send(fd_, out.data() + done, out.size() - done, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) {
      *error = "cannot send to agentbudgetd on " + path_ + ": " + std::strerror(errno);
      return false;
    }
    done += size_t(w);
  }
  std::string line;
  if (!read_line(&line, error, timeout_ms)) return false;
  *reply = nlohmann::json::parse(line, nullptr, false);
  if (reply->is_discarded() || !reply->is_object()) {
    *error = "agentbudgetd sent a reply that is not a JSON object";
    return false;
  }
  return true;
}

}  // namespace ab
