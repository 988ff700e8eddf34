// Greedy decoding with llama.cpp (libllama), for tools/llama_cpp_reference.sh: for each prompt
// (one per line of the prompts file) the prompt's token ids as llama.cpp tokenizes plain text
// (add_special: BOS as the model's metadata says; no special-token parsing), then `steps` greedy
// tokens, each with the logit margin between the top two candidates. Writes JSON to stdout.
// Usage: llama_cpp_reference_driver MODEL.gguf PROMPTS.txt STEPS
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "llama.h"

namespace {

std::string JsonString(const std::string& text) {
  std::string out = "\"";
  for (unsigned char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\u%04x", c);
      out += escaped;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

[[noreturn]] void Die(const std::string& message) {
  std::fprintf(stderr, "llama_cpp_reference_driver: %s\n", message.c_str());
  std::exit(1);
}

void Quiet(ggml_log_level, const char*, void*) {}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) Die("usage: llama_cpp_reference_driver MODEL.gguf PROMPTS.txt STEPS");
  const std::string model_path = argv[1];
  const int steps = std::atoi(argv[3]);
  std::vector<std::string> prompts;
  std::ifstream prompt_file(argv[2]);
  for (std::string line; std::getline(prompt_file, line);) {
    if (!line.empty()) prompts.push_back(line);
  }
  if (prompts.empty()) Die(std::string("no prompts in ") + argv[2]);

  llama_log_set(Quiet, nullptr);
  llama_backend_init();
  llama_model_params model_params = llama_model_default_params();
  llama_model* model = llama_model_load_from_file(model_path.c_str(), model_params);
  if (model == nullptr) Die("cannot load " + model_path);
  const llama_vocab* vocab = llama_model_get_vocab(model);
  const int n_vocab = llama_vocab_n_tokens(vocab);

  std::printf("{\"add_bos\": %s, \"prompts\": [\n",
              llama_vocab_get_add_bos(vocab) ? "true" : "false");
  for (size_t p = 0; p < prompts.size(); ++p) {
    llama_context_params context_params = llama_context_default_params();
    context_params.n_ctx = 512;
    context_params.n_batch = 512;
    context_params.n_threads = 2;
    context_params.n_threads_batch = 2;
    llama_context* context = llama_init_from_model(model, context_params);
    if (context == nullptr) Die("cannot create a context");

    const std::string& text = prompts[p];
    std::vector<llama_token> ids(text.size() + 8);
    const int n = llama_tokenize(vocab, text.c_str(), static_cast<int>(text.size()), ids.data(),
                                 static_cast<int>(ids.size()), /*add_special=*/true,
                                 /*parse_special=*/false);
    if (n < 0) Die("tokenization failed for prompt " + std::to_string(p));
    ids.resize(n);

    std::vector<llama_token> generated;
    std::vector<float> margins;
    std::vector<llama_token> next = ids;
    for (int step = 0; step < steps; ++step) {
      if (llama_decode(context, llama_batch_get_one(next.data(), static_cast<int>(next.size())))) {
        Die("llama_decode failed");
      }
      const float* logits = llama_get_logits_ith(context, -1);
      int best = 0, second = -1;
      for (int v = 1; v < n_vocab; ++v) {
        if (logits[v] > logits[best]) {
          second = best;
          best = v;
        } else if (second < 0 || logits[v] > logits[second]) {
          second = v;
        }
      }
      generated.push_back(best);
      margins.push_back(logits[best] - logits[second]);
      next = {best};
    }
    llama_free(context);

    std::printf("  {\"text\": %s, \"prompt_ids\": [", JsonString(text).c_str());
    for (size_t i = 0; i < ids.size(); ++i) std::printf("%s%d", i ? ", " : "", ids[i]);
    std::printf("],\n   \"greedy_ids\": [");
    for (size_t i = 0; i < generated.size(); ++i) std::printf("%s%d", i ? ", " : "", generated[i]);
    std::printf("],\n   \"top2_margins\": [");
    for (size_t i = 0; i < margins.size(); ++i) std::printf("%s%.4f", i ? ", " : "", margins[i]);
    std::printf("]}%s\n", p + 1 < prompts.size() ? "," : "");
  }
  std::printf("]}\n");
  llama_model_free(model);
  llama_backend_free();
  return 0;
}
