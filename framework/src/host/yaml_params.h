// YAML parameter maps, validated against a component's schema. Only the host links
// yaml-cpp; plugins see the resulting Params.
#pragma once

#include "secateurs/export.h"

#include <filesystem>
#include <string>

#include <yaml-cpp/yaml.h>

#include "secateurs/params.h"

namespace secateurs::host {

// Validates `node` (a map of parameter name to value) read from `file`. Throws
// ConfigError with one line per problem, each naming file, line and key.
SECATEURS_API Params params_from_yaml(const ParamSchema& schema, const std::string& component,
                                      const YAML::Node& node, const std::string& file);

// Reads `path` and validates its top-level map. Unreadable files and YAML syntax errors
// are ConfigErrors naming the file and line too.
SECATEURS_API Params params_from_yaml_file(const ParamSchema& schema, const std::string& component,
                                           const std::filesystem::path& path);

}  // namespace secateurs::host
