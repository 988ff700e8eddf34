#include "io/gguf_file.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <limits>
#include <string_view>

#include "base/error.h"
#include "io/mapped_file.h"

namespace lightvlm {
namespace {

static_assert(std::endian::native == std::endian::little,
              "GGUF numbers are read by copying little-endian bytes");

constexpr uint32_t kMagic = 0x46554747;  // "GGUF" read as a little-endian uint32
constexpr uint64_t kDefaultAlignment = 32;
constexpr uint32_t kMaxDims = 4;  // GGML_MAX_DIMS
constexpr char kAlignmentKey[] = "general.alignment";

// The smallest encoding of one item, to bound counts by the bytes left before allocating:
// a string is at least its 8-byte length, a key/value at least an empty key, a type and a byte,
// a tensor info at least an empty name, n_dims, type and offset.
constexpr uint64_t kMinStringBytes = 8;
constexpr uint64_t kMinKeyValueBytes = kMinStringBytes + 4 + 1;
constexpr uint64_t kMinTensorInfoBytes = kMinStringBytes + 4 + 4 + 8;

std::string_view ValueTypeName(GgufValueType type) {
  static constexpr std::string_view kNames[] = {"uint8",  "int8",    "uint16", "int16",  "uint32",
                                                "int32",  "float32", "bool",   "string", "array",
                                                "uint64", "int64",   "float64"};
  const auto index = static_cast<uint32_t>(type);
  return index < std::size(kNames) ? kNames[index] : "unknown";
}

// Size of a fixed-size value type; 0 for string and array.
uint64_t FixedSize(GgufValueType type) {
  switch (type) {
    case GgufValueType::kU8:
    case GgufValueType::kI8:
    case GgufValueType::kBool:
      return 1;
    case GgufValueType::kU16:
    case GgufValueType::kI16:
      return 2;
    case GgufValueType::kU32:
    case GgufValueType::kI32:
    case GgufValueType::kF32:
      return 4;
    case GgufValueType::kU64:
    case GgufValueType::kI64:
    case GgufValueType::kF64:
      return 8;
    default:
      return 0;
  }
}

// A cursor over the mapped file; every read is bounds-checked and every failure names the file,
// what was being read and the byte position.
class ByteReader {
 public:
  ByteReader(const std::string& path, const std::byte* data, uint64_t size)
      : path_(path), data_(data), size_(size) {}

  uint64_t position() const { return position_; }
  uint64_t remaining() const { return size_ - position_; }

  template <class T>
  T Read(const std::string& what) {
    Need(sizeof(T), what);
    T value;
    std::memcpy(&value, data_ + position_, sizeof(T));
    position_ += sizeof(T);
    return value;
  }

  std::string ReadString(const std::string& what) {
    const uint64_t length = Read<uint64_t>(what);
    Check(length <= remaining(), path_, ": ", what, " is a string of ", length, " bytes at byte ",
          position_, ", past the end of the file (", size_, " bytes): truncated or corrupt");
    std::string text(reinterpret_cast<const char*>(data_ + position_), length);
    position_ += length;
    return text;
  }

  // Fails unless `count` items of at least `min_bytes` each can fit in what is left.
  void CheckCount(uint64_t count, uint64_t min_bytes, const std::string& what) const {
    Check(count <= remaining() / min_bytes, path_, ": ", what, " is ", count, ", more than the ",
          remaining(), " bytes left in the file at byte ", position_,
          " could hold (truncated or corrupt)");
  }

 private:
  void Need(uint64_t bytes, const std::string& what) const {
    Check(bytes <= remaining(), path_, ": ", what, " at byte ", position_,
          " runs past the end of the file (", size_, " bytes): truncated or corrupt");
  }

  const std::string& path_;
  const std::byte* data_;
  uint64_t size_;
  uint64_t position_ = 0;
};

class MetadataReader {
 public:
  MetadataReader(const std::string& path, ByteReader& reader) : path_(path), reader_(reader) {}

  GgufValue ReadValue(GgufValueType type, const std::string& key) {
    const std::string what = StrCat("metadata '", key, "'");
    if (type != GgufValueType::kArray) return ReadScalar(type, what);
    GgufValue value{type, GgufValueType::kU8, {}};
    ReadArray(what, value);
    return value;
  }

 private:
  // A value that is not an array; `what` names it for errors.
  GgufValue ReadScalar(GgufValueType type, const std::string& what) {
    GgufValue value{type, GgufValueType::kU8, {}};
    switch (type) {
      case GgufValueType::kU8:
        value.value = uint64_t{reader_.Read<uint8_t>(what)};
        break;
      case GgufValueType::kU16:
        value.value = uint64_t{reader_.Read<uint16_t>(what)};
        break;
      case GgufValueType::kU32:
        value.value = uint64_t{reader_.Read<uint32_t>(what)};
        break;
      case GgufValueType::kU64:
        value.value = reader_.Read<uint64_t>(what);
        break;
      case GgufValueType::kI8:
        value.value = int64_t{reader_.Read<int8_t>(what)};
        break;
      case GgufValueType::kI16:
        value.value = int64_t{reader_.Read<int16_t>(what)};
        break;
      case GgufValueType::kI32:
        value.value = int64_t{reader_.Read<int32_t>(what)};
        break;
      case GgufValueType::kI64:
        value.value = reader_.Read<int64_t>(what);
        break;
      case GgufValueType::kF32:
        value.value = double{reader_.Read<float>(what)};
        break;
      case GgufValueType::kF64:
        value.value = reader_.Read<double>(what);
        break;
      case GgufValueType::kBool:
        value.value = ReadBool(what);
        break;
      case GgufValueType::kString:
        value.value = reader_.ReadString(what);
        break;
      default:
        Fail(path_, ": ", what, " has unknown value type ", static_cast<uint32_t>(type));
    }
    return value;
  }

  bool ReadBool(const std::string& what) {
    const uint8_t byte = reader_.Read<uint8_t>(what);
    Check(byte <= 1, path_, ": ", what, " is a bool of value ", int{byte}, ", not 0 or 1");
    return byte == 1;
  }

  void ReadArray(const std::string& what, GgufValue& value) {
    value.element_type = static_cast<GgufValueType>(reader_.Read<uint32_t>(what + " element type"));
    const uint64_t count = reader_.Read<uint64_t>(what + " element count");
    const GgufValueType element = value.element_type;
    if (element == GgufValueType::kString) {
      reader_.CheckCount(count, kMinStringBytes, what + " element count");
      std::vector<std::string> strings;
      strings.reserve(count);
      for (uint64_t i = 0; i < count; ++i) strings.push_back(reader_.ReadString(what));
      value.value = std::move(strings);
      return;
    }
    Check(element != GgufValueType::kArray, path_, ": ", what,
          " is an array of arrays, which is not supported");
    const uint64_t element_size = FixedSize(element);
    Check(element_size > 0, path_, ": ", what, " has unknown element type ",
          static_cast<uint32_t>(element));
    reader_.CheckCount(count, element_size, what + " element count");
    if (element == GgufValueType::kF32 || element == GgufValueType::kF64) {
      std::vector<double> floats;
      floats.reserve(count);
      for (uint64_t i = 0; i < count; ++i)
        floats.push_back(std::get<double>(ReadScalar(element, what).value));
      value.value = std::move(floats);
      return;
    }
    std::vector<int64_t> integers;
    integers.reserve(count);
    for (uint64_t i = 0; i < count; ++i)
      integers.push_back(IntegerOf(ReadScalar(element, what), what));
    value.value = std::move(integers);
  }

  int64_t IntegerOf(const GgufValue& v, const std::string& what) const {
    if (const auto* b = std::get_if<bool>(&v.value)) return *b ? 1 : 0;
    if (const auto* s = std::get_if<int64_t>(&v.value)) return *s;
    const uint64_t u = std::get<uint64_t>(v.value);
    Check(u <= uint64_t{std::numeric_limits<int64_t>::max()}, path_, ": ", what, " has an element ",
          u, " too large for int64");
    return static_cast<int64_t>(u);
  }

  const std::string& path_;
  ByteReader& reader_;
};

uint64_t AlignUp(uint64_t position, uint64_t alignment) {
  return (position + alignment - 1) / alignment * alignment;
}

// General.alignment, checked: a uint32 power of two, as the specification requires.
uint64_t ReadAlignment(const std::string& path, const std::map<std::string, GgufValue>& metadata) {
  const auto it = metadata.find(kAlignmentKey);
  if (it == metadata.end()) return kDefaultAlignment;
  Check(it->second.type == GgufValueType::kU32, path, ": ", kAlignmentKey,
        " should be uint32, got ", ValueTypeName(it->second.type));
  const uint64_t alignment = std::get<uint64_t>(it->second.value);
  Check(alignment > 0 && std::has_single_bit(alignment), path, ": ", kAlignmentKey, " is ",
        alignment, ", not a power of two");
  return alignment;
}

// Reads one tensor info and checks everything that does not need the data section.
GgufTensorInfo ReadTensorInfo(const std::string& path, ByteReader& reader, uint64_t index) {
  GgufTensorInfo info;
  info.name = reader.ReadString(StrCat("tensor info ", index, " name"));
  const std::string where = StrCat(path, ": tensor '", info.name, "'");
  Check(!info.name.empty(), path, ": tensor info ", index, " has an empty name");
  const uint32_t n_dims = reader.Read<uint32_t>(StrCat("tensor '", info.name, "' n_dims"));
  Check(n_dims <= kMaxDims, where, " has ", n_dims, " dimensions, more than ", kMaxDims);
  uint64_t count = 1;
  for (uint32_t d = 0; d < n_dims; ++d) {
    const uint64_t extent = reader.Read<uint64_t>(StrCat("tensor '", info.name, "' dimension"));
    Check(extent <= uint64_t{std::numeric_limits<int64_t>::max()}, where, " has dimension ", d,
          " of ", extent, ", too large");
    // Compared by division: the product of corrupt extents could overflow.
    Check(extent == 0 || count <= uint64_t{std::numeric_limits<int64_t>::max()} / extent, where,
          " has too many elements (dimension ", d, " is ", extent, ")");
    count *= extent;
    info.dims.push_back(static_cast<int64_t>(extent));
  }
  info.shape.assign(info.dims.rbegin(), info.dims.rend());
  info.num_elements = static_cast<int64_t>(count);
  const uint32_t type_id = reader.Read<uint32_t>(StrCat("tensor '", info.name, "' type"));
  const GgufTypeInfo* type = FindGgufType(type_id);
  Check(type != nullptr, where, " has unknown type id ", type_id);
  info.type = type->type;
  const int64_t row = info.dims.empty() ? 1 : info.dims[0];
  Check(row % type->block_size == 0, where, " has rows of ", row, " elements, not a multiple of ",
        type->name, "'s block of ", type->block_size);
  const uint64_t blocks = count / type->block_size;
  Check(blocks <= std::numeric_limits<uint64_t>::max() / type->block_bytes, where,
        " has too many bytes (", count, " elements of ", type->name, ")");
  info.num_bytes = blocks * type->block_bytes;
  info.offset = reader.Read<uint64_t>(StrCat("tensor '", info.name, "' offset"));
  return info;
}

void CheckNoOverlap(const std::string& path, const std::vector<GgufTensorInfo>& tensors) {
  std::vector<const GgufTensorInfo*> by_offset;
  for (const GgufTensorInfo& tensor : tensors) {
    if (tensor.num_bytes > 0) by_offset.push_back(&tensor);  // empty spans overlap nothing
  }
  std::sort(by_offset.begin(), by_offset.end(),
            [](const auto* a, const auto* b) { return a->offset < b->offset; });
  for (size_t i = 1; i < by_offset.size(); ++i) {
    const GgufTensorInfo& previous = *by_offset[i - 1];
    Check(by_offset[i]->offset >= previous.offset + previous.num_bytes, path, ": tensors '",
          previous.name, "' and '", by_offset[i]->name, "' overlap in the data section");
  }
}

}  // namespace

std::unique_ptr<GgufFile> GgufFile::Open(const std::string& path) {
  std::unique_ptr<MappedFile> mapping = MappedFile::Open(path);
  std::unique_ptr<GgufFile> file = Parse(std::span(mapping->data(), mapping->size()), path);
  file->mapping_ = std::move(mapping);
  return file;
}

std::unique_ptr<GgufFile> GgufFile::Parse(std::span<const std::byte> contents,
                                          const std::string& path) {
  std::unique_ptr<GgufFile> file(new GgufFile());
  file->path_ = path;
  const uint64_t size = contents.size();
  ByteReader reader(path, contents.data(), size);
  const uint32_t magic = reader.Read<uint32_t>("magic");
  Check(magic == kMagic, path, ": not a GGUF file (the first 4 bytes are not \"GGUF\")");
  const uint32_t version = reader.Read<uint32_t>("version");
  Check(version == 2 || version == 3, path, ": GGUF version ", version,
        (version == 0x02000000 || version == 0x03000000 ? " (a big-endian file)" : ""),
        " is not supported; only little-endian versions 2 and 3 are");
  file->version_ = version;
  const uint64_t tensor_count = reader.Read<uint64_t>("tensor count");
  const uint64_t kv_count = reader.Read<uint64_t>("metadata count");
  reader.CheckCount(kv_count, kMinKeyValueBytes, "the metadata count");
  MetadataReader metadata_reader(path, reader);
  for (uint64_t i = 0; i < kv_count; ++i) {
    std::string key = reader.ReadString(StrCat("metadata key ", i));
    const auto type =
        static_cast<GgufValueType>(reader.Read<uint32_t>(StrCat("metadata '", key, "' type")));
    GgufValue value = metadata_reader.ReadValue(type, key);
    Check(!file->metadata_.contains(key), path, ": metadata key '", key, "' appears twice");
    file->metadata_.emplace(std::move(key), std::move(value));
  }
  file->alignment_ = ReadAlignment(path, file->metadata_);
  reader.CheckCount(tensor_count, kMinTensorInfoBytes, "the tensor count");
  file->tensors_.reserve(tensor_count);
  for (uint64_t i = 0; i < tensor_count; ++i) {
    GgufTensorInfo info = ReadTensorInfo(path, reader, i);
    const auto [it, inserted] = file->tensor_index_.emplace(info.name, i);
    Check(inserted, path, ": tensor '", info.name, "' appears twice");
    file->tensors_.push_back(std::move(info));
  }
  const uint64_t data_start = AlignUp(reader.position(), file->alignment_);
  const uint64_t data_size = data_start <= size ? size - data_start : 0;
  for (GgufTensorInfo& tensor : file->tensors_) {
    const std::string where = StrCat(path, ": tensor '", tensor.name, "'");
    Check(tensor.offset % file->alignment_ == 0, where, " has offset ", tensor.offset,
          ", not a multiple of the alignment ", file->alignment_);
    Check(tensor.offset <= data_size && tensor.num_bytes <= data_size - tensor.offset, where,
          " needs ", tensor.num_bytes, " bytes at offset ", tensor.offset,
          " of the data section, past its end at ", data_size, " (file truncated?)");
    tensor.data = contents.data() + data_start + tensor.offset;
  }
  CheckNoOverlap(path, file->tensors_);
  return file;
}

GgufFile::~GgufFile() = default;

const GgufValue& GgufFile::Get(const std::string& key) const {
  const auto it = metadata_.find(key);
  Check(it != metadata_.end(), path_, ": metadata '", key, "' is missing");
  return it->second;
}

namespace {

template <class T>
const T& As(const std::string& path, const std::string& key, const GgufValue& value,
            std::string_view expected) {
  const T* found = std::get_if<T>(&value.value);
  if (found == nullptr) {
    const bool array = value.type == GgufValueType::kArray;
    Fail(path, ": metadata '", key, "' should be ", expected, ", got ", array ? "an array of " : "",
         ValueTypeName(array ? value.element_type : value.type));
  }
  return *found;
}

}  // namespace

const std::string& GgufFile::String(const std::string& key) const {
  return As<std::string>(path_, key, Get(key), "a string");
}

uint64_t GgufFile::Unsigned(const std::string& key) const {
  const GgufValue& value = Get(key);
  if (const auto* s = std::get_if<int64_t>(&value.value)) {
    Check(*s >= 0, path_, ": metadata '", key, "' is ", *s, ", expected a count >= 0");
    return static_cast<uint64_t>(*s);
  }
  return As<uint64_t>(path_, key, value, "an integer");
}

int64_t GgufFile::Signed(const std::string& key) const {
  const GgufValue& value = Get(key);
  if (const auto* u = std::get_if<uint64_t>(&value.value)) {
    Check(*u <= uint64_t{std::numeric_limits<int64_t>::max()}, path_, ": metadata '", key, "' is ",
          *u, ", too large for int64");
    return static_cast<int64_t>(*u);
  }
  return As<int64_t>(path_, key, value, "an integer");
}

double GgufFile::Float(const std::string& key) const {
  return As<double>(path_, key, Get(key), "a float");
}

bool GgufFile::Bool(const std::string& key) const {
  return As<bool>(path_, key, Get(key), "a bool");
}

const std::vector<std::string>& GgufFile::Strings(const std::string& key) const {
  return As<std::vector<std::string>>(path_, key, Get(key), "an array of strings");
}

const std::vector<int64_t>& GgufFile::Integers(const std::string& key) const {
  return As<std::vector<int64_t>>(path_, key, Get(key), "an array of integers");
}

const std::vector<double>& GgufFile::Floats(const std::string& key) const {
  return As<std::vector<double>>(path_, key, Get(key), "an array of floats");
}

const GgufTensorInfo& GgufFile::TensorInfo(const std::string& name) const {
  const auto it = tensor_index_.find(name);
  Check(it != tensor_index_.end(), path_, ": tensor '", name, "' not found");
  return tensors_[it->second];
}

Tensor GgufFile::LoadF32(const std::string& name, const Shape& expected_shape) const {
  const GgufTensorInfo& info = TensorInfo(name);
  Check(info.shape == expected_shape, path_, ": tensor '", name, "' has shape ",
        ShapeToString(info.shape), ", expected ", ShapeToString(expected_shape));
  const GgufTypeInfo& type = GgufTypeOf(info.type);
  Check(type.dequantizable, path_, ": tensor '", name, "' has type ", type.name,
        ", which cannot be dequantized");
  Tensor tensor(DType::kF32, info.shape);
  DequantizeGguf(info.type, info.data, tensor.f32(), info.num_elements);
  // The float32 copy is what the caller keeps: the file's pages need not stay resident beside it.
  ReleaseMappedPages(info.data, info.num_bytes);
  return tensor;
}

}  // namespace lightvlm
