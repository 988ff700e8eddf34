// Reference outputs recorded from Hugging Face transformers by tools/make_fixtures.py
// (tests/fixtures/<family>/golden.safetensors and tokenizer_cases.json).
#pragma once

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "io/safetensors.h"
#include "support/test_files.h"

namespace lightvlm::testing {

inline const std::filesystem::path kFixturesDir =
    std::filesystem::path(LIGHTVLM_SOURCE_DIR) / "tests" / "fixtures";

class Golden {
 public:
  // `family` is a directory under tests/fixtures, e.g. "qwen2" or "llama/llama3".
  explicit Golden(const std::string& family)
      : directory_(kFixturesDir / family),
        file_(SafetensorsFile::Open((directory_ / "golden.safetensors").string())) {}

  std::filesystem::path model_dir() const { return directory_ / "model"; }

  std::vector<int32_t> Ids(const std::string& name) const {
    const StoredTensor& tensor = Find(name, "I64");
    std::vector<int64_t> wide(tensor.num_bytes / sizeof(int64_t));
    std::memcpy(wide.data(), tensor.data, tensor.num_bytes);
    return std::vector<int32_t>(wide.begin(), wide.end());
  }

  std::vector<float> Floats(const std::string& name) const {
    const StoredTensor& tensor = Find(name, "F32");
    std::vector<float> values(tensor.num_bytes / sizeof(float));
    std::memcpy(values.data(), tensor.data, tensor.num_bytes);
    return values;
  }

  Shape ShapeOf(const std::string& name) const { return file_->tensors().at(name).shape; }

 private:
  const StoredTensor& Find(const std::string& name, const std::string& dtype) const {
    const StoredTensor& tensor = file_->tensors().at(name);
    EXPECT_EQ(tensor.dtype_name, dtype) << name;
    return tensor;
  }

  std::filesystem::path directory_;
  std::unique_ptr<SafetensorsFile> file_;
};

inline double MaxAbsDifference(const float* a, const float* b, size_t count) {
  double worst = 0;
  for (size_t i = 0; i < count; ++i) worst = std::max(worst, double(std::abs(a[i] - b[i])));
  return worst;
}

}  // namespace lightvlm::testing
