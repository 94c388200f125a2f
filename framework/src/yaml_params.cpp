#include "host/yaml_params.h"

#include <charconv>
#include <cmath>
#include <fstream>
#include <optional>
#include <sstream>

#include "host/params_builder.h"
#include "secateurs/error.h"

namespace secateurs::host {

namespace {

SourceLocation location_of(const YAML::Node& node, const std::string& file) {
  const YAML::Mark mark = node.Mark();
  if (mark.is_null()) return SourceLocation{file};
  return SourceLocation{file, mark.line + 1, mark.column + 1};
}

std::string describe_node(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Map: return "a map";
    case YAML::NodeType::Null: return "nothing (null)";
    case YAML::NodeType::Scalar: return "'" + node.Scalar() + "'";
    default: return "an undefined value";
  }
}

// Scalar conversions: nullopt when the text is not a whole value of the type.
std::optional<bool> to_bool(const std::string& text) {
  if (text == "true" || text == "True" || text == "TRUE") return true;
  if (text == "false" || text == "False" || text == "FALSE") return false;
  return std::nullopt;
}

// The whole text as a number of type T (an optional leading '+' allowed), or nothing;
// `out_of_range` tells a number too large for T from text that is no number at all.
template <class T>
std::optional<T> to_number(const std::string& text, bool& out_of_range) {
  const char* first = text.data();
  const char* last = text.data() + text.size();
  if (first != last && *first == '+') {
    ++first;
    if (first != last && *first == '-') return std::nullopt;
  }
  T value{};
  const auto [end, error] = std::from_chars(first, last, value);
  if (end != last || first == last) return std::nullopt;
  out_of_range = error == std::errc::result_out_of_range;
  if (error != std::errc()) return std::nullopt;
  return value;
}

std::optional<double> to_float(const std::string& text, bool& out_of_range) {
  // YAML 1.2 spells infinities .inf; from_chars knows only "inf".
  if (text == ".inf" || text == "+.inf") return HUGE_VAL;
  if (text == "-.inf") return -HUGE_VAL;
  return to_number<double>(text, out_of_range);
}

// Converts a scalar of the given type, or explains why not ("expected an int, found '1.5'").
std::variant<ParamValue, std::string> convert_scalar(ParamType type, const YAML::Node& node) {
  const char* expected = type == ParamType::Bool    ? "a bool (true or false)"
                         : type == ParamType::Int   ? "an int"
                         : type == ParamType::Float ? "a float"
                                                    : "a string";
  if (!node.IsScalar())
    return std::string("expected ") + expected + ", found " + describe_node(node);
  const std::string& text = node.Scalar();
  bool out_of_range = false;
  switch (type) {
    case ParamType::Bool:
      if (auto v = to_bool(text)) return ParamValue(*v);
      break;
    case ParamType::Int:
      if (auto v = to_number<std::int64_t>(text, out_of_range)) return ParamValue(*v);
      if (out_of_range) return "expected an int, found " + text + ", outside the 64-bit range";
      break;
    case ParamType::Float:
      if (auto v = to_float(text, out_of_range)) return ParamValue(*v);
      if (out_of_range) return "expected a float, found " + text + ", outside the double range";
      break;
    default: return ParamValue(text);
  }
  return std::string("expected ") + expected + ", found " + describe_node(node);
}

template <class T>
std::variant<ParamValue, std::string> convert_list(const ParamSpec& spec, const YAML::Node& node) {
  std::vector<T> items;
  for (std::size_t i = 0; i < node.size(); ++i) {
    auto element = convert_scalar(spec.element_type, node[i]);
    if (auto* problem = std::get_if<std::string>(&element)) {
      return "element " + std::to_string(i) + ": " + *problem;
    }
    items.push_back(std::get<T>(std::get<ParamValue>(element)));
  }
  return ParamValue(std::move(items));
}

std::variant<ParamValue, std::string> convert(const ParamSpec& spec, const YAML::Node& node) {
  if (spec.type == ParamType::Enum) return convert_scalar(ParamType::String, node);
  if (spec.type != ParamType::List) return convert_scalar(spec.type, node);
  if (!node.IsSequence()) {
    return "expected a list of " + std::string(to_string(spec.element_type)) + ", found " +
           describe_node(node);
  }
  switch (spec.element_type) {
    case ParamType::Int: return convert_list<std::int64_t>(spec, node);
    case ParamType::Float: return convert_list<double>(spec, node);
    default: return convert_list<std::string>(spec, node);
  }
}

}  // namespace

Params params_from_yaml(const ParamSchema& schema, const std::string& component,
                        const YAML::Node& node, const std::string& file) {
  ParamsBuilder builder(schema, component);
  const SourceLocation map_location = location_of(node, file);
  if (node.IsNull() || !node.IsDefined()) return builder.finish(map_location);
  if (!node.IsMap()) {
    throw ConfigError(map_location.to_string() + ": " + component +
                      ": expected a map of parameters, found " + describe_node(node));
  }
  for (const auto& entry : node) {
    const std::string key = entry.first.Scalar();
    const SourceLocation key_location = location_of(entry.first, file);
    const ParamSpec* spec = builder.find(key, key_location);
    if (!spec) continue;
    // yaml-cpp places an empty value ("key:") where the next token starts, often lines
    // below; the key's own position is where the user must look.
    const SourceLocation value_location =
        entry.second.IsNull() ? key_location : location_of(entry.second, file);
    auto converted = convert(*spec, entry.second);
    if (auto* problem = std::get_if<std::string>(&converted)) {
      builder.error(key, value_location, *problem);
    } else {
      builder.set(*spec, std::move(std::get<ParamValue>(converted)), value_location);
    }
  }
  return builder.finish(map_location);
}

Params params_from_yaml_file(const ParamSchema& schema, const std::string& component,
                             const std::filesystem::path& path) {
  std::error_code error;
  // An ifstream opens a directory and reads it as empty: that would validate as no keys.
  if (!std::filesystem::is_regular_file(path, error)) {
    throw ConfigError(path.string() + (std::filesystem::exists(path, error)
                                           ? ": not a regular file"
                                           : ": cannot open the file for reading"));
  }
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  if (!in || in.bad()) throw ConfigError(path.string() + ": cannot read the file");
  YAML::Node root;
  try {
    root = YAML::Load(text.str());
  } catch (const YAML::Exception& e) {
    throw ConfigError(
        SourceLocation{path.string(), e.mark.line + 1, e.mark.column + 1}.to_string() +
        ": YAML syntax error: " + e.msg);
  }
  return params_from_yaml(schema, component, root, path.string());
}

}  // namespace secateurs::host
