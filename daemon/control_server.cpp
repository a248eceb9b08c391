#include "control_server.h"

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "clock.h"
#include "daemon.h"
#include "event_json.h"

using nlohmann::json;

namespace ab {

namespace {

uint64_t mono_ms() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1000 + uint64_t(ts.tv_nsec) / 1'000'000;
}

std::string errno_text(const char* what, const std::string& path) {
  return std::string(what) + " " + path + ": " + std::strerror(errno);
}

// Replies must survive any bytes a client sent (echoed names): invalid
// UTF-8 is replaced, never thrown.
std::string dump_line(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

json error_reply(const std::string& msg) { return {{"ok", false}, {"error", msg}}; }

void wake(int fd) {
  if (fd < 0) return;
  uint64_t one = 1;
  ssize_t n = write(fd, &one, sizeof one);  // eventfd: never blocks while below 2^64-1
  (void)n;
}

}  // namespace

// ---------------------------------------------------------------------------
// Permissions

bool peer_is_admin(const Peer& p, const std::string& admin_group, std::string* why) {
  if (p.uid == 0) return true;
  std::vector<char> buf(16384);
  group gr{}, *grp = nullptr;
  if (admin_group.empty() || getgrnam_r(admin_group.c_str(), &gr, buf.data(), buf.size(), &grp) != 0 || !grp) {
    *why = "uid " + std::to_string(p.uid) + " is not root, and the admin group '" + admin_group +
           "' does not exist, so only root may change things";
    return false;
  }
  const gid_t admin = grp->gr_gid;
  if (p.gid == admin) return true;
  passwd pw{}, *pwp = nullptr;
  if (getpwuid_r(p.uid, &pw, buf.data(), buf.size(), &pwp) == 0 && pwp) {
    std::string user = pwp->pw_name;
    int n = 64;
    std::vector<gid_t> groups(n);
    if (getgrouplist(user.c_str(), p.gid, groups.data(), &n) < 0) {
      groups.resize(size_t(n));
      if (getgrouplist(user.c_str(), p.gid, groups.data(), &n) < 0) n = 0;
    }
    for (int i = 0; i < n; ++i)
      if (groups[size_t(i)] == admin) return true;
  }
  *why = "uid " + std::to_string(p.uid) + " is neither root nor in the admin group '" + admin_group + "'";
  return false;
}

// ---------------------------------------------------------------------------
// Watch fan-out

std::shared_ptr<WatchHub::Subscriber> WatchHub::subscribe() {
  auto s = std::make_shared<Subscriber>();
  std::lock_guard lock(mu_);
  subs_.push_back(s);
  return s;
}

void WatchHub::unsubscribe(const std::shared_ptr<Subscriber>& s) {
  std::lock_guard lock(mu_);
  std::erase(subs_, s);
}

void WatchHub::deliver(const Event& e) {
  bool queued = false;
  {
    std::lock_guard lock(mu_);
    int k = int(e.kind);
    if (k >= 0 && k < kEventKindCount) ++counts_[size_t(k)];
    if (subs_.empty()) return;
    std::string line = event_json_text(e);
    for (auto& s : subs_) {
      if (s->overflowed) continue;
      if (s->lines.size() >= kMaxQueued) {
        s->overflowed = true;  // the server closes it; the loop never waits for it
        s->lines.clear();
      } else {
        s->lines.push_back(line);
      }
      queued = true;
    }
  }
  if (queued) wake(wake_fd_.load(std::memory_order_acquire));
}

bool WatchHub::take(Subscriber& s, size_t max, std::vector<std::string>* out) {
  std::lock_guard lock(mu_);
  while (max-- > 0 && !s.lines.empty()) {
    out->push_back(std::move(s.lines.front()));
    s.lines.pop_front();
  }
  return s.overflowed;
}

size_t WatchHub::subscribers() const {
  std::lock_guard lock(mu_);
  return subs_.size();
}

std::vector<uint64_t> WatchHub::counts() const {
  std::lock_guard lock(mu_);
  return counts_;
}

// ---------------------------------------------------------------------------
// Server

struct ControlServer::Conn {
  int fd = -1;
  Peer peer;
  std::string in, out;
  uint64_t last_ms = 0;  // last request received or byte written
  bool closing = false;  // close once `out` is written (or the deadline passes)
  uint64_t close_by_ms = 0;
  std::shared_ptr<WatchHub::Subscriber> watch;
};

static constexpr size_t kMaxOut = 8u << 20;  // unread replies past this: stop reading requests
static constexpr size_t kWatchBatch = 256;   // watch lines moved to the socket per pass
static constexpr int kCloseGraceMs = 5000;   // a final line gets this long to be read

ControlServer::ControlServer(Daemon& d) : d_(d) {}
ControlServer::~ControlServer() { stop(); }

bool ControlServer::start(std::string* error) {
  path_ = control_socket_path(d_.config());
  started_unix_ns_ = unix_ns();
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path_.empty() || path_.size() >= sizeof addr.sun_path) {
    *error = "control socket path '" + path_ + "' must be 1-" + std::to_string(sizeof addr.sun_path - 1) + " bytes";
    return false;
  }
  std::memcpy(addr.sun_path, path_.c_str(), path_.size() + 1);
  std::filesystem::path parent = std::filesystem::path(path_).parent_path();
  std::error_code ec;
  if (!parent.empty()) std::filesystem::create_directories(parent, ec);
  if (ec) {
    *error = "control socket: cannot create " + parent.string() + ": " + ec.message();
    return false;
  }
  // A socket left by a daemon that died: remove it, but only if nothing
  // answers on it (the instance lock makes that a second daemon of ANOTHER
  // ledger configured with the same path).
  struct stat st {};
  if (lstat(path_.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      *error = "control socket: " + path_ + " exists and is not a socket; remove it or set control.socket";
      return false;
    }
    // Non-blocking: a live daemon with a full backlog answers EAGAIN, and
    // must not hang this start.
    int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    bool answered = probe >= 0 && (connect(probe, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 ||
                                   errno == EAGAIN || errno == EINPROGRESS);
    if (probe >= 0) close(probe);
    if (answered) {
      *error = "control socket: another daemon answers on " + path_;
      return false;
    }
    unlink(path_.c_str());
  }
  listen_fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) {
    *error = errno_text("control socket:", path_);
    return false;
  }
  if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    *error = errno_text("control socket: cannot bind", path_);
    close(listen_fd_);
    listen_fd_ = -1;
    return false;
  }
  if (chmod(path_.c_str(), mode_t(d_.config().control.mode & 07777)) != 0 || listen(listen_fd_, 64) != 0) {
    *error = errno_text("control socket: cannot listen on", path_);
    close(listen_fd_);
    listen_fd_ = -1;
    unlink(path_.c_str());  // ours: bound just now
    return false;
  }
  // The clients' group may connect (reads); write commands check the peer.
  const std::string& grp_name = d_.config().group;
  if (!grp_name.empty()) {
    if (group* g = getgrnam(grp_name.c_str()); g && chown(path_.c_str(), uid_t(-1), g->gr_gid) != 0)
      spdlog::warn("control socket {}: cannot give it to group '{}': {}", path_, grp_name, std::strerror(errno));
  }
  if (lstat(path_.c_str(), &st) == 0) inode_ = st.st_ino;
  wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd_ < 0) {
    *error = errno_text("control socket: eventfd for", path_);
    stop();
    return false;
  }
  hub_.set_wake(wake_fd_);
  thread_ = std::thread(&ControlServer::loop, this);
  spdlog::info("control socket listening on {}", path_);
  return true;
}

void ControlServer::stop() {
  if (stopping_.exchange(true)) return;
  hub_.set_wake(-1);
  wake(wake_fd_);
  if (thread_.joinable()) thread_.join();
  for (auto& c : conns_) close_conn(*c);
  conns_.clear();
  if (listen_fd_ >= 0) {
    close(listen_fd_);
    listen_fd_ = -1;
    struct stat st {};
    if (lstat(path_.c_str(), &st) == 0 && st.st_ino == inode_) unlink(path_.c_str());
  }
  if (wake_fd_ >= 0) close(wake_fd_);
  wake_fd_ = -1;
}

void ControlServer::close_conn(Conn& c) {
  if (c.watch) hub_.unsubscribe(c.watch);
  c.watch.reset();
  if (c.fd >= 0) close(c.fd);
  c.fd = -1;
}

void ControlServer::loop() {
  std::vector<pollfd> fds;
  while (!stopping_.load(std::memory_order_acquire)) {
    fds.clear();
    fds.push_back({wake_fd_, POLLIN, 0});
    fds.push_back({listen_fd_, POLLIN, 0});
    for (auto& c : conns_) {
      short ev = 0;
      // Stop reading requests while replies pile up unread; a subscriber's
      // input is read only to notice that it hung up.
      if (!c->closing && c->out.size() < kMaxOut) ev |= POLLIN;
      if (!c->out.empty()) ev |= POLLOUT;
      fds.push_back({c->fd, ev, 0});
    }
    int n = poll(fds.data(), fds.size(), 1000);
    if (n < 0 && errno != EINTR) {
      spdlog::error("control socket: poll: {}", std::strerror(errno));
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      continue;
    }
    uint64_t now = mono_ms();
    if (fds[0].revents & POLLIN) {
      uint64_t v;
      ssize_t r = read(wake_fd_, &v, sizeof v);
      (void)r;
    }
    // Connections first (indexes match fds[2..]), then new ones.
    for (size_t i = 0; i < conns_.size(); ++i) serve(*conns_[i], n > 0 ? fds[i + 2].revents : 0, now);
    std::erase_if(conns_, [](const std::unique_ptr<Conn>& c) { return c->fd < 0; });
    if (n > 0 && (fds[1].revents & POLLIN)) {
      for (;;) {
        int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) break;
        ++connections_;
        ucred cred{};
        socklen_t len = sizeof cred;
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0 || conns_.size() >= kMaxConnections) {
          // Best effort: the socket is fresh, so one short line fits its buffer.
          std::string line =
              dump_line(error_reply(conns_.size() >= kMaxConnections ? "too many control connections; try again later"
                                                                     : "cannot read peer credentials")) +
              "\n";
          ssize_t w = send(fd, line.data(), line.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
          (void)w;
          close(fd);
          ++refused_;
          continue;
        }
        auto c = std::make_unique<Conn>();
        c->fd = fd;
        c->peer = {cred.pid, cred.uid, cred.gid};
        c->last_ms = now;
        conns_.push_back(std::move(c));
      }
    }
  }
}

void ControlServer::serve(Conn& c, short revents, uint64_t now) {
  if (revents & (POLLIN | POLLHUP | POLLERR)) {
    char buf[16384];
    for (;;) {
      ssize_t r = recv(c.fd, buf, sizeof buf, MSG_DONTWAIT);
      if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
        close_conn(c);  // hung up: nobody to answer
        return;
      }
      if (r < 0) break;
      if (c.watch || c.closing) continue;  // nothing more is read from these
      c.in.append(buf, size_t(r));
      // Answer every complete line; the rest waits for more bytes.
      size_t start = 0, nl;
      while (!c.closing && !c.watch && (nl = c.in.find('\n', start)) != std::string::npos) {
        std::string line = c.in.substr(start, nl - start);
        start = nl + 1;
        if (line.size() > kMaxRequest) {
          ++errors_;
          c.out += dump_line(error_reply("request too long: over " + std::to_string(kMaxRequest) + " bytes")) + "\n";
          c.closing = true;
          break;
        }
        if (!line.empty() && line.back() == '\r') line.pop_back();
        if (line.find_first_not_of(" \t") == std::string::npos) continue;  // blank lines are no requests
        bool watch = false;
        c.out += handle(line, c.peer, &watch) + "\n";
        c.last_ms = now;
        if (watch) c.watch = hub_.subscribe();
      }
      c.in.erase(0, start);
      if (!c.closing && !c.watch && c.in.size() > kMaxRequest) {
        // No newline in sight: the line is too long whatever follows; the
        // stream cannot be resynchronised, so answer and hang up.
        ++errors_;
        c.out += dump_line(error_reply("request too long: over " + std::to_string(kMaxRequest) + " bytes")) + "\n";
        c.closing = true;
      }
      if (c.closing) c.in.clear();
      if (c.out.size() >= kMaxOut) break;
    }
  }
  if (c.fd < 0) return;
  if (c.watch && !c.closing && c.out.size() < kMaxOut / 8) {
    std::vector<std::string> lines;
    if (hub_.take(*c.watch, kWatchBatch, &lines)) {
      c.out += dump_line(error_reply("watch: this subscriber fell more than " + std::to_string(WatchHub::kMaxQueued) +
                                     " events behind and was dropped; reconnect to watch again")) +
               "\n";
      c.closing = true;
    } else {
      for (auto& l : lines) c.out += l + "\n";
    }
  }
  if (c.closing && !c.close_by_ms) c.close_by_ms = now + kCloseGraceMs;
  while (!c.out.empty()) {
    ssize_t w = send(c.fd, c.out.data(), c.out.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) break;
      close_conn(c);
      return;
    }
    c.out.erase(0, size_t(w));
    c.last_ms = now;
  }
  if (c.closing && (c.out.empty() || now >= c.close_by_ms)) {
    close_conn(c);
    return;
  }
  // A silent connection (not a subscriber) or one that stopped reading its
  // replies is let go, so dead clients do not hold the connection slots.
  if (!c.watch && now - c.last_ms > uint64_t(kIdleTimeoutMs)) close_conn(c);
  if (c.fd >= 0 && c.watch && !c.out.empty() && now - c.last_ms > uint64_t(kIdleTimeoutMs)) close_conn(c);
}

std::string ControlServer::handle(const std::string& line, const Peer& peer, bool* watch) {
  ++requests_;
  *watch = false;
  json reply;
  try {
    json req = json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (req.is_discarded()) {
      reply = error_reply("bad request: not valid JSON (send one JSON object per line, e.g. {\"cmd\":\"status\"})");
    } else if (!req.is_object() || !req.contains("cmd") || !req["cmd"].is_string()) {
      reply = error_reply("bad request: expected a JSON object with a string \"cmd\"");
    } else {
      const std::string cmd = req["cmd"].get<std::string>();
      static const char* kWrites[] = {"set", "end", "reset", "reload"};
      std::string why;
      bool is_write = std::find(std::begin(kWrites), std::end(kWrites), cmd) != std::end(kWrites);
      std::string admin_group;
      if (is_write) {
        std::lock_guard lock(d_.config_mutex());  // a reload may replace the configuration
        admin_group = d_.config().control.admin_group;
      }
      if (is_write && !peer_is_admin(peer, admin_group, &why)) {
        reply = error_reply("permission denied: '" + cmd + "' changes the ledger; " + why);
      } else if (cmd == "status")
        reply = cmd_status();
      else if (cmd == "runs")
        reply = cmd_runs(req);
      else if (cmd == "run")
        reply = cmd_run(req);
      else if (cmd == "pools")
        reply = cmd_pools();
      else if (cmd == "set")
        reply = cmd_set(req);
      else if (cmd == "end")
        reply = cmd_end(req);
      else if (cmd == "reset")
        reply = cmd_reset(req, peer);
      else if (cmd == "reload")
        reply = cmd_reload();
      else if (cmd == "history")
        reply = cmd_history(req);
      else if (cmd == "suggest")
        reply = cmd_suggest(req);
      else if (cmd == "watch") {
        reply = {{"ok", true}, {"watching", true}};
        *watch = true;
      } else {
        reply = error_reply("unknown command '" + cmd +
                            "' (commands: status, runs, run, pools, set, end, reset, reload, watch, history, suggest)");
      }
    }
  } catch (const std::exception& e) {
    // A bug of ours must not take the daemon down; nothing was half-applied
    // because every command validates all arguments before changing anything.
    reply = error_reply(std::string("internal error: ") + e.what());
    *watch = false;
  }
  if (!reply.value("ok", false)) ++errors_;
  return dump_line(reply);
}

}  // namespace ab
