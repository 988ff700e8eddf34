// A chat template from arbitrary bytes: parsed, then rendered over a conversation with a system
// message, two turns, an image part and add_generation_prompt, as a checkpoint's template would
// be. The render runs under limits a quarter of the defaults so that each input stays well inside
// libFuzzer's time limit; exceeding one must be an Error, as every syntax error or unsupported
// construct must.
#include <nlohmann/json.hpp>

#include "fuzz_input.h"
#include "io/jinja/renderer.h"
#include "io/jinja/value.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace lightvlm;
  static const jinja::Value context = jinja::FromJson(nlohmann::ordered_json::parse(R"({
    "messages": [
      {"role": "system", "content": "You are helpful."},
      {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "What is it?"}]},
      {"role": "assistant", "content": "A cat."},
      {"role": "user", "content": "And its colour?"}],
    "add_generation_prompt": true, "bos_token": "<s>", "eos_token": "</s>",
    "tools": null, "documents": null})"));
  jinja::RenderLimits limits;
  limits.max_output_bytes = size_t{2} << 20;
  limits.max_steps = 500'000;
  fuzz::ExpectParsedOrRefused([&] {
    const jinja::Template chat_template(fuzz::Text(data, size));
    (void)chat_template.Render(context, limits);
  });
  return 0;
}
