// The progress bar draws on a terminal and stays silent elsewhere.
#include "base/progress.h"

#include <fcntl.h>
#include <pty.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <sstream>

namespace lightvlm {
namespace {

TEST(ProgressTest, DrawsEachStepAndErasesItselfAtTheEnd) {
  std::ostringstream out;
  {
    Progress progress("eval", 4, out, /*draw=*/true);
    progress.Advance();
    progress.Advance(2);
  }
  const std::string text = out.str();
  EXPECT_NE(text.find("\reval [..............................] 0/4"), std::string::npos) << text;
  EXPECT_NE(text.find("\reval [#######.......................] 1/4"), std::string::npos) << text;
  EXPECT_NE(text.find("\reval [######################........] 3/4"), std::string::npos) << text;
  EXPECT_TRUE(text.ends_with("\r\033[K")) << text;
}

TEST(ProgressTest, NeverPassesItsTotal) {
  std::ostringstream out;
  Progress progress("load", 2, out, /*draw=*/true);
  progress.Advance(5);
  EXPECT_NE(out.str().find("] 2/2"), std::string::npos) << out.str();
  EXPECT_EQ(out.str().find("5/2"), std::string::npos) << out.str();
}

TEST(ProgressTest, SilentWhenNotDrawing) {
  std::ostringstream out;
  {
    Progress progress("eval", 4, out, /*draw=*/false);
    progress.Advance(4);
  }
  EXPECT_EQ(out.str(), "");
}

// Only a terminal on both stdout and stderr gets a bar: a pipe or a file on either is silent.
TEST(ProgressTest, DrawsOnlyWhenStdoutAndStderrAreTerminals) {
  int controller = -1, terminal = -1;
  ASSERT_EQ(openpty(&controller, &terminal, nullptr, nullptr, nullptr), 0);
  int pipe_fds[2];
  ASSERT_EQ(pipe(pipe_fds), 0);
  const int file = open("/dev/null", O_WRONLY);
  ASSERT_GE(file, 0);
  EXPECT_TRUE(BothTerminals(terminal, terminal));
  EXPECT_FALSE(BothTerminals(pipe_fds[1], terminal));
  EXPECT_FALSE(BothTerminals(terminal, pipe_fds[1]));
  EXPECT_FALSE(BothTerminals(file, terminal));
  for (int fd : {controller, terminal, pipe_fds[0], pipe_fds[1], file}) close(fd);
}

}  // namespace
}  // namespace lightvlm
