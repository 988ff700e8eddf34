// The filters ({{ x | trim }}) and tests ({% if x is string %}) this interpreter implements, with
// jinja2's semantics (tojson as transformers overrides it). Anything else is refused by name at
// parse time.
#pragma once

#include <string>
#include <string_view>

#include "io/jinja/value.h"

namespace lightvlm::jinja {

bool IsFilter(std::string_view name);
bool IsTest(std::string_view name);

// `args` are the arguments after the subject. Fails with a TemplateError naming the filter or
// test when the arguments do not fit.
Value ApplyFilter(const std::string& name, const Value& subject, const CallArgs& args);
bool ApplyTest(const std::string& name, const Value& subject, const CallArgs& args);

}  // namespace lightvlm::jinja
