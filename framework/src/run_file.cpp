#include "host/run_file.h"

#include <algorithm>

#include "host/nearest.h"
#include "host/params_builder.h"
#include "host/yaml_params.h"

namespace secateurs::host {
namespace {

// Splits "a.b.c=value" into its path and value; throws ConfigError naming the override.
std::pair<std::vector<std::string>, std::string> parse_override(const std::string& text) {
  const std::size_t equals = text.find('=');
  if (equals == std::string::npos || equals == 0) {
    throw ConfigError("--set " + text + ": expected KEY=VALUE, e.g. pruning.schedule.sparsity=0.9");
  }
  std::vector<std::string> path;
  const std::string key = text.substr(0, equals);
  std::size_t begin = 0;
  while (true) {
    const std::size_t dot = key.find('.', begin);
    const std::string part = key.substr(begin, dot == std::string::npos ? dot : dot - begin);
    if (part.empty()) throw ConfigError("--set " + text + ": empty name in '" + key + "'");
    path.push_back(part);
    if (dot == std::string::npos) break;
    begin = dot + 1;
  }
  return {path, text.substr(equals + 1)};
}

// A copy without source positions: a value parsed from an override would otherwise
// carry line 1, column 1, and messages would point at the run file's first line.
YAML::Node without_marks(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Scalar: return YAML::Node(node.Scalar());
    case YAML::NodeType::Sequence: {
      YAML::Node copy(YAML::NodeType::Sequence);
      for (const YAML::Node& item : node) copy.push_back(without_marks(item));
      return copy;
    }
    case YAML::NodeType::Map: {
      YAML::Node copy(YAML::NodeType::Map);
      for (const auto& entry : node) copy[entry.first.Scalar()] = without_marks(entry.second);
      return copy;
    }
    default: return YAML::Node(YAML::NodeType::Null);
  }
}

void apply_override(YAML::Node& root, const std::string& text) {
  const auto [path, value_text] = parse_override(text);
  YAML::Node value;
  try {
    value = without_marks(YAML::Load(value_text));
  } catch (const YAML::Exception& e) {
    throw ConfigError("--set " + text + ": the value is not valid YAML: " + e.msg);
  }
  // Node handles are rebound with reset(): operator= would assign through them.
  YAML::Node node;
  node.reset(root);
  for (std::size_t i = 0; i + 1 < path.size(); ++i) {
    YAML::Node child = node[path[i]];
    if (child.IsDefined() && !child.IsNull() && !child.IsMap()) {
      throw ConfigError("--set " + text + ": '" + path[i] + "' is not a map in the run file");
    }
    if (!child.IsDefined() || child.IsNull()) node[path[i]] = YAML::Node(YAML::NodeType::Map);
    YAML::Node next = node[path[i]];
    node.reset(next);
  }
  node[path.back()] = value;
}

}  // namespace

RunFile::RunFile(std::string source, YAML::Node root)
    : file_(std::move(source)), root_(std::move(root)) {
  if (!root_.IsMap()) throw ConfigError(file_ + ": expected a map of sections");
}

RunFile::RunFile(const std::filesystem::path& path, const std::vector<std::string>& overrides)
    : file_(path.string()) {
  try {
    root_ = YAML::LoadFile(file_);
  } catch (const YAML::BadFile&) {
    throw ConfigError(file_ + ": cannot read the run file");
  } catch (const YAML::Exception& e) {
    throw ConfigError(file_ + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
  if (!root_.IsMap()) throw ConfigError(file_ + ": expected a map of sections");
  for (const std::string& text : overrides) apply_override(root_, text);
  overrides_ = overrides;
}

std::string RunFile::where(const YAML::Node& node) const {
  if (!node.IsDefined()) return file_;
  const YAML::Mark mark = node.Mark();
  if (mark.is_null()) return file_;
  return file_ + ":" + std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1);
}

void RunFile::throw_if_any() const {
  if (problems_.empty()) return;
  std::string text;
  for (const std::string& line : problems_) text += (text.empty() ? "" : "\n") + line;
  if (!overrides_.empty()) {
    text += "\n(" + file_ + " as changed by";
    for (const std::string& item : overrides_) text += " --set " + item;
    text += ")";
  }
  throw ConfigError(text);
}

void RunFile::check_keys(const YAML::Node& map, const std::vector<std::string>& allowed,
                         const std::string& context) {
  if (!map.IsMap()) return;
  for (const auto& entry : map) {
    const std::string key = entry.first.Scalar();
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      add_problem(where(entry.first) + ": " + context + "unknown " +
                  (context.empty() ? "section" : "key") + " '" + key + "'" +
                  did_you_mean(key, allowed));
    }
  }
}

ComponentChoice RunFile::component(const YAML::Node& section, const std::string& key, Kind kind,
                                   const Registry& registry) {
  ComponentChoice choice;
  if (!section.IsDefined()) {
    add_problem(file_ + ": the section '" + key + "' is required");
    return choice;
  }
  if (!section.IsMap()) {
    add_problem(where(section) + ": " + key + ": expected a map with 'component' and 'params'");
    return choice;
  }
  const RegisteredComponent* found = nullptr;
  for (const auto& entry : section) {
    const std::string name = entry.first.Scalar();
    if (name == "component") {
      choice.component = entry.second.Scalar();
      collect([&] {
        const auto [found_kind, found_name] = split_qualified_name(choice.component);
        if (found_kind != kind) {
          throw ConfigError(where(entry.second) + ": " + key + ": '" + choice.component +
                            "' is a " + std::string(to_string(found_kind)) + ", not a " +
                            std::string(to_string(kind)));
        }
        found = &registry.get(kind, found_name);
      });
    } else if (name != "params") {
      add_problem(where(entry.first) + ": " + key + ": unknown key '" + name + "'" +
                  did_you_mean(name, {"component", "params"}));
    }
  }
  if (!section["component"]) {
    add_problem(where(section) + ": " + key + ": 'component' is required (e.g. " +
                std::string(to_string(kind)) + ".NAME)");
  }
  if (found != nullptr) {
    collect([&] {
      const YAML::Node params = section["params"];
      choice.params = params && !params.IsNull()
                          ? params_from_yaml(found->spec.params, found->id(), params, file_)
                          : default_params(found->spec.params, found->id());
    });
  }
  return choice;
}

Params RunFile::section(const YAML::Node& node, const ParamSchema& schema,
                        const std::string& name) {
  Params params;
  collect([&] {
    params = node.IsDefined() && !node.IsNull() ? params_from_yaml(schema, name, node, file_)
                                                : default_params(schema, name);
  });
  return params;
}

std::string params_text(const Params& params) {
  std::string text;
  for (const auto& [name, value] : params.values()) {
    const std::string shown = format_value(value);
    text += (text.empty() ? "" : ", ") + name + ": " + (shown.empty() ? "\"\"" : shown);
  }
  return "{" + text + "}";
}

}  // namespace secateurs::host
