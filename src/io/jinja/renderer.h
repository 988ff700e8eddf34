// Renders a parsed template over a context, within limits on work, output and macro depth, so a
// hostile template fails with an error naming the limit instead of hanging or exhausting memory.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "io/jinja/ast.h"
#include "io/jinja/value.h"

namespace lightvlm::jinja {

struct RenderLimits {
  size_t max_output_bytes = size_t{8} << 20;
  // Evaluation steps: one per expression, statement and loop iteration, plus one per 64 bytes
  // of string built; real chat templates take thousands (a second of work is ~1.5M).
  int64_t max_steps = 2'000'000;
  int max_macro_depth = 32;
};

// jinja2's sandbox bound on range(), which transformers' environment keeps.
constexpr int64_t kMaxRange = 100'000;

class Template {
 public:
  // Fails with an Error naming the line for a syntax error or an unsupported construct.
  explicit Template(std::string_view source);

  // `context` is a dict of the template's variables. Fails with an Error naming the line of the
  // expression at fault (raise_exception included) or the limit exceeded.
  std::string Render(const Value& context, const RenderLimits& limits = {}) const;

 private:
  Body body_;
};

}  // namespace lightvlm::jinja
