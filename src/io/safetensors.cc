#include "io/safetensors.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <filesystem>
#include <limits>
#include <optional>
#include <string_view>
#include <system_error>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/error.h"
#include "io/json_file.h"
#include "io/mapped_file.h"

namespace lightvlm {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr char kIndexFileName[] = "model.safetensors.index.json";
constexpr char kSingleFileName[] = "model.safetensors";
constexpr size_t kHeaderLengthBytes = 8;

struct StoredDType {
  std::string_view name;
  size_t size;
  std::optional<DType> compute;  // set for the types the engine converts to float32
};

constexpr std::array<StoredDType, 15> kStoredDTypes = {{
    {"BOOL", 1, std::nullopt},
    {"U8", 1, std::nullopt},
    {"I8", 1, std::nullopt},
    {"I16", 2, std::nullopt},
    {"U16", 2, std::nullopt},
    {"F16", 2, DType::kF16},
    {"BF16", 2, DType::kBF16},
    {"I32", 4, std::nullopt},
    {"U32", 4, std::nullopt},
    {"F32", 4, DType::kF32},
    {"F64", 8, std::nullopt},
    {"I64", 8, std::nullopt},
    {"U64", 8, std::nullopt},
    {"F8_E4M3", 1, std::nullopt},
    {"F8_E5M2", 1, std::nullopt},
}};

uint64_t ReadLittleEndianU64(const std::byte* bytes) {
  uint64_t value = 0;
  for (size_t i = kHeaderLengthBytes; i-- > 0;) {
    value = (value << 8) | std::to_integer<uint64_t>(bytes[i]);
  }
  return value;
}

json ParseHeader(const std::string& path, const std::byte* begin, uint64_t length) {
  const json header = ParseJson(std::string_view(reinterpret_cast<const char*>(begin), length),
                                StrCat(path, ": header"));
  Check(header.is_object(), path, ": header should be a JSON object, got ", header.type_name());
  return header;
}

// Reads one field of a tensor's header entry; every failure names the file and the tensor.
class EntryReader {
 public:
  EntryReader(const std::string& path, const std::string& name, const json& entry)
      : path_(path), name_(name), entry_(entry) {
    Check(entry.is_object(), Where(),
          " should be an object with dtype, shape and data_offsets, got ", entry.type_name());
  }

  std::string Where() const { return StrCat(path_, ": tensor '", name_, "'"); }

  const json& Field(const char* field, json::value_t kind, const char* kind_name) const {
    const auto it = entry_.find(field);
    Check(it != entry_.end(), Where(), " is missing '", field, "'");
    Check(it->type() == kind, Where(), " has '", field, "' that is not ", kind_name, ": ",
          it->dump());
    return *it;
  }

  // A JSON integer >= 0; `what` says which part of the entry it is.
  uint64_t Unsigned(const json& node, const std::string& what) const {
    Check(node.is_number_integer(), Where(), " has ", what,
          " that is not an integer: ", node.dump());
    Check(node.is_number_unsigned(), Where(), " has negative ", what, ": ", node.dump());
    return node.get<uint64_t>();
  }

 private:
  const std::string& path_;
  const std::string& name_;
  const json& entry_;
};

const StoredDType& ReadDType(const EntryReader& reader) {
  const auto name = reader.Field("dtype", json::value_t::string, "a string").get<std::string>();
  const auto* found = std::find_if(kStoredDTypes.begin(), kStoredDTypes.end(),
                                   [&](const StoredDType& d) { return d.name == name; });
  Check(found != kStoredDTypes.end(), reader.Where(), " has unknown dtype '", name, "'");
  return *found;
}

Shape ReadShape(const EntryReader& reader) {
  Shape shape;
  for (const json& extent : reader.Field("shape", json::value_t::array, "an array")) {
    const uint64_t value = reader.Unsigned(extent, "shape dimension");
    Check(value <= uint64_t{std::numeric_limits<int64_t>::max()}, reader.Where(),
          " has shape dimension ", value, " too large");
    shape.push_back(static_cast<int64_t>(value));
  }
  return shape;
}

// The element count, or a failure when it does not fit in int64_t (then no file could hold it).
uint64_t CountElements(const EntryReader& reader, const Shape& shape) {
  if (std::find(shape.begin(), shape.end(), 0) != shape.end()) return 0;
  uint64_t count = 1;
  for (int64_t extent : shape) {
    Check(count <= uint64_t{std::numeric_limits<int64_t>::max()} / extent, reader.Where(),
          " has shape ", ShapeToString(shape), " with too many elements");
    count *= extent;
  }
  return count;
}

struct ByteSpan {
  uint64_t begin;
  uint64_t end;
};

ByteSpan ReadOffsets(const EntryReader& reader, uint64_t data_size) {
  const json& offsets = reader.Field("data_offsets", json::value_t::array, "an array");
  Check(offsets.size() == 2, reader.Where(), " has data_offsets with ", offsets.size(),
        " values, expected [begin, end]");
  const ByteSpan span{reader.Unsigned(offsets[0], "data_offsets begin"),
                      reader.Unsigned(offsets[1], "data_offsets end")};
  Check(span.begin <= span.end, reader.Where(), " has data_offsets begin ", span.begin,
        " after end ", span.end);
  Check(span.end <= data_size, reader.Where(), " ends at byte ", span.end,
        " of the data section, past its end at byte ", data_size, " (file truncated?)");
  return span;
}

StoredTensor ReadTensor(const std::string& path, const std::string& name, const json& entry,
                        const std::byte* data_section, uint64_t data_size) {
  const EntryReader reader(path, name, entry);
  const StoredDType& dtype = ReadDType(reader);
  StoredTensor tensor;
  tensor.name = name;
  tensor.dtype_name = dtype.name;
  tensor.file = path;
  tensor.is_float = dtype.compute.has_value();
  tensor.dtype = dtype.compute.value_or(DType::kF32);
  tensor.shape = ReadShape(reader);
  const uint64_t count = CountElements(reader, tensor.shape);
  const ByteSpan span = ReadOffsets(reader, data_size);
  // Compared by division: count * size could overflow for a corrupt shape.
  const uint64_t span_bytes = span.end - span.begin;
  Check(span_bytes % dtype.size == 0 && span_bytes / dtype.size == count, reader.Where(), " spans ",
        span_bytes, " bytes but shape ", ShapeToString(tensor.shape), " of ", dtype.name, " needs ",
        count, " elements of ", dtype.size, " bytes");
  tensor.data = data_section + span.begin;
  tensor.num_bytes = span_bytes;
  return tensor;
}

std::map<std::string, std::string> ReadMetadata(const std::string& path, const json& node) {
  Check(node.is_object(), path, ": __metadata__ should be an object, got ", node.type_name());
  std::map<std::string, std::string> metadata;
  for (const auto& [key, value] : node.items()) {
    Check(value.is_string(), path, ": __metadata__ value '", key, "' should be a string, got ",
          value.type_name());
    metadata.emplace(key, value.get<std::string>());
  }
  return metadata;
}

void CheckNoOverlap(const std::string& path, const std::map<std::string, StoredTensor>& tensors) {
  std::vector<const StoredTensor*> by_start;
  for (const auto& [name, tensor] : tensors) {
    if (tensor.num_bytes > 0) by_start.push_back(&tensor);  // empty spans overlap nothing
  }
  std::sort(by_start.begin(), by_start.end(),
            [](const StoredTensor* a, const StoredTensor* b) { return a->data < b->data; });
  for (size_t i = 1; i < by_start.size(); ++i) {
    const StoredTensor& previous = *by_start[i - 1];
    Check(by_start[i]->data >= previous.data + previous.num_bytes, path, ": tensors '",
          previous.name, "' and '", by_start[i]->name, "' overlap in the data section");
  }
}

// Converts to float32 from a span that may be unaligned: a span starts wherever the header ends,
// and loading 16-bit elements through a misaligned uint16_t* is undefined behaviour, so such
// spans are staged through an aligned buffer a chunk at a time.
void ConvertStoredToF32(const std::byte* src, DType dtype, float* dst, size_t count) {
  if (count == 0) return;
  const size_t element_size = DTypeSize(dtype);
  if (reinterpret_cast<uintptr_t>(src) % element_size == 0) {
    ConvertToF32(src, dtype, dst, count);
    return;
  }
  constexpr size_t kChunk = 4096;
  alignas(float) std::byte staging[kChunk * sizeof(float)];
  for (size_t done = 0; done < count; done += kChunk) {
    const size_t n = std::min(kChunk, count - done);
    std::memcpy(staging, src + done * element_size, n * element_size);
    ConvertToF32(staging, dtype, dst + done, n);
  }
}

bool FileExists(const fs::path& path) {
  std::error_code error;  // an unreadable directory counts as absent; Open then names the path
  return fs::exists(path, error);
}

// Opens every shard named by the index once, checking that each indexed tensor is in its shard.
std::vector<std::unique_ptr<SafetensorsFile>> OpenShards(const fs::path& directory,
                                                         const std::string& index_path) {
  const JsonFile index = JsonFile::Load(index_path);
  // Tensor names contain dots, so the weight map is walked as raw JSON, not by dotted paths.
  const auto weight_map = index.Get<json>("weight_map");
  Check(weight_map.is_object(), index_path, ": field 'weight_map' should be an object, got ",
        weight_map.type_name());
  std::map<std::string, std::unique_ptr<SafetensorsFile>> shards;
  for (const auto& [name, shard_node] : weight_map.items()) {
    Check(shard_node.is_string(), index_path, ": weight_map entry for tensor '", name,
          "' should be a shard file name, got ", shard_node.type_name());
    const auto shard_name = shard_node.get<std::string>();
    auto& shard = shards[shard_name];
    if (shard == nullptr) {
      const fs::path shard_path = directory / shard_name;
      Check(FileExists(shard_path), index_path, ": shard '", shard_name, "' (holding tensor '",
            name, "') does not exist: ", shard_path.string());
      shard = SafetensorsFile::Open(shard_path.string());
    }
    Check(shard->tensors().contains(name), index_path, ": tensor '", name,
          "' is not in its shard '", shard_name, "'");
  }
  std::vector<std::unique_ptr<SafetensorsFile>> files;
  for (auto& [shard_name, shard] : shards) files.push_back(std::move(shard));
  return files;
}

}  // namespace

TensorView StoredTensor::view() const {
  Check(is_float, file, ": tensor '", name, "' has dtype ", dtype_name, ", not F32, F16 or BF16");
  return TensorView(static_cast<const void*>(data), dtype, shape);
}

std::unique_ptr<SafetensorsFile> SafetensorsFile::Open(const std::string& path) {
  auto mapping = MappedFile::Open(path);
  auto file = Parse({mapping->data(), mapping->size()}, path);
  file->mapping_ = std::move(mapping);
  return file;
}

std::unique_ptr<SafetensorsFile> SafetensorsFile::Parse(std::span<const std::byte> contents,
                                                        const std::string& path) {
  std::unique_ptr<SafetensorsFile> file(new SafetensorsFile());
  file->path_ = path;
  const std::byte* bytes = contents.data();
  const uint64_t size = contents.size();
  Check(size >= kHeaderLengthBytes, path, ": truncated: ", size,
        " bytes is too short for the 8-byte header length");
  const uint64_t header_length = ReadLittleEndianU64(bytes);
  Check(header_length <= size - kHeaderLengthBytes, path, ": header length ", header_length,
        " runs past the end of the file (", size, " bytes): truncated or not safetensors");
  const json header = ParseHeader(path, bytes + kHeaderLengthBytes, header_length);
  const std::byte* data_section = bytes + kHeaderLengthBytes + header_length;
  const uint64_t data_size = size - kHeaderLengthBytes - header_length;
  for (const auto& [name, entry] : header.items()) {
    if (name == "__metadata__") {
      file->metadata_ = ReadMetadata(path, entry);
    } else {
      file->tensors_.emplace(name, ReadTensor(path, name, entry, data_section, data_size));
    }
  }
  CheckNoOverlap(path, file->tensors_);
  return file;
}

SafetensorsFile::~SafetensorsFile() = default;

Checkpoint Checkpoint::Open(const std::string& directory) {
  Checkpoint checkpoint;
  checkpoint.directory_ = directory;
  const fs::path index_path = fs::path(directory) / kIndexFileName;
  const fs::path single_path = fs::path(directory) / kSingleFileName;
  if (FileExists(index_path)) {
    checkpoint.files_ = OpenShards(directory, index_path.string());
  } else if (FileExists(single_path)) {
    checkpoint.files_.push_back(SafetensorsFile::Open(single_path.string()));
  } else {
    Fail(directory, ": no checkpoint found (neither ", kIndexFileName, " nor ", kSingleFileName,
         " exists)");
  }
  for (const auto& file : checkpoint.files_) {
    for (const auto& [name, tensor] : file->tensors()) {
      const auto [it, inserted] = checkpoint.index_.emplace(name, &tensor);
      Check(inserted, directory, ": tensor '", name, "' is stored twice, in ", it->second->file,
            " and ", tensor.file);
    }
  }
  return checkpoint;
}

bool Checkpoint::Contains(const std::string& name) const { return index_.contains(name); }

const StoredTensor& Checkpoint::Get(const std::string& name) const {
  const auto it = index_.find(name);
  Check(it != index_.end(), directory_, ": tensor '", name, "' not found in checkpoint");
  return *it->second;
}

std::vector<const StoredTensor*> Checkpoint::All() const {
  std::vector<const StoredTensor*> tensors;
  tensors.reserve(index_.size());
  for (const auto& [name, tensor] : index_) tensors.push_back(tensor);
  return tensors;
}

Tensor Checkpoint::Load(const std::string& name, const Shape& expected_shape, DType dtype) const {
  const StoredTensor& stored = Get(name);
  Check(stored.is_float, stored.file, ": tensor '", name, "' has dtype ", stored.dtype_name,
        ", expected F32, F16 or BF16");
  Check(stored.shape == expected_shape, stored.file, ": tensor '", name, "' has shape ",
        ShapeToString(stored.shape), ", expected ", ShapeToString(expected_shape));
  Tensor tensor(dtype, stored.shape);
  // An empty tensor has no buffer: memcpy to its null data would be undefined even for 0 bytes.
  if (tensor.num_elements() == 0) return tensor;
  if (stored.dtype == dtype) {
    std::memcpy(tensor.view().raw(), stored.data, stored.num_bytes);
  } else if (dtype == DType::kF32) {
    ConvertStoredToF32(stored.data, stored.dtype, tensor.f32(), tensor.num_elements());
  } else {
    // Through float32 a chunk at a time, so that no full float32 copy is ever held.
    constexpr int64_t kChunk = 1 << 16;
    std::vector<float> staging(kChunk);
    auto* out = static_cast<std::byte*>(tensor.view().raw());
    const size_t element_size = DTypeSize(stored.dtype), out_size = DTypeSize(dtype);
    for (int64_t done = 0; done < tensor.num_elements(); done += kChunk) {
      const int64_t n = std::min(kChunk, tensor.num_elements() - done);
      ConvertStoredToF32(stored.data + done * element_size, stored.dtype, staging.data(), n);
      ConvertFromF32(staging.data(), dtype, out + done * out_size, n);
    }
  }
  // The copy is what the model keeps: the file's pages need not stay resident beside it (a model
  // loaded from a mapped checkpoint otherwise peaks at the weights' size twice).
  ReleaseMappedPages(stored.data, stored.num_bytes);
  return tensor;
}

}  // namespace lightvlm
