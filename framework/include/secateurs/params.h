// Parameter schemas and the validated parameter values a component is built from.
//
// A component declares its parameters as a list of ParamSpec; the host validates a YAML
// map or a Lua table against that list before any work starts and hands the factory a
// Params object holding exactly one value of the declared type for every parameter
// (defaults filled in). Params is a value type owned by the caller; reading it from
// several threads at once is safe.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "secateurs/export.h"

namespace secateurs {

enum class ParamType { Bool, Int, Float, String, List, Enum };

// "bool", "int", "float", "string", "list", "enum".
SECATEURS_API std::string_view to_string(ParamType type);

// One value of any parameter type; a list holds values of its element type.
using ParamValue = std::variant<bool, std::int64_t, double, std::string, std::vector<std::int64_t>,
                                std::vector<double>, std::vector<std::string>>;

// Renders a value as it would be written in YAML ("0.5", "[1, 2]", "true").
SECATEURS_API std::string format_value(const ParamValue& value);

// One parameter: name, type, default, bounds, required flag and a one-line doc.
// Build with the helpers below: param::real("lr", 0.01, "learning rate").range(0, 1).
struct SECATEURS_API ParamSpec {
  std::string name;
  ParamType type = ParamType::Float;
  ParamType element_type = ParamType::Float;  // for List: Int, Float or String
  std::optional<ParamValue> default_value;    // absent for a required parameter
  bool required = false;
  std::optional<double> min;         // inclusive; Int, Float and List elements
  std::optional<double> max;         // inclusive
  std::vector<std::string> choices;  // for Enum
  std::string doc;                   // one line

  // Inclusive bounds for numbers (for a list, for each element).
  ParamSpec& range(double lo, double hi);
  ParamSpec& at_least(double lo);
  ParamSpec& at_most(double hi);
  // No default: the user must give a value.
  ParamSpec& make_required();

  // Why `value` is not acceptable for this parameter ("must be in [0, 1], got 2"), or
  // nothing when it is. Checks type, bounds and choices.
  std::optional<std::string> problem_with(const ParamValue& value) const;
  // "int in [1, 100], default 10", "enum {per_layer, global}, required" ...
  std::string describe_type() const;
};

namespace param {
SECATEURS_API ParamSpec boolean(std::string name, bool default_value, std::string doc);
SECATEURS_API ParamSpec integer(std::string name, std::int64_t default_value, std::string doc);
SECATEURS_API ParamSpec real(std::string name, double default_value, std::string doc);
SECATEURS_API ParamSpec string(std::string name, std::string default_value, std::string doc);
SECATEURS_API ParamSpec choice(std::string name, std::vector<std::string> choices,
                               std::string default_value, std::string doc);
SECATEURS_API ParamSpec int_list(std::string name, std::vector<std::int64_t> default_value,
                                 std::string doc);
SECATEURS_API ParamSpec float_list(std::string name, std::vector<double> default_value,
                                   std::string doc);
SECATEURS_API ParamSpec string_list(std::string name, std::vector<std::string> default_value,
                                    std::string doc);
}  // namespace param

using ParamSchema = std::vector<ParamSpec>;

// Validated parameter values. Getters throw secateurs::Error when the name is not in
// the schema or has another type: that is a bug in the component, not bad user input.
class SECATEURS_API Params {
 public:
  Params() = default;
  Params(std::map<std::string, ParamValue> values);

  bool get_bool(std::string_view name) const;
  std::int64_t get_int(std::string_view name) const;
  double get_float(std::string_view name) const;
  // String and Enum parameters.
  const std::string& get_string(std::string_view name) const;
  const std::vector<std::int64_t>& get_int_list(std::string_view name) const;
  const std::vector<double>& get_float_list(std::string_view name) const;
  const std::vector<std::string>& get_string_list(std::string_view name) const;

  bool contains(std::string_view name) const;
  const ParamValue& get(std::string_view name) const;
  const std::map<std::string, ParamValue, std::less<>>& values() const { return values_; }

 private:
  template <class T>
  const T& get_as(std::string_view name, const char* type_name) const;

  std::map<std::string, ParamValue, std::less<>> values_;
};

}  // namespace secateurs
