// What the host's runs share for timing phases and for printing numbers in reports.
#pragma once

#include <chrono>
#include <cmath>
#include <iomanip>
#include <sstream>
#include <string>

namespace secateurs::host {

using Clock = std::chrono::steady_clock;

inline double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// `value` with `digits` decimals; "-" for NaN, the mark of a figure that was not measured
// (an accuracy without its data set).
inline std::string fixed(double value, int digits) {
  if (std::isnan(value)) return "-";
  std::ostringstream out;
  out << std::fixed << std::setprecision(digits) << value;
  return out.str();
}

}  // namespace secateurs::host
