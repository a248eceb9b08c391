#include "audit_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "config.h"

namespace ab {

std::string default_audit_log_path() {
  const char* env = std::getenv("AGENTBUDGET_AUDIT_LOG");
  return env && *env ? std::string(env) : default_state_dir() + "/audit.jsonl";
}

bool append_audit(const std::string& path, const nlohmann::json& record, std::string* error) {
  std::error_code ec;
  std::filesystem::path dir = std::filesystem::path(path).parent_path();
  if (!dir.empty() && !std::filesystem::exists(dir, ec)) {
    std::filesystem::create_directories(dir, ec);
    std::filesystem::permissions(dir, std::filesystem::perms(0750), ec);
  }
  int fd = open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
  if (fd < 0) {
    *error = "cannot append to the audit log " + path + ": " + std::strerror(errno);
    return false;
  }
  std::string line = record.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  bool ok = write(fd, line.data(), line.size()) == ssize_t(line.size()) && fsync(fd) == 0;
  ok = close(fd) == 0 && ok;
  if (!ok) *error = "cannot write the audit log " + path;
  return ok;
}

}  // namespace ab
