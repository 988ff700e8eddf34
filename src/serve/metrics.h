// The server's counters and gauges, rendered in Prometheus' text format for GET /metrics.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>

namespace lightvlm {

struct MetricsGauges {
  int64_t queue_depth = 0;   // requests waiting for a slot
  int64_t active_slots = 0;  // sequences being prefilled or decoded
  int64_t kv_bytes = 0;      // the live KV caches' bytes
};

class ServerMetrics {
 public:
  void CountRequest(int status);
  // One answered generation.
  void CountGeneration(int64_t prompt_tokens, int64_t generated_tokens, double prefill_seconds,
                       double decode_seconds, int64_t image_tokens, int64_t kept_image_tokens);

  // Prompt tokens a request continued from a kept conversation instead of prefilling.
  void CountCachedPrompt(int64_t tokens);

  std::string Render(const MetricsGauges& gauges) const;

 private:
  mutable std::mutex mutex_;
  std::map<int, int64_t> requests_by_status_;
  int64_t prompt_tokens_ = 0;
  int64_t cached_prompt_tokens_ = 0;
  int64_t generated_tokens_ = 0;
  double prefill_seconds_ = 0;
  double decode_seconds_ = 0;
  int64_t image_tokens_ = 0;
  int64_t kept_image_tokens_ = 0;
};

}  // namespace lightvlm
