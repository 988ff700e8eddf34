// `lightvlm SUBCOMMAND --help` against the code: a flag that several subcommands take reads the
// same in each (description and default), the defaults shown are those of the options structs the
// flags are bound to, the KV policies' defaults named in the knobs' texts are the policies' own,
// and no text states a default in words (the shown one comes from the value the flag holds).
#include <gtest/gtest.h>

#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "base/dtype.h"
#include "engine/session.h"
#include "eval/bench.h"
#include "eval/decode_bench.h"
#include "io/image.h"
#include "reduce/kv_policy.h"
#include "reduce/token_reducer.h"
#include "support/cli.h"
#include "support/test_files.h"

namespace lightvlm {
namespace {

// Every subcommand, from `lightvlm --help`: a new one is checked as soon as it exists.
std::vector<std::string> Subcommands() {
  const testing::CliResult result = testing::RunCli({"--help"});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  std::istringstream text(result.out.substr(result.out.find("Subcommands:")));
  std::vector<std::string> commands;
  std::string line;
  std::getline(text, line);
  while (std::getline(text, line) && line.starts_with("  ")) {
    std::istringstream words(line);
    commands.emplace_back();
    words >> commands.back();
  }
  return commands;
}

struct HelpFlag {
  std::string description;
  std::string default_value;  // as shown after '='; empty when none is shown
};

// One subcommand's flags by long name, from its --help. CLI11 writes each flag as its names, type
// and "=default" (then REQUIRED, Needs: and Excludes: notes) padded to column 30, and the
// description after it, or on the next line from column 30 when the names reach column 30.
std::map<std::string, HelpFlag> ParseHelp(const std::string& command) {
  const testing::CliResult result = testing::RunCli({command, "--help"});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  const std::vector<std::string> lines = testing::SplitLines(result.out);
  constexpr size_t kColumn = 30;
  const std::string indent(kColumn, ' ');
  std::map<std::string, HelpFlag> flags;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (!lines[i].starts_with("  -")) continue;
    std::string head, description;
    if (i + 1 < lines.size() && lines[i + 1].starts_with(indent)) {
      head = lines[i].substr(2);
      description = lines[i + 1].substr(kColumn);
    } else {
      head = lines[i].substr(2, kColumn - 2);
      description = lines[i].size() > kColumn ? lines[i].substr(kColumn) : "";
    }
    for (const char* note : {" REQUIRED", " Needs:", " Excludes:", " ..."}) {
      head = head.substr(0, head.find(note));
    }
    while (!head.empty() && head.back() == ' ') head.pop_back();
    // The first long name is the flag's (-m,--model; --answer-tokens,--gen).
    std::istringstream names(head.substr(0, head.find(' ')));
    std::string name;
    while (std::getline(names, name, ',') && !name.starts_with("--")) {
    }
    EXPECT_TRUE(name.starts_with("--")) << command << ": " << lines[i];
    const size_t equals = head.find('=');
    flags[name] = {description, equals == std::string::npos ? "" : head.substr(equals + 1)};
  }
  EXPECT_FALSE(flags.empty()) << result.out;
  return flags;
}

const std::map<std::string, std::map<std::string, HelpFlag>>& AllHelp() {
  static const auto* help = [] {
    auto* all = new std::map<std::string, std::map<std::string, HelpFlag>>;
    for (const std::string& command : Subcommands()) (*all)[command] = ParseHelp(command);
    return all;
  }();
  return *help;
}

std::string Lower(std::string_view text) {
  std::string lower(text);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return lower;
}

// Flags whose default or text differs between subcommands on purpose, and why.
const std::map<std::string, std::string> kPerCommand = {
    {"--max-tokens",
     "answers of different lengths: run and chat 256, batch 64 where a request "
     "gives none, eval 8 (short answers), kvfidelity 400 tokens per policy"},
    {"--prompt", "run's prompt or question, bench's question, kvfidelity's story start"},
    {"--image", "run takes several images, bench one"},
    {"--kv",
     "run, chat, batch and eval decode under one policy; bench and kvfidelity compare a "
     "list with none"},
    {"--reduce", "bench times a reducer against none, so its default is lightvlm"},
    {"--batch", "batch's slots (8) against bench's sequences decoded together (1)"},
    {"--verbose", "each command reports its own details"},
};

TEST(HelpCliTest, SharedFlagsReadTheSameInEveryCommand) {
  std::map<std::string, std::vector<std::string>> commands_of;
  for (const auto& [command, flags] : AllHelp()) {
    for (const auto& [name, flag] : flags) commands_of[name].push_back(command);
  }
  int shared = 0;
  for (const auto& [name, commands] : commands_of) {
    if (commands.size() < 2 || name == "--help" || kPerCommand.contains(name)) continue;
    ++shared;
    const HelpFlag& first = AllHelp().at(commands[0]).at(name);
    for (const std::string& command : commands) {
      const HelpFlag& flag = AllHelp().at(command).at(name);
      EXPECT_EQ(flag.description, first.description) << name << " in " << command;
      EXPECT_EQ(flag.default_value, first.default_value) << name << " in " << command;
    }
  }
  EXPECT_GE(shared, 20);
  for (const std::string command : {"run", "chat", "batch", "eval", "bench", "kvfidelity"}) {
    EXPECT_TRUE(AllHelp().contains(command)) << command;
  }
  // The reducer and the single KV policy read the same wherever they are one choice.
  for (const std::string command : {"run", "chat", "batch", "eval"}) {
    EXPECT_EQ(AllHelp().at(command).at("--reduce").default_value, "none") << command;
    EXPECT_EQ(AllHelp().at(command).at("--kv").default_value, "none") << command;
    EXPECT_EQ(AllHelp().at(command).at("--kv").description,
              AllHelp().at("run").at("--kv").description);
  }
  EXPECT_EQ(AllHelp().at("bench").at("--reduce").description,
            AllHelp().at("run").at("--reduce").description);
  // Every command that loads a model to run it (all but inspect) takes the load and thread flags.
  for (const auto& [command, flags] : AllHelp()) {
    if (!flags.contains("--model") || command == "inspect") continue;
    for (const char* name : {"--dtype", "--max-tiles", "--threads"}) {
      EXPECT_TRUE(flags.contains(name)) << name << " in " << command;
    }
  }
}

// The value shown after '=' is the one the flag's variable holds; these are the defaults of the
// options structs those variables are.
TEST(HelpCliTest, ShownDefaultsAreTheOptionsStructsDefaults) {
  const GenerationOptions generation;
  const ReducerOptions reduction;
  const KvPolicyOptions kv;
  const BenchOptions bench;
  const DecodeBenchOptions decode;
  const auto number = [](const std::string& command, const std::string& name) {
    const std::string& shown = AllHelp().at(command).at(name).default_value;
    EXPECT_FALSE(shown.empty()) << name << " in " << command << " shows no default";
    return shown.empty() ? -12345.0 : std::stod(shown);
  };
  for (const std::string command : {"run", "chat"}) {
    EXPECT_EQ(number(command, "--max-tokens"), generation.max_new_tokens);
    EXPECT_EQ(number(command, "--temp"), generation.sampling.temperature);
    EXPECT_EQ(number(command, "--top-k"), generation.sampling.top_k);
    EXPECT_EQ(number(command, "--top-p"), generation.sampling.top_p);
    EXPECT_EQ(number(command, "--seed"), generation.sampling.seed);
  }
  for (const std::string command : {"run", "chat", "batch", "eval"}) {
    EXPECT_EQ(number(command, "--keep"), reduction.budget.keep) << command;
    EXPECT_EQ(number(command, "--final-tokens"), reduction.budget.final_tokens) << command;
  }
  for (const std::string command : {"run", "chat", "batch", "eval", "bench"}) {
    EXPECT_EQ(number(command, "--stages"), reduction.stages) << command;
    EXPECT_EQ(number(command, "--fastv-layer"), reduction.fastv_layer) << command;
    EXPECT_EQ(number(command, "--reduce-seed"), reduction.seed) << command;
    EXPECT_EQ(AllHelp().at(command).at("--query-tokens").default_value, QueryTokensName(reduction));
    EXPECT_EQ(AllHelp().at(command).at("--query-weights").default_value,
              QueryWeightsName(reduction));
  }
  for (const std::string command : {"run", "chat", "batch", "eval", "bench", "kvfidelity"}) {
    EXPECT_EQ(number(command, "--kv-budget"), kv.budget) << command;
    EXPECT_EQ(number(command, "--kv-sinks"), kv.sinks) << command;
    EXPECT_EQ(number(command, "--kv-window"), kv.window) << command;
    EXPECT_EQ(number(command, "--kv-interval"), kv.interval) << command;
    EXPECT_EQ(number(command, "--kv-pool"), kv.pool) << command;
  }
  for (const std::string command : {"run", "chat", "batch", "eval", "bench", "kvfidelity"}) {
    EXPECT_EQ(AllHelp().at(command).at("--dtype").default_value,
              Lower(DTypeName(LoadOptions{}.weight_dtype)))
        << command;
    EXPECT_EQ(number(command, "--max-tiles"), LoadOptions{}.max_tiles) << command;
  }
  for (const std::string command : {"run", "chat", "batch"}) {
    EXPECT_EQ(number(command, "--max-image-pixels"), ImageLimits{}.max_pixels) << command;
  }
  EXPECT_EQ(AllHelp().at("bench").at("--reduce").default_value, bench.reducer);
  EXPECT_EQ(number("bench", "--repeats"), bench.repeats);
  EXPECT_EQ(number("bench", "--warmup"), bench.warmup);
  EXPECT_EQ(AllHelp().at("bench").at("--prompt").default_value, bench.question);
  std::vector<double> budgets;
  std::istringstream shown_budgets(AllHelp().at("bench").at("--budgets").default_value);
  shown_budgets.ignore(1);  // '['
  for (std::string budget; std::getline(shown_budgets, budget, ',');) {
    budgets.push_back(std::stod(budget));  // stops at the closing ']'
  }
  EXPECT_EQ(budgets, bench.budgets);
  EXPECT_EQ(number("bench", "--steps"), decode.steps);
  EXPECT_EQ(number("bench", "--batch"), decode.batch);
  EXPECT_EQ(AllHelp().at("bench").at("--kv").default_value, "[" + decode.policies[0] + "]");
}

// "name N" in a KV knob's text, for each policy named, against the policy's resolved value.
TEST(HelpCliTest, KvKnobTextsGiveThePoliciesDefaults) {
  const std::map<std::string, HelpFlag>& help = AllHelp().at("run");
  constexpr int64_t kLength = 5000;
  const KvPrompt prompt{.text_tokens = 100, .final_image_tokens = 200};
  const auto policy = [&](const std::string& name) {
    std::unique_ptr<KvPolicy> made = MakeKvPolicy(name, KvPolicyOptions{});
    made->Begin(prompt, 1, kLength);
    return made;
  };
  std::vector<std::string> names = KvPolicyNames();
  std::erase(names, "none");
  const std::regex pair(R"(\b([a-z0-9]+) (\d+)\b)");
  for (const std::string knob : {"--kv-sinks", "--kv-interval", "--kv-window"}) {
    const std::string& text = help.at(knob).description;
    const std::string defaults = text.substr(text.find("the policy's:"));
    std::set<std::string> named;
    for (auto it = std::sregex_iterator(defaults.begin(), defaults.end(), pair);
         it != std::sregex_iterator(); ++it) {
      const std::string name = (*it)[1];
      const int64_t value = std::stoll((*it)[2]);
      const auto made = policy(name);
      const int64_t actual = knob == "--kv-sinks"      ? made->sinks()
                             : knob == "--kv-interval" ? made->interval()
                                                       : made->window(kLength);
      EXPECT_EQ(actual, value) << knob << ": " << name << " in \"" << text << "\"";
      named.insert(name);
    }
    if (knob == "--kv-window") {
      ASSERT_NE(defaults.find("streaming budget - sinks"), std::string::npos) << text;
      const auto streaming = policy("streaming");
      EXPECT_EQ(streaming->window(kLength), streaming->Budget(kLength) - streaming->sinks());
      named.insert("streaming");
      ASSERT_NE(defaults.find("h2o half the budget"), std::string::npos) << text;
      const auto h2o = policy("h2o");
      EXPECT_EQ(h2o->window(kLength), (h2o->Budget(kLength) + 1) / 2);
      named.insert("h2o");
    }
    EXPECT_EQ(named, std::set<std::string>(names.begin(), names.end())) << knob << ": " << text;
  }
}

TEST(HelpCliTest, NoTextStatesADefaultInWords) {
  for (const auto& [command, flags] : AllHelp()) {
    for (const auto& [name, flag] : flags) {
      EXPECT_EQ(Lower(flag.description).find("default"), std::string::npos)
          << name << " in " << command << ": " << flag.description;
    }
  }
}

}  // namespace
}  // namespace lightvlm
