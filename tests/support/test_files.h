// Helpers for tests that write files: fresh temporary directories, safetensors files, and
// copies of the real stories260k checkpoint to corrupt; and ErrorOf, for the messages tests
// expect of bad input.
#pragma once

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "base/error.h"

namespace lightvlm::testing {

// The message of the lightvlm::Error that `action` throws, or "(no error)" when it throws none.
// Other exceptions escape and fail the test.
std::string ErrorOf(auto&& action) {
  try {
    action();
  } catch (const Error& error) {
    return error.what();
  }
  return "(no error)";
}

inline const std::filesystem::path kStoriesDir =
    std::filesystem::path(LIGHTVLM_SHARED_DIR) / "models" / "stories260k";

// An empty directory `name` inside a directory unique to the running test.
inline std::filesystem::path FreshTempDir(const std::string& name = "files") {
  const auto* test = ::testing::UnitTest::GetInstance()->current_test_info();
  auto dir = std::filesystem::temp_directory_path() / "lightvlm_tests" /
             (std::string(test->test_suite_name()) + "." + test->name()) / name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

inline void WriteFile(const std::filesystem::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

inline std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// The lines of `text`, without their line breaks.
inline std::vector<std::string> SplitLines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

struct TensorToWrite {
  std::string name;
  std::string dtype;  // safetensors spelling: "F32", "BF16", ...
  std::vector<int64_t> shape;
  std::string bytes;
};

// The bytes of a safetensors file holding `tensors` back to back in the given order.
inline std::string SafetensorsBytes(const std::vector<TensorToWrite>& tensors) {
  nlohmann::json header = nlohmann::json::object();
  std::string data;
  for (const auto& tensor : tensors) {
    header[tensor.name] = {{"dtype", tensor.dtype},
                           {"shape", tensor.shape},
                           {"data_offsets", {data.size(), data.size() + tensor.bytes.size()}}};
    data += tensor.bytes;
  }
  std::string text = header.dump();
  text.resize((text.size() + 7) / 8 * 8, ' ');
  std::string file(8, '\0');
  uint64_t length = text.size();
  for (int i = 0; i < 8; ++i) file[i] = static_cast<char>((length >> (8 * i)) & 0xFF);
  return file + text + data;
}

// Copies stories260k into a fresh directory, so a test can break one of its files.
inline std::filesystem::path CopyOfStories() {
  const auto dir = FreshTempDir("stories260k");
  for (const auto& entry : std::filesystem::directory_iterator(kStoriesDir)) {
    std::filesystem::copy_file(entry.path(), dir / entry.path().filename());
    std::filesystem::permissions(dir / entry.path().filename(), std::filesystem::perms::owner_write,
                                 std::filesystem::perm_options::add);
  }
  return dir;
}

}  // namespace lightvlm::testing
