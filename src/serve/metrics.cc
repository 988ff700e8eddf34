#include "serve/metrics.h"

#include <sstream>

namespace lightvlm {
namespace {

void Metric(std::ostringstream& out, const char* name, const char* type, const char* help,
            double value) {
  out << "# HELP " << name << ' ' << help << "\n# TYPE " << name << ' ' << type << '\n'
      << name << ' ' << value << '\n';
}

}  // namespace

void ServerMetrics::CountRequest(int status) {
  std::lock_guard lock(mutex_);
  ++requests_by_status_[status];
}

void ServerMetrics::CountGeneration(int64_t prompt_tokens, int64_t generated_tokens,
                                    double prefill_seconds, double decode_seconds,
                                    int64_t image_tokens, int64_t kept_image_tokens) {
  std::lock_guard lock(mutex_);
  prompt_tokens_ += prompt_tokens;
  generated_tokens_ += generated_tokens;
  prefill_seconds_ += prefill_seconds;
  decode_seconds_ += decode_seconds;
  image_tokens_ += image_tokens;
  kept_image_tokens_ += kept_image_tokens;
}

void ServerMetrics::CountCachedPrompt(int64_t tokens) {
  std::lock_guard lock(mutex_);
  cached_prompt_tokens_ += tokens;
}

std::string ServerMetrics::Render(const MetricsGauges& gauges) const {
  std::lock_guard lock(mutex_);
  std::ostringstream out;
  out.precision(17);
  out << "# HELP lightvlm_requests_total Chat completion requests answered, by HTTP status.\n"
      << "# TYPE lightvlm_requests_total counter\n";
  for (const auto& [status, count] : requests_by_status_) {
    out << "lightvlm_requests_total{status=\"" << status << "\"} " << count << '\n';
  }
  Metric(out, "lightvlm_prompt_tokens_total", "counter", "Prompt tokens prefilled.",
         static_cast<double>(prompt_tokens_));
  Metric(out, "lightvlm_prompt_tokens_cached_total", "counter",
         "Prompt tokens continued from a kept conversation's KV cache, not prefilled.",
         static_cast<double>(cached_prompt_tokens_));
  Metric(out, "lightvlm_generated_tokens_total", "counter", "Tokens generated.",
         static_cast<double>(generated_tokens_));
  Metric(out, "lightvlm_prefill_seconds_total", "counter", "Seconds spent in prefill.",
         prefill_seconds_);
  Metric(out, "lightvlm_decode_seconds_total", "counter",
         "Seconds of decode steps, summed over the sequences in each step.", decode_seconds_);
  Metric(out, "lightvlm_image_tokens_total", "counter",
         "Image tokens in prompts, before reduction.", static_cast<double>(image_tokens_));
  Metric(out, "lightvlm_image_tokens_kept_total", "counter",
         "Image tokens left after prefill reduction's last stage.",
         static_cast<double>(kept_image_tokens_));
  Metric(out, "lightvlm_queue_depth", "gauge", "Requests waiting for a slot.",
         static_cast<double>(gauges.queue_depth));
  Metric(out, "lightvlm_active_slots", "gauge", "Sequences being prefilled or decoded.",
         static_cast<double>(gauges.active_slots));
  Metric(out, "lightvlm_kv_cache_bytes", "gauge", "Bytes held by the live KV caches.",
         static_cast<double>(gauges.kv_bytes));
  return out.str();
}

}  // namespace lightvlm
