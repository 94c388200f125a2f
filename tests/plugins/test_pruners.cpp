// The pruner plugins and the host's pruning: one body of checks run against every pruner
// (sparsity reached, masks kept through fine-tuning, same seed same mask, output layer
// untouched), structured removal against the masked model, and the schedules.
#include <cmath>

#include "host/pruning.h"
#include "support/built_plugins.h"
#include "support/messages.h"
#include "support/tiny_model.h"

using namespace secateurs;
using testing::contains;
using testing::make_component;
using testing::message_of;
using testing::TestContext;

namespace {

struct Network {
  const char* component;
  const char* yaml;
  DataShape shape;
  const char* output_weight;
};

// Layers wide enough that one channel holds less than 1% of the pruned weights, so that
// whole channels can land within 0.5% of a requested sparsity.
const Network kMlp{"model.mlp", "hidden: [256, 128]", {{1, 28, 28}, 10}, "classifier.weight"};
const Network kVgg{"model.vgg_bn", "width: 0.125", {{3, 16, 16}, 10}, "classifier.weight"};
const Network kResNet{"model.resnet18", "width: 0.25", {{3, 16, 16}, 10}, "fc.weight"};

struct PrunerCase {
  const char* component;
  const char* yaml;
  bool structured;
  bool needs_batch_norm;
};

const PrunerCase kPruners[] = {
    {"pruner.magnitude", "scope: layer", false, false},
    {"pruner.magnitude", "scope: global", false, false},
    {"pruner.random", "{}", false, false},
    {"pruner.taylor", "batches: 2", false, false},
    {"pruner.snip", "examples: 64", false, false},
    {"pruner.adversarial", "{batches: 1, steps: 2}", false, false},
    {"pruner.filter_norm", "norm: l1", true, false},
    {"pruner.filter_norm", "{norm: l2, scope: global}", true, false},
    {"pruner.slimming", "{}", true, true},
    {"pruner.hybrid", "{}", true, false},
};

std::shared_ptr<Model> build(const Network& network, std::uint64_t seed = 11) {
  std::shared_ptr<Model> model = make_component<Model>(network.component, network.yaml);
  TestContext context(seed);
  model->build(network.shape, context);
  return model;
}

LabeledData uniform_examples(const DataShape& shape, std::int64_t n, std::uint64_t seed) {
  at::Generator generator = make_generator(seed);
  std::vector<std::int64_t> sizes{n};
  sizes.insert(sizes.end(), shape.input_shape.begin(), shape.input_shape.end());
  return {torch::rand(sizes, generator), torch::randint(shape.num_classes, {n}, generator),
          shape.num_classes};
}

// Batch-norm scales made unequal, as training makes them, so that slimming has a ranking.
void spread_batch_norm_scales(Model& model) {
  torch::NoGradGuard no_grad;
  at::Generator generator = make_generator(5);
  for (const auto& item : model.module().named_modules("", false)) {
    if (auto* norm = item.value()->as<torch::nn::BatchNorm2d>()) {
      norm->weight.copy_(torch::rand(norm->weight.sizes(), generator) + 0.1);
      norm->running_var.copy_(torch::rand(norm->running_var.sizes(), generator) + 0.5);
      norm->running_mean.copy_(torch::randn(norm->running_mean.sizes(), generator) * 0.1);
    }
  }
}

host::MaskSet prune_once(Model& model, const PrunerCase& pruner_case, const Network& network,
                         double sparsity, const LabeledData& data,
                         std::vector<std::string>* targets_out = nullptr) {
  const std::vector<std::string> targets = host::select_targets(model, network.shape, {});
  std::shared_ptr<Pruner> pruner = make_component<Pruner>(pruner_case.component, pruner_case.yaml);
  TestContext context(3);
  host::MaskSet masks = host::prune_masks(model, *pruner, pruner_case.component, targets, {},
                                          sparsity, &data, 32, context);
  if (targets_out != nullptr) *targets_out = targets;
  return masks;
}

std::vector<Network> networks_for(const PrunerCase& pruner_case) {
  if (pruner_case.needs_batch_norm) return {kVgg, kResNet};
  if (pruner_case.structured) return {kMlp, kVgg, kResNet};
  return {kMlp};
}

}  // namespace

TEST_CASE("every pruner: sparsity reached, masks exact after fine-tuning, seeded, output kept") {
  for (const PrunerCase& pruner_case : kPruners) {
    for (const Network& network : networks_for(pruner_case)) {
      const std::string pruner_name = pruner_case.component, pruner_yaml = pruner_case.yaml,
                        network_name = network.component;
      CAPTURE(pruner_name);
      CAPTURE(pruner_yaml);
      CAPTURE(network_name);
      const LabeledData data = uniform_examples(network.shape, 64, 21);
      std::shared_ptr<Model> model = build(network);
      spread_batch_norm_scales(*model);
      const at::Tensor output_before =
          model->module().named_parameters()[network.output_weight].detach().clone();

      std::vector<std::string> targets;
      const double requested = 0.6;
      host::MaskSet masks = prune_once(*model, pruner_case, network, requested, data, &targets);
      const double reached = host::target_sparsity(*model, targets, masks);
      CHECK(std::abs(reached - requested) <= 0.005);
      CHECK(masks.count(network.output_weight) == 0);

      // The same seed and model give the same masks.
      std::shared_ptr<Model> twin = build(network);
      spread_batch_norm_scales(*twin);
      const host::MaskSet again = prune_once(*twin, pruner_case, network, requested, data);
      REQUIRE(again.size() == masks.size());
      for (const auto& [name, mask] : masks) CHECK(torch::equal(mask, again.at(name)));

      // Fine-tuning with momentum and weight decay keeps every masked entry at zero.
      host::apply_masks(*model, masks);
      host::TrainerSettings settings;
      settings.epochs = 2;
      settings.batch_size = 16;
      settings.learning_rate = 0.05;
      settings.weight_decay = 5e-3;
      host::FitOptions options;
      options.masks = &masks;
      TestContext train_context(4);
      host::fit(*model, data, settings, options, train_context);
      auto params = model->module().named_parameters();
      for (const auto& [name, mask] : masks) {
        CAPTURE(name);
        CHECK(params[name].detach().masked_select(mask.eq(0)).abs().max().item<double>() == 0.0);
      }
      // The output layer was trained but never pruned.
      CHECK(params[network.output_weight].detach().eq(0).sum().item<std::int64_t>() ==
            output_before.eq(0).sum().item<std::int64_t>());
    }
  }
}

TEST_CASE("structured pruning: the smaller model gives the masked model's outputs") {
  for (const PrunerCase& pruner_case : kPruners) {
    if (!pruner_case.structured) continue;
    for (const Network& network : networks_for(pruner_case)) {
      const std::string pruner_name = pruner_case.component, network_name = network.component;
      CAPTURE(pruner_name);
      CAPTURE(network_name);
      const LabeledData data = uniform_examples(network.shape, 48, 22);
      std::shared_ptr<Model> model = build(network);
      spread_batch_norm_scales(*model);
      host::MaskSet masks = prune_once(*model, pruner_case, network, 0.5, data);
      host::apply_masks(*model, masks);
      model->module().train(false);
      const at::Tensor masked = host::predict(*model, data.inputs).logits;
      std::int64_t before = 0;
      for (const at::Tensor& p : model->module().parameters()) before += p.numel();

      const std::vector<host::RemovedChannels> removed = host::remove_dead_channels(*model, masks);
      std::int64_t gone = 0;
      for (const host::RemovedChannels& r : removed) gone += r.before - r.after;
      CHECK(gone > 0);
      std::int64_t after = 0;
      for (const at::Tensor& p : model->module().parameters()) after += p.numel();
      CHECK(after < before);
      const at::Tensor smaller = host::predict(*model, data.inputs).logits;
      CHECK((smaller - masked).abs().max().item<double>() < 1e-5);
      // The masks shrank with their tensors.
      auto params = model->module().named_parameters();
      for (const auto& [name, mask] : masks) CHECK(mask.sizes() == params[name].sizes());
      // The group sizes follow the tensors.
      for (const ChannelGroup& group : model->channel_groups()) {
        CHECK(params[group.producers.front() + ".weight"].size(0) == group.size);
      }
    }
  }
}

TEST_CASE("structured pruners refuse models without channel groups or batch norms") {
  const LabeledData data = uniform_examples(kMlp.shape, 16, 1);
  std::shared_ptr<Model> model = build(kMlp);
  const std::string message = message_of<ConfigError>([&] {
    prune_once(*model, {"pruner.slimming", "{}", true, true}, kMlp, 0.5, data);
  });
  CHECK(contains(message, "batch norm"));

  // A model that declares no channel groups (the test's own TinyMlp).
  testing::TinyMlp tiny(16);
  TestContext context(1);
  tiny.build({{12}, 4}, context);
  const LabeledData rows = uniform_examples({{12}, 4}, 8, 2);
  const std::string no_groups = message_of<ConfigError>([&] {
    prune_once(tiny, {"pruner.filter_norm", "{}", true, false},
               {"tiny", "", {{12}, 4}, "fc2.weight"}, 0.5, rows);
  });
  CHECK(contains(no_groups, "no channel groups"));
}

TEST_CASE("data-driven pruners need data") {
  std::shared_ptr<Model> model = build(kMlp);
  const std::vector<std::string> targets = host::select_targets(*model, kMlp.shape, {});
  std::shared_ptr<Pruner> pruner = make_component<Pruner>("pruner.taylor", "{}");
  TestContext context(1);
  const std::string message = message_of<ConfigError>([&] {
    host::prune_masks(*model, *pruner, "pruner.taylor", targets, {}, 0.5, nullptr, 32, context);
  });
  CHECK(contains(message, "training data"));
}

TEST_CASE("target selection: output layer excluded by default, include and exclude patterns") {
  std::shared_ptr<Model> model = build(kMlp);
  CHECK(host::select_targets(*model, kMlp.shape, {}) ==
        std::vector<std::string>{"features.0.weight", "features.2.weight"});
  host::TargetSelection with_output;
  with_output.include_output = true;
  CHECK(host::select_targets(*model, kMlp.shape, with_output).size() == 3);
  host::TargetSelection only_first;
  only_first.include = {"features.0"};
  CHECK(host::select_targets(*model, kMlp.shape, only_first) ==
        std::vector<std::string>{"features.0.weight"});
  host::TargetSelection exclude;
  exclude.exclude = {"features.*"};
  CHECK(
      contains(message_of<ConfigError>([&] { host::select_targets(*model, kMlp.shape, exclude); }),
               "no layer is left to prune"));
}

TEST_CASE("iterative schedule: cumulative sparsity after each round follows 1-(1-S)^(k/n)") {
  const LabeledData data = uniform_examples(kMlp.shape, 64, 30);
  std::shared_ptr<Model> model = build(kMlp);
  std::shared_ptr<Pruner> pruner = make_component<Pruner>("pruner.magnitude", "scope: global");
  host::ScheduleSettings settings;
  settings.kind = host::ScheduleKind::Iterative;
  settings.sparsity = 0.8;
  settings.rounds = 4;
  settings.dense_round = true;
  host::ScheduleInputs inputs;
  inputs.training = &data;
  inputs.dev = &data;
  inputs.targets = host::select_targets(*model, kMlp.shape, {});
  inputs.pruner_name = "pruner.magnitude";
  inputs.finetune.epochs = 1;
  inputs.finetune.batch_size = 32;
  inputs.shape = kMlp.shape;
  TestContext context(2);
  const host::ScheduleResult result =
      host::run_schedule(*model, *pruner, settings, inputs, context);
  REQUIRE(result.rounds.size() == 5);
  CHECK(result.rounds[0].round == 0);
  CHECK(result.rounds[0].sparsity == 0.0);
  for (int k = 1; k <= 4; ++k) {
    const host::RoundRecord& r = result.rounds[static_cast<std::size_t>(k)];
    const double formula = 1.0 - std::pow(1.0 - 0.8, k / 4.0);
    CHECK(r.requested_sparsity == doctest::Approx(formula).epsilon(1e-12));
    CHECK(std::abs(r.sparsity - formula) < 1e-5);
    CHECK(r.effective_macs < result.rounds[static_cast<std::size_t>(k - 1)].effective_macs);
    CHECK(r.size_bytes < result.rounds[static_cast<std::size_t>(k - 1)].size_bytes);
    CHECK(r.layers.size() == 2);
  }
  // AGP reaches the final sparsity at its last round and starts from the initial one.
  host::ScheduleSettings gradual = settings;
  gradual.kind = host::ScheduleKind::Gradual;
  gradual.initial_sparsity = 0.1;
  CHECK(host::scheduled_sparsity(gradual, 4) == doctest::Approx(0.8));
  CHECK(host::scheduled_sparsity(gradual, 0) == doctest::Approx(0.1));
  CHECK(host::scheduled_sparsity(gradual, 2) == doctest::Approx(0.8 - 0.7 / 8));
}

TEST_CASE(
    "adaptive schedule: a round that exceeds the accuracy budget is undone and the step halved") {
  // A tiny network that has learned well separated blobs: cutting 95% of its first layer
  // costs accuracy that one slow fine-tuning epoch cannot win back.
  const LabeledData train = testing::blobs(400, 12, 4, 3);
  const LabeledData dev = testing::blobs(200, 12, 4, 3);
  testing::TinyMlp model(32);
  TestContext context(6);
  model.build({{12}, 4}, context);
  host::TrainerSettings dense;
  dense.epochs = 20;
  dense.batch_size = 32;
  host::fit(model, train, dense, {}, context);
  const double baseline = host::evaluate(model, dev).accuracy;
  REQUIRE(baseline > 0.9);

  std::shared_ptr<Pruner> pruner = make_component<Pruner>("pruner.magnitude", "{}");
  host::ScheduleSettings settings;
  settings.kind = host::ScheduleKind::Adaptive;
  settings.sparsity = 0.95;
  settings.step = 0.95;
  settings.budget = 0.02;
  settings.min_step = 0.05;
  settings.max_rounds = 12;
  host::ScheduleInputs inputs;
  inputs.training = &train;
  inputs.dev = &dev;
  inputs.targets = {"fc1.weight"};
  inputs.pruner_name = "pruner.magnitude";
  inputs.finetune.epochs = 1;
  inputs.finetune.batch_size = 32;
  inputs.finetune.learning_rate = 1e-4;
  inputs.shape = {{12}, 4};
  const host::ScheduleResult result = host::run_schedule(model, *pruner, settings, inputs, context);
  REQUIRE(!result.rounds.empty());
  CHECK_FALSE(result.rounds[0].kept);
  CHECK(contains(result.rounds[0].note, "step halved"));
  // After the undone round the model is back where it was.
  REQUIRE(result.rounds.size() >= 2);
  CHECK(result.rounds[1].requested_sparsity < result.rounds[0].requested_sparsity);
  // Every kept round held the budget.
  for (const host::RoundRecord& r : result.rounds) {
    if (r.kept) CHECK(baseline - r.dev_accuracy <= 0.02 + 1e-12);
  }
  CHECK(host::target_sparsity(model, inputs.targets, result.masks) < 0.95);
}

TEST_CASE("keep_highest: layer and global scope, ties by position, already-pruned stay") {
  PruneTarget a{"a", torch::tensor({1.0f, 2.0f, 3.0f, 4.0f}), torch::ones({4})};
  PruneTarget b{"b", torch::tensor({10.0f, 20.0f, 30.0f, 40.0f}),
                torch::tensor({1.0f, 0.0f, 1.0f, 1.0f})};
  const std::vector<at::Tensor> scores{a.weight.abs(), b.weight.abs()};
  const auto layer = keep_highest({a, b}, scores, 0.5, PruneScope::Layer);
  CHECK(torch::equal(layer[0], torch::tensor({0.0f, 0.0f, 1.0f, 1.0f})));
  CHECK(torch::equal(layer[1], torch::tensor({0.0f, 0.0f, 1.0f, 1.0f})));
  const auto global = keep_highest({a, b}, scores, 0.5, PruneScope::Global);
  CHECK(torch::equal(global[0], torch::tensor({0.0f, 0.0f, 0.0f, 1.0f})));
  CHECK(torch::equal(global[1], torch::tensor({1.0f, 0.0f, 1.0f, 1.0f})));
  CHECK(mask_sparsity(global) == doctest::Approx(0.5));
  const auto ties = keep_highest({a}, {torch::ones({4})}, 0.5, PruneScope::Layer);
  CHECK(torch::equal(ties[0], torch::tensor({0.0f, 0.0f, 1.0f, 1.0f})));
  CHECK(contains(message_of<ConfigError>(
                     [&] { keep_highest({a}, {torch::ones({4})}, 1.0, PruneScope::Layer); }),
                 "sparsity must be in [0, 1)"));
}
