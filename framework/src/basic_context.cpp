#include "host/basic_context.h"

#include <iostream>

namespace secateurs::host {

void BasicContext::log(LogLevel level, std::string_view message) {
  if (level < threshold_) return;
  static constexpr const char* kNames[] = {"debug", "info", "warning", "error"};
  std::cerr << "[" << kNames[static_cast<int>(level)] << "] " << message << "\n";
}

}  // namespace secateurs::host
