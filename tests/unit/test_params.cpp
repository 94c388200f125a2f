#include <doctest/doctest.h>

#include <cmath>

#include "host/params_builder.h"
#include "secateurs/error.h"

using namespace secateurs;

TEST_CASE("params: problem_with checks type, bounds and choices") {
  const ParamSpec rate = param::real("rate", 0.1, "").range(0, 1);
  CHECK_FALSE(rate.problem_with(0.5));
  CHECK(rate.problem_with(1.5) == "must be in [0, 1], got 1.5");
  CHECK(rate.problem_with(std::nan("")) == "must be a number, got nan");
  CHECK(rate.problem_with(std::int64_t{1}) == "expected a float, got int 1");

  const ParamSpec mode = param::choice("mode", {"fast", "exact"}, "fast", "");
  CHECK_FALSE(mode.problem_with(std::string("exact")));
  CHECK(mode.problem_with(std::string("exakt")) ==
        "must be one of {fast, exact}, got 'exakt'; did you mean 'exact'?");

  const ParamSpec widths = param::int_list("widths", {8}, "").at_least(1);
  CHECK_FALSE(widths.problem_with(std::vector<std::int64_t>{1, 2}));
  CHECK(widths.problem_with(std::vector<std::int64_t>{1, 0}) == "element 1 must be >= 1, got 0");
  CHECK(widths.problem_with(std::vector<double>{1.0}) ==
        "expected a list of int, got list of float [1]");
}

TEST_CASE("params: describe_type reads like the docs") {
  CHECK(param::real("lr", 0.01, "").range(0, 1).describe_type() == "float [0, 1], default 0.01");
  CHECK(param::integer("epochs", 10, "").at_least(1).describe_type() == "int >= 1, default 10");
  CHECK(param::choice("scope", {"global", "per_layer"}, "global", "").describe_type() ==
        "enum {global, per_layer}, default global");
  CHECK(param::string("path", "data", "").describe_type() == "string, default 'data'");
  CHECK(param::float_list("eps", {0.1, 0.3}, "").at_most(1).describe_type() ==
        "list of float, each <= 1, default [0.1, 0.3]");
  CHECK(param::integer("seed", 0, "").make_required().describe_type() == "int, required");
}

TEST_CASE("params: getters check the declared type") {
  const Params params({{"n", std::int64_t{4}}, {"name", std::string("x")}});
  CHECK(params.get_int("n") == 4);
  CHECK(params.get_string("name") == "x");
  CHECK_THROWS_WITH_AS(params.get_float("n"),
                       "component read parameter 'n' as float, but it holds int", Error);
  CHECK_THROWS_WITH_AS(params.get_int("missing"),
                       "component asked for parameter 'missing', which its schema does not declare",
                       Error);
}

TEST_CASE("params: defaults, and required parameters without a value") {
  const ParamSchema schema = {param::integer("n", 4, "").at_least(1),
                              param::boolean("flag", true, "")};
  const Params params = host::default_params(schema, "model.mlp");
  CHECK(params.get_int("n") == 4);
  CHECK(params.get_bool("flag"));

  const ParamSchema required = {param::real("threshold", 0, "").make_required()};
  CHECK_THROWS_WITH_AS(
      host::default_params(required, "attack.x"),
      "(defaults): attack.x: missing required parameter 'threshold' (float, required)",
      ConfigError);
}
