// The trainer: masks, early stopping, determinism, defense hooks, inference.
#include "support/doctest_torch.h"

#include <ATen/Parallel.h>

#include <cmath>
#include <map>
#include <numbers>
#include <set>
#include <vector>

#include "host/trainer.h"
#include "host/yaml_params.h"
#include "secateurs/error.h"
#include "secateurs/gradients.h"
#include "secateurs/random.h"
#include "support/messages.h"
#include "support/test_context.h"
#include "support/tiny_model.h"

using namespace secateurs;
using namespace secateurs::host;
using secateurs::testing::blobs;
using secateurs::testing::same_weights;
using secateurs::testing::TestContext;
using secateurs::testing::TinyMlp;
using secateurs::testing::weights_of;

namespace {

constexpr std::int64_t kFeatures = 8;
constexpr std::int64_t kClasses = 4;

std::unique_ptr<TinyMlp> built_model(std::uint64_t seed = 3) {
  auto model = std::make_unique<TinyMlp>();
  TestContext context(seed);
  model->build(DataShape{{kFeatures}, kClasses}, context);
  return model;
}

TrainerSettings quick_settings() {
  TrainerSettings s;
  s.epochs = 3;
  s.batch_size = 16;
  s.learning_rate = 0.1;
  s.seed = 11;
  return s;
}

// Records what the trainer asks of a defense.
class RecordingDefense : public Defense {
 public:
  std::vector<std::vector<std::int64_t>> step_positions;  // one entry per optimizer step
  std::vector<int> epochs_started;

  std::vector<std::int64_t> epoch_samples(const TrainingSet&, const RoundInfo&, int epoch,
                                          Context&) override {
    epochs_started.push_back(epoch);
    return chosen;
  }
  std::vector<SampleGroup> sample_groups(const TrainingSet&, const RoundInfo&, Context&) override {
    return groups;
  }
  void after_step(Model&, const Batch& batch, Context&) override {
    const at::Tensor p = batch.positions.contiguous();
    step_positions.emplace_back(p.data_ptr<std::int64_t>(), p.data_ptr<std::int64_t>() + p.numel());
  }

  std::vector<std::int64_t> chosen;
  std::vector<SampleGroup> groups;
};

}  // namespace

TEST_CASE("pruned weights stay exactly zero after 100 steps with momentum and weight decay") {
  const LabeledData data = blobs(160, kFeatures, kClasses, 1);
  for (OptimizerKind optimizer : {OptimizerKind::Sgd, OptimizerKind::Adam, OptimizerKind::AdamW}) {
    CAPTURE(static_cast<int>(optimizer));
    auto model = built_model();
    MaskSet masks;
    for (const auto& item : model->module().named_parameters()) {
      // Every other entry of each weight matrix, and half of the first bias.
      at::Tensor mask = torch::ones_like(item.value());
      if (item.key() == "fc1.bias") {
        mask.slice(0, 0, 8).zero_();
      } else {
        mask.view(-1).slice(0, 0, mask.numel(), 2).zero_();
      }
      masks[item.key()] = mask;
    }
    const std::vector<at::Tensor> before = weights_of(*model);
    TrainerSettings s = quick_settings();
    s.optimizer = optimizer;
    s.epochs = 10;  // 160 / 16 = 10 steps per epoch: 100 steps
    s.momentum = 0.9;
    s.nesterov = optimizer == OptimizerKind::Sgd;
    s.weight_decay = 0.01;
    s.learning_rate = optimizer == OptimizerKind::Sgd ? 0.1 : 0.01;
    FitOptions options;
    options.masks = &masks;
    TestContext context;
    fit(*model, data, s, options, context);

    for (const auto& item : model->module().named_parameters()) {
      CAPTURE(item.key());
      const at::Tensor& mask = masks.at(item.key());
      CHECK(item.value().masked_select(mask.eq(0)).abs().max().item<float>() == 0.0f);
      // The kept weights did train.
      CHECK(item.value().masked_select(mask.eq(1)).abs().sum().item<float>() > 0.0f);
    }
    CHECK_FALSE(same_weights(before, weights_of(*model)));
  }
}

TEST_CASE("a mask that does not fit the model is refused with its name") {
  auto model = built_model();
  MaskSet masks{{"fc9.weight", torch::ones({2, 2})}};
  CHECK(testing::message_of<Error>([&] {
          apply_masks(*model, masks);
        }).find("'fc9.weight': the model has no such parameter") != std::string::npos);
  masks = {{"fc1.weight", torch::ones({2, 2})}};
  CHECK(testing::message_of<Error>([&] {
          apply_masks(*model, masks);
        }).find("'fc1.weight': expected shape [16, 8], found [2, 2]") != std::string::npos);
}

TEST_CASE("two runs with one seed give identical weights; another seed does not") {
  const LabeledData data = blobs(200, kFeatures, kClasses, 2);
  auto train = [&](std::uint64_t seed, int threads) {
    const int before = at::get_num_threads();
    at::set_num_threads(threads);
    auto model = built_model();
    TrainerSettings s = quick_settings();
    s.seed = seed;
    TestContext context;
    fit(*model, data, s, FitOptions{}, context);
    at::set_num_threads(before);
    return weights_of(*model);
  };
  const std::vector<at::Tensor> first = train(5, 1);
  CHECK(same_weights(first, train(5, 1)));
  CHECK(same_weights(first, train(5, 2)));
  CHECK_FALSE(same_weights(first, train(6, 1)));
}

TEST_CASE("early stopping stops after `patience` epochs and restores the best weights") {
  const LabeledData training = blobs(200, kFeatures, kClasses, 3);
  const LabeledData dev = blobs(100, kFeatures, kClasses, 3);  // same centres (same seed)

  // From the third epoch on, the defense wrecks the weights after every step, so the dev
  // accuracy drops and the best epoch is one of the first two.
  class Sabotage final : public RecordingDefense {
   public:
    std::map<int, std::vector<at::Tensor>> at_epoch_start;
    Model* model = nullptr;
    std::vector<std::int64_t> epoch_samples(const TrainingSet& t, const RoundInfo& r, int epoch,
                                            Context& c) override {
      at_epoch_start[epoch] = weights_of(*model);
      return RecordingDefense::epoch_samples(t, r, epoch, c);
    }
    void after_step(Model& m, const Batch&, Context&) override {
      if (epochs_started.back() < 2) return;
      torch::NoGradGuard no_grad;
      for (at::Tensor& p : m.module().parameters()) p.zero_();  // every logit 0: class 0
    }
  };

  auto model = built_model();
  Sabotage defense;
  defense.model = model.get();
  TrainerSettings s = quick_settings();
  s.epochs = 20;
  s.patience = 3;
  s.restore_best = true;
  FitOptions options;
  options.dev = &dev;
  options.defense = &defense;
  TestContext context;
  const FitReport report = fit(*model, training, s, options, context);

  const int best = report.best_epoch;
  REQUIRE((best == 0 || best == 1));
  CHECK(report.stopped_early);
  CHECK(report.restored_best);
  // The best epoch, then `patience` epochs without improvement.
  CHECK(report.epochs.size() == static_cast<std::size_t>(best + 1 + 3));
  // The weights at the end of an epoch are those at the start of the next.
  CHECK(same_weights(weights_of(*model), defense.at_epoch_start.at(best + 1)));
  CHECK(evaluate(*model, dev).accuracy == doctest::Approx(report.epochs[best].dev_accuracy));
  CHECK(report.epochs[best].dev_accuracy > report.epochs.back().dev_accuracy);
}

TEST_CASE("early stopping without a dev set is a configuration error") {
  auto model = built_model();
  TrainerSettings s = quick_settings();
  s.patience = 2;
  TestContext context;
  CHECK(testing::message_of<ConfigError>([&] {
          fit(*model, blobs(20, kFeatures, kClasses, 1), s, FitOptions{}, context);
        }).find("needs a dev set") != std::string::npos);
}

TEST_CASE("the learning rate follows the step and cosine schedules") {
  const LabeledData data = blobs(32, kFeatures, kClasses, 4);
  TrainerSettings s = quick_settings();
  s.epochs = 6;
  s.learning_rate = 0.2;
  TestContext context;

  s.schedule = LrSchedule::Step;
  s.step_size = 2;
  s.gamma = 0.5;
  auto model = built_model();
  FitReport report = fit(*model, data, s, FitOptions{}, context);
  const std::vector<double> step = {0.2, 0.2, 0.1, 0.1, 0.05, 0.05};
  for (int e = 0; e < 6; ++e) CHECK(report.epochs[e].learning_rate == doctest::Approx(step[e]));

  s.schedule = LrSchedule::Cosine;
  s.min_learning_rate = 0.02;
  model = built_model();
  report = fit(*model, data, s, FitOptions{}, context);
  for (int e = 0; e < 6; ++e) {
    const double expected = 0.02 + 0.18 * (1 + std::cos(std::numbers::pi * e / 6.0)) / 2;
    CHECK(report.epochs[e].learning_rate == doctest::Approx(expected));
  }
}

TEST_CASE("a defense chooses each epoch's samples, and sample groups take separate steps") {
  const LabeledData data = blobs(40, kFeatures, kClasses, 5);
  auto model = built_model();
  RecordingDefense defense;
  defense.chosen = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
  defense.groups = {{"risky", {1, 3, 5}, {0.5, 1.0}}};
  TrainerSettings s = quick_settings();
  s.epochs = 2;
  s.batch_size = 6;
  FitOptions options;
  options.defense = &defense;
  TestContext context;
  const FitReport report = fit(*model, data, s, options, context);

  CHECK(defense.epochs_started == std::vector<int>{0, 1});
  CHECK(report.epochs[0].samples == 12);
  const std::set<std::int64_t> risky{1, 3, 5};
  std::multiset<std::int64_t> seen;
  for (const auto& step : defense.step_positions) {
    REQUIRE_FALSE(step.empty());
    const bool first_risky = risky.count(step.front()) > 0;
    for (std::int64_t p : step) {
      CHECK(p < 12);
      CHECK((risky.count(p) > 0) == first_risky);  // a step never mixes groups
      seen.insert(p);
    }
  }
  CHECK(seen.size() == 24);  // every chosen sample, once per epoch
  for (std::int64_t p = 0; p < 12; ++p) CHECK(seen.count(p) == 2);
  // A group is batched on its own: its 3 samples take ceil(3 / 6) = 1 step per epoch, the
  // 9 others ceil(9 / 6) = 2, and the group's step falls mid-epoch (key 0.5 of 0.25, 0.75).
  REQUIRE(defense.step_positions.size() == 6);
  for (std::size_t step = 0; step < 6; ++step) {
    const bool group_step = risky.count(defense.step_positions[step].front()) > 0;
    CHECK(group_step == (step % 3 == 1));
    CHECK(defense.step_positions[step].size() == (group_step ? 3 : step % 3 == 0 ? 6 : 3));
  }
}

TEST_CASE("a sample group's weight decay acts only in its own steps") {
  // With learning-rate scale 0 nothing can move in the group's steps, so a group holding
  // every sample leaves the model untouched whatever its weight decay.
  const LabeledData data = blobs(30, kFeatures, kClasses, 6);
  auto model = built_model();
  const std::vector<at::Tensor> before = weights_of(*model);
  RecordingDefense defense;
  std::vector<std::int64_t> all(30);
  for (std::int64_t i = 0; i < 30; ++i) all[static_cast<std::size_t>(i)] = i;
  defense.groups = {{"frozen", all, {5.0, 0.0}}};
  FitOptions options;
  options.defense = &defense;
  TestContext context;
  fit(*model, data, quick_settings(), options, context);
  CHECK(same_weights(before, weights_of(*model)));
}

TEST_CASE("a non-finite loss stops training with the epoch and batch") {
  class NanLoss final : public Defense {
    at::Tensor loss(Model&, const Batch&, const at::Tensor&, const at::Tensor& base,
                    Context&) override {
      return base * std::nan("");
    }
  } defense;
  auto model = built_model();
  FitOptions options;
  options.defense = &defense;
  TestContext context;
  const std::string message = testing::message_of<DataError>(
      [&] { fit(*model, blobs(20, kFeatures, kClasses, 1), quick_settings(), options, context); });
  CHECK(message.find("training diverged") != std::string::npos);
  CHECK(message.find("epoch 1, batch 1") != std::string::npos);
}

TEST_CASE("the MLP fits a separable problem and memorises noisy labels") {
  const LabeledData data = blobs(300, kFeatures, kClasses, 8, /*label_noise=*/0.1);
  auto model = built_model();
  TrainerSettings s = quick_settings();
  s.epochs = 60;
  s.learning_rate = 0.05;
  s.weight_decay = 0;
  TestContext context;
  const FitReport report = fit(*model, data, s, FitOptions{}, context);
  CHECK(report.epochs.back().train_loss < report.epochs.front().train_loss);
  CHECK(evaluate(*model, data).accuracy > 0.9);
}

TEST_CASE("predict returns logits and posteriors of the selected rows in eval mode") {
  const LabeledData data = blobs(50, kFeatures, kClasses, 9);
  auto model = built_model();
  model->module().train(true);
  const at::Tensor indices = torch::tensor({7, 3, 49, 0}, torch::kInt64);
  const Predictions out = predict(*model, data.inputs, indices, /*batch_size=*/3);
  CHECK(model->module().is_training());
  REQUIRE(out.logits.sizes() == at::IntArrayRef{4, kClasses});
  at::Tensor expected;
  {
    torch::NoGradGuard no_grad;
    expected = model->forward(data.inputs.index_select(0, indices));
  }
  CHECK(torch::allclose(out.logits, expected));
  CHECK(torch::allclose(out.posteriors, torch::softmax(expected, 1)));
  CHECK(torch::allclose(out.posteriors.sum(1), torch::ones({4})));
  CHECK_FALSE(out.logits.requires_grad());
  CHECK(predict(*model, data.inputs).logits.size(0) == 50);
}

TEST_CASE("trainer settings are validated from YAML like a component's parameters") {
  const YAML::Node node = YAML::Load("optimizer: adamw\nepochs: 4\nlearning_rat: 0.1\n");
  const std::string message = testing::message_of<ConfigError>(
      [&] { params_from_yaml(trainer_schema(), "trainer", node, "run.yaml"); });
  CHECK_MESSAGE(message.find("unknown parameter 'learning_rat'; did you mean 'learning_rate'") !=
                    std::string::npos,
                message);
  const TrainerSettings s = trainer_settings(params_from_yaml(
      trainer_schema(), "trainer", YAML::Load("optimizer: adamw\nepochs: 4\n"), "run.yaml"));
  CHECK(s.optimizer == OptimizerKind::AdamW);
  CHECK(s.epochs == 4);
  CHECK(s.batch_size == TrainerSettings{}.batch_size);
}

TEST_CASE("adversarial training: seeded, off at fraction 0, and lowers the loss under PGD") {
  // Blobs rescaled into [0, 1], the range the PGD examples are kept in.
  LabeledData data = blobs(240, kFeatures, kClasses, 8);
  const at::Tensor low = data.inputs.min(), high = data.inputs.max();
  data.inputs = (data.inputs - low) / (high - low);
  auto train = [&](double epsilon, double fraction) {
    auto model = built_model();
    TrainerSettings s = quick_settings();
    s.epochs = 20;
    s.adversarial_epsilon = epsilon;
    s.adversarial_steps = 3;
    s.adversarial_fraction = fraction;
    TestContext context;
    fit(*model, data, s, FitOptions{}, context);
    return model;
  };
  const auto clean = train(0.0, 1.0);
  const auto robust = train(0.05, 1.0);
  CHECK(same_weights(weights_of(*robust), weights_of(*train(0.05, 1.0))));
  CHECK(same_weights(weights_of(*clean), weights_of(*train(0.05, 0.0))));
  CHECK_FALSE(same_weights(weights_of(*clean), weights_of(*robust)));

  // The objective adversarial training minimises: the loss on PGD examples.
  PgdSettings attack;
  attack.epsilon = 0.05;
  attack.steps = 10;
  const auto pgd_loss = [&](Model& model) {
    const at::Tensor examples = pgd_examples(model, data, attack, make_generator(99));
    const LabeledData adversarial{examples, data.labels, data.num_classes};
    return evaluate(model, adversarial).loss;
  };
  CHECK(pgd_loss(*robust) < pgd_loss(*clean));
}
