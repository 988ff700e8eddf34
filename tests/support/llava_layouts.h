// The tiny LLaVA fixture in the checkpoint layouts transformers writes: the directories
// tools/resave_fixtures_tf5.py saved with transformers 5.x (tests/fixtures/llava_tf5), and copies
// of tests/fixtures/llava/model made here, with other files or renamed tensors.
#pragma once

#include <filesystem>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "io/safetensors.h"
#include "support/golden.h"
#include "support/test_files.h"

namespace lightvlm::testing {

inline const std::filesystem::path kLlavaModelDir = kFixturesDir / "llava" / "model";
inline const std::filesystem::path kLlavaTf5Dir = kFixturesDir / "llava_tf5";

// Copies the files of `from` into `to`, except those named in `skip`.
inline void CopyFiles(const std::filesystem::path& from, const std::filesystem::path& to,
                      const std::set<std::string>& skip = {}) {
  for (const auto& entry : std::filesystem::directory_iterator(from)) {
    const std::string name = entry.path().filename().string();
    if (skip.contains(name)) continue;
    std::filesystem::copy_file(entry.path(), to / name,
                               std::filesystem::copy_options::overwrite_existing);
    std::filesystem::permissions(to / name, std::filesystem::perms::owner_write,
                                 std::filesystem::perm_options::add);
  }
}

// Writes `to`/model.safetensors with the tensors of the checkpoint in `from`, each under
// rename(its name).
inline void WriteRenamedTensors(const std::filesystem::path& from, const std::filesystem::path& to,
                                const std::function<std::string(const std::string&)>& rename) {
  const Checkpoint checkpoint = Checkpoint::Open(from.string());
  std::vector<TensorToWrite> renamed;
  for (const StoredTensor* t : checkpoint.All()) {
    renamed.push_back({rename(t->name), t->dtype_name, t->shape,
                       std::string(reinterpret_cast<const char*>(t->data), t->num_bytes)});
  }
  WriteFile(to / "model.safetensors", SafetensorsBytes(renamed));
}

// `name` with its leading `from` replaced by `to`, or unchanged when it does not start with it.
inline std::string ReplacePrefix(const std::string& name, const std::string& from,
                                 const std::string& to) {
  return name.starts_with(from) ? to + name.substr(from.size()) : name;
}

// The fixture (tensors named language_model.model.*, vision_tower.vision_model.*, ...) renamed to
// transformers 4.52-4.57's layout: model.language_model.*, model.vision_tower.vision_model.*,
// model.multi_modal_projector.*, lm_head.weight.
inline std::filesystem::path LlavaIn45xLayout() {
  const auto dir = FreshTempDir("llava_4_5x_layout");
  CopyFiles(kLlavaModelDir, dir, {"model.safetensors"});
  WriteRenamedTensors(kLlavaModelDir, dir, [](std::string name) {
    name = ReplacePrefix(name, "language_model.model.", "model.language_model.");
    name = ReplacePrefix(name, "language_model.lm_head.", "lm_head.");
    name = ReplacePrefix(name, "vision_tower.", "model.vision_tower.");
    return ReplacePrefix(name, "multi_modal_projector.", "model.multi_modal_projector.");
  });
  return dir;
}

// The "full" variant: native_format/ with full_strategy/'s config.json and processor_config.json
// (the only files of its save that differ; the generator checks it).
inline std::filesystem::path LlavaFullStrategy() {
  const auto dir = FreshTempDir("llava_full_strategy");
  CopyFiles(kLlavaTf5Dir / "native_format", dir);
  CopyFiles(kLlavaTf5Dir / "full_strategy", dir, {"golden.json", "golden.safetensors"});
  return dir;
}

}  // namespace lightvlm::testing
