// POSTs each event as JSON (event_json.h) to an http:// URL. One worker
// thread per webhook delivers events in order: a failed attempt (no
// connection, a timeout, HTTP 5xx or 429) is retried after backoff_ms,
// doubling each time, up to `retries` more attempts; any other non-2xx
// answer is final. While an event is being retried the ones behind it wait
// in the queue, so the receiver never sees them out of order.
#pragma once
#include <string>

#include "config.h"
#include "notify_sink.h"

namespace ab {

// The parts of "http://host[:port][/path]". False for anything else.
struct HttpUrl {
  std::string host;
  int port = 80;
  std::string path = "/";
};
bool parse_http_url(const std::string& url, HttpUrl* out);

class WebhookSink : public QueuedSink {
 public:
  explicit WebhookSink(WebhookConfig cfg, size_t queue_capacity = kSinkQueueCapacity);
  ~WebhookSink() override;
  const std::string& url() const { return cfg_.url; }

 private:
  void handle(const Event& e) override;

  const WebhookConfig cfg_;
  HttpUrl target_;
  bool valid_ = false;
};

}  // namespace ab
