// `secateurs prune` below the command line: run files with overrides, the dense model
// trained or loaded, lottery-ticket rewinding, and pruned checkpoints that reload into a
// physically smaller model.
#include <fstream>

#include "host/pruning_run.h"
#include "support/built_plugins.h"
#include "support/messages.h"
#include "support/temp_dir.h"

using namespace secateurs;
using testing::contains;
using testing::make_component;
using testing::message_of;
using testing::TempDir;
using testing::TestContext;

namespace {

// A small membership-mode run on synthetic blobs; the pruning section is the caller's.
std::filesystem::path write_run(const TempDir& dir, const std::string& pruning) {
  const std::filesystem::path path = dir / "run.yaml";
  std::ofstream(path) << R"(seed: 5
dataset: {component: dataset.synthetic_blobs, params: {samples: 700, classes: 3, features: 6}}
model: {component: model.mlp, params: {hidden: [24, 12]}}
split: {mode: membership, members: 240, dev: 60}
trainer: {epochs: 4, batch_size: 32}
pruning:
)" << pruning;
  return path;
}

const char* const kStructured = R"(  pruner: {component: pruner.filter_norm, params: {norm: l1}}
  schedule: {schedule: iterative, sparsity: 0.5, rounds: 2}
  finetune: {epochs: 1, batch_size: 32, learning_rate: 0.01}
)";

}  // namespace

TEST_CASE("pruning run files: overrides are applied and validated like the file") {
  TempDir dir;
  const auto path = write_run(dir, kStructured);
  const auto& registry = testing::built_plugins();
  const host::PruningRunConfig config = host::read_pruning_run(
      path, registry, {"pruning.schedule.sparsity=0.8", "pruning.targets.exclude=[fc.0]"});
  CHECK(config.schedule.sparsity == doctest::Approx(0.8));
  CHECK(config.schedule.rounds == 2);
  CHECK(config.targets.exclude == std::vector<std::string>{"fc.0"});
  CHECK(config.finetune.epochs == 1);
  CHECK(config.checkpoint.empty());

  const std::string unknown = message_of<ConfigError>(
      [&] { host::read_pruning_run(path, registry, {"pruning.finetune.epoch=3"}); });
  CHECK(contains(unknown, "unknown parameter 'epoch'; did you mean 'epochs'?"));
  const std::string malformed =
      message_of<ConfigError>([&] { host::read_pruning_run(path, registry, {"=3"}); });
  CHECK(contains(malformed, "--set =3: expected KEY=VALUE"));
  const std::string scalar =
      message_of<ConfigError>([&] { host::read_pruning_run(path, registry, {"seed.value=3"}); });
  CHECK(contains(scalar, "'seed' is not a map"));
  CHECK(contains(message_of<ConfigError>([&] {
                   host::read_pruning_run(path, registry,
                                          {"pruning.schedule.schedule=gradual",
                                           "pruning.schedule.initial_sparsity=0.6"});
                 }),
                 "initial_sparsity 0.600 is above the final sparsity 0.500"));
  // A rewind epoch is checked only when rewinding is on.
  CHECK_NOTHROW(host::read_pruning_run(path, registry, {"pruning.start.rewind_epoch=9"}));
  const auto missing = write_run(dir, "");
  CHECK(contains(message_of<ConfigError>([&] { host::read_pruning_run(missing, registry); }),
                 "the section 'pruning' is required"));
}

TEST_CASE("a pruning run: dense trained or loaded alike, and the pruned model reloads smaller") {
  TempDir dir;
  const auto path = write_run(dir, kStructured);
  const auto& registry = testing::built_plugins();
  const host::PruningRunConfig config = host::read_pruning_run(path, registry);
  const host::PruningRunResult first = host::run_pruning(config, registry, dir / "first");
  REQUIRE(first.schedule.rounds.size() >= 2);
  REQUIRE_FALSE(first.schedule.removed.empty());
  const host::RoundRecord& last = first.schedule.rounds.back();
  CHECK(last.parameters < first.dense.parameters);
  CHECK(std::abs(last.sparsity - 0.5) <= 0.05);
  for (const char* file : {"model.ckpt", "dense.ckpt", "rounds.csv", "layers.csv", "summary.txt",
                           "plan.txt", "dense_epochs.csv"}) {
    CAPTURE(file);
    CHECK(std::filesystem::exists(dir / "first" / file));
  }

  // From the dense checkpoint: the same rounds, to the last digit.
  const host::PruningRunConfig from_checkpoint = host::read_pruning_run(
      path, registry, {"pruning.start.checkpoint=" + (dir / "first" / "dense.ckpt").string()});
  const host::PruningRunResult second = host::run_pruning(from_checkpoint, registry, {});
  CHECK_FALSE(second.dense_fit.has_value());
  REQUIRE(second.schedule.rounds.size() == first.schedule.rounds.size());
  for (std::size_t i = 0; i < first.schedule.rounds.size(); ++i) {
    CHECK(second.schedule.rounds[i].test_accuracy == first.schedule.rounds[i].test_accuracy);
    CHECK(second.schedule.rounds[i].nonzero_parameters ==
          first.schedule.rounds[i].nonzero_parameters);
  }

  // The pruned checkpoint reloads into a freshly built model, shrunk to its channels.
  host::PhaseTimes times;
  const host::RunData data = host::load_run_data(config.run, registry, times, {});
  const std::shared_ptr<Model> model = host::build_run_model(config.run, registry, data.shape);
  const host::LoadedCheckpoint loaded =
      host::load_pruned_checkpoint(dir / "first" / "model.ckpt", *model);
  CHECK(host::evaluate(*model, data.test).accuracy == last.test_accuracy);
  CHECK(loaded.metadata.at("pruner") == "pruner.filter_norm");
  std::int64_t parameters = 0;
  for (const at::Tensor& p : model->module().parameters()) parameters += p.numel();
  CHECK(parameters == last.parameters);
  // A model of the original size is refused by the strict loader, with the tensor named.
  const std::shared_ptr<Model> full = host::build_run_model(config.run, registry, data.shape);
  CHECK(contains(
      message_of<DataError>([&] { host::load_checkpoint(dir / "first" / "model.ckpt", *full); }),
      "has shape"));

  // Another seed makes another membership plan: its dense checkpoint does not fit.
  const host::PruningRunConfig other_seed = host::read_pruning_run(
      path, registry,
      {"seed=6", "pruning.start.checkpoint=" + (dir / "first" / "dense.ckpt").string()});
  CHECK(contains(message_of<ConfigError>([&] { host::run_pruning(other_seed, registry, {}); }),
                 "the dense checkpoint's seed is '5', the run file's is '6'"));
}

TEST_CASE("lottery-ticket rewinding: kept weights return to the rewind point each round") {
  TempDir dir;
  const auto path =
      write_run(dir, R"(  pruner: {component: pruner.magnitude, params: {scope: global}}
  schedule: {schedule: iterative, sparsity: 0.6, rounds: 2, rewind: true, remove_channels: false}
  finetune: {epochs: 1, batch_size: 32, learning_rate: 0.0, momentum: 0.0, weight_decay: 0.0}
  start: {rewind_epoch: 0}
)");
  const auto& registry = testing::built_plugins();
  const host::PruningRunConfig config = host::read_pruning_run(path, registry);
  const host::PruningRunResult result = host::run_pruning(config, registry, dir / "out");

  // With a zero learning rate the fine-tuning changes nothing, so the pruned model is the
  // initialisation (rebuilt from the seed) times the masks.
  host::PhaseTimes times;
  const host::RunData data = host::load_run_data(config.run, registry, times, {});
  const std::shared_ptr<Model> initial = host::build_run_model(config.run, registry, data.shape);
  const std::shared_ptr<Model> pruned = host::build_run_model(config.run, registry, data.shape);
  host::load_pruned_checkpoint(dir / "out" / "model.ckpt", *pruned);
  auto want = initial->module().named_parameters();
  for (const auto& item : pruned->module().named_parameters()) {
    CAPTURE(item.key());
    const auto mask = result.schedule.masks.find(item.key());
    const at::Tensor expected =
        mask == result.schedule.masks.end() ? want[item.key()] : want[item.key()] * mask->second;
    CHECK(torch::equal(item.value(), expected));
  }
  // Rewinding past the dense epochs is refused before any work.
  CHECK(contains(message_of<ConfigError>([&] {
                   host::read_pruning_run(path, registry, {"pruning.start.rewind_epoch=9"});
                 }),
                 "rewind_epoch 9 is past the dense training's 4 epochs"));
}
