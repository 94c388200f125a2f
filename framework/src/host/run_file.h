// Run files: the YAML files `secateurs train` and `secateurs prune` read. Sections are
// validated against their schemas, every problem is collected with its file, line and
// column, and the whole list is thrown at once, so a user fixes a file in one pass.
//
// Overrides ("pruning.schedule.sparsity=0.9", from the command line's --set) are applied
// to the YAML tree before validation, so an override is checked exactly like the file.
#pragma once

#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <string>
#include <vector>

#include "host/registry.h"
#include "secateurs/error.h"
#include "secateurs/export.h"
#include "secateurs/params.h"

namespace secateurs::host {

struct ComponentChoice {
  std::string component;  // "kind.name"
  Params params;          // validated against the component's schema
};

class SECATEURS_API RunFile {
 public:
  // Reads `path` and applies `overrides` (each "dotted.key=yaml value"). Throws
  // ConfigError for an unreadable file, a YAML syntax error, a malformed override or a
  // top level that is not a map.
  RunFile(const std::filesystem::path& path, const std::vector<std::string>& overrides);
  // A tree that did not come from a file (a Lua table): messages name `source` (the
  // script's line) where the tree has no positions.
  RunFile(std::string source, YAML::Node root);

  const YAML::Node& root() const { return root_; }
  const std::string& file() const { return file_; }
  // "file:line:column" of a node, or the file alone when the node has no position (it
  // came from an override or is missing).
  std::string where(const YAML::Node& node) const;

  // Problems: collected, then thrown together by throw_if_any().
  void add_problem(std::string line) { problems_.push_back(std::move(line)); }
  // Runs `check`, keeping the ConfigError or NotFoundError it throws as a problem.
  template <class Check>
  void collect(Check&& check);
  // Throws ConfigError with one line per problem.
  void throw_if_any() const;

  // Keys of `map` outside `allowed` become problems, with a suggestion; `context`
  // prefixes the message ("pruning: "; empty for the top level's sections).
  void check_keys(const YAML::Node& map, const std::vector<std::string>& allowed,
                  const std::string& context);
  // A {component: KIND.NAME, params: {...}} section, validated against the component's
  // schema (defaults filled in).
  ComponentChoice component(const YAML::Node& section, const std::string& key, Kind kind,
                            const Registry& registry);
  // A map validated against `schema`; absent or null: the defaults.
  Params section(const YAML::Node& node, const ParamSchema& schema, const std::string& name);

 private:
  std::string file_;
  YAML::Node root_;
  std::vector<std::string> problems_;
  std::vector<std::string> overrides_;
};

template <class Check>
void RunFile::collect(Check&& check) {
  try {
    check();
  } catch (const ConfigError& e) {
    add_problem(e.what());
  } catch (const NotFoundError& e) {
    add_problem(e.what());
  }
}

// "model: {...}" as one line: "{hidden: [512, 256]}".
SECATEURS_API std::string params_text(const Params& params);

}  // namespace secateurs::host
