// The Context the host hands to components outside an experiment graph (the command
// line, tests): a fixed seed, log lines on stderr, no progress display.
#pragma once

#include "secateurs/context.h"

namespace secateurs::host {

class SECATEURS_API BasicContext final : public Context {
 public:
  explicit BasicContext(std::uint64_t seed, LogLevel threshold = LogLevel::Info)
      : seed_(seed), threshold_(threshold) {}

  std::uint64_t seed() const override { return seed_; }
  // Writes "[level] message" to stderr when level is at or above the threshold.
  void log(LogLevel level, std::string_view message) override;
  void progress(std::int64_t, std::int64_t) override {}

 private:
  std::uint64_t seed_;
  LogLevel threshold_;
};

}  // namespace secateurs::host
