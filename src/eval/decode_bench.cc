#include "eval/decode_bench.h"

#include <algorithm>
#include <iomanip>
#include <memory>
#include <sstream>

#include "base/clock.h"
#include "base/error.h"
#include "base/progress.h"
#include "engine/model.h"
#include "engine/prompt.h"
#include "engine/sampler.h"
#include "engine/session.h"
#include "eval/cost_model.h"
#include "eval/median.h"
#include "eval/peak_memory.h"

namespace lightvlm {
namespace {

constexpr const char* kDecodeRatio =
    "A's tokens/s / B's (above 1: A has that many times B's throughput; at equal batch, B's "
    "step_ms / A's), decode steps alternating A, B in one run";

// `batch` sessions of `context` tokens each, with a policy `name` of its own apiece.
struct Sequences {
  std::vector<std::unique_ptr<KvPolicy>> policies;
  std::vector<Session> sessions;
  std::vector<Session*> batch;

  Sequences(const Model& model, ThreadPool& pool, const DecodeBenchOptions& options,
            const std::string& name, int64_t context) {
    sessions.reserve(options.batch);
    for (int64_t b = 0; b < options.batch; ++b) {
      policies.push_back(MakeKvPolicy(name, options.kv));
      sessions.emplace_back(model.decoder(), pool, context, options.kv_dtype);
      sessions.back().SetKvPolicy(policies.back().get());
    }
    for (Session& session : sessions) batch.push_back(&session);
  }

  // One decode step of every sequence, from `tokens`; returns their greedy next tokens.
  std::vector<int32_t> Step(const std::vector<int32_t>& tokens) {
    std::vector<int32_t> next;
    for (const std::vector<float>& logits : Session::DecodeBatch(batch, tokens)) {
      next.push_back(GreedyToken(logits));
    }
    return next;
  }
};

// The policies of a configuration's rows: `none` first, then the others asked for.
std::vector<std::string> RowPolicies(const DecodeBenchOptions& options) {
  std::vector<std::string> policies = {"none"};
  for (const std::string& name : options.policies) {
    if (name != "none") policies.push_back(name);
  }
  return policies;
}

// One configuration: its options, model and pool, its prompt (answer mode; the prompt points into
// `images`, so a Configuration stays where it was built) and its rows' policies, `none` first.
struct Configuration {
  const DecodeBenchOptions& options;
  const Model& model;
  ThreadPool& pool;
  std::vector<ImageEmbeddings> images;
  Prompt prompt;
  std::vector<std::string> policies;

  Configuration(const DecodeBenchOptions& options, const Model& model, ThreadPool& pool)
      : options(options), model(model), pool(pool), policies(RowPolicies(options)) {
    if (options.answer_tokens > 0) {
      if (model.language_model->image_token_id() >= 0) {
        images.push_back(model.language_model->EncodeImage(pool, BenchImage(options.image_path)));
      }
      prompt = BenchPrompt(model, options.question, images, options.prompt_tokens);
    }
    CheckKvCacheBytes(
        model.config(), capacity(), options.batch, options.kv_dtype, options.max_kv_bytes,
        synthetic() ? "--decode-context + --warmup + --steps + 1" : "the prompt + --answer-tokens",
        synthetic() ? "--decode-context, --steps or --batch"
                    : "--prompt-tokens, --answer-tokens or --batch");
  }
  Configuration(const Configuration&) = delete;

  bool synthetic() const { return options.synthetic_context > 0; }
  // Entries per layer before the first step: the synthetic cache's, or the prompt's.
  int64_t context() const { return synthetic() ? options.synthetic_context : prompt.size(); }
  // Decode steps: the warm-up and timed ones, or the answer's after the prefill's token.
  int64_t steps() const {
    return synthetic() ? options.warmup + options.steps : options.answer_tokens - 1;
  }
  // Tokens each sequence's cache holds: the context, every step's entry and one to spare.
  int64_t capacity() const { return context() + steps() + 1; }
};

// One row of one configuration: its sequences prepared in the constructor (a synthetic cache of
// options.synthetic_context entries per layer, compressed by the policy as after a prefill; or
// the prompt prefilled), then decoded one step per Step() call, so that two configurations can
// take turns. A step's bytes are the caches' before it plus the entry it writes in every layer
// of every sequence, all of which its attention reads.
class DecodeRun {
 public:
  DecodeRun(const Configuration& config, const std::string& policy)
      : config_(config),
        warmup_(config.synthetic() ? config.options.warmup : 0),
        total_(config.steps()),
        sequences_(config.model, config.pool, config.options, policy, config.capacity()) {
    for (Session& session : sequences_.sessions) {
      if (config.synthetic()) {
        session.PrefillSynthetic(config.options.synthetic_context, /*seed=*/7);
        tokens_.push_back(config.model.config().bos_token_id);
      } else {
        tokens_.push_back(GreedyToken(session.Prefill(config.prompt)));
      }
    }
  }

  bool done() const { return step_ == total_; }

  void Step() {
    double bytes_before = 0;
    for (const Session& session : sequences_.sessions) bytes_before += session.cache().bytes();
    const auto start = Clock::now();
    tokens_ = sequences_.Step(tokens_);
    const double ms = MillisecondsSince(start);
    if (step_++ < warmup_) return;
    times_.push_back(ms);
    const LlmConfig& model = config_.model.config();
    const double written = KvEntryBytes(model, config_.options.kv_dtype) * model.num_layers *
                           static_cast<double>(config_.options.batch);
    kv_bytes_ += bytes_before + written;
    live_ += (bytes_before + written) / written;
  }

  DecodeBenchRow Row() const {
    const DecodeBenchOptions& options = config_.options;
    DecodeBenchRow row;
    if (config_.synthetic()) {
      row.step_ms = Median(times_);
    } else {
      for (double ms : times_) row.decode_ms += ms;
      row.step_ms = row.decode_ms / static_cast<double>(options.answer_tokens);
    }
    row.tokens_per_s = 1000.0 * static_cast<double>(options.batch) / row.step_ms;
    const auto steps = static_cast<double>(times_.size());
    row.kv_bytes_per_step = kv_bytes_ / steps;
    row.mean_live_entries = live_ / steps;
    const Session& first = sequences_.sessions.front();
    row.peak_kv_bytes = first.peak_kv_bytes();
    row.budget = sequences_.policies.front()->Budget(first.length());
    return row;
  }

 private:
  const Configuration& config_;
  int64_t warmup_, total_;  // steps
  Sequences sequences_;
  std::vector<int32_t> tokens_;
  int64_t step_ = 0;
  std::vector<double> times_;  // of the steps after the warm-up
  double kv_bytes_ = 0, live_ = 0;
};

void CheckOptions(const DecodeBenchOptions& options) {
  Check((options.synthetic_context > 0) != (options.answer_tokens > 0),
        "bench: give one of --decode-context N or --answer-tokens N");
  Check(options.synthetic_context > 0 || options.answer_tokens >= 2,
        "bench: --answer-tokens must be at least 2 (the first token comes from the prefill), got ",
        options.answer_tokens);
  Check(options.steps > 0 && options.warmup >= 0, "bench: --steps must be positive");
  Check(options.batch > 0, "bench: --batch must be positive, got ", options.batch);
  Check(options.prompt_tokens == 0 || options.answer_tokens > 0,
        "bench: --prompt-tokens applies to the prefill and to --answer-tokens, not to "
        "--decode-context (whose cache is synthetic)");
}

BenchTarget TargetOf(const DecodeBenchOptions& options) {
  return {options.model_dir, options.load, options.threads};
}

}  // namespace

DecodeBenchReport RunDecodeBench(
    const DecodeBenchOptions& options,
    const std::optional<BenchComparison<DecodeBenchOptions>>& compare) {
  CheckOptions(options);
  if (compare) {
    CheckOptions(compare->options);
    Check((compare->options.synthetic_context > 0) == (options.synthetic_context > 0),
          "bench: --compare \"", compare->flags,
          "\" must keep the first configuration's mode (--decode-context or --answer-tokens)");
    const size_t rows = RowPolicies(options).size(),
                 compare_rows = RowPolicies(compare->options).size();
    Check(compare_rows == rows || compare_rows == 1, "bench: --compare \"", compare->flags,
          "\" times ", compare_rows,
          " rows (none and its --kv policies) and the first configuration ", rows,
          ": rows are paired by index, so both need the same number of --kv policies (or the "
          "second none alone, which then runs beside every row)");
  }
  const BenchModels models(TargetOf(options),
                           compare ? std::optional(TargetOf(compare->options)) : std::nullopt);
  const Configuration first(options, models.model(0), models.pool(0));
  std::optional<Configuration> second;
  if (compare) second.emplace(compare->options, models.model(1), models.pool(1));

  DecodeBenchReport report;
  report.model_dir = options.model_dir;
  report.dtype = std::string(DTypeName(options.load.weight_dtype));
  report.kv_dtype = std::string(DTypeName(options.kv_dtype));
  report.threads = first.pool.num_threads();
  report.synthetic = first.synthetic();
  report.context = first.context();
  report.answer_tokens = options.answer_tokens;
  report.steps = report.synthetic ? options.steps : options.answer_tokens;
  report.batch = options.batch;
  report.weight_bytes = DecoderWeightBytes(first.model.config(), options.load.weight_dtype);
  if (compare) {
    report.compare = compare->flags;
    report.compare_shares_model = models.shared_model();
    report.compare_weight_bytes =
        DecoderWeightBytes(second->model.config(), compare->options.load.weight_dtype);
    report.compare_context = second->context();
    report.compare_batch = compare->options.batch;
  }

  // A row a step: drawn between the timed steps, never inside them.
  Progress progress("bench", static_cast<int64_t>(first.policies.size()));
  for (size_t r = 0; r < first.policies.size(); ++r) {
    DecodeRun run(first, first.policies[r]);
    std::optional<DecodeRun> other;
    // A second configuration of `none` alone runs beside every row: each policy against none.
    const size_t compared_row = second && second->policies.size() == 1 ? 0 : r;
    if (second) other.emplace(*second, second->policies[compared_row]);
    while (!run.done() || (other && !other->done())) {
      if (!run.done()) run.Step();
      if (other && !other->done()) other->Step();
    }
    DecodeBenchRow row = run.Row();
    row.policy = first.policies[r];
    if (row.policy == "none") row.budget = 0;
    if (!report.rows.empty()) {
      const DecodeBenchRow& full = report.rows.front();
      row.measured_speedup = full.step_ms / row.step_ms;
      if (report.synthetic) {
        row.predicted_speedup = (report.weight_bytes + full.kv_bytes_per_step) /
                                (report.weight_bytes + row.kv_bytes_per_step);
      }
    }
    if (other) {
      const DecodeBenchRow compared = other->Row();
      row.compare_policy = second->policies[compared_row];
      row.compare_step_ms = compared.step_ms;
      row.compare_tokens_per_s = compared.tokens_per_s;
      row.compare_ratio = row.tokens_per_s / compared.tokens_per_s;
    }
    report.rows.push_back(row);
    progress.Advance();
  }
  report.peak_rss_bytes = PeakResidentBytes();  // before the ceilings' own buffers
  if (options.measure_ceilings) {
    report.ceilings = MeasureCeilings(first.pool, options.load.weight_dtype);
  }
  return report;
}

double SyntheticGigabytesPerSecond(const DecodeBenchReport& report, const DecodeBenchRow& row) {
  return (report.weight_bytes + row.kv_bytes_per_step) / (row.step_ms * 1e6);
}

std::string FormatDecodeBenchReport(const DecodeBenchReport& report) {
  const bool compared = !report.compare.empty();
  std::ostringstream out;
  out << std::fixed << std::setprecision(2);
  out << "model " << report.model_dir << " (" << report.dtype << " weights, " << report.threads
      << " threads): " << report.weight_bytes / 1e6 << " MB of weights read per step; KV cache "
      << report.kv_dtype << "; " << report.batch << " sequence" << (report.batch == 1 ? "" : "s")
      << " decoded together\n";
  if (report.synthetic) {
    out << "SYNTHETIC KV cache: " << report.context
        << " entries per layer of random keys and values (no prefill was run); median of "
        << report.steps << " decode steps\n";
    if (report.ceilings.copy_gbytes_s > 0) {
      out << "machine ceilings: copy " << report.ceilings.copy_gbytes_s << " GB/s, GEMM "
          << report.ceilings.gemm_gflops << " GFLOP/s (" << report.dtype
          << "); GB/s below: the weights and live KV entries a step reads / its time\n";
    }
    out << "policy     budget  live/layer  KV MB/step  step_ms  tokens/s   GB/s  peak_KV_MB  "
           "speedup  predicted";
  } else {
    out << "answer of " << report.answer_tokens << " tokens after a prompt of " << report.context
        << " tokens (stop tokens ignored)\n";
    out << "policy     budget   decode_ms  step_ms  tokens/s  peak_KV_MB  speedup";
  }
  if (compared) out << "  B_step_ms  B_tokens/s  ratio";
  out << '\n';
  for (const DecodeBenchRow& row : report.rows) {
    out << std::left << std::setw(10) << row.policy << std::right << std::setw(7) << row.budget;
    if (report.synthetic) {
      out << std::setw(12) << row.mean_live_entries << std::setw(12) << row.kv_bytes_per_step / 1e6
          << std::setw(9) << row.step_ms << std::setw(10) << row.tokens_per_s << std::setw(7)
          << (report.weight_bytes + row.kv_bytes_per_step) / (row.step_ms * 1e6) << std::setw(12)
          << row.peak_kv_bytes / 1e6 << std::setw(9) << row.measured_speedup << std::setw(11)
          << row.predicted_speedup;
    } else {
      out << std::setw(12) << row.decode_ms << std::setw(9) << row.step_ms << std::setw(10)
          << row.tokens_per_s << std::setw(12) << row.peak_kv_bytes / 1e6 << std::setw(9)
          << row.measured_speedup;
    }
    if (compared) {
      out << std::setw(11) << row.compare_step_ms << std::setw(12) << row.compare_tokens_per_s
          << std::setw(7) << row.compare_ratio;
    }
    out << '\n';
  }
  if (compared) {
    out << "B: A (the configuration above) with --compare \"" << report.compare << "\" on top ("
        << report.compare_weight_bytes / 1e6 << " MB of weights, "
        << (report.compare_shares_model ? "A's model" : "a model of its own") << ", batch "
        << report.compare_batch << ", context " << report.compare_context
        << "), rows paired by index; ratio = " << kDecodeRatio << '\n';
  }
  out << "peak resident memory " << report.peak_rss_bytes / 1e6 << " MB\n";
  return out.str();
}

nlohmann::json DecodeBenchReportJson(const DecodeBenchReport& report) {
  const bool compared = !report.compare.empty();
  nlohmann::json rows = nlohmann::json::array();
  for (const DecodeBenchRow& row : report.rows) {
    nlohmann::json& json =
        rows.emplace_back(nlohmann::json{{"policy", row.policy},
                                         {"budget", row.budget},
                                         {"mean_live_entries", row.mean_live_entries},
                                         {"kv_bytes_per_step", row.kv_bytes_per_step},
                                         {"step_ms", row.step_ms},
                                         {"tokens_per_s", row.tokens_per_s},
                                         {"decode_ms", row.decode_ms},
                                         {"peak_kv_bytes", row.peak_kv_bytes},
                                         {"measured_speedup", row.measured_speedup},
                                         {"predicted_speedup", row.predicted_speedup}});
    if (report.synthetic) {
      json["gbytes_per_s"] = SyntheticGigabytesPerSecond(report, row);
      if (report.ceilings.copy_gbytes_s > 0) {
        json["copy_bound_share"] =
            SyntheticGigabytesPerSecond(report, row) / report.ceilings.copy_gbytes_s;
      }
    }
    if (compared) {
      json["compare_policy"] = row.compare_policy;
      json["compare_step_ms"] = row.compare_step_ms;
      json["compare_tokens_per_s"] = row.compare_tokens_per_s;
      json["compare_ratio"] = row.compare_ratio;
    }
  }
  nlohmann::json json = {{"model", report.model_dir},
                         {"dtype", report.dtype},
                         {"kv_dtype", report.kv_dtype},
                         {"threads", report.threads},
                         {"synthetic_cache", report.synthetic},
                         {"context", report.context},
                         {"answer_tokens", report.answer_tokens},
                         {"steps", report.steps},
                         {"batch", report.batch},
                         {"weight_bytes", report.weight_bytes},
                         {"peak_rss_bytes", report.peak_rss_bytes},
                         {"rows", rows}};
  AddMachineJson(report.ceilings, json);
  if (compared) {
    AddComparisonJson(report.compare, kDecodeRatio, report.compare_shares_model, json);
    json["compare_weight_bytes"] = report.compare_weight_bytes;
    json["compare_context"] = report.compare_context;
    json["compare_batch"] = report.compare_batch;
  }
  return json;
}

}  // namespace lightvlm
