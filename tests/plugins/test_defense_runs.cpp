// Defenses inside attack runs: memorization scores for the victim and every shadow, the
// defense search (the automatic variant), reference data, and the run file's checks.
#include <filesystem>
#include <fstream>
#include <set>
#include <string>

#include "host/attack_run.h"
#include "secateurs/error.h"
#include "support/built_plugins.h"
#include "support/messages.h"
#include "support/temp_dir.h"

using namespace secateurs;

namespace {

// A small pruned attack run on synthetic blobs, defended by SWMR with its parameters
// searched over a 2 x 2 grid.
std::filesystem::path write_defended_run(const testing::TempDir& dir) {
  const std::filesystem::path path = dir / "defended.yaml";
  std::ofstream(path) << R"(seed: 5
dataset: {component: dataset.synthetic_blobs, params: {samples: 1400, classes: 3, features: 6}}
model: {component: model.mlp, params: {hidden: [32]}}
split: {mode: membership, members: 120, dev: 30, reference: 30}
trainer: {epochs: 6, batch_size: 32}
pruning:
  pruner: {component: pruner.magnitude}
  schedule: {schedule: iterative, sparsity: 0.5, rounds: 2}
  finetune: {epochs: 3, batch_size: 32}
  defense: {component: defense.swmr, params: {width: 0.5, stride: 0.25, threshold: 0.8}}
memorization: {folds: 2, cache: )"
                      << (dir / "cache").string() << R"(}
defense_search:
  grid: {width: [0.5, 1.0], threshold: [0.5, 1.0]}
  auc_target: 0.6
  shadows: 2
shadows: {count: 4, online: 0, population: 100}
attacks:
  - {component: attack.confidence}
metrics: {bootstrap: 0}
)";
  return path;
}

bool has_measurement(const host::ModelRecord& record, const std::string& name) {
  for (const auto& [key, value] : record.defense_measurements) {
    if (key == name) return true;
  }
  return false;
}

}  // namespace

TEST_CASE("a defended attack run: scores for every model, the search's choice, the cache") {
  testing::TempDir dir;
  const auto path = write_defended_run(dir);
  const auto& registry = testing::built_plugins();
  const host::AttackRunConfig config = host::read_attack_run(path, registry);
  REQUIRE(config.search.has_value());
  REQUIRE(config.search->candidates.size() == 4);
  // The grid's values replace the run file's; the other parameters stay.
  std::set<std::pair<double, double>> grid;
  for (const Params& candidate : config.search->candidates) {
    grid.insert({candidate.get_float("width"), candidate.get_float("threshold")});
    CHECK(candidate.get_float("stride") == 0.25);
  }
  CHECK(grid ==
        std::set<std::pair<double, double>>{{0.5, 0.5}, {0.5, 1.0}, {1.0, 0.5}, {1.0, 1.0}});

  const host::AttackRunResult first = host::run_attack(config, registry, dir / "first", 2);
  // The victim, 4 shadows and 2 search models each got the scores of their own training set.
  CHECK(first.memorization_sets == 7);
  CHECK(first.memorization_cached == 0);
  REQUIRE(first.models.size() == 5);
  for (const host::ModelRecord& m : first.models) {
    INFO(m.role);
    CHECK(has_measurement(m, "risky_samples"));
    CHECK(has_measurement(m, "window_samples"));
  }

  // The choice follows the rule: the most accurate candidate within the AUC target, or
  // the lowest AUC when none is.
  REQUIRE(first.search.size() == 4);
  std::size_t chosen = 0, count = 0;
  bool any_feasible = false;
  for (std::size_t c = 0; c < 4; ++c) {
    const host::SearchRecord& r = first.search[c];
    CHECK(r.auc >= 0.0);
    CHECK(r.auc <= 1.0);
    any_feasible = any_feasible || r.auc <= 0.6;
    if (r.chosen) {
      chosen = c;
      ++count;
    }
  }
  REQUIRE(count == 1);
  for (const host::SearchRecord& r : first.search) {
    if (any_feasible) {
      CHECK(first.search[chosen].auc <= 0.6);
      if (r.auc <= 0.6) CHECK(r.test_accuracy <= first.search[chosen].test_accuracy);
    } else {
      CHECK(r.auc >= first.search[chosen].auc);
    }
  }
  for (const char* file : {"search.csv", "defense.csv", "attacks.csv", "summary.txt"}) {
    INFO(file);
    CHECK(std::filesystem::exists(dir / "first" / file));
  }

  // A rerun reads every training set's scores from the cache and gives the same results.
  const host::AttackRunResult again = host::run_attack(config, registry, {}, 1);
  CHECK(again.memorization_cached == 7);
  REQUIRE(again.attacks.size() == 1);
  CHECK(torch::equal(again.attacks[0].result.scores, first.attacks[0].result.scores));
  for (std::size_t c = 0; c < 4; ++c) CHECK(again.search[c].chosen == first.search[c].chosen);

  // The search runs on the defender's data only: with fewer attacker shadows it measures
  // exactly the same, and the summary names the parameters it chose.
  const host::AttackRunConfig fewer = host::read_attack_run(path, registry, {"shadows.count=2"});
  const host::AttackRunResult other = host::run_attack(fewer, registry, {}, 2);
  REQUIRE(other.search.size() == 4);
  for (std::size_t c = 0; c < 4; ++c) {
    CHECK(other.search[c].auc == first.search[c].auc);
    CHECK(other.search[c].test_accuracy == first.search[c].test_accuracy);
  }
  CHECK(testing::contains(host::format_attack_summary(config, first), "(chosen by the search)"));
  CHECK(testing::contains(first.chosen_defense, "defense.swmr"));
}

TEST_CASE("defenses that use reference data get the victim's and the attacker's") {
  testing::TempDir dir;
  const auto path = write_defended_run(dir);
  const auto& registry = testing::built_plugins();
  const std::vector<std::string> adversarial = {
      "pruning.defense={component: defense.adversarial_regularization, params: {hidden: 0.1}}",
      "defense_search=null", "shadows.count=2"};
  const host::AttackRunConfig config = host::read_attack_run(path, registry, adversarial);
  const host::AttackRunResult result = host::run_attack(config, registry, {}, 2);
  REQUIRE(result.models.size() == 3);
  for (const host::ModelRecord& m : result.models) {
    INFO(m.role);
    CHECK(has_measurement(m, "inference_accuracy"));
  }
  CHECK(result.memorization_sets == 0);  // this defense does not need the scores

  std::vector<std::string> without_reference = adversarial;
  without_reference.push_back("split.reference=0");
  const host::AttackRunConfig missing = host::read_attack_run(path, registry, without_reference);
  CHECK(testing::contains(
      testing::message_of<ConfigError>([&] { host::run_attack(missing, registry, {}, 1); }),
      "split.reference"));
}

TEST_CASE("defense search files: problems are named before any work") {
  testing::TempDir dir;
  const auto path = write_defended_run(dir);
  const auto& registry = testing::built_plugins();
  CHECK(testing::contains(testing::message_of<ConfigError>([&] {
                            host::read_attack_run(path, registry,
                                                  {"defense_search.grid={widht: [0.5]}"});
                          }),
                          "width"));
  CHECK(testing::contains(testing::message_of<ConfigError>([&] {
                            host::read_attack_run(path, registry, {"pruning.defense=null"});
                          }),
                          "no pruning.defense"));
  CHECK(testing::contains(testing::message_of<ConfigError>([&] {
                            host::read_attack_run(path, registry,
                                                  {"defense_search.objective=best"});
                          }),
                          "constrained"));
  CHECK(testing::contains(testing::message_of<ConfigError>([&] {
                            host::read_attack_run(path, registry,
                                                  {"defense_search.grid={width: []}"});
                          }),
                          "non-empty list"));
  CHECK(testing::contains(testing::message_of<ConfigError>([&] {
                            host::read_attack_run(path, registry, {"memorization.folds=1"});
                          }),
                          "folds"));
}

TEST_CASE("a defended pruning run computes the victim's memorization scores") {
  testing::TempDir dir;
  const std::filesystem::path path = dir / "prune.yaml";
  std::ofstream(path) << R"(seed: 5
dataset: {component: dataset.synthetic_blobs, params: {samples: 700, classes: 3, features: 6}}
model: {component: model.mlp, params: {hidden: [24]}}
split: {mode: membership, members: 240, dev: 60}
trainer: {epochs: 4, batch_size: 32}
pruning:
  pruner: {component: pruner.magnitude}
  schedule: {schedule: iterative, sparsity: 0.5, rounds: 2}
  finetune: {epochs: 2, batch_size: 32}
  defense: {component: defense.rmr, params: {threshold: 0.5}}
memorization: {folds: 2, cache: ""}
)";
  const auto& registry = testing::built_plugins();
  const host::PruningRunConfig config = host::read_pruning_run(path, registry);
  CHECK(config.memorization.folds == 2);
  CHECK(config.memorization.cache.empty());
  const host::PruningRunResult result = host::run_pruning(config, registry, {});
  double risky = -1;
  for (const auto& [name, value] : result.defense_measurements) {
    if (name == "risky_samples") risky = value;
  }
  // Min-max normalised scores: at least the top sample is risky, never all of them.
  CHECK(risky >= 1);
  CHECK(risky < 240);
  CHECK(result.memorization_seconds > 0);
}
