#include "exec_sink.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <spdlog/spdlog.h>

#include "event_json.h"

extern char** environ;

namespace ab {

namespace {

// The daemon's environment (PATH, locale, ...) without any AB_* variable of
// its own, then the event's variables.
std::vector<std::string> hook_environment(const Event& e) {
  std::vector<std::string> env;
  for (char** p = environ; p && *p; ++p)
    if (std::strncmp(*p, "AB_", 3) != 0) env.emplace_back(*p);
  for (auto& [name, value] : event_env(e)) env.push_back(name + "=" + value);
  return env;
}

// Writes the event to the hook's stdin. The pipe is non-blocking and an
// event is far smaller than a pipe's buffer, so this never waits on the
// hook. A hook that exited without reading gives EPIPE: the SIGPIPE it
// raises is blocked on this thread, and consumed here.
void write_stdin(int fd, const std::string& text) {
  size_t off = 0;
  while (off < text.size()) {
    ssize_t n = write(fd, text.data() + off, text.size() - off);
    if (n > 0)
      off += size_t(n);
    else if (n < 0 && errno == EINTR)
      continue;
    else
      break;
  }
  sigset_t pipe_set;
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  timespec zero{};
  while (sigtimedwait(&pipe_set, nullptr, &zero) == SIGPIPE) {
  }
}

std::string describe_status(int status) {
  if (WIFEXITED(status)) return "exited with " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    const char* abbrev = sigabbrev_np(WTERMSIG(status));
    return std::string("killed by SIG") + (abbrev ? abbrev : std::to_string(WTERMSIG(status)));
  }
  return "ended with status " + std::to_string(status);
}

// "hard_limit of run 'r1'" or "pool_hard_limit of pool 'team'".
std::string what(const Event& e) {
  return std::string(event_kind_name(e.kind)) + (e.run_id.empty() ? " of pool '" + e.pool : " of run '" + e.run_id) +
         "'";
}

}  // namespace

ExecSink::ExecSink(ExecSinkConfig cfg, size_t queue_capacity)
    : QueuedSink("exec hook", cfg.command, cfg.events, queue_capacity), cfg_(std::move(cfg)) {
  start_worker();
}

ExecSink::~ExecSink() { shutdown(); }

void ExecSink::handle(const Event& e) {
  std::string json = event_json_text(e) + "\n";
  std::vector<std::string> env = hook_environment(e);
  std::vector<char*> envp;
  envp.reserve(env.size() + 1);
  for (std::string& s : env) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::string command = cfg_.command;
  char sh[] = "sh", dash_c[] = "-c";
  char* argv[] = {sh, dash_c, command.data(), nullptr};

  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    spdlog::error("{}: pipe: {}", name(), std::strerror(errno));
    failed_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  fcntl(fds[1], F_SETFL, O_NONBLOCK);

  // posix_spawn (vfork-like in glibc) is safe in a multi-threaded process.
  // The child gets the pipe as stdin, keeps stdout/stderr (the daemon's log),
  // closes every other inherited fd, leads a new process group (so a
  // timeout kills its children too), and starts with default signal
  // dispositions and an empty mask (this thread blocks most signals).
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, fds[0], STDIN_FILENO);
  posix_spawn_file_actions_addclosefrom_np(&fa, STDERR_FILENO + 1);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  posix_spawnattr_setpgroup(&attr, 0);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  pid_t pid = 0;
  int rc = posix_spawn(&pid, "/bin/sh", &fa, &attr, argv, envp.data());
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  close(fds[0]);
  if (rc != 0) {
    close(fds[1]);
    spdlog::error("{}: cannot start /bin/sh: {}", name(), std::strerror(rc));
    failed_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  write_stdin(fds[1], json);
  close(fds[1]);

  // Reap with a deadline: poll waitpid, more slowly as time passes.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(cfg_.timeout_ms);
  auto pause = std::chrono::milliseconds(1);
  int status = 0;
  for (;;) {
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) break;
    if (r < 0 && errno != EINTR) {
      spdlog::error("{}: waitpid({}): {}", name(), pid, std::strerror(errno));
      failed_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    if (std::chrono::steady_clock::now() >= deadline || aborting()) {
      kill(-pid, SIGKILL);  // the whole group: sh and whatever it started
      while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      failed_.fetch_add(1, std::memory_order_relaxed);
      if (aborting()) {
        spdlog::warn("{}: daemon stopping; killed the hook for {}", name(), what(e));
      } else {
        timed_out_.fetch_add(1, std::memory_order_relaxed);
        spdlog::warn("{}: hook for {} timed out after {} ms; killed its process group", name(), what(e),
                     cfg_.timeout_ms);
      }
      return;
    }
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::milliseconds(20));
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
    sent_.fetch_add(1, std::memory_order_relaxed);
    spdlog::debug("{}: hook for {} exited with 0", name(), what(e));
  } else {
    failed_.fetch_add(1, std::memory_order_relaxed);
    spdlog::warn("{}: hook for {} {}", name(), what(e), describe_status(status));
  }
}

}  // namespace ab
