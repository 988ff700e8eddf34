// Parses template tokens into statements, and refuses at parse time (naming the construct and
// its line) every tag, filter and test the renderer does not implement, so a template that uses
// one fails before anything renders.
#pragma once

#include <vector>

#include "io/jinja/ast.h"
#include "io/jinja/lexer.h"

namespace lightvlm::jinja {

Body Parse(const std::vector<Token>& tokens);

}  // namespace lightvlm::jinja
