#include "io/jinja/renderer.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "base/error.h"
#include "support/test_files.h"

namespace lightvlm::jinja {
namespace {

using testing::ErrorOf;

const nlohmann::ordered_json kEmpty = nlohmann::ordered_json::object();

std::string Render(const std::string& source, const nlohmann::ordered_json& context = kEmpty,
                   const RenderLimits& limits = {}) {
  return Template(source).Render(FromJson(context), limits);
}

// An error message contains every one of `parts`.
void ExpectErrorWith(const std::string& error, std::initializer_list<const char*> parts) {
  for (const char* part : parts)
    EXPECT_NE(error.find(part), std::string::npos) << "'" << part << "' not in: " << error;
}

// Small templates probing one jinja2 rule each (whitespace control, scoping, Python formatting,
// filters, tests, errors), with what jinja2 rendered or raised
// (tools/make_chat_template_fixtures.py).
TEST(JinjaRendererTest, MatchesJinja2OnSnippets) {
  const auto path =
      std::filesystem::path(LIGHTVLM_SOURCE_DIR) / "tests/fixtures/chat_templates/snippets.json";
  const auto fixture = nlohmann::ordered_json::parse(testing::ReadFile(path));
  int rendered = 0, refused = 0;
  for (const auto& test_case : fixture["cases"]) {
    const std::string source = test_case["template"].get<std::string>();
    SCOPED_TRACE(source);
    if (test_case.contains("expected")) {
      EXPECT_EQ(Render(source, fixture["context"]), test_case["expected"].get<std::string>());
      ++rendered;
    } else {
      const std::string error = ErrorOf([&] { Render(source, fixture["context"]); });
      EXPECT_NE(error, "(no error)") << "jinja2 raised " << test_case["error"];
      ++refused;
    }
  }
  EXPECT_GE(rendered, 30);
  EXPECT_GE(refused, 4);
}

// Regression (fuzzing): a float literal past the double range threw std::out_of_range from
// std::stod; as Python's float() it is inf (jinja2 renders "inf"), or 0 below the range.
TEST(JinjaRendererTest, FloatLiteralsPastTheDoubleRangeAreInfinite) {
  EXPECT_EQ(Render("{{ 2E22222222222 }}"), "inf");
  EXPECT_EQ(Render("{{ -1.5e999 }}"), "-inf");
  EXPECT_EQ(Render("{{ 1e-99999 }}"), "0.0");
}

TEST(JinjaRendererTest, UnsupportedTagIsNamedWithItsLine) {
  ExpectErrorWith(ErrorOf([] { Template("x\n{% include 'other.jinja' %}"); }),
                  {"line 2", "{% include %}", "not supported"});
  ExpectErrorWith(ErrorOf([] { Template("{% raw %}{{ x }}{% endraw %}"); }),
                  {"line 1", "{% raw %}"});
  ExpectErrorWith(ErrorOf([] { Template("{% for x in xs recursive %}{% endfor %}"); }),
                  {"recursive"});
  ExpectErrorWith(ErrorOf([] { Template("\n\n{% frobnicate %}"); }), {"line 3", "'frobnicate'"});
  ExpectErrorWith(ErrorOf([] { Template("{{ f(*args) }}"); }), {"*args"});
  ExpectErrorWith(ErrorOf([] { Template("a{% break %}b"); }), {"{% break %} outside a for loop"});
  ExpectErrorWith(ErrorOf([] { Template("{% for x in y %}{% else %}{% continue %}{% endfor %}"); }),
                  {"{% continue %} outside a for loop"});
  ExpectErrorWith(
      ErrorOf(
          [] { Template("{% for x in y %}{% macro m() %}{% break %}{% endmacro %}{% endfor %}"); }),
      {"{% break %} outside a for loop"});
  ExpectErrorWith(ErrorOf([] { Render("{{ 'n=%d' % 3 }}"); }),
                  {"string formatting", "not supported"});
}

TEST(JinjaRendererTest, UnknownFilterOrTestIsNamedBeforeRendering) {
  // Refused at parse time, even in a branch that would not run.
  ExpectErrorWith(ErrorOf([] { Template("{% if false %}\n{{ x | frobnicate }}{% endif %}"); }),
                  {"line 2", "unknown filter 'frobnicate'"});
  ExpectErrorWith(ErrorOf([] { Template("{{ x is prime }}"); }), {"unknown test 'prime'"});
  ExpectErrorWith(ErrorOf([] { Render("{{ [1] | map('frobnicate') | list }}"); }),
                  {"unknown filter 'frobnicate'"});
}

TEST(JinjaRendererTest, UnterminatedTagsNameTheirLine) {
  ExpectErrorWith(ErrorOf([] { Template("a\nb {% if x "); }),
                  {"line 2", "unterminated {% ... %} tag"});
  ExpectErrorWith(ErrorOf([] { Template("a\n\n{{ x "); }), {"line 3", "unterminated {{ ... }}"});
  ExpectErrorWith(ErrorOf([] { Template("{# no end"); }), {"line 1", "unterminated comment"});
  ExpectErrorWith(ErrorOf([] { Template("\n{{ 'open }}"); }), {"line 2", "unterminated string"});
  ExpectErrorWith(ErrorOf([] { Template("{% if x %}\nopen"); }), {"missing its {% endif %}"});
  ExpectErrorWith(ErrorOf([] { Template("{% for x in y %}{% endif %}"); }), {"'endif'"});
  ExpectErrorWith(ErrorOf([] { Template("{{ a $ b }}"); }), {"unexpected character '$'"});
}

TEST(JinjaRendererTest, RunawayLoopsHitALimit) {
  // jinja2's sandbox refuses ranges over 100000 items; so does this interpreter.
  ExpectErrorWith(ErrorOf([] { Render("{% for i in range(10**9) %}{% endfor %}"); }),
                  {"line 1", "range() of 1000000000 items exceeds the limit of 100000"});
  ExpectErrorWith(
      ErrorOf([] {
        Render("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}");
      }),
      {"evaluation steps"});
  RenderLimits small;
  small.max_steps = 1000;
  EXPECT_EQ(ErrorOf([&] { Render("{% for i in range(100) %}{{ i }}{% endfor %}", kEmpty, small); }),
            "(no error)");
  ExpectErrorWith(
      ErrorOf([&] { Render("{% for i in range(1000) %}{{ i }}{% endfor %}", kEmpty, small); }),
      {"limit of 1000 evaluation steps"});
}

TEST(JinjaRendererTest, OutputAndStringsAreBounded) {
  ExpectErrorWith(
      ErrorOf([] { Render("{% for i in range(100000) %}{{ 'x' * 1000 }}{% endfor %}"); }),
      {"output exceeds the limit"});
  ExpectErrorWith(ErrorOf([] {
                    Render(
                        "{% set ns = namespace(s='ab') %}{% for i in range(64) %}"
                        "{% set ns.s = ns.s ~ ns.s %}{% endfor %}");
                  }),
                  {"exceeds the limit of 16777216 bytes"});
  ExpectErrorWith(ErrorOf([] { Render("{{ 'x' * 10**12 }}"); }), {"exceeds the limit"});
  ExpectErrorWith(ErrorOf([] { Render("{{ [0] * 10**12 }}"); }), {"exceeds the limit"});
  ExpectErrorWith(ErrorOf([] { Render("{{ 2 ** 64 }}"); }), {"integer overflow"});
}

TEST(JinjaRendererTest, RecursionIsBounded) {
  ExpectErrorWith(ErrorOf([] { Render("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}"); }),
                  {"macro calls nested deeper than 32"});
  ExpectErrorWith(ErrorOf([] {
                    Template("{{ " + std::string(5000, '(') + "1" + std::string(5000, ')') + " }}");
                  }),
                  {"nesting deeper than 200"});
  ExpectErrorWith(ErrorOf([] { Template("{{ " + std::string(5000, '-') + "1 }}"); }),
                  {"nesting deeper than 200"});
  std::string deep_ifs;
  for (int i = 0; i < 1000; ++i) deep_ifs += "{% if true %}";
  ExpectErrorWith(ErrorOf([&] { Template{deep_ifs}; }), {"nesting deeper than 200"});
}

TEST(JinjaRendererTest, ValuesNestBoundedly) {
  ExpectErrorWith(ErrorOf([] {
                    Render(
                        "{% set ns = namespace(x=[]) %}{% for i in range(100000) %}"
                        "{% set ns.x = [ns.x] %}{% endfor %}{{ ns.x }}");
                  }),
                  {"nest deeper than 256 levels"});
  EXPECT_EQ(Render("{% set ns = namespace(x=[]) %}{% for i in range(3) %}{% set ns.x = [ns.x] %}"
                   "{% endfor %}{{ ns.x }}"),
            "[[[[]]]]");
  // A namespace holding itself, or a long chain of namespaces, renders and is freed.
  EXPECT_EQ(Render("{% set ns = namespace() %}{% set ns.me = [ns] %}{{ ns.me | length }}"), "1");
  EXPECT_EQ(
      Render("{% set head = namespace(next=none) %}{% set ns = namespace(node=head) %}"
             "{% for i in range(50000) %}{% set ns.node = namespace(next=ns.node) %}{% endfor %}"
             "{{ ns.node.next.next is defined }}"),
      "True");
  std::string deep_json(100000, '[');
  deep_json += std::string(100000, ']');
  ExpectErrorWith(ErrorOf([&] { FromJson(nlohmann::ordered_json::parse(deep_json)); }),
                  {"the context nests deeper than 256 levels"});
}

TEST(JinjaRendererTest, RaiseExceptionAndUndefinedUseNameTheLine) {
  ExpectErrorWith(
      ErrorOf([] { Render("ok\n{{ raise_exception('Only user and assistant roles') }}"); }),
      {"line 2", "the template raised an error: Only user and assistant roles"});
  ExpectErrorWith(ErrorOf([] { Render("{{ message.content }}"); }), {"'message' is undefined"});
  ExpectErrorWith(ErrorOf([] { Render("{{ strftime_now('%Y') }}"); }),
                  {"'strftime_now' is undefined"});
  ExpectErrorWith(ErrorOf([] { Render("{{ 'é'.upper() }}{{ 'Ա'.lower() }}"); }),
                  {"changing the case of U+0531 is not supported"});
}

TEST(JinjaRendererTest, KeepsContextKeyOrder) {
  const auto context = nlohmann::ordered_json::parse(R"({"d": {"z": 1, "a": 2}})");
  EXPECT_EQ(Render("{{ d | tojson }} {% for k in d %}{{ k }}{% endfor %}", context),
            "{\"z\": 1, \"a\": 2} za");
}

// Every template made by cutting a fixture template short, or by dropping, doubling or changing
// one character of it, renders or fails with an Error: never another exception or a crash.
TEST(JinjaRendererTest, MutatedTemplatesRenderOrFailCleanly) {
  const auto directory =
      std::filesystem::path(LIGHTVLM_SOURCE_DIR) / "tests/fixtures/chat_templates";
  int rendered = 0, failed = 0;
  for (const char* family : {"qwen2_vl", "features", "llava_1_5"}) {
    const auto fixture = nlohmann::ordered_json::parse(
        testing::ReadFile(directory / (std::string(family) + ".json")));
    const std::string source = fixture["template"].get<std::string>();
    const auto& context = fixture["cases"][1]["context"];
    const auto attempt = [&](const std::string& mutated) {
      try {
        Render(mutated, context);
        ++rendered;
      } catch (const Error&) {
        ++failed;
      }
    };
    for (size_t i = 0; i < source.size(); i += 4) {
      attempt(source.substr(0, i));
      attempt(source.substr(0, i) + source.substr(i + 1));
      attempt(source.substr(0, i + 1) + source.substr(i));
      for (const char replacement : {'{', '}', '%', '\'', '-', '('}) {
        std::string changed = source;
        changed[i] = replacement;
        attempt(changed);
      }
    }
  }
  EXPECT_GT(rendered, 1000);
  EXPECT_GT(failed, 1000);
}

}  // namespace
}  // namespace lightvlm::jinja
