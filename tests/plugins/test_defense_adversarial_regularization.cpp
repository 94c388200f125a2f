// defense.adversarial_regularization: the regularizer is lambda times the inference model's
// mean membership probability on the batch, the inference model learns to tell a
// memorising classifier's members from reference data, and a fit with the defense is
// reproducible.
#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include "host/trainer.h"
#include "support/built_plugins.h"
#include "support/messages.h"
#include "support/tiny_model.h"

using namespace secateurs;
using testing::make_component;
using testing::TestContext;
using testing::TinyMlp;
using testing::weights_of;

namespace {

constexpr std::int64_t kFeatures = 16;
constexpr std::int64_t kClasses = 10;
constexpr std::int64_t kMembers = 64;
constexpr std::int64_t kBatch = 32;
constexpr char kComponent[] = "defense.adversarial_regularization";

// Gaussian inputs with labels drawn independently of them: only memorisation fits them,
// so a classifier that fits the members answers differently on any other sample.
LabeledData random_labels(std::int64_t count, std::uint64_t seed) {
  at::Generator generator = make_generator(seed);
  return {torch::randn({count, kFeatures}, generator, torch::kFloat64).to(torch::kFloat32),
          torch::randint(kClasses, {count}, generator, torch::kInt64), kClasses};
}

// A small inference model (1/8 of the paper's widths) keeps each test well under a second.
std::shared_ptr<Defense> make_defense(const std::string& extra = "") {
  return make_component<Defense>(kComponent, "{hidden: 0.125" + extra + "}");
}

std::shared_ptr<TinyMlp> built_model(std::uint64_t seed) {
  auto model = std::make_shared<TinyMlp>(64);
  TestContext context(seed);
  model->build({{kFeatures}, kClasses}, context);
  return model;
}

TrainingSet training_set(const LabeledData& members, const LabeledData* reference) {
  TrainingSet set{members.inputs, members.labels, members.num_classes, {}, {}, {}};
  if (reference != nullptr) {
    set.reference_inputs = reference->inputs;
    set.reference_labels = reference->labels;
  }
  return set;
}

Batch batch_of(const LabeledData& data, std::int64_t start, std::int64_t count) {
  return {data.inputs.slice(0, start, start + count),
          data.labels.slice(0, start, start + count),
          torch::arange(start, start + count),
          {}};
}

host::TrainerSettings quick_settings(std::uint64_t seed) {
  host::TrainerSettings s;
  s.epochs = 6;
  s.batch_size = 16;
  s.learning_rate = 0.05;
  s.schedule = host::LrSchedule::Constant;
  s.seed = seed;
  return s;
}

// The members, and a TinyMlp trained without the defense until it fits their random
// labels: its posteriors on members and on reference samples differ clearly.
struct Memorized {
  LabeledData members = random_labels(kMembers, 1);
  LabeledData reference = random_labels(kMembers, 2);
  std::shared_ptr<TinyMlp> model = built_model(3);
};

const Memorized& memorized() {
  static const Memorized built = [] {
    Memorized m;
    host::TrainerSettings s = quick_settings(4);
    s.epochs = 150;
    s.learning_rate = 0.1;
    s.weight_decay = 0;
    TestContext context(4);
    host::fit(*m.model, m.members, s, {}, context);
    return m;
  }();
  return built;
}

double inference_accuracy(const Defense& defense) {
  for (const auto& [name, value] : defense.measurements()) {
    if (name == "inference_accuracy") return value;
  }
  FAIL("no inference_accuracy among the measurements");
  return 0;
}

// The regularizer's value: the defense's loss minus the trainer's cross-entropy.
double regularizer(Defense& defense, Model& model, const Batch& batch, Context& context) {
  const at::Tensor logits = model.forward(batch.inputs);
  const at::Tensor base = torch::nn::functional::cross_entropy(logits, batch.labels);
  return (defense.loss(model, batch, logits, base, context) - base).item<double>();
}

}  // namespace

TEST_CASE("adversarial regularization refuses to train without reference data") {
  const LabeledData members = random_labels(kMembers, 1);
  TestContext context;
  auto defense = make_defense();
  const std::string message = testing::message_of<ConfigError>(
      [&] { defense->begin_round(training_set(members, nullptr), {}, context); });
  CHECK(testing::contains(message, kComponent));
  CHECK(testing::contains(message, "set split.reference in the run file"));

  // Through the trainer, as a run without split.reference would call it.
  auto model = built_model(3);
  host::FitOptions options;
  options.defense = defense.get();
  CHECK(testing::contains(testing::message_of<ConfigError>([&] {
                            host::fit(*model, members, quick_settings(1), options, context);
                          }),
                          "set split.reference in the run file"));
}

TEST_CASE("adversarial regularization with lambda 0 returns the trainer's loss itself") {
  const Memorized& m = memorized();
  TestContext context;
  auto defense = make_defense(", lambda: 0");
  defense->begin_round(training_set(m.members, &m.reference), {}, context);
  const Batch batch = batch_of(m.members, 0, kBatch);
  const at::Tensor logits = m.model->forward(batch.inputs);
  const at::Tensor base = torch::nn::functional::cross_entropy(logits, batch.labels);
  const at::Tensor loss = defense->loss(*m.model, batch, logits, base, context);
  CHECK(loss.is_same(base));
}

TEST_CASE("adversarial regularization adds lambda times the inference model's gain") {
  const Memorized& m = memorized();
  const Batch batch = batch_of(m.members, 0, kBatch);
  // Twins: same seed, so the same inference model; only lambda differs.
  TestContext context(11);
  auto once = make_defense(", lambda: 1");
  auto scaled = make_defense(", lambda: 2.5");
  once->begin_round(training_set(m.members, &m.reference), {}, context);
  scaled->begin_round(training_set(m.members, &m.reference), {}, context);

  const double gain = regularizer(*once, *m.model, batch, context);
  // A mean of membership probabilities.
  CHECK(gain > 0.0);
  CHECK(gain < 1.0);
  CHECK(regularizer(*scaled, *m.model, batch, context) ==
        doctest::Approx(2.5 * gain).epsilon(1e-5));
  // The loss hook does not train the inference model: asking again gives the same gain.
  CHECK(regularizer(*once, *m.model, batch, context) == doctest::Approx(gain).epsilon(1e-6));

  // The regularizer reaches the classifier's weights: the gradient differs from that of
  // the cross-entropy alone.
  auto model = built_model(5);
  const auto gradients = [&](bool regularized) {
    model->module().zero_grad();
    const at::Tensor logits = model->forward(batch.inputs);
    at::Tensor loss = torch::nn::functional::cross_entropy(logits, batch.labels);
    if (regularized) loss = once->loss(*model, batch, logits, loss, context);
    loss.backward();
    return model->module().parameters().front().grad().clone();
  };
  const at::Tensor plain = gradients(false);
  const at::Tensor regularized = gradients(true);
  CHECK_FALSE(torch::equal(plain, regularized));
  CHECK(torch::isfinite(regularized).all().item<bool>());
}

TEST_CASE("adversarial regularization's inference model learns to tell members from reference") {
  const Memorized& m = memorized();
  TestContext context(13);
  REQUIRE(host::evaluate(*m.model, m.members).accuracy > 0.95);  // it did memorise
  auto defense = make_defense(", lambda: 1");
  defense->begin_round(training_set(m.members, &m.reference), {}, context);
  CHECK(defense->measurements().empty());  // nothing measured before the first step

  const Batch members = batch_of(m.members, 0, kBatch);
  const Batch reference = batch_of(m.reference, 0, kBatch);
  const double member_gain_before = regularizer(*defense, *m.model, members, context);
  const double reference_gain_before = regularizer(*defense, *m.model, reference, context);

  constexpr int kSteps = 300;
  std::vector<double> accuracy;
  for (int step = 0; step < kSteps; ++step) {
    defense->after_step(*m.model, batch_of(m.members, (step % 2) * kBatch, kBatch), context);
    accuracy.push_back(inference_accuracy(*defense));
  }
  double late = 0;
  for (int step = kSteps - 20; step < kSteps; ++step) late += accuracy[step] / 20;
  CAPTURE(accuracy.front());
  CAPTURE(late);
  // An untrained inference model guesses; a trained one separates the memorised members
  // (true-label probability near 1) from reference samples (near 1 / classes).
  CHECK(accuracy.front() < 0.7);
  CHECK(late > 0.9);

  // The gain is that model's membership probability: the untrained model scored members
  // and reference samples alike, the trained one tells them apart.
  CHECK(std::abs(member_gain_before - reference_gain_before) < 0.05);
  CHECK(regularizer(*defense, *m.model, members, context) > 0.8);
  CHECK(regularizer(*defense, *m.model, reference, context) < 0.2);
}

TEST_CASE("adversarial regularization switches on after warmup_steps classifier steps") {
  const Memorized& m = memorized();
  TestContext context;
  auto defense = make_defense(", lambda: 1, warmup_steps: 3");
  defense->begin_round(training_set(m.members, &m.reference), {}, context);
  const Batch batch = batch_of(m.members, 0, kBatch);
  for (int step = 0; step < 3; ++step) {
    CAPTURE(step);
    CHECK(regularizer(*defense, *m.model, batch, context) == 0.0);
    defense->after_step(*m.model, batch, context);
  }
  CHECK(regularizer(*defense, *m.model, batch, context) > 0.0);
}

TEST_CASE("adversarial regularization keeps its inference model's class count across rounds") {
  const Memorized& m = memorized();
  TestContext context;
  auto defense = make_defense();
  defense->begin_round(training_set(m.members, &m.reference), {}, context);
  TrainingSet other = training_set(m.members, &m.reference);
  other.num_classes = kClasses + 1;
  CHECK(testing::contains(testing::message_of<ConfigError>([&] {
                            defense->begin_round(other, {1, 1}, context);
                          }),
                          "classes"));
}

TEST_CASE("adversarial regularization narrows the member / non-member confidence gap") {
  // The paper's point: trained against the inference model, the classifier answers on
  // its members more as it does on samples it never saw.
  const LabeledData members = random_labels(kMembers, 31);
  const LabeledData reference = random_labels(256, 32);
  const LabeledData unseen = random_labels(256, 33);
  const auto confidence_gap = [&](Defense* defense) {
    auto model = built_model(34);
    host::TrainerSettings s = quick_settings(35);
    s.epochs = 100;
    s.learning_rate = 0.1;
    s.weight_decay = 0;
    host::FitOptions options;
    options.defense = defense;
    options.reference = &reference;
    TestContext context(36);
    host::fit(*model, members, s, options, context);
    const auto true_label_probability = [&](const LabeledData& data) {
      const host::Predictions p = host::predict(*model, data.inputs);
      return p.posteriors.gather(1, data.labels.unsqueeze(1)).mean().item<double>();
    };
    return true_label_probability(members) - true_label_probability(unseen);
  };
  const double plain = confidence_gap(nullptr);
  const auto defense = make_defense(", lambda: 3");
  const double defended = confidence_gap(defense.get());
  CAPTURE(plain);
  CAPTURE(defended);
  CHECK(plain > 0.5);  // without the defense, the model memorised its random labels
  CHECK(defended < plain - 0.1);
}

TEST_CASE("a fit with adversarial regularization over two rounds is deterministic and finite") {
  const LabeledData members = random_labels(kMembers, 21);
  const LabeledData reference = random_labels(40, 22);  // fewer than a pass's draws
  const auto train = [&] {
    auto model = built_model(23);
    auto defense = make_defense(", lambda: 2, inference_steps: 2");
    TestContext context(24);
    host::FitOptions options;
    options.defense = defense.get();
    options.reference = &reference;
    for (int round = 0; round < 2; ++round) {
      options.round.round = round;
      host::fit(*model, members, quick_settings(25), options, context);
    }
    const double accuracy = inference_accuracy(*defense);
    CHECK(accuracy >= 0.0);
    CHECK(accuracy <= 1.0);
    return weights_of(*model);
  };
  const std::vector<at::Tensor> first = train();
  const std::vector<at::Tensor> second = train();
  REQUIRE(first.size() == second.size());
  for (std::size_t i = 0; i < first.size(); ++i) {
    CAPTURE(i);
    CHECK(torch::isfinite(first[i]).all().item<bool>());
    CHECK(torch::equal(first[i], second[i]));
  }
}
