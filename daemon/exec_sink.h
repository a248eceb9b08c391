// Runs an operator's command for each event: /bin/sh -c COMMAND with the
// event in AB_* environment variables and as one JSON line on stdin (see
// event_json.h). The command runs in its own process group; past its
// timeout the whole group is SIGKILLed. Runs on the sink's worker thread,
// one hook at a time, so events reach the hook in order.
#pragma once
#include "config.h"
#include "notify_sink.h"

namespace ab {

class ExecSink : public QueuedSink {
 public:
  explicit ExecSink(ExecSinkConfig cfg, size_t queue_capacity = kSinkQueueCapacity);
  ~ExecSink() override;

 private:
  void handle(const Event& e) override;

  const ExecSinkConfig cfg_;
};

}  // namespace ab
