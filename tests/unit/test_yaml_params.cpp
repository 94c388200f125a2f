// YAML parameter validation: every problem names the file, the line and the key.
#include <doctest/doctest.h>

#include "host/yaml_params.h"
#include "secateurs/error.h"
#include "support/messages.h"

using namespace secateurs;
using namespace secateurs::host;
using secateurs::testing::message_of;

namespace {

const std::string kDataDir = SECATEURS_TEST_DATA_DIR "/config/";

ParamSchema pruner_schema() {
  return {param::real("sparsity", 0.5, "fraction of weights removed").range(0, 0.99),
          param::choice("scope", {"global", "per_layer"}, "global", "where weights are ranked"),
          param::integer("rounds", 1, "pruning rounds").range(1, 100),
          param::real("learning_rate", 0.01, "fine-tuning learning rate").at_least(0),
          param::string_list("layers", {}, "layers to prune; empty means all"),
          param::int_list("widths", {}, "widths").at_least(1),
          param::boolean("verbose", false, "log every round"),
          param::integer("seed", 0, "random seed").make_required()};
}

// The message for the whole map; fails the test when parsing succeeds.
std::string errors_of(const std::string& yaml, const std::string& file = "exp.yaml") {
  INFO("YAML: " << yaml);
  return message_of<ConfigError>(
      [&] { params_from_yaml(pruner_schema(), "pruner.magnitude", YAML::Load(yaml), file); });
}

}  // namespace

TEST_CASE("yaml: unknown key names the nearest known key") {
  const std::string message = errors_of("seed: 1\nlearning_rat: 0.1\n");
  CHECK(message ==
        "exp.yaml:2:1: pruner.magnitude: unknown parameter 'learning_rat'; did you mean "
        "'learning_rate'?");
}

TEST_CASE("yaml: unknown key with nothing close lists the known keys") {
  const std::string message = errors_of("seed: 1\nzzz: 0.1\n");
  CHECK(message.find("exp.yaml:2:1: pruner.magnitude: unknown parameter 'zzz'; known parameters: "
                     "sparsity, scope") == 0);
}

TEST_CASE("yaml: wrong type") {
  CHECK(errors_of("seed: 1\nrounds: three\n") ==
        "exp.yaml:2:9: pruner.magnitude: parameter 'rounds': expected an int, found 'three'");
  CHECK(errors_of("seed: 1\nrounds: 2.5\n") ==
        "exp.yaml:2:9: pruner.magnitude: parameter 'rounds': expected an int, found '2.5'");
  CHECK(errors_of("seed: 1\nverbose: maybe\n") ==
        "exp.yaml:2:10: pruner.magnitude: parameter 'verbose': expected a bool (true or false), "
        "found 'maybe'");
  CHECK(errors_of("seed: 1\nsparsity: [0.5]\n") ==
        "exp.yaml:2:11: pruner.magnitude: parameter 'sparsity': expected a float, found a list");
  CHECK(
      errors_of("seed: 1\nlayers: fc1\n") ==
      "exp.yaml:2:9: pruner.magnitude: parameter 'layers': expected a list of string, found 'fc1'");
  CHECK(
      errors_of("seed: 1\nwidths: [4, x]\n") ==
      "exp.yaml:2:9: pruner.magnitude: parameter 'widths': element 1: expected an int, found 'x'");
}

TEST_CASE("yaml: out of range and not among the choices") {
  CHECK(errors_of("seed: 1\nsparsity: 1.5\n") ==
        "exp.yaml:2:11: pruner.magnitude: parameter 'sparsity': must be in [0, 0.99], got 1.5");
  CHECK(errors_of("seed: 1\nrounds: 0\n") ==
        "exp.yaml:2:9: pruner.magnitude: parameter 'rounds': must be in [1, 100], got 0");
  CHECK(errors_of("seed: 1\nlearning_rate: -1\n") ==
        "exp.yaml:2:16: pruner.magnitude: parameter 'learning_rate': must be >= 0, got -1");
  CHECK(errors_of("seed: 1\nwidths: [4, 0]\n") ==
        "exp.yaml:2:9: pruner.magnitude: parameter 'widths': element 1 must be >= 1, got 0");
  CHECK(errors_of("seed: 1\nscope: globl\n") ==
        "exp.yaml:2:8: pruner.magnitude: parameter 'scope': must be one of {global, per_layer}, "
        "got 'globl'; did you mean 'global'?");
}

TEST_CASE("yaml: missing required value") {
  CHECK(errors_of("sparsity: 0.5\n") ==
        "exp.yaml:1:1: pruner.magnitude: missing required parameter 'seed' (int, required)");
  // An empty document is an empty map: every required parameter is missing.
  CHECK(errors_of("") ==
        "exp.yaml: pruner.magnitude: missing required parameter 'seed' (int, required)");
}

TEST_CASE("yaml: a required key that is present but invalid is reported once") {
  CHECK(errors_of("seed: x\n") ==
        "exp.yaml:1:7: pruner.magnitude: parameter 'seed': expected an int, found 'x'");
}

TEST_CASE("yaml: a key given twice is an error at its second place") {
  CHECK(
      errors_of("seed: 1\nrounds: 2\nrounds: 3\n") ==
      "exp.yaml:3:1: pruner.magnitude: parameter 'rounds' is given twice (first at exp.yaml:2:1)");
}

TEST_CASE("yaml: numbers too large for their type say so") {
  CHECK(errors_of("seed: 9223372036854775808\n") ==
        "exp.yaml:1:7: pruner.magnitude: parameter 'seed': expected an int, found "
        "9223372036854775808, outside the 64-bit range");
  CHECK(errors_of("seed: 1\nlearning_rate: 1e400\n") ==
        "exp.yaml:2:16: pruner.magnitude: parameter 'learning_rate': expected a float, found "
        "1e400, outside the double range");
  CHECK(errors_of("seed: +-5\n") ==
        "exp.yaml:1:7: pruner.magnitude: parameter 'seed': expected an int, found '+-5'");
}

TEST_CASE("yaml: an empty value is located at its key") {
  CHECK(errors_of("seed: 1\nlearning_rate:\n\n# a comment\nrounds: 2\n") ==
        "exp.yaml:2:1: pruner.magnitude: parameter 'learning_rate': expected a float, found "
        "nothing (null)");
}

TEST_CASE("yaml: the top level must be a map") {
  CHECK(errors_of("- 1\n- 2\n") ==
        "exp.yaml:1:1: pruner.magnitude: expected a map of parameters, found a list");
}

TEST_CASE("yaml: every problem of a file is reported at once, with its file name") {
  const std::string file = kDataDir + "pruner_params_errors.yaml";
  const std::string message = message_of<ConfigError>(
      [&] { params_from_yaml_file(pruner_schema(), "pruner.magnitude", file); });
  INFO(message);
  CHECK(
      message.find(
          file + ":2:11: pruner.magnitude: parameter 'sparsity': must be in [0, 0.99], got 1.5") !=
      std::string::npos);
  CHECK(message.find(file + ":3:8: pruner.magnitude: parameter 'scope': must be one of") !=
        std::string::npos);
  CHECK(message.find(
            file + ":4:9: pruner.magnitude: parameter 'rounds': expected an int, found 'three'") !=
        std::string::npos);
  CHECK(message.find(file + ":5:1: pruner.magnitude: unknown parameter 'learning_rat'; did you "
                            "mean 'learning_rate'?") != std::string::npos);
  CHECK(message.find(file + ":2:1: pruner.magnitude: missing required parameter 'seed'") !=
        std::string::npos);
  CHECK(std::count(message.begin(), message.end(), '\n') == 4);
}

TEST_CASE("yaml: a valid file fills defaults and keeps types") {
  ParamSchema schema = pruner_schema();
  schema.pop_back();  // no required seed
  const Params params =
      params_from_yaml_file(schema, "pruner.magnitude", kDataDir + "pruner_params_valid.yaml");
  CHECK(params.get_float("sparsity") == 0.7);
  CHECK(params.get_string("scope") == "per_layer");
  CHECK(params.get_int("rounds") == 5);
  CHECK(params.get_float("learning_rate") == doctest::Approx(1e-3));
  CHECK(params.get_string_list("layers") == std::vector<std::string>{"fc1", "fc2"});
  CHECK(params.get_int_list("widths") == std::vector<std::int64_t>{128, 64});
  CHECK(params.get_bool("verbose"));
  CHECK(params.values().size() == schema.size());
}

TEST_CASE("yaml: an integer is accepted where a float is declared") {
  const Params params =
      params_from_yaml(pruner_schema(), "p", YAML::Load("seed: 3\nlearning_rate: 1\n"), "f.yaml");
  CHECK(params.get_float("learning_rate") == 1.0);
  CHECK(params.get_int("seed") == 3);
}

TEST_CASE("yaml: syntax errors and unreadable files name the file") {
  const std::string file = kDataDir + "syntax_error.yaml";
  const std::string message = message_of<ConfigError>(
      [&] { params_from_yaml_file(pruner_schema(), "pruner.magnitude", file); });
  INFO(message);
  CHECK(message.find(file + ":") == 0);
  CHECK(message.find("YAML syntax error") != std::string::npos);
  CHECK_THROWS_WITH_AS(params_from_yaml_file(pruner_schema(), "p", kDataDir),
                       (kDataDir + ": not a regular file").c_str(), ConfigError);
  CHECK_THROWS_WITH_AS(params_from_yaml_file(pruner_schema(), "p", "/nonexistent/x.yaml"),
                       "/nonexistent/x.yaml: cannot open the file for reading", ConfigError);
}
