#include "engine/prompt.h"

#include <gtest/gtest.h>

#include <vector>

#include "base/error.h"
#include "support/test_files.h"

namespace lightvlm {
namespace {

constexpr int32_t kImage = 99;

// Images of the given row counts (embeddings are move-only, so no initializer list).
std::vector<ImageEmbeddings> ImagesOfRows(std::initializer_list<int64_t> row_counts) {
  std::vector<ImageEmbeddings> images;
  for (int64_t rows : row_counts) {
    ImageEmbeddings image;
    image.rows = Tensor(DType::kF32, {rows, 4});
    image.grids = {{1, rows}};
    images.push_back(std::move(image));
  }
  return images;
}

TEST(PromptTest, ExpandsASingleImageTokenToTheImageRows) {
  const std::vector<ImageEmbeddings> images = ImagesOfRows({3});
  const std::vector<int32_t> ids = {1, 5, kImage, 6};
  const Prompt prompt = AssemblePrompt(ids, images, kImage);
  EXPECT_EQ(prompt.token_ids, (std::vector<int32_t>{1, 5, kImage, kImage, kImage, 6}));
  ASSERT_EQ(prompt.images.size(), 1u);
  EXPECT_EQ(prompt.images[0].start, 2);
  EXPECT_EQ(prompt.images[0].embeddings, &images[0]);
}

TEST(PromptTest, AcceptsARunAlreadyExpandedByTheProcessor) {
  const std::vector<ImageEmbeddings> images = ImagesOfRows({3, 2});
  const std::vector<int32_t> ids = {1, kImage, kImage, kImage, 7, kImage, 8};
  const Prompt prompt = AssemblePrompt(ids, images, kImage);
  EXPECT_EQ(prompt.token_ids,
            (std::vector<int32_t>{1, kImage, kImage, kImage, 7, kImage, kImage, 8}));
  ASSERT_EQ(prompt.images.size(), 2u);
  EXPECT_EQ(prompt.images[0].start, 1);
  EXPECT_EQ(prompt.images[1].start, 5);
}

TEST(PromptTest, TextOnlyPromptsPassThrough) {
  const std::vector<int32_t> ids = {1, 2, 3};
  const Prompt prompt = AssemblePrompt(ids, {}, -1);
  EXPECT_EQ(prompt.token_ids, ids);
  EXPECT_TRUE(prompt.images.empty());
}

TEST(PromptTest, MismatchesAreClearErrors) {
  const std::vector<ImageEmbeddings> one = ImagesOfRows({3});
  const std::vector<int32_t> two_placeholders = {kImage, 4, kImage};
  EXPECT_THROW(AssemblePrompt(two_placeholders, one, kImage), Error);
  const std::vector<int32_t> none = {4, 5};
  EXPECT_THROW(AssemblePrompt(none, one, kImage), Error);
  const std::vector<int32_t> wrong_run = {kImage, kImage};
  const std::string error = testing::ErrorOf([&] { AssemblePrompt(wrong_run, one, kImage); });
  EXPECT_NE(error.find("run of 2 image tokens"), std::string::npos) << error;
}

// SmolVLM's processor writes markers between an image's sub-images: the image spans several
// runs of image tokens, each a whole number of its grids.
TEST(PromptTest, AnImageMaySpanSeveralRunsEachOfWholeGrids) {
  std::vector<ImageEmbeddings> images;
  ImageEmbeddings image;
  image.rows = Tensor(DType::kF32, {5, 4});
  image.grids = {{1, 2}, {1, 1}, {1, 2}};
  images.push_back(std::move(image));
  const std::vector<int32_t> ids = {1, kImage, kImage, 7, kImage, kImage, kImage, 8};
  const Prompt prompt = AssemblePrompt(ids, images, kImage);
  EXPECT_EQ(prompt.token_ids, ids);
  ASSERT_EQ(prompt.images.size(), 1u);
  EXPECT_EQ(prompt.images[0].start, 1);
  EXPECT_EQ(prompt.images[0].grid_starts, (std::vector<int64_t>{1, 4, 5}));
  EXPECT_EQ(prompt.images[0].end(), 7);

  const std::vector<int32_t> mid_grid = {kImage, kImage, kImage, kImage, 7, kImage};
  const std::string error = testing::ErrorOf([&] { AssemblePrompt(mid_grid, images, kImage); });
  EXPECT_NE(error.find("does not end on one of its grids"), std::string::npos) << error;
  const std::vector<int32_t> unfinished = {kImage, kImage, 7};
  EXPECT_THROW(AssemblePrompt(unfinished, images, kImage), Error);
}

}  // namespace
}  // namespace lightvlm
