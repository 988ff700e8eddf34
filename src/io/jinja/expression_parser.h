// Parses one Jinja expression from a token stream, refusing unknown filters and tests by name.
#pragma once

#include <memory>

#include "io/jinja/ast.h"
#include "io/jinja/token_stream.h"

namespace lightvlm::jinja {

// A full expression, conditional (a if b else c) included.
std::unique_ptr<Expr> ParseExpression(TokenStream& in);
// An expression without a trailing "if": what follows "in" in a for tag, where "if" filters.
std::unique_ptr<Expr> ParseOrExpression(TokenStream& in);

}  // namespace lightvlm::jinja
