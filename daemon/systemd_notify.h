// systemd's service notifications (sd_notify) for Type=notify units.
//
// Each call is a no-op when NOTIFY_SOCKET is unset (not started by systemd,
// or a test): libsystemd then sends nothing and returns 0.
#pragma once
#include <cstdint>
#include <string>

namespace ab {

// READY=1 with STATUS=`status` and MAINPID: the ledger exists (created or
// adopted) and clients may use it. Also ends a reload.
void notify_ready(const std::string& status);
// RELOADING=1 with MONOTONIC_USEC (systemd 253+ matches it against the
// reload it asked for; 252 ignores it). Follow with notify_ready().
void notify_reloading();
// STOPPING=1: the daemon is shutting down on request.
void notify_stopping();
// WATCHDOG=1: the daemon's loop is alive.
void notify_watchdog();
// How often to call notify_watchdog(): half of WATCHDOG_USEC, in
// nanoseconds, when systemd's watchdog is on for this process; 0 otherwise.
uint64_t watchdog_ping_interval_ns();

}  // namespace ab
