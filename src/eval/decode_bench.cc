#include "eval/decode_bench.h"

#include <algorithm>
#include <chrono>
#include <iomanip>
#include <memory>
#include <sstream>

#include "base/error.h"
#include "engine/model.h"
#include "engine/prompt.h"
#include "engine/session.h"
#include "eval/cost_model.h"
#include "eval/median.h"
#include "eval/peak_memory.h"
#include "eval/synthetic_image.h"

namespace lightvlm {
namespace {

using Clock = std::chrono::steady_clock;

double MillisecondsSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

int32_t Greedy(const std::vector<float>& logits) {
  return static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
}

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
      sessions.emplace_back(model.decoder(), pool, context);
      sessions.back().SetKvPolicy(policies.back().get());
    }
    for (Session& session : sessions) batch.push_back(&session);
  }

  // One decode step of every sequence, from `tokens`; returns their greedy next tokens.
  std::vector<int32_t> Step(const std::vector<int32_t>& tokens) {
    std::vector<int32_t> next;
    for (const std::vector<float>& logits : Session::DecodeBatch(batch, tokens)) {
      next.push_back(Greedy(logits));
    }
    return next;
  }
};

// Decode steps over a synthetic cache of options.synthetic_context entries per layer, compressed
// by `policy` as after a prefill; the step's bytes are the caches' before it plus the entry it
// writes in every layer of every sequence, all of which its attention reads.
// With a `compare` model, the same steps run on it too, alternating with `model` step by step.
DecodeBenchRow TimeSyntheticSteps(const Model& model, const Model* compare, ThreadPool& pool,
                                  const DecodeBenchOptions& options, const std::string& policy) {
  const int64_t total_steps = options.warmup + options.steps;
  const int64_t context = options.synthetic_context + total_steps + 1;
  Sequences sequences(model, pool, options, policy, context);
  std::optional<Sequences> compared;
  if (compare != nullptr) compared.emplace(*compare, pool, options, policy, context);
  for (Session& session : sequences.sessions) {
    session.PrefillSynthetic(options.synthetic_context, /*seed=*/7);
  }
  if (compared) {
    for (Session& session : compared->sessions) {
      session.PrefillSynthetic(options.synthetic_context, /*seed=*/7);
    }
  }
  const LlmConfig& config = model.config();
  const double entry_bytes = KvEntryBytes(config);
  const double written = entry_bytes * config.num_layers * static_cast<double>(options.batch);
  DecodeBenchRow row;
  std::vector<double> times, compare_times;
  double live = 0;
  std::vector<int32_t> tokens(options.batch, config.bos_token_id);
  std::vector<int32_t> compare_tokens = tokens;
  for (int64_t step = 0; step < total_steps; ++step) {
    if (compared) {
      const auto start = Clock::now();
      compare_tokens = compared->Step(compare_tokens);
      if (step >= options.warmup) compare_times.push_back(MillisecondsSince(start));
    }
    double bytes_before = 0;
    for (const Session& session : sequences.sessions) bytes_before += session.cache().bytes();
    const auto start = Clock::now();
    tokens = sequences.Step(tokens);
    if (step < options.warmup) continue;
    times.push_back(MillisecondsSince(start));
    row.kv_bytes_per_step += bytes_before + written;
    live += (bytes_before + written) / written;
  }
  row.step_ms = Median(times);
  if (compared) {
    row.compare_step_ms = Median(compare_times);
    row.compare_ratio = row.compare_step_ms / row.step_ms;
  }
  row.kv_bytes_per_step /= static_cast<double>(options.steps);
  row.mean_live_entries = live / static_cast<double>(options.steps);
  row.peak_kv_bytes = sequences.sessions.front().peak_kv_bytes();
  row.budget = sequences.policies.front()->Budget(sequences.sessions.front().length());
  return row;
}

// A whole answer of options.answer_tokens tokens (stop tokens ignored) after `prompt`, for each
// of the batch's sequences: every sequence prefills the prompt, then all decode together.
DecodeBenchRow TimeAnswer(const Model& model, ThreadPool& pool, const DecodeBenchOptions& options,
                          const Prompt& prompt, const std::string& policy) {
  Sequences sequences(model, pool, options, policy, prompt.size() + options.answer_tokens + 1);
  std::vector<int32_t> tokens;
  for (Session& session : sequences.sessions) tokens.push_back(Greedy(session.Prefill(prompt)));
  const auto start = Clock::now();
  for (int64_t token = 1; token < options.answer_tokens; ++token) tokens = sequences.Step(tokens);
  DecodeBenchRow row;
  row.decode_ms = MillisecondsSince(start);
  row.step_ms = row.decode_ms / static_cast<double>(options.answer_tokens);
  row.peak_kv_bytes = sequences.sessions.front().peak_kv_bytes();
  row.budget = sequences.policies.front()->Budget(sequences.sessions.front().length());
  return row;
}

}  // namespace

DecodeBenchReport RunDecodeBench(const DecodeBenchOptions& options) {
  Check((options.synthetic_context > 0) != (options.answer_tokens > 0),
        "bench: give one of --decode-context N or --answer-tokens N");
  Check(options.steps > 0 && options.warmup >= 0, "bench: --steps must be positive");
  Check(options.batch > 0, "bench: --batch must be positive, got ", options.batch);
  Check(!options.compare_dtype || options.synthetic_context > 0,
        "bench: --compare-dtype needs --decode-context N (it alternates single steps)");
  const Model model = LoadModel(options.model_dir, options.weight_dtype);
  std::optional<Model> compare;
  if (options.compare_dtype) compare.emplace(LoadModel(options.model_dir, *options.compare_dtype));
  ThreadPool pool(options.threads);
  DecodeBenchReport report;
  report.model_dir = options.model_dir;
  report.dtype = std::string(DTypeName(options.weight_dtype));
  report.threads = pool.num_threads();
  report.synthetic = options.synthetic_context > 0;
  report.answer_tokens = options.answer_tokens;
  report.steps = report.synthetic ? options.steps : options.answer_tokens;
  report.batch = options.batch;
  report.weight_bytes = DecoderWeightBytes(model.config(), options.weight_dtype);
  if (options.compare_dtype) {
    report.compare_dtype = std::string(DTypeName(*options.compare_dtype));
    report.compare_weight_bytes = DecoderWeightBytes(model.config(), *options.compare_dtype);
  }

  std::vector<ImageEmbeddings> images;
  Prompt prompt;
  if (report.synthetic) {
    report.context = options.synthetic_context;
  } else {
    if (model.language_model->image_token_id() >= 0) {
      images.push_back(model.language_model->EncodeImage(
          pool, options.image_path.empty() ? SyntheticImage(336) : LoadImage(options.image_path)));
    }
    const std::string text =
        model.language_model->FormatPrompt(options.question, static_cast<int64_t>(images.size()));
    prompt = AssemblePrompt(model.tokenizer->Encode(text, true), images,
                            model.language_model->image_token_id());
    report.context = prompt.size();
  }
  std::vector<std::string> policies = {"none"};
  for (const std::string& name : options.policies) {
    if (name != "none") policies.push_back(name);
  }
  for (const std::string& name : policies) {
    DecodeBenchRow row = report.synthetic ? TimeSyntheticSteps(model, compare ? &*compare : nullptr,
                                                               pool, options, name)
                                          : TimeAnswer(model, pool, options, prompt, name);
    row.policy = name;
    row.tokens_per_s = 1000.0 * static_cast<double>(options.batch) / row.step_ms;
    if (name == "none") row.budget = 0;
    if (!report.rows.empty()) {
      const DecodeBenchRow& full = report.rows.front();
      row.measured_speedup = full.step_ms / row.step_ms;
      if (report.synthetic) {
        row.predicted_speedup = (report.weight_bytes + full.kv_bytes_per_step) /
                                (report.weight_bytes + row.kv_bytes_per_step);
      }
    }
    report.rows.push_back(row);
  }
  report.peak_rss_bytes = PeakResidentBytes();
  return report;
}

std::string FormatDecodeBenchReport(const DecodeBenchReport& report) {
  std::ostringstream out;
  out << std::fixed << std::setprecision(2);
  out << "model " << report.model_dir << " (" << report.dtype << " weights, " << report.threads
      << " threads): " << report.weight_bytes / 1e6 << " MB of weights read per step; "
      << report.batch << " sequence" << (report.batch == 1 ? "" : "s") << " decoded together\n";
  if (report.synthetic) {
    out << "SYNTHETIC KV cache: " << report.context
        << " entries per layer of random keys and values (no prefill was run); median of "
        << report.steps << " decode steps\n";
    out << "policy     budget  live/layer  KV MB/step  step_ms  tokens/s   GB/s  peak_KV_MB  "
           "speedup  predicted";
    if (!report.compare_dtype.empty()) out << "  " << report.compare_dtype << "_ms  ratio";
    out << '\n';
  } else {
    out << "answer of " << report.answer_tokens << " tokens after a prompt of " << report.context
        << " tokens (stop tokens ignored)\n";
    out << "policy     budget   decode_ms  step_ms  tokens/s  peak_KV_MB  speedup\n";
  }
  for (const DecodeBenchRow& row : report.rows) {
    out << std::left << std::setw(10) << row.policy << std::right << std::setw(7) << row.budget;
    if (report.synthetic) {
      out << std::setw(12) << row.mean_live_entries << std::setw(12) << row.kv_bytes_per_step / 1e6
          << std::setw(9) << row.step_ms << std::setw(10) << row.tokens_per_s << std::setw(7)
          << (report.weight_bytes + row.kv_bytes_per_step) / (row.step_ms * 1e6) << std::setw(12)
          << row.peak_kv_bytes / 1e6 << std::setw(9) << row.measured_speedup << std::setw(11)
          << row.predicted_speedup;
      if (!report.compare_dtype.empty()) {
        out << std::setw(9) << row.compare_step_ms << std::setw(7) << row.compare_ratio;
      }
      out << '\n';
    } else {
      out << std::setw(12) << row.decode_ms << std::setw(9) << row.step_ms << std::setw(10)
          << row.tokens_per_s << std::setw(12) << row.peak_kv_bytes / 1e6 << std::setw(9)
          << row.measured_speedup << '\n';
    }
  }
  if (!report.compare_dtype.empty()) {
    out << "ratio: median step with " << report.compare_dtype << " weights ("
        << report.compare_weight_bytes / 1e6 << " MB) / with " << report.dtype
        << ", steps alternating in one run\n";
  }
  out << "peak resident memory " << report.peak_rss_bytes / 1e6 << " MB\n";
  return out.str();
}

nlohmann::json DecodeBenchReportJson(const DecodeBenchReport& report) {
  nlohmann::json rows = nlohmann::json::array();
  for (const DecodeBenchRow& row : report.rows) {
    rows.push_back({{"policy", row.policy},
                    {"budget", row.budget},
                    {"mean_live_entries", row.mean_live_entries},
                    {"kv_bytes_per_step", row.kv_bytes_per_step},
                    {"step_ms", row.step_ms},
                    {"tokens_per_s", row.tokens_per_s},
                    {"decode_ms", row.decode_ms},
                    {"peak_kv_bytes", row.peak_kv_bytes},
                    {"measured_speedup", row.measured_speedup},
                    {"predicted_speedup", row.predicted_speedup},
                    {"compare_step_ms", row.compare_step_ms},
                    {"compare_ratio", row.compare_ratio}});
  }
  return {{"model", report.model_dir},
          {"dtype", report.dtype},
          {"threads", report.threads},
          {"synthetic_cache", report.synthetic},
          {"context", report.context},
          {"answer_tokens", report.answer_tokens},
          {"steps", report.steps},
          {"batch", report.batch},
          {"weight_bytes", report.weight_bytes},
          {"compare_dtype", report.compare_dtype},
          {"compare_weight_bytes", report.compare_weight_bytes},
          {"peak_rss_bytes", report.peak_rss_bytes},
          {"rows", rows}};
}

}  // namespace lightvlm
