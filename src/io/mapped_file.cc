#include "io/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

#include "base/error.h"

namespace lightvlm {
namespace {

// Closes the descriptor on every path out of Open; the mapping outlives it.
class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  ~FileDescriptor() {
    if (fd_ >= 0) close(fd_);
  }
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

[[noreturn]] void FailWithErrno(const std::string& path, const char* action) {
  Fail(path, ": cannot ", action, ": ", std::strerror(errno));
}

// Fails unless `status` is a regular file's, saying what it is instead.
void CheckRegularFile(const std::string& path, const struct stat& status) {
  Check(!S_ISDIR(status.st_mode), path, ": is a directory, not a file");
  Check(S_ISREG(status.st_mode), path, ": not a regular file (a FIFO, socket or device)");
}

}  // namespace

std::unique_ptr<MappedFile> MappedFile::Open(const std::string& path) {
  // Checked before opening: opening a FIFO for reading blocks until a writer comes, forever.
  struct stat status;
  if (stat(path.c_str(), &status) != 0) FailWithErrno(path, "open");
  CheckRegularFile(path, status);
  // O_NONBLOCK: should the path become a FIFO between stat and open, open does not block either.
  const FileDescriptor fd(open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  if (fd.get() < 0) FailWithErrno(path, "open");
  if (fstat(fd.get(), &status) != 0) FailWithErrno(path, "stat");
  CheckRegularFile(path, status);

  std::unique_ptr<MappedFile> file(new MappedFile());
  file->path_ = path;
  file->size_ = static_cast<size_t>(status.st_size);
  // mmap rejects a zero length, and an empty file has nothing to map.
  if (file->size_ == 0) return file;
  void* address = mmap(nullptr, file->size_, PROT_READ, MAP_PRIVATE, fd.get(), 0);
  if (address == MAP_FAILED) FailWithErrno(path, "mmap");
  file->data_ = static_cast<const std::byte*>(address);
  return file;
}

MappedFile::~MappedFile() {
  if (data_ != nullptr) munmap(const_cast<std::byte*>(data_), size_);
}

std::string ReadFileText(const std::string& path) {
  const auto file = MappedFile::Open(path);
  const auto* text = reinterpret_cast<const char*>(file->data());
  return std::string(text, text + file->size());
}

void ReleaseMappedPages(const std::byte* begin, size_t bytes) {
  static const auto page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  const auto start = reinterpret_cast<uintptr_t>(begin);
  const uintptr_t first = (start + page - 1) / page * page, last = (start + bytes) / page * page;
  // Advice only: a failure leaves the pages resident, which is what happens without it.
  if (first < last) madvise(reinterpret_cast<void*>(first), last - first, MADV_DONTNEED);
}

}  // namespace lightvlm
