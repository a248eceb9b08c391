#include "webhook_sink.h"

#include <httplib.h>

#include <spdlog/spdlog.h>

#include "event_json.h"

namespace ab {

bool parse_http_url(const std::string& url, HttpUrl* out) {
  const std::string scheme = "http://";
  if (url.rfind(scheme, 0) != 0) return false;
  std::string rest = url.substr(scheme.size());
  size_t slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  out->path = slash == std::string::npos ? "/" : rest.substr(slash);
  std::string port;
  if (!authority.empty() && authority[0] == '[') {  // [::1]:8080
    size_t close = authority.find(']');
    if (close == std::string::npos) return false;
    out->host = authority.substr(1, close - 1);
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':') return false;
      port = authority.substr(close + 2);
    }
  } else {
    size_t colon = authority.rfind(':');
    out->host = authority.substr(0, colon);
    if (colon != std::string::npos) port = authority.substr(colon + 1);
  }
  if (out->host.empty() || out->host.find('@') != std::string::npos) return false;
  out->port = 80;
  if (!port.empty()) {
    if (port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos) return false;
    out->port = std::stoi(port);
    if (out->port < 1 || out->port > 65535) return false;
  }
  return true;
}

WebhookSink::WebhookSink(WebhookConfig cfg, size_t queue_capacity)
    : QueuedSink("webhook", cfg.url, cfg.events, queue_capacity), cfg_(std::move(cfg)) {
  valid_ = parse_http_url(cfg_.url, &target_);
  if (!valid_) spdlog::error("{}: not an http://host[:port][/path] URL; its events will fail", name());
  start_worker();
}

WebhookSink::~WebhookSink() { shutdown(); }

void WebhookSink::handle(const Event& e) {
  if (!valid_) {
    failed_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  const std::string body = event_json_text(e);
  const auto timeout = std::chrono::milliseconds(cfg_.timeout_ms);
  httplib::Client client(target_.host, target_.port);
  client.set_connection_timeout(timeout);
  client.set_read_timeout(timeout);
  client.set_write_timeout(timeout);
  client.set_keep_alive(false);
  const httplib::Headers headers = {{"User-Agent", "agentbudgetd"}, {"X-AgentBudget-Event", event_kind_name(e.kind)}};

  for (uint32_t attempt = 0;; ++attempt) {
    httplib::Result res = client.Post(target_.path, headers, body, "application/json");
    std::string outcome;
    bool retryable;
    if (!res) {
      outcome = httplib::to_string(res.error());
      retryable = true;
    } else if (res->status >= 200 && res->status < 300) {
      sent_.fetch_add(1, std::memory_order_relaxed);
      if (attempt) spdlog::info("{}: {} delivered at attempt {}", name(), event_kind_name(e.kind), attempt + 1);
      return;
    } else {
      outcome = "HTTP " + std::to_string(res->status);
      retryable = res->status >= 500 || res->status == 429;  // the receiver may recover; other 4xx will not
    }
    if (!retryable || attempt >= cfg_.retries || aborting()) {
      failed_.fetch_add(1, std::memory_order_relaxed);
      spdlog::warn("{}: gave up on {} after {} attempt(s): {}", name(), event_kind_name(e.kind), attempt + 1, outcome);
      return;
    }
    // backoff_ms, 2x, 4x, ... capped at a minute (and no shift overflow).
    auto delay = std::chrono::milliseconds(uint64_t(cfg_.backoff_ms) << std::min<uint32_t>(attempt, 16));
    delay = std::min(delay, std::chrono::milliseconds(60'000));
    spdlog::debug("{}: {} attempt {} failed ({}); retrying in {} ms", name(), event_kind_name(e.kind), attempt + 1,
                  outcome, delay.count());
    if (!sleep_unless_aborting(delay)) {
      failed_.fetch_add(1, std::memory_order_relaxed);
      spdlog::warn("{}: daemon stopping; gave up on {} after {} attempt(s): {}", name(), event_kind_name(e.kind),
                   attempt + 1, outcome);
      return;
    }
    retried_.fetch_add(1, std::memory_order_relaxed);
  }
}

}  // namespace ab
