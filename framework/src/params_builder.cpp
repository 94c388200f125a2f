#include "host/params_builder.h"

#include "host/nearest.h"
#include "secateurs/error.h"

namespace secateurs::host {

std::string SourceLocation::to_string() const {
  std::string text = file;
  if (line > 0) text += ":" + std::to_string(line);
  if (line > 0 && column > 0) text += ":" + std::to_string(column);
  return text;
}

ParamsBuilder::ParamsBuilder(const ParamSchema& schema, std::string component)
    : schema_(schema), component_(std::move(component)) {}

const ParamSpec* ParamsBuilder::find(const std::string& key, const SourceLocation& where) {
  std::vector<std::string> known;
  for (const ParamSpec& spec : schema_) {
    if (spec.name == key) {
      const auto [first, inserted] = present_.emplace(key, where);
      if (!inserted) {
        errors_.push_back(where.to_string() + ": " + component_ + ": parameter '" + key +
                          "' is given twice (first at " + first->second.to_string() + ")");
        return nullptr;
      }
      return &spec;
    }
    known.push_back(spec.name);
  }
  std::string hint = did_you_mean(key, known);
  if (hint.empty()) {
    if (known.empty()) {
      hint = "; it takes no parameters";
    } else {
      hint = "; known parameters:";
      for (std::size_t i = 0; i < known.size(); ++i) hint += (i ? ", " : " ") + known[i];
    }
  }
  errors_.push_back(where.to_string() + ": " + component_ + ": unknown parameter '" + key + "'" +
                    hint);
  return nullptr;
}

void ParamsBuilder::set(const ParamSpec& spec, ParamValue value, const SourceLocation& where) {
  if (auto problem = spec.problem_with(value)) {
    error(spec.name, where, *problem);
    return;
  }
  values_[spec.name] = std::move(value);
}

void ParamsBuilder::error(const std::string& key, const SourceLocation& where,
                          const std::string& problem) {
  errors_.push_back(where.to_string() + ": " + component_ + ": parameter '" + key +
                    "': " + problem);
}

Params ParamsBuilder::finish(const SourceLocation& where) {
  for (const ParamSpec& spec : schema_) {
    if (values_.count(spec.name)) continue;
    if (spec.default_value) {
      values_[spec.name] = *spec.default_value;
    } else if (!present_.count(spec.name)) {
      // A key that is present but invalid already has its own message.
      errors_.push_back(where.to_string() + ": " + component_ + ": missing required parameter '" +
                        spec.name + "' (" + spec.describe_type() + ")");
    }
  }
  if (!errors_.empty()) {
    std::string message;
    for (std::size_t i = 0; i < errors_.size(); ++i) message += (i ? "\n" : "") + errors_[i];
    throw ConfigError(message);
  }
  return Params(values_);
}

Params default_params(const ParamSchema& schema, const std::string& component) {
  ParamsBuilder builder(schema, component);
  return builder.finish(SourceLocation{"(defaults)"});
}

}  // namespace secateurs::host
