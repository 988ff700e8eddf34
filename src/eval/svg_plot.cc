#include "eval/svg_plot.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <fstream>
#include <limits>
#include <sstream>

#include "base/error.h"

namespace lightvlm {
namespace {

// Canvas layout in SVG user units: the plot area, with room for tick labels on the left and
// below, the title above and the legend on the right.
constexpr double kWidth = 760, kHeight = 460;
constexpr double kLeft = 80, kRight = 580, kTop = 50, kBottom = 390;
// One colour per reducer (nine), and one to spare, before any repeats.
constexpr std::array<const char*, 10> kColours = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e",
                                                  "#9467bd", "#8c564b", "#e377c2", "#17becf",
                                                  "#7f7f7f", "#bcbd22"};

struct Axis {
  double low = 0, high = 1;
  bool log = false;
  std::vector<double> ticks;

  // Where `value` falls between 0 (low) and 1 (high).
  double Fraction(double value) const {
    return log ? (std::log(value) - std::log(low)) / (std::log(high) - std::log(low))
               : (value - low) / (high - low);
  }
};

// The smallest of 1, 2, 5 times a power of ten that is at least `raw`.
double NiceStep(double raw) {
  const double power = std::pow(10.0, std::floor(std::log10(raw)));
  for (double multiple : {1.0, 2.0, 5.0, 10.0}) {
    if (multiple * power >= raw * (1 - 1e-9)) return multiple * power;
  }
  return 10 * power;
}

// A linear axis from nice round values around [low, high], with about five ticks.
Axis LinearAxis(double low, double high) {
  if (high - low < 1e-12) {  // a single value: show it above 0, or centred
    const double pad = low != 0 ? std::abs(low) * 0.1 : 1.0;
    high += pad;
    if (low != 0) low -= pad;
  }
  const double step = NiceStep((high - low) / 5);
  Axis axis{std::floor(low / step + 1e-9) * step, std::ceil(high / step - 1e-9) * step, false, {}};
  for (double tick = axis.low; tick <= axis.high + step * 1e-6; tick += step) {
    axis.ticks.push_back(std::abs(tick) < step * 1e-9 ? 0.0 : tick);
  }
  return axis;
}

// A logarithmic axis a little wider than [low, high], ticked at 1, 2 and 5 times powers of ten.
Axis LogAxis(double low, double high) {
  Axis axis{low / 1.2, high * 1.2, true, {}};
  for (double power = std::pow(10.0, std::floor(std::log10(axis.low))); power <= axis.high;
       power *= 10) {
    for (double multiple : {1.0, 2.0, 5.0}) {
      const double tick = multiple * power;
      if (tick >= axis.low && tick <= axis.high) axis.ticks.push_back(tick);
    }
  }
  return axis;
}

std::string Number(double value) {
  std::ostringstream out;
  out.precision(3);
  out << value;
  return out.str();
}

std::string Escape(const std::string& text) {
  std::string escaped;
  for (char c : text) {
    switch (c) {
      case '&':
        escaped += "&amp;";
        break;
      case '<':
        escaped += "&lt;";
        break;
      case '>':
        escaped += "&gt;";
        break;
      case '"':
        escaped += "&quot;";
        break;
      default:
        escaped += c;
    }
  }
  return escaped;
}

std::vector<PlotPoint> DrawablePoints(const PlotSeries& series, bool log_x) {
  std::vector<PlotPoint> points;
  for (const PlotPoint& point : series.points) {
    if (!std::isfinite(point.x) || !std::isfinite(point.y)) continue;
    Check(!log_x || point.x > 0, "plot: series '", series.name, "' has x = ", point.x,
          " on a logarithmic axis");
    points.push_back(point);
  }
  std::stable_sort(points.begin(), points.end(),
                   [](const PlotPoint& a, const PlotPoint& b) { return a.x < b.x; });
  return points;
}

}  // namespace

std::string RenderLinePlot(const LinePlot& plot) {
  std::vector<std::vector<PlotPoint>> drawn;
  double x_low = std::numeric_limits<double>::infinity(), x_high = -x_low;
  double y_low = std::numeric_limits<double>::infinity(), y_high = -y_low;
  for (const PlotSeries& series : plot.series) {
    drawn.push_back(DrawablePoints(series, plot.log_x));
    for (const PlotPoint& point : drawn.back()) {
      x_low = std::min(x_low, point.x);
      x_high = std::max(x_high, point.x);
      y_low = std::min(y_low, point.y);
      y_high = std::max(y_high, point.y);
    }
  }
  if (!std::isfinite(x_low)) x_low = x_high = 1;  // nothing to draw: empty axes
  if (!std::isfinite(y_low)) y_low = y_high = 0;
  if (plot.y_from_zero) {
    y_low = std::min(y_low, 0.0);
    y_high = std::max(y_high, 0.0);
  }
  const Axis x_axis = plot.log_x ? LogAxis(x_low, x_high) : LinearAxis(x_low, x_high);
  const Axis y_axis = LinearAxis(y_low, y_high);
  const auto to_x = [&](double x) { return kLeft + x_axis.Fraction(x) * (kRight - kLeft); };
  const auto to_y = [&](double y) { return kBottom - y_axis.Fraction(y) * (kBottom - kTop); };

  std::ostringstream svg;
  svg.precision(6);
  svg << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << kWidth << "\" height=\"" << kHeight
      << "\" viewBox=\"0 0 " << kWidth << ' ' << kHeight
      << "\" font-family=\"sans-serif\" font-size=\"12\">\n"
      << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
      << "<text class=\"title\" x=\"" << (kLeft + kRight) / 2 << "\" y=\"28\" font-size=\"16\" "
      << "text-anchor=\"middle\">" << Escape(plot.title) << "</text>\n";
  for (double tick : x_axis.ticks) {
    const double x = to_x(tick);
    svg << "<line class=\"grid\" x1=\"" << x << "\" y1=\"" << kTop << "\" x2=\"" << x << "\" y2=\""
        << kBottom << "\" stroke=\"#e0e0e0\"/>\n"
        << "<text class=\"x-tick\" x=\"" << x << "\" y=\"" << kBottom + 18
        << "\" text-anchor=\"middle\">" << Number(tick) << "</text>\n";
  }
  for (double tick : y_axis.ticks) {
    const double y = to_y(tick);
    svg << "<line class=\"grid\" x1=\"" << kLeft << "\" y1=\"" << y << "\" x2=\"" << kRight
        << "\" y2=\"" << y << "\" stroke=\"#e0e0e0\"/>\n"
        << "<text class=\"y-tick\" x=\"" << kLeft - 8 << "\" y=\"" << y + 4
        << "\" text-anchor=\"end\">" << Number(tick) << "</text>\n";
  }
  for (double mark : plot.x_marks) {
    if (mark < x_axis.low || mark > x_axis.high) continue;
    const double x = to_x(mark);
    svg << "<line class=\"x-mark\" x1=\"" << x << "\" y1=\"" << kTop << "\" x2=\"" << x
        << "\" y2=\"" << kBottom << "\" stroke=\"#909090\" stroke-dasharray=\"4 3\"/>\n"
        << "<text class=\"x-mark\" x=\"" << x << "\" y=\"" << kTop - 4
        << "\" text-anchor=\"middle\" font-size=\"10\" fill=\"#606060\">" << Number(mark)
        << "</text>\n";
  }
  svg << "<rect class=\"frame\" x=\"" << kLeft << "\" y=\"" << kTop << "\" width=\""
      << kRight - kLeft << "\" height=\"" << kBottom - kTop
      << "\" fill=\"none\" stroke=\"black\"/>\n"
      << "<text class=\"x-label\" x=\"" << (kLeft + kRight) / 2 << "\" y=\"" << kBottom + 45
      << "\" text-anchor=\"middle\">" << Escape(plot.x_label) << "</text>\n"
      << "<text class=\"y-label\" transform=\"translate(22 " << (kTop + kBottom) / 2
      << ") rotate(-90)\" text-anchor=\"middle\">" << Escape(plot.y_label) << "</text>\n";
  for (size_t i = 0; i < drawn.size(); ++i) {
    const char* colour = kColours[i % kColours.size()];
    svg << "<g class=\"series\" stroke=\"" << colour << "\" fill=\"" << colour << "\">\n";
    if (drawn[i].size() > 1) {
      svg << "<polyline fill=\"none\" stroke-width=\"2\" points=\"";
      for (const PlotPoint& point : drawn[i]) svg << to_x(point.x) << ',' << to_y(point.y) << ' ';
      svg << "\"/>\n";
    }
    for (const PlotPoint& point : drawn[i]) {
      svg << "<circle cx=\"" << to_x(point.x) << "\" cy=\"" << to_y(point.y) << "\" r=\"3.5\"/>\n";
    }
    svg << "</g>\n";
    const double legend_y = kTop + 10 + 20 * static_cast<double>(i);
    svg << "<g class=\"legend\"><line x1=\"" << kRight + 20 << "\" y1=\"" << legend_y << "\" x2=\""
        << kRight + 44 << "\" y2=\"" << legend_y << "\" stroke=\"" << colour
        << "\" stroke-width=\"2\"/><text x=\"" << kRight + 50 << "\" y=\"" << legend_y + 4 << "\">"
        << Escape(plot.series[i].name) << "</text></g>\n";
  }
  svg << "</svg>\n";
  return svg.str();
}

void WriteLinePlot(const LinePlot& plot, const std::string& path) {
  const std::string svg = RenderLinePlot(plot);
  std::ofstream out(path, std::ios::binary);
  out << svg;
  Check(out.good(), path, ": cannot write the plot");
}

}  // namespace lightvlm
