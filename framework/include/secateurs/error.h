// The SDK's error types: the only exceptions that may cross between a plugin and the host.
//
// A plugin reports a problem by throwing one of these; the host catches anything else a
// plugin lets escape and rewraps it as PluginError naming the plugin. Messages are one
// sentence a user can act on: what went wrong, and where (file, line, key, component).
// All types are thread-safe to throw from worker threads and carry no references to
// plugin-owned memory (the message is copied).
#pragma once

#include <stdexcept>
#include <string>

#include "secateurs/export.h"

namespace secateurs {

// Base of every secateurs error; `what()` is the whole message.
class SECATEURS_API Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message);
  ~Error() override;
};

// Bad configuration: unknown key, wrong type, out of range, missing required value.
class SECATEURS_API ConfigError : public Error {
 public:
  using Error::Error;
  ~ConfigError() override;
};

// A plugin library could not be loaded or registered, or a plugin misbehaved.
class SECATEURS_API PluginError : public Error {
 public:
  using Error::Error;
  ~PluginError() override;
};

// A named thing (component, parameter, kind) does not exist.
class SECATEURS_API NotFoundError : public Error {
 public:
  using Error::Error;
  ~NotFoundError() override;
};

// Input data is malformed (truncated file, bad header, label out of range).
class SECATEURS_API DataError : public Error {
 public:
  using Error::Error;
  ~DataError() override;
};

}  // namespace secateurs
