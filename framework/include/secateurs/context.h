// What a component may ask of the host while it works: its seed, logging, progress.
//
// The host owns the Context and passes it by reference into every call; a component
// must not keep it beyond the call. One Context serves one thread.
#pragma once

#include <cstdint>
#include <string_view>

#include "secateurs/export.h"

namespace secateurs {

enum class LogLevel { Debug, Info, Warning, Error };

class SECATEURS_API Context {
 public:
  virtual ~Context();

  // The seed for this call, derived by the host from the campaign seed and the node's
  // key, so that results do not depend on thread count or execution order. Seed every
  // random source from it (torch::Generator, std::mt19937_64, ...).
  virtual std::uint64_t seed() const = 0;

  virtual void log(LogLevel level, std::string_view message) = 0;

  // Reports that `done` of `total` units of long work are finished.
  virtual void progress(std::int64_t done, std::int64_t total) = 0;
};

}  // namespace secateurs
