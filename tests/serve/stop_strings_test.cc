#include "serve/stop_strings.h"

#include <gtest/gtest.h>

namespace lightvlm {
namespace {

TEST(StopStringFilterTest, CutsBeforeAStopStringSplitOverPieces) {
  StopStringFilter filter({"END", "\n\n"});
  EXPECT_EQ(filter.Push("The answer E"), "The answer ");  // "E" may begin "END"
  EXPECT_EQ(filter.Push("N"), "");
  EXPECT_EQ(filter.Push("D and more"), "");
  EXPECT_TRUE(filter.stopped());
  EXPECT_EQ(filter.Push("later"), "");
  EXPECT_EQ(filter.Finish(), "");
}

TEST(StopStringFilterTest, ReleasesHeldTextThatDidNotBecomeAStop) {
  StopStringFilter filter({"END"});
  EXPECT_EQ(filter.Push("EN"), "");
  EXPECT_EQ(filter.Push("Dx"), "");  // "END" completed
  StopStringFilter other({"END"});
  EXPECT_EQ(other.Push("EN"), "");
  EXPECT_EQ(other.Push("X"), "ENX");
  EXPECT_EQ(other.Push("E"), "");
  EXPECT_FALSE(other.stopped());
  EXPECT_EQ(other.Finish(), "E");
}

TEST(StopStringFilterTest, TheEarliestOfSeveralStopsWins) {
  StopStringFilter filter({"cd", "b"});
  EXPECT_EQ(filter.Push("abcd"), "a");
}

TEST(StopStringFilterTest, WithoutStopsEverythingPasses) {
  StopStringFilter filter({});
  EXPECT_EQ(filter.Push("anything"), "anything");
  EXPECT_EQ(filter.Finish(), "");
}

}  // namespace
}  // namespace lightvlm
