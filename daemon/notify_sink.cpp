#include "notify_sink.h"

#include <signal.h>

#include <spdlog/spdlog.h>

namespace ab {

KindFilter::KindFilter(const EventFilter& names) {
  if (names.empty()) {
    mask_ = (1u << kEventKindCount) - 1;
    return;
  }
  for (const std::string& n : names) {
    EventKind k;
    if (event_kind_from_name(n, &k)) mask_ |= 1u << unsigned(k);
  }
}

QueuedSink::QueuedSink(const std::string& kind, std::string target, const EventFilter& filter, size_t capacity)
    : target_(std::move(target)), name_(kind + " " + target_), filter_(filter), capacity_(capacity) {}

QueuedSink::~QueuedSink() { shutdown(std::chrono::milliseconds(0)); }

void QueuedSink::start_worker() {
  worker_ = std::thread([this] { loop(); });
}

void QueuedSink::deliver(const Event& e) {
  if (!filter_.accepts(e.kind)) return;
  uint64_t resumed_after = 0;
  bool burst_started = false;
  {
    std::lock_guard<std::mutex> lk(mu_);
    if (closing_ || queue_.size() >= capacity_) {
      dropped_.fetch_add(1, std::memory_order_relaxed);
      ++burst_dropped_;
      if (in_burst_ || closing_) return;
      in_burst_ = burst_started = true;
    } else {
      if (in_burst_) resumed_after = burst_dropped_;
      in_burst_ = false;
      burst_dropped_ = 0;
      queue_.push_back(e);
      cv_.notify_one();
    }
  }
  // Logged outside the lock; once when a burst of drops starts and once when it ends.
  if (resumed_after)
    spdlog::warn("{}: queue accepts events again after dropping {}", name_, resumed_after);
  else if (burst_started)
    spdlog::warn("{}: queue full ({} events); dropping events until it drains", name_, capacity_);
}

SinkStats QueuedSink::stats() const {
  SinkStats s;
  s.target = target_;
  s.sent = sent_.load(std::memory_order_relaxed);
  s.retried = retried_.load(std::memory_order_relaxed);
  s.failed = failed_.load(std::memory_order_relaxed);
  s.dropped = dropped_.load(std::memory_order_relaxed);
  s.timed_out = timed_out_.load(std::memory_order_relaxed);
  return s;
}

void QueuedSink::shutdown(std::chrono::milliseconds grace) {
  std::unique_lock<std::mutex> lk(mu_);
  if (!worker_.joinable()) return;
  closing_ = true;
  cv_.notify_all();
  exit_cv_.wait_for(lk, grace, [&] { return exited_; });
  abort_.store(true, std::memory_order_release);
  cv_.notify_all();
  lk.unlock();
  worker_.join();
}

bool QueuedSink::sleep_unless_aborting(std::chrono::milliseconds d) {
  std::unique_lock<std::mutex> lk(mu_);
  return !cv_.wait_for(lk, d, [&] { return aborting(); });
}

void QueuedSink::loop() {
  // Process-directed signals (SIGTERM to the daemon) belong to the main
  // thread; SIGPIPE from a hook that did not read its stdin must not kill
  // the daemon. Synchronous fault signals stay unblocked.
  sigset_t set;
  sigfillset(&set);
  for (int s : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT, SIGTRAP}) sigdelset(&set, s);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  for (;;) {
    std::unique_lock<std::mutex> lk(mu_);
    cv_.wait(lk, [&] { return !queue_.empty() || closing_; });
    if (queue_.empty() || aborting()) {
      if (!queue_.empty()) {
        dropped_.fetch_add(queue_.size(), std::memory_order_relaxed);
        spdlog::warn("{}: stopping; dropped {} undelivered events", name_, queue_.size());
        queue_.clear();
      }
      exited_ = true;
      exit_cv_.notify_all();
      return;
    }
    Event e = std::move(queue_.front());
    queue_.pop_front();
    lk.unlock();
    handle(e);
  }
}

}  // namespace ab
