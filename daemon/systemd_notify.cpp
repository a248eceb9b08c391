#include "systemd_notify.h"

#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#include <cstring>

#include <spdlog/spdlog.h>

namespace ab {

static void send(const std::string& state) {
  int r = sd_notify(0, state.c_str());
  // A failed notification is worth a line, never a stop: systemd then
  // times the start out or restarts us, which says more than we could.
  if (r < 0) spdlog::warn("sd_notify({}) failed: {}", state.substr(0, state.find('\n')), std::strerror(-r));
}

void notify_ready(const std::string& status) {
  send("READY=1\nSTATUS=" + status + "\nMAINPID=" + std::to_string(getpid()));
}

void notify_reloading() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  uint64_t usec = uint64_t(ts.tv_sec) * 1'000'000u + uint64_t(ts.tv_nsec) / 1000u;
  send("RELOADING=1\nSTATUS=reloading the configuration\nMONOTONIC_USEC=" + std::to_string(usec));
}

void notify_stopping() { send("STOPPING=1\nSTATUS=stopping"); }

void notify_watchdog() { send("WATCHDOG=1"); }

uint64_t watchdog_ping_interval_ns() {
  uint64_t usec = 0;
  // > 0 only if WATCHDOG_USEC is set and WATCHDOG_PID is unset or ours.
  if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0) return 0;
  return usec * 1000u / 2;
}

}  // namespace ab
