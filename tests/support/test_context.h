// A Context for tests: a fixed seed, logging and progress ignored.
#pragma once

#include "secateurs/context.h"

namespace secateurs::testing {

class TestContext final : public Context {
 public:
  explicit TestContext(std::uint64_t seed = 7) : seed_(seed) {}
  std::uint64_t seed() const override { return seed_; }
  void log(LogLevel, std::string_view) override {}
  void progress(std::int64_t, std::int64_t) override {}

 private:
  std::uint64_t seed_;
};

}  // namespace secateurs::testing
