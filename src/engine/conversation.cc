#include "engine/conversation.h"

#include "base/error.h"

namespace lightvlm {

Conversation::Conversation(const Model& model, ThreadPool& pool, int64_t context,
                           TokenReducer* reducer, KvPolicy* kv_policy, DType kv_dtype)
    : model_(model),
      pool_(pool),
      context_(context),
      kv_dtype_(kv_dtype),
      reducer_(reducer),
      kv_policy_(kv_policy) {
  StartSession();
}

void Conversation::StartSession() {
  session_ = std::make_unique<Session>(model_.decoder(), pool_, context_, kv_dtype_);
  session_->SetTokenReducer(reducer_);
  session_->SetKvPolicy(kv_policy_);
  held_text_.clear();
}

void Conversation::Reset() {
  messages_.clear();
  images_.clear();
  StartSession();
}

GenerationResult Conversation::Ask(const std::string& text, std::vector<ImageEmbeddings> images,
                                   const GenerationOptions& options,
                                   const std::function<bool(int32_t)>& on_token) {
  const LanguageModel& language_model = *model_.language_model;
  std::vector<ChatMessage> messages = messages_;
  messages.push_back({"user", text, static_cast<int64_t>(images.size())});
  const std::string full = language_model.FormatConversation(messages);
  const size_t earlier_images = images_.size();
  for (ImageEmbeddings& image : images) images_.push_back(std::move(image));
  // The new text, and the images in it: all of them when the session starts over.
  const bool continues = session_->length() > 0 && full.starts_with(held_text_);
  if (!continues) StartSession();
  const std::string delta = full.substr(held_text_.size());
  const std::span<const ImageEmbeddings> delta_images =
      std::span(images_).subspan(continues ? earlier_images : 0);
  // Only the conversation's first text gets the tokenizer's BOS, and only where the chat format
  // does not write it.
  const bool add_special = held_text_.empty() && !language_model.formats_special_tokens();
  Prompt prompt =
      AssemblePrompt(model_.tokenizer->Encode(
                         language_model.ExpandImagePlaceholders(delta, delta_images), add_special),
                     delta_images, language_model.image_token_id());
  prompt.positions = language_model.PromptPositions(prompt.token_ids, delta_images);
  const int64_t held_tokens = session_->length();
  GenerationResult result;
  try {
    result = session_->Generate(prompt, options, on_token);
  } catch (const Error&) {
    images_.resize(earlier_images);
    // A failure before prefill leaves the session as it was; one that started over cannot be
    // undone, so the conversation is forgotten with it.
    if (!continues) Reset();
    throw;
  }
  reused_tokens_ = held_tokens;
  messages_ = std::move(messages);
  messages_.push_back(
      {"assistant", model_.tokenizer->Decode(result.tokens, /*skip_special=*/true), 0});
  // The last token was sampled but never run through the model, so the cache does not hold it:
  // the next turn's text begins with it.
  const std::vector<int32_t> run(result.tokens.begin(), result.tokens.end() - 1);
  held_text_ = full + model_.tokenizer->Decode(run, /*skip_special=*/false);
  return result;
}

}  // namespace lightvlm
