#include "eval/svg_plot.h"

#include <gtest/gtest.h>

#include <sstream>

#include "base/error.h"
#include "support/test_files.h"

namespace lightvlm {
namespace {

int Count(const std::string& text, const std::string& part) {
  int count = 0;
  for (size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) ++count;
  return count;
}

// The texts of the <text class="..."> elements of `svg` with that class, in order. Plain string
// search, not <regex>: with -fsanitize=address,undefined, GCC 12 warns falsely inside <regex>
// (maybe-uninitialized in its std::function), which -Werror turns into a failed build.
std::vector<std::string> Texts(const std::string& svg, const std::string& css_class) {
  const std::string open = "<text class=\"" + css_class + "\"";
  std::vector<std::string> texts;
  for (size_t at = svg.find(open); at != std::string::npos; at = svg.find(open, at + 1)) {
    const size_t begin = svg.find('>', at) + 1;
    const size_t end = svg.find('<', begin);
    EXPECT_EQ(svg.compare(end, 7, "</text>"), 0) << "a <text> element holds markup";
    texts.push_back(svg.substr(begin, end - begin));
  }
  return texts;
}

// The value of the points="..." attribute of the first <polyline> of `svg`, or "" if none.
std::string FirstPolylinePoints(const std::string& svg) {
  const size_t polyline = svg.find("<polyline");
  if (polyline == std::string::npos) return "";
  const size_t close = svg.find('>', polyline);
  const std::string attribute = " points=\"";
  const size_t begin = svg.find(attribute, polyline);
  if (begin == std::string::npos || begin > close) return "";
  const size_t value = begin + attribute.size();
  return svg.substr(value, svg.find('"', value) - value);
}

LinePlot AccuracyPlot() {
  return {"Accuracy & budget",
          "image-token share",
          "accuracy",
          /*log_x=*/true,
          {{"lightvlm", {{1.0, 0.9}, {0.03, 0.5}, {0.35, 0.85}}}, {"none", {{1.0, 0.9}}}},
          /*y_from_zero=*/true,
          /*x_marks=*/{}};
}

TEST(SvgPlotTest, HasAxesTicksLabelsAndLegend) {
  const std::string svg = RenderLinePlot(AccuracyPlot());
  EXPECT_EQ(svg.rfind("<svg xmlns=\"http://www.w3.org/2000/svg\"", 0), 0u);
  EXPECT_NE(svg.find("</svg>"), std::string::npos);
  EXPECT_EQ(Texts(svg, "title"), std::vector<std::string>{"Accuracy &amp; budget"});
  EXPECT_EQ(Texts(svg, "x-label"), std::vector<std::string>{"image-token share"});
  EXPECT_EQ(Texts(svg, "y-label"), std::vector<std::string>{"accuracy"});
  EXPECT_NE(svg.find("rotate(-90)"), std::string::npos);  // the y label runs upwards
  // Log ticks at 1, 2 and 5 times powers of ten within [0.03 / 1.2, 1 * 1.2].
  EXPECT_EQ(Texts(svg, "x-tick"), (std::vector<std::string>{"0.05", "0.1", "0.2", "0.5", "1"}));
  EXPECT_EQ(Texts(svg, "y-tick"), (std::vector<std::string>{"0", "0.2", "0.4", "0.6", "0.8", "1"}));
  EXPECT_EQ(Count(svg, "<g class=\"series\""), 2);
  EXPECT_EQ(Count(svg, "<polyline"), 1);  // a series of one point is only marked
  EXPECT_EQ(Count(svg, "<circle"), 4);
  EXPECT_EQ(Count(svg, "<g class=\"legend\""), 2);
  EXPECT_NE(svg.find(">lightvlm</text>"), std::string::npos);
  EXPECT_NE(svg.find(">none</text>"), std::string::npos);
}

TEST(SvgPlotTest, PointsAreDrawnInOrderOfX) {
  const std::string svg = RenderLinePlot(AccuracyPlot());
  const std::string polyline_points = FirstPolylinePoints(svg);
  ASSERT_FALSE(polyline_points.empty());
  std::istringstream points(polyline_points);
  double previous_x = -1;
  int count = 0;
  for (std::string point; points >> point; ++count) {
    const double x = std::stod(point.substr(0, point.find(',')));
    EXPECT_GT(x, previous_x);
    previous_x = x;
  }
  EXPECT_EQ(count, 3);
}

TEST(SvgPlotTest, LinearAxisAndSkippedPoints) {
  const LinePlot plot{"Prefill",
                      "keep",
                      "ms",
                      /*log_x=*/false,
                      {{"a", {{0.0, 12.0}, {0.5, std::nan("")}, {1.0, 37.0}}}},
                      /*y_from_zero=*/true,
                      /*x_marks=*/{}};
  const std::string svg = RenderLinePlot(plot);
  EXPECT_EQ(Texts(svg, "x-tick"), (std::vector<std::string>{"0", "0.2", "0.4", "0.6", "0.8", "1"}));
  EXPECT_EQ(Texts(svg, "y-tick"), (std::vector<std::string>{"0", "10", "20", "30", "40"}));
  EXPECT_EQ(Count(svg, "<circle"), 2);  // the NaN point is left out
}

TEST(SvgPlotTest, AxisSpansTheDataAndMarksBudgets) {
  LinePlot plot = AccuracyPlot();
  plot.y_from_zero = false;
  plot.x_marks = {1.0, 0.35, 0.03, 5.0};  // 5 lies outside the x axis: not drawn
  const std::string svg = RenderLinePlot(plot);
  // Accuracies 0.5 to 0.9: the axis starts at 0.5, not 0, so gaps of a few points stay visible.
  EXPECT_EQ(Texts(svg, "y-tick"), (std::vector<std::string>{"0.5", "0.6", "0.7", "0.8", "0.9"}));
  EXPECT_EQ(Texts(svg, "x-mark"), (std::vector<std::string>{"1", "0.35", "0.03"}));
  EXPECT_EQ(Count(svg, "<line class=\"x-mark\""), 3);
}

TEST(SvgPlotTest, LogAxisRefusesNonPositiveX) {
  LinePlot plot = AccuracyPlot();
  plot.series[0].points.push_back({0.0, 0.1});
  EXPECT_THROW(RenderLinePlot(plot), Error);
}

TEST(SvgPlotTest, WritesTheFile) {
  const auto dir = testing::FreshTempDir();
  WriteLinePlot(AccuracyPlot(), (dir / "plot.svg").string());
  EXPECT_EQ(testing::ReadFile(dir / "plot.svg"), RenderLinePlot(AccuracyPlot()));
  EXPECT_THROW(WriteLinePlot(AccuracyPlot(), (dir / "missing" / "plot.svg").string()), Error);
}

}  // namespace
}  // namespace lightvlm
