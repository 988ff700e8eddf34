// `lightvlm chat`: an interactive conversation on a terminal or from piped stdin. The model loads
// once; each turn reuses the KV cache of the conversation (engine/conversation.h). Commands:
// /image PATH attaches an image to the next turn, /reset forgets the conversation, /stats prints
// what the last turn cost, /quit (or end of input) leaves.
#include <unistd.h>

#include <iostream>
#include <string>
#include <vector>

#include "apps/commands.h"
#include "apps/kv_flags.h"
#include "apps/runtime_flags.h"
#include "apps/session_flags.h"
#include "base/log.h"
#include "engine/conversation.h"
#include "io/image.h"
#include "reduce/kv_policy.h"

namespace lightvlm {
namespace {

struct ChatOptions {
  std::string model_dir;
  LoadFlags load;
  ContextFlags context;
  ImageLimits image_limits;
  GenerationOptions generation;
  ReducerFlags reducer;
  std::string kv_policy = "none";
  KvPolicyOptions kv;
  int threads = 0;
};

void PrintStats(const Conversation& conversation, const GenerationResult& last,
                const TokenReducer& reducer, int64_t image_tokens) {
  const Session& session = conversation.session();
  std::cout << "turns: " << conversation.turns() / 2 << "; context: " << session.length() << " of "
            << session.context() << " tokens, KV cache " << session.cache().bytes() << " bytes\n"
            << "last turn: " << last.prompt_tokens << " prompt tokens prefilled in "
            << last.prefill_ms << " ms (" << conversation.reused_tokens()
            << " earlier tokens reused from the cache), " << last.tokens.size()
            << " tokens generated in " << last.decode_ms << " ms ("
            << last.tokens.size() * 1000.0 / std::max(last.decode_ms, 1e-9) << " tokens/s)\n";
  if (image_tokens > 0) {
    const std::vector<int64_t> live = reducer.ImageTokensPerLayer();
    std::cout << "image tokens of the last turn: " << image_tokens << ", "
              << (live.empty() ? image_tokens : live.back()) << " after reduction\n";
  }
}

void Chat(const ChatOptions& options) {
  Model model = LoadModel(options.model_dir, options.load.Options());
  ThreadPool pool(options.threads);
  const auto reducer = MakeTokenReducer(options.reducer.name, options.reducer.options);
  const auto kv_policy = MakeKvPolicy(options.kv_policy, options.kv);
  Conversation conversation(model, pool, options.context.CheckedContext(model.config(), 1),
                            reducer.get(), kv_policy.get(), options.context.kv_dtype);
  GenerationOptions generation = options.generation;
  generation.stop_token_ids = model.stop_token_ids;
  const bool interactive = isatty(STDIN_FILENO);
  std::vector<ImageEmbeddings> attached;
  GenerationResult last;
  int64_t last_image_tokens = 0;
  std::string line;
  while ((interactive && std::cout << "> " << std::flush), std::getline(std::cin, line)) {
    try {
      if (line == "/quit") break;
      if (line.empty()) continue;
      if (line == "/reset") {
        conversation.Reset();
        attached.clear();
        std::cout << "(conversation reset)\n";
      } else if (line == "/stats") {
        PrintStats(conversation, last, *reducer, last_image_tokens);
      } else if (line.starts_with("/image ")) {
        const std::string path = line.substr(7);
        attached.push_back(
            model.language_model->EncodeImage(pool, LoadImage(path, options.image_limits)));
        std::cout << "(image " << path << ": " << attached.back().rows.dim(0)
                  << " tokens, for the next turn)\n";
      } else if (line.starts_with("/")) {
        std::cout << "(commands: /image PATH, /reset, /stats, /quit)\n";
      } else {
        int64_t image_tokens = 0;
        for (const ImageEmbeddings& image : attached) image_tokens += image.rows.dim(0);
        StreamDecoder stream(*model.tokenizer, /*skip_special=*/true);
        last = conversation.Ask(line, std::move(attached), generation, [&](int32_t token) {
          std::cout << stream.Push(token) << std::flush;
          return true;
        });
        std::cout << stream.Finish() << std::endl;
        last_image_tokens = image_tokens;
        attached.clear();
      }
    } catch (const Error& error) {
      // One bad turn (an unreadable image, a prompt over the context) does not end the chat.
      std::cout << "(error: " << error.what() << ")" << std::endl;
      attached.clear();
    }
  }
}

}  // namespace

void AddChatCommand(CLI::App& app) {
  auto options = std::make_shared<ChatOptions>();
  CLI::App* chat = app.add_subcommand(
      "chat", "Talk with a model: each line is a turn; /image PATH, /reset, /stats, /quit");
  AddModelFlag(*chat, options->model_dir);
  AddImageLimitFlag(*chat, options->image_limits);
  AddSamplingFlags(*chat, options->generation);
  AddContextFlags(*chat, options->context);
  AddReducerFlags(*chat, options->reducer);
  AddKvPolicyFlags(*chat, options->kv_policy, options->kv);
  AddLoadFlags(*chat, options->load);
  AddThreadsFlag(*chat, options->threads);
  chat->callback([options] {
    ValidateSamplingOptions(options->generation.sampling);
    options->reducer.Parse();
    Chat(*options);
  });
}

}  // namespace lightvlm
