// A whole file mapped read-only into memory, unmapped when the object is destroyed.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

namespace lightvlm {

class MappedFile {
 public:
  // Fails naming the path and the system's reason when the file cannot be opened, is not a
  // regular file (a directory, or a FIFO, which is refused before it is opened: opening one
  // blocks until something writes to it), or cannot be mapped. An empty file is valid: size() is 0
  // and nothing is mapped.
  static std::unique_ptr<MappedFile> Open(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const std::string& path() const { return path_; }
  // Page-aligned start of the contents; nullptr when the file is empty.
  const std::byte* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  MappedFile() = default;
  std::string path_;
  const std::byte* data_ = nullptr;
  size_t size_ = 0;
};

// The whole contents of a regular file, read as MappedFile::Open does (with its errors).
std::string ReadFileText(const std::string& path);

// Lets the system drop the resident pages of [begin, begin + bytes), a range inside a read-only
// file mapping, from this process (only pages that lie wholly inside it). The contents stay
// readable: a later read faults them in again from the file. Used once a tensor has been copied
// out of a checkpoint, so that the file's pages do not stay resident beside the copy.
void ReleaseMappedPages(const std::byte* begin, size_t bytes);

}  // namespace lightvlm
