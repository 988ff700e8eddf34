// `lightvlm inspect`: what a checkpoint holds: architecture, parameter count, dtypes, sizes.
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <map>
#include <string>

#include "apps/commands.h"
#include "io/json_file.h"
#include "io/safetensors.h"
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

void Inspect(const InspectOptions& options) {
  namespace fs = std::filesystem;
  const JsonFile config = JsonFile::Load((fs::path(options.model_dir) / "config.json").string());
  const Checkpoint checkpoint = Checkpoint::Open(options.model_dir);

  std::cout << "model: " << options.model_dir << '\n';
  const auto architectures = config.GetOr<std::vector<std::string>>("architectures", {});
  std::cout << "architecture: " << (architectures.empty() ? "?" : architectures.front())
            << " (model_type " << config.GetOr<std::string>("model_type", "?") << ")\n";
  std::cout << DescribeModelConfig(config);

  struct DTypeTotal {
    int64_t tensors = 0;
    int64_t elements = 0;
    size_t bytes = 0;
  };
  std::map<std::string, DTypeTotal> by_dtype;
  DTypeTotal all;
  for (const StoredTensor* tensor : checkpoint.All()) {
    const int64_t elements = NumElements(tensor->shape);
    for (DTypeTotal* total : {&by_dtype[tensor->dtype_name], &all}) {
      total->tensors += 1;
      total->elements += elements;
      total->bytes += tensor->num_bytes;
    }
    if (options.list_tensors) {
      std::cout << "  " << tensor->name << ' ' << tensor->dtype_name << ' '
                << ShapeToString(tensor->shape) << '\n';
    }
  }
  std::cout << "parameters: " << all.elements << " in " << all.tensors << " tensors, "
            << HumanBytes(static_cast<double>(all.bytes)) << '\n';
  for (const auto& [dtype, total] : by_dtype) {
    std::cout << "  " << dtype << ": " << total.elements << " parameters in " << total.tensors
              << " tensors, " << HumanBytes(static_cast<double>(total.bytes)) << '\n';
  }
}

}  // namespace

void AddInspectCommand(CLI::App& app) {
  auto options = std::make_shared<InspectOptions>();
  CLI::App* inspect = app.add_subcommand("inspect", "Describe a checkpoint");
  inspect->add_option("-m,--model", options->model_dir, "Checkpoint directory")->required();
  inspect->add_flag("--tensors", options->list_tensors, "List every tensor");
  inspect->callback([options] { Inspect(*options); });
}

}  // namespace lightvlm
