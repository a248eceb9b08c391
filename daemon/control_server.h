// agentbudgetd's control socket: a Unix stream socket speaking one JSON
// request per line and one JSON reply per line (the commands are listed
// at the top of control_commands.cpp).
//
// One thread serves every connection with poll() and non-blocking sockets,
// so a slow or dead client delays nobody, least of all the daemon loop: the
// loop only hands events to the WatchHub (a bounded queue per subscriber,
// never blocking). Commands that touch the daemon's configuration take
// Daemon::config_mutex() for the few microseconds they need, never across
// socket I/O.
#pragma once
#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "event.h"

namespace ab {

class Daemon;

// Who is on the other end of a connection (SO_PEERCRED, at connect time).
struct Peer {
  pid_t pid = 0;
  uid_t uid = uid_t(-1);
  gid_t gid = gid_t(-1);
};

// True if `p` may use write commands: root, or a member of `admin_group`
// (its primary gid or a supplementary group of its uid's user). Otherwise
// *why says what is missing.
bool peer_is_admin(const Peer& p, const std::string& admin_group, std::string* why);

// Fans delivered events out to `watch` subscribers. deliver() runs on the
// daemon loop and never blocks on a client: each subscriber has a bounded
// queue, and a subscriber that falls kMaxQueued events behind is dropped
// (its connection gets a final error line and is closed).
class WatchHub : public EventSink {
 public:
  static constexpr size_t kMaxQueued = 4096;
  struct Subscriber {
    std::deque<std::string> lines;  // JSON lines not yet handed to the socket
    bool overflowed = false;
  };

  std::shared_ptr<Subscriber> subscribe();
  void unsubscribe(const std::shared_ptr<Subscriber>& s);
  void deliver(const Event& e) override;
  // Moves up to `max` queued lines of `s` into *out; true if `s` overflowed.
  bool take(Subscriber& s, size_t max, std::vector<std::string>* out);
  size_t subscribers() const;
  // Events delivered since start, per EventKind.
  std::vector<uint64_t> counts() const;
  // Called (from the daemon loop) after lines were queued: wakes the server.
  void set_wake(int eventfd) { wake_fd_ = eventfd; }

 private:
  mutable std::mutex mu_;
  std::vector<std::shared_ptr<Subscriber>> subs_;
  std::vector<uint64_t> counts_ = std::vector<uint64_t>(kEventKindCount, 0);
  std::atomic<int> wake_fd_{-1};
};

class ControlServer {
 public:
  static constexpr size_t kMaxRequest = 64 * 1024;  // bytes per request line
  static constexpr size_t kMaxConnections = 64;
  static constexpr int kIdleTimeoutMs = 60'000;  // a connection that sends nothing for this long is closed

  explicit ControlServer(Daemon& d);
  ~ControlServer();
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  // Binds the socket (see control_socket_path) and starts the thread.
  bool start(std::string* error);
  // Stops the thread, closes every connection, removes the socket. Idempotent.
  void stop();
  EventSink* sink() { return &hub_; }
  const std::string& path() const { return path_; }

  // Runs one request line for `peer`; returns the reply (one JSON object,
  // no newline). *watch is set when the connection becomes a subscriber.
  std::string handle(const std::string& line, const Peer& peer, bool* watch);

 private:
  struct Conn;
  void loop();
  void serve(Conn& c, short revents, uint64_t now_ms);
  void close_conn(Conn& c);

  // Commands (control_commands.cpp). Each returns the reply object.
  nlohmann::json cmd_status();
  nlohmann::json cmd_runs(const nlohmann::json& req);
  nlohmann::json cmd_run(const nlohmann::json& req);
  nlohmann::json cmd_pools();
  nlohmann::json cmd_set(const nlohmann::json& req);
  nlohmann::json cmd_end(const nlohmann::json& req);
  nlohmann::json cmd_reset(const nlohmann::json& req, const Peer& peer);
  nlohmann::json cmd_reload();
  nlohmann::json cmd_history(const nlohmann::json& req);
  nlohmann::json cmd_suggest(const nlohmann::json& req);

  Daemon& d_;
  WatchHub hub_;
  std::string path_;
  ino_t inode_ = 0;  // of the socket we bound: stop() removes only ours
  int listen_fd_ = -1, wake_fd_ = -1;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  uint64_t started_unix_ns_ = 0;
  // Counters for `status` (written by the server thread, read by it too).
  uint64_t connections_ = 0, requests_ = 0, errors_ = 0, refused_ = 0;
  std::vector<std::unique_ptr<Conn>> conns_;
};

}  // namespace ab
