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

}  // namespace

std::unique_ptr<MappedFile> MappedFile::Open(const std::string& path) {
  const FileDescriptor fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) FailWithErrno(path, "open");
  struct stat status;
  if (fstat(fd.get(), &status) != 0) FailWithErrno(path, "stat");
  Check(S_ISREG(status.st_mode), path, ": not a regular file");

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

void ReleaseMappedPages(const std::byte* begin, size_t bytes) {
  static const auto page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
  const auto start = reinterpret_cast<uintptr_t>(begin);
  const uintptr_t first = (start + page - 1) / page * page, last = (start + bytes) / page * page;
  // Advice only: a failure leaves the pages resident, which is what happens without it.
  if (first < last) madvise(reinterpret_cast<void*>(first), last - first, MADV_DONTNEED);
}

}  // namespace lightvlm
