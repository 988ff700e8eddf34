// `lightvlm inspect`: what a checkpoint directory or GGUF file holds: architecture, parameter
// count, dtypes, sizes.
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <map>
#include <string>

#include "apps/commands.h"
#include "apps/runtime_flags.h"
#include "io/gguf_file.h"
#include "io/json_file.h"
#include "io/safetensors.h"
#include "models/gguf_llm_config.h"
#include "models/language_model.h"

namespace lightvlm {
namespace {

struct InspectOptions {
  std::string model_dir;
  bool list_tensors = false;
};

std::string HumanBytes(double bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int unit = 0;
  while (bytes >= 1024 && unit < 4) {
    bytes /= 1024;
    ++unit;
  }
  std::ostringstream text;
  text << std::fixed << std::setprecision(unit ? 2 : 0) << bytes << ' ' << units[unit];
  return text.str();
}

struct DTypeTotal {
  int64_t tensors = 0;
  int64_t elements = 0;
  size_t bytes = 0;
};

// Totals per storage type (and over all), each tensor listed when asked.
class TensorTotals {
 public:
  explicit TensorTotals(bool list_tensors) : list_tensors_(list_tensors) {}
  void Add(const std::string& name, const std::string& dtype, const Shape& shape, size_t bytes) {
    for (DTypeTotal* total : {&by_dtype_[dtype], &all_}) {
      total->tensors += 1;
      total->elements += NumElements(shape);
      total->bytes += bytes;
    }
    if (list_tensors_)
      std::cout << "  " << name << ' ' << dtype << ' ' << ShapeToString(shape) << '\n';
  }
  void Print() const {
    std::cout << "parameters: " << all_.elements << " in " << all_.tensors << " tensors, "
              << HumanBytes(static_cast<double>(all_.bytes)) << '\n';
    for (const auto& [dtype, total] : by_dtype_) {
      std::cout << "  " << dtype << ": " << total.elements << " parameters in " << total.tensors
                << " tensors, " << HumanBytes(static_cast<double>(total.bytes)) << '\n';
    }
  }

 private:
  bool list_tensors_;
  std::map<std::string, DTypeTotal> by_dtype_;
  DTypeTotal all_;
};

void InspectGguf(const InspectOptions& options) {
  const std::unique_ptr<GgufFile> file = GgufFile::Open(options.model_dir);
  std::cout << "model: " << options.model_dir << " (GGUF version " << file->version() << ")\n";
  std::cout << "architecture: " << file->String("general.architecture") << '\n';
  std::cout << DescribeLlmConfig(LlmConfigFromGguf(*file));
  TensorTotals totals(options.list_tensors);
  for (const GgufTensorInfo& tensor : file->tensors()) {
    totals.Add(tensor.name, std::string(GgufTypeOf(tensor.type).name), tensor.shape,
               tensor.num_bytes);
  }
  totals.Print();
}

void Inspect(const InspectOptions& options) {
  namespace fs = std::filesystem;
  if (fs::is_regular_file(options.model_dir)) return InspectGguf(options);
  const JsonFile config = JsonFile::Load((fs::path(options.model_dir) / "config.json").string());
  const Checkpoint checkpoint = Checkpoint::Open(options.model_dir);

  std::cout << "model: " << options.model_dir << '\n';
  const auto architectures = config.GetOr<std::vector<std::string>>("architectures", {});
  std::cout << "architecture: " << (architectures.empty() ? "?" : architectures.front())
            << " (model_type " << config.GetOr<std::string>("model_type", "?") << ")\n";
  std::cout << DescribeModelConfig(config);

  TensorTotals totals(options.list_tensors);
  for (const StoredTensor* tensor : checkpoint.All()) {
    totals.Add(tensor->name, tensor->dtype_name, tensor->shape, tensor->num_bytes);
  }
  totals.Print();
}

}  // namespace

void AddInspectCommand(CLI::App& app) {
  auto options = std::make_shared<InspectOptions>();
  CLI::App* inspect = app.add_subcommand("inspect", "Describe a checkpoint");
  AddModelFlag(*inspect, options->model_dir);
  inspect->add_flag("--tensors", options->list_tensors, "List every tensor");
  inspect->callback([options] { Inspect(*options); });
}

}  // namespace lightvlm
