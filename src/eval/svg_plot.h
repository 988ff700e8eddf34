// A small line-plot writer: series of (x, y) points on a linear or logarithmic x axis, as SVG
// text with axes, ticks, grid lines, axis labels and a legend. No dependencies, so plots come out
// wherever the engine builds.
#pragma once

#include <string>
#include <vector>

namespace lightvlm {

struct PlotPoint {
  double x = 0;
  double y = 0;
};

struct PlotSeries {
  std::string name;  // shown in the legend
  // Any order: drawn sorted by x (ties keep their order); non-finite points are left out.
  std::vector<PlotPoint> points;
};

struct LinePlot {
  std::string title;
  std::string x_label;
  std::string y_label;
  bool log_x = false;  // a logarithmic x axis; then every x must be positive
  std::vector<PlotSeries> series;
  // Whether the y axis reaches down (or up) to 0; off, it spans the data, so that differences of
  // a few points between series near the top of the range stay visible.
  bool y_from_zero = true;
  // x values to mark with a dashed vertical line each (e.g. the budgets a sweep asked for), drawn
  // when they fall inside the x axis.
  std::vector<double> x_marks;
};

// The plot as an SVG document. Series are told apart by colour (and named in the legend);
// each point is marked, so a series of one point still shows.
std::string RenderLinePlot(const LinePlot& plot);

// Writes RenderLinePlot(plot) to `path`; fails naming the path when it cannot.
void WriteLinePlot(const LinePlot& plot, const std::string& path);

}  // namespace lightvlm
