// Turns user-written parameters (a YAML map, a Lua table) into validated Params.
//
// The reader of each format converts values to the declared type and reports where each
// came from; this class does the checks common to all formats (unknown key with the
// nearest known name, bounds and choices, missing required values, defaults) and
// collects every problem before failing, so the user fixes a file in one pass.
#pragma once

#include "secateurs/export.h"

#include <map>
#include <string>
#include <vector>

#include "secateurs/params.h"

namespace secateurs::host {

struct SECATEURS_API SourceLocation {
  std::string file;
  int line = 0;    // 1-based; 0 when unknown
  int column = 0;  // 1-based; 0 when unknown

  // "file:line:column", "file:line" or "file".
  std::string to_string() const;
};

class SECATEURS_API ParamsBuilder {
 public:
  // `component` labels messages, e.g. "attack.loss_threshold".
  ParamsBuilder(const ParamSchema& schema, std::string component);

  // The spec for `key`, or null after recording "unknown parameter" (with suggestions) or
  // "given twice" (YAML forbids duplicate keys; yaml-cpp keeps both).
  const ParamSpec* find(const std::string& key, const SourceLocation& where);
  // Records the value for `spec` after checking bounds and choices.
  void set(const ParamSpec& spec, ParamValue value, const SourceLocation& where);
  // Records a problem with the value of `key` (e.g. a type the reader could not convert).
  void error(const std::string& key, const SourceLocation& where, const std::string& problem);
  // Fills defaults and checks required values; throws ConfigError listing every problem
  // (one per line) when there is any. `where` locates the parameter map itself.
  Params finish(const SourceLocation& where);

 private:
  const ParamSchema& schema_;
  std::string component_;
  std::map<std::string, ParamValue> values_;
  std::map<std::string, SourceLocation> present_;  // known keys the user wrote, and where
  std::vector<std::string> errors_;
};

// Defaults only: the parameters a component gets when the user sets none. Throws
// ConfigError naming the required parameters when there are any.
SECATEURS_API Params default_params(const ParamSchema& schema, const std::string& component);

}  // namespace secateurs::host
