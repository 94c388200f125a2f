#include "secateurs/params.h"

#include <charconv>
#include <cmath>

#include "host/nearest.h"
#include "secateurs/error.h"

namespace secateurs {

std::string_view to_string(ParamType type) {
  switch (type) {
    case ParamType::Bool: return "bool";
    case ParamType::Int: return "int";
    case ParamType::Float: return "float";
    case ParamType::String: return "string";
    case ParamType::List: return "list";
    case ParamType::Enum: return "enum";
  }
  return "unknown";
}

namespace {

std::string format_number(double x) {
  if (std::isnan(x)) return "nan";
  if (std::isinf(x)) return x > 0 ? "inf" : "-inf";
  // Whole numbers print as integers ("100000", not to_chars' "1e+05"): bounds and
  // defaults read as they were written.
  if (x == std::trunc(x) && std::fabs(x) < 1e15) return std::to_string(static_cast<long long>(x));
  char buffer[64];
  // Otherwise the shortest round-trip form: 0.1 prints as "0.1", 1e-05 as "1e-05".
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, x);
  return std::string(buffer, result.ptr);
}

std::string quoted(const std::string& s) {
  return "'" + s + "'";
}

template <class T, class Format>
std::string format_list(const std::vector<T>& items, Format format) {
  std::string text = "[";
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i > 0) text += ", ";
    text += format(items[i]);
  }
  return text + "]";
}

std::string join_choices(const std::vector<std::string>& choices) {
  std::string text = "{";
  for (std::size_t i = 0; i < choices.size(); ++i) text += (i ? ", " : "") + choices[i];
  return text + "}";
}

std::string format_bounds(const ParamSpec& spec) {
  if (spec.min && spec.max) {
    return "[" + format_number(*spec.min) + ", " + format_number(*spec.max) + "]";
  }
  if (spec.min) return ">= " + format_number(*spec.min);
  if (spec.max) return "<= " + format_number(*spec.max);
  return "";
}

// Why number x violates the spec's bounds, or nothing.
std::optional<std::string> bound_problem(const ParamSpec& spec, double x) {
  if (std::isnan(x)) return "must be a number, got nan";
  if ((spec.min && x < *spec.min) || (spec.max && x > *spec.max)) {
    const std::string range = format_bounds(spec);
    const bool interval = spec.min && spec.max;
    return std::string("must be ") + (interval ? "in " : "") + range + ", got " + format_number(x);
  }
  return std::nullopt;
}

std::optional<std::string> prefix_element(std::size_t index, std::optional<std::string> problem) {
  if (!problem) return problem;
  return "element " + std::to_string(index) + " " + *problem;
}

std::string value_type_name(const ParamValue& value) {
  switch (value.index()) {
    case 0: return "bool";
    case 1: return "int";
    case 2: return "float";
    case 3: return "string";
    case 4: return "list of int";
    case 5: return "list of float";
    default: return "list of string";
  }
}

}  // namespace

std::string format_value(const ParamValue& value) {
  return std::visit(
      [](const auto& v) -> std::string {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, bool>) {
          return v ? "true" : "false";
        } else if constexpr (std::is_same_v<T, std::int64_t>) {
          return std::to_string(v);
        } else if constexpr (std::is_same_v<T, double>) {
          return format_number(v);
        } else if constexpr (std::is_same_v<T, std::string>) {
          return v;
        } else if constexpr (std::is_same_v<T, std::vector<std::int64_t>>) {
          return format_list(v, [](std::int64_t x) { return std::to_string(x); });
        } else if constexpr (std::is_same_v<T, std::vector<double>>) {
          return format_list(v, format_number);
        } else {
          return format_list(v, quoted);
        }
      },
      value);
}

ParamSpec& ParamSpec::range(double lo, double hi) {
  min = lo;
  max = hi;
  return *this;
}

ParamSpec& ParamSpec::at_least(double lo) {
  min = lo;
  return *this;
}

ParamSpec& ParamSpec::at_most(double hi) {
  max = hi;
  return *this;
}

ParamSpec& ParamSpec::make_required() {
  required = true;
  default_value.reset();
  return *this;
}

std::optional<std::string> ParamSpec::problem_with(const ParamValue& value) const {
  const auto wrong_type = [&](const std::string& expected) -> std::optional<std::string> {
    return "expected " + expected + ", got " + value_type_name(value) + " " + format_value(value);
  };
  switch (type) {
    case ParamType::Bool:
      if (!std::holds_alternative<bool>(value)) return wrong_type("a bool");
      return std::nullopt;
    case ParamType::Int:
      if (!std::holds_alternative<std::int64_t>(value)) return wrong_type("an int");
      return bound_problem(*this, static_cast<double>(std::get<std::int64_t>(value)));
    case ParamType::Float:
      if (!std::holds_alternative<double>(value)) return wrong_type("a float");
      return bound_problem(*this, std::get<double>(value));
    case ParamType::String:
      if (!std::holds_alternative<std::string>(value)) return wrong_type("a string");
      return std::nullopt;
    case ParamType::Enum: {
      if (!std::holds_alternative<std::string>(value)) {
        return wrong_type("one of " + join_choices(choices));
      }
      const std::string& chosen = std::get<std::string>(value);
      for (const std::string& c : choices) {
        if (c == chosen) return std::nullopt;
      }
      return "must be one of " + join_choices(choices) + ", got '" + chosen + "'" +
             host::did_you_mean(chosen, choices);
    }
    case ParamType::List:
      switch (element_type) {
        case ParamType::Int:
          if (const auto* items = std::get_if<std::vector<std::int64_t>>(&value)) {
            for (std::size_t i = 0; i < items->size(); ++i) {
              if (auto p = bound_problem(*this, static_cast<double>((*items)[i]))) {
                return prefix_element(i, p);
              }
            }
            return std::nullopt;
          }
          return wrong_type("a list of int");
        case ParamType::Float:
          if (const auto* items = std::get_if<std::vector<double>>(&value)) {
            for (std::size_t i = 0; i < items->size(); ++i) {
              if (auto p = bound_problem(*this, (*items)[i])) return prefix_element(i, p);
            }
            return std::nullopt;
          }
          return wrong_type("a list of float");
        case ParamType::String:
          if (std::holds_alternative<std::vector<std::string>>(value)) return std::nullopt;
          return wrong_type("a list of string");
        default:
          return "has list element type " + std::string(to_string(element_type)) +
                 ", but lists hold int, float or string";
      }
  }
  return "has an unknown type";
}

std::string ParamSpec::describe_type() const {
  std::string text(to_string(type));
  if (type == ParamType::List) text += " of " + std::string(to_string(element_type));
  if (type == ParamType::Enum) text += " " + join_choices(choices);
  if (type == ParamType::Int || type == ParamType::Float || type == ParamType::List) {
    const std::string bounds = format_bounds(*this);
    if (!bounds.empty()) text += (type == ParamType::List ? ", each " : " ") + bounds;
  }
  if (required) {
    text += ", required";
  } else if (default_value) {
    const bool is_text =
        type == ParamType::String && std::holds_alternative<std::string>(*default_value);
    text += ", default " + (is_text ? quoted(std::get<std::string>(*default_value))
                                    : format_value(*default_value));
  }
  return text;
}

namespace param {

namespace {
ParamSpec make(std::string name, ParamType type, ParamValue default_value, std::string doc) {
  ParamSpec spec;
  spec.name = std::move(name);
  spec.type = type;
  spec.default_value = std::move(default_value);
  spec.doc = std::move(doc);
  return spec;
}

ParamSpec make_list(std::string name, ParamType element, ParamValue default_value,
                    std::string doc) {
  ParamSpec spec = make(std::move(name), ParamType::List, std::move(default_value), std::move(doc));
  spec.element_type = element;
  return spec;
}
}  // namespace

ParamSpec boolean(std::string name, bool default_value, std::string doc) {
  return make(std::move(name), ParamType::Bool, default_value, std::move(doc));
}
ParamSpec integer(std::string name, std::int64_t default_value, std::string doc) {
  return make(std::move(name), ParamType::Int, default_value, std::move(doc));
}
ParamSpec real(std::string name, double default_value, std::string doc) {
  return make(std::move(name), ParamType::Float, default_value, std::move(doc));
}
ParamSpec string(std::string name, std::string default_value, std::string doc) {
  return make(std::move(name), ParamType::String, std::move(default_value), std::move(doc));
}
ParamSpec choice(std::string name, std::vector<std::string> choices, std::string default_value,
                 std::string doc) {
  ParamSpec spec = make(std::move(name), ParamType::Enum, std::move(default_value), std::move(doc));
  spec.choices = std::move(choices);
  return spec;
}
ParamSpec int_list(std::string name, std::vector<std::int64_t> default_value, std::string doc) {
  return make_list(std::move(name), ParamType::Int, std::move(default_value), std::move(doc));
}
ParamSpec float_list(std::string name, std::vector<double> default_value, std::string doc) {
  return make_list(std::move(name), ParamType::Float, std::move(default_value), std::move(doc));
}
ParamSpec string_list(std::string name, std::vector<std::string> default_value, std::string doc) {
  return make_list(std::move(name), ParamType::String, std::move(default_value), std::move(doc));
}

}  // namespace param

Params::Params(std::map<std::string, ParamValue> values) : values_(values.begin(), values.end()) {}

bool Params::contains(std::string_view name) const {
  return values_.find(name) != values_.end();
}

const ParamValue& Params::get(std::string_view name) const {
  const auto it = values_.find(name);
  if (it == values_.end()) {
    throw Error("component asked for parameter '" + std::string(name) +
                "', which its schema does not declare");
  }
  return it->second;
}

template <class T>
const T& Params::get_as(std::string_view name, const char* type_name) const {
  const ParamValue& value = get(name);
  if (const T* typed = std::get_if<T>(&value)) return *typed;
  throw Error("component read parameter '" + std::string(name) + "' as " + type_name +
              ", but it holds " + value_type_name(value));
}

bool Params::get_bool(std::string_view name) const {
  return get_as<bool>(name, "bool");
}
std::int64_t Params::get_int(std::string_view name) const {
  return get_as<std::int64_t>(name, "int");
}
double Params::get_float(std::string_view name) const {
  return get_as<double>(name, "float");
}
const std::string& Params::get_string(std::string_view name) const {
  return get_as<std::string>(name, "string");
}
const std::vector<std::int64_t>& Params::get_int_list(std::string_view name) const {
  return get_as<std::vector<std::int64_t>>(name, "list of int");
}
const std::vector<double>& Params::get_float_list(std::string_view name) const {
  return get_as<std::vector<double>>(name, "list of float");
}
const std::vector<std::string>& Params::get_string_list(std::string_view name) const {
  return get_as<std::vector<std::string>>(name, "list of string");
}

}  // namespace secateurs
