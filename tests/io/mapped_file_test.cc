#include "io/mapped_file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <string>

#include "base/error.h"
#include "support/test_files.h"

namespace lightvlm {
namespace {

std::string OpenError(const std::string& path) {
  return testing::ErrorOf([&] { MappedFile::Open(path); });
}

TEST(MappedFileTest, MapsContents) {
  const auto path = testing::FreshTempDir() / "bytes";
  testing::WriteFile(path, "hello");
  const auto file = MappedFile::Open(path.string());
  ASSERT_EQ(file->size(), 5u);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(file->data()), file->size()), "hello");
}

TEST(MappedFileTest, MapsEmptyFile) {
  const auto path = testing::FreshTempDir() / "empty";
  testing::WriteFile(path, "");
  EXPECT_EQ(MappedFile::Open(path.string())->size(), 0u);
}

TEST(MappedFileTest, NamesPathAndReason) {
  const auto dir = testing::FreshTempDir();
  EXPECT_EQ(OpenError((dir / "absent").string()),
            (dir / "absent").string() + ": cannot open: No such file or directory");
  EXPECT_EQ(OpenError(dir.string()), dir.string() + ": is a directory, not a file");
}

// Opening a FIFO for reading blocks until a writer comes: it must be refused before it is opened
// (were it opened, this test would hang rather than fail).
TEST(MappedFileTest, RefusesFifoWithoutBlocking) {
  const auto path = testing::FreshTempDir() / "tokenizer.json";
  ASSERT_EQ(mkfifo(path.c_str(), 0600), 0);
  EXPECT_EQ(OpenError(path.string()),
            path.string() + ": not a regular file (a FIFO, socket or device)");
}

TEST(MappedFileTest, ReadsTextWithTheSameChecks) {
  const auto dir = testing::FreshTempDir();
  testing::WriteFile(dir / "text", "abc");
  EXPECT_EQ(ReadFileText((dir / "text").string()), "abc");
  EXPECT_EQ(testing::ErrorOf([&] { ReadFileText(dir.string()); }),
            dir.string() + ": is a directory, not a file");
}

}  // namespace
}  // namespace lightvlm
