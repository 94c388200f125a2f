// defense.dp_sgd: per-sample clipping, the Gaussian noise and its seed, the epsilon it
// reports, its refusals, and a fit through the trainer.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <string>
#include <vector>

#include "host/trainer.h"
#include "secateurs/privacy.h"
#include "support/built_plugins.h"
#include "support/messages.h"
#include "support/tiny_model.h"

using namespace secateurs;
using testing::blobs;
using testing::make_component;
using testing::TestContext;
using testing::TinyMlp;

namespace {

constexpr std::int64_t kFeatures = 8;
constexpr std::int64_t kClasses = 4;

std::unique_ptr<TinyMlp> built_mlp(std::int64_t hidden = 16, std::uint64_t seed = 3) {
  auto model = std::make_unique<TinyMlp>(hidden);
  TestContext context(seed);
  model->build(DataShape{{kFeatures}, kClasses}, context);
  model->module().train(true);
  return model;
}

std::shared_ptr<Defense> dp_sgd(double noise_multiplier, double max_grad_norm,
                                double delta = 1e-5) {
  // Written with every digit, as a user could: 17 significant digits round-trip a double.
  char yaml[200];
  std::snprintf(yaml, sizeof yaml, "{noise_multiplier: %.17g, max_grad_norm: %.17g, delta: %.17g}",
                noise_multiplier, max_grad_norm, delta);
  return make_component<Defense>("defense.dp_sgd", yaml);
}

TrainingSet training_set(const LabeledData& data) {
  return TrainingSet{data.inputs, data.labels, data.num_classes, {}, {}, {}};
}

std::vector<at::Tensor> trainable(Model& model) {
  std::vector<at::Tensor> parameters;
  for (const at::Tensor& p : model.module().parameters()) {
    if (p.requires_grad()) parameters.push_back(p);
  }
  return parameters;
}

// The gradient of one sample's cross-entropy, computed here independently of the plugin.
std::vector<at::Tensor> plain_gradient(Model& model, const LabeledData& data, std::int64_t i) {
  const at::Tensor logits = model.forward(data.inputs.slice(0, i, i + 1));
  const at::Tensor loss =
      torch::nn::functional::cross_entropy(logits, data.labels.slice(0, i, i + 1));
  return torch::autograd::grad({loss}, trainable(model));
}

double joint_norm(const std::vector<at::Tensor>& tensors) {
  double squared = 0;
  for (const at::Tensor& t : tensors) squared += t.to(torch::kFloat64).pow(2).sum().item<double>();
  return std::sqrt(squared);
}

// One step as the trainer drives it: gradients dropped, then the defense sets them.
std::vector<at::Tensor> defended_step(Defense& defense, Model& model, const LabeledData& data,
                                      std::int64_t count, Context& context) {
  std::vector<at::Tensor> parameters = trainable(model);
  for (at::Tensor& p : parameters) p.mutable_grad().reset();
  const at::Tensor positions = torch::arange(count, torch::kInt64);
  Batch batch{data.inputs.index_select(0, positions),
              data.labels.index_select(0, positions),
              positions,
              {}};
  REQUIRE(defense.compute_gradients(model, batch, context));
  std::vector<at::Tensor> gradients;
  for (const at::Tensor& p : parameters) {
    REQUIRE(p.grad().defined());
    CHECK(p.grad().sizes() == p.sizes());
    CHECK(p.grad().dtype() == p.dtype());
    gradients.push_back(p.grad().clone());
  }
  return gradients;
}

// A fresh round of `defense` on `data`, then one step on its first `count` samples.
std::vector<at::Tensor> first_step(Defense& defense, Model& model, const LabeledData& data,
                                   std::int64_t count, std::uint64_t seed = 7) {
  TestContext context(seed);
  defense.begin_round(training_set(data), RoundInfo{1, 1}, context);
  return defended_step(defense, model, data, count, context);
}

double measurement(const Defense& defense, const std::string& name) {
  for (const auto& [key, value] : defense.measurements()) {
    if (key == name) return value;
  }
  FAIL("no measurement named " << name);
  return std::nan("");
}

bool all_close(const std::vector<at::Tensor>& a, const std::vector<at::Tensor>& b, double rtol,
               double atol) {
  REQUIRE(a.size() == b.size());
  for (std::size_t k = 0; k < a.size(); ++k) {
    if (!torch::allclose(a[k].to(torch::kFloat64), b[k].to(torch::kFloat64), rtol, atol)) {
      return false;
    }
  }
  return true;
}

// A batch norm between two layers: per-sample gradients do not exist.
class NormalizedMlp final : public Model {
 public:
  void build(const DataShape& shape, Context&) override {
    fc_ = net_.register_module("fc", torch::nn::Linear(shape.input_shape[0], 8));
    norm_ = net_.register_module("norm", torch::nn::BatchNorm1d(8));
    out_ = net_.register_module("out", torch::nn::Linear(8, shape.num_classes));
  }
  torch::nn::Module& module() override { return net_; }
  at::Tensor forward(const at::Tensor& inputs) override {
    return out_(torch::relu(norm_(fc_(inputs))));
  }

 private:
  torch::nn::Module net_;
  torch::nn::Linear fc_{nullptr}, out_{nullptr};
  torch::nn::BatchNorm1d norm_{nullptr};
};

}  // namespace

TEST_CASE("dp_sgd: one sample with a large gradient is scaled to norm C, direction kept") {
  const LabeledData data = blobs(4, kFeatures, kClasses, 1);
  auto model = built_mlp();
  const std::vector<at::Tensor> plain = plain_gradient(*model, data, 0);
  const double plain_norm = joint_norm(plain);
  const double clip = plain_norm / 10.0;  // far below the gradient's norm
  auto defense = dp_sgd(0.0, clip);
  const std::vector<at::Tensor> set = first_step(*defense, *model, data, 1);

  CHECK(std::abs(joint_norm(set) - clip) <= 1e-5 * clip);
  std::vector<at::Tensor> scaled;
  for (const at::Tensor& g : plain) scaled.push_back(g * (clip / plain_norm));
  CHECK(all_close(set, scaled, 1e-5, 1e-7 * clip));
  // The same direction: cosine 1.
  double dot = 0;
  for (std::size_t k = 0; k < set.size(); ++k) {
    dot += (set[k].to(torch::kFloat64) * plain[k].to(torch::kFloat64)).sum().item<double>();
  }
  CHECK(dot / (joint_norm(set) * plain_norm) > 1.0 - 1e-6);
}

TEST_CASE("dp_sgd: one sample with a gradient below C keeps its gradient exactly") {
  const LabeledData data = blobs(4, kFeatures, kClasses, 2);
  auto model = built_mlp();
  const std::vector<at::Tensor> plain = plain_gradient(*model, data, 0);
  auto defense = dp_sgd(0.0, 1e6);
  const std::vector<at::Tensor> set = first_step(*defense, *model, data, 1);
  for (std::size_t k = 0; k < set.size(); ++k) CHECK(torch::equal(set[k], plain[k]));
}

TEST_CASE("dp_sgd: without noise a batch gets the mean of its individually clipped gradients") {
  constexpr std::int64_t kBatch = 8;
  const LabeledData data = blobs(kBatch, kFeatures, kClasses, 3);
  auto model = built_mlp();
  std::vector<std::vector<at::Tensor>> per_sample;
  std::vector<double> norms;
  for (std::int64_t i = 0; i < kBatch; ++i) {
    per_sample.push_back(plain_gradient(*model, data, i));
    norms.push_back(joint_norm(per_sample.back()));
  }
  // C between the smallest and the largest norm: some samples are clipped, some are not.
  std::vector<double> sorted = norms;
  std::sort(sorted.begin(), sorted.end());
  const double clip = (sorted[kBatch / 2 - 1] + sorted[kBatch / 2]) / 2.0;
  REQUIRE(sorted.front() < clip);
  REQUIRE(sorted.back() > clip);

  std::vector<at::Tensor> expected;
  for (const at::Tensor& g : per_sample[0]) expected.push_back(torch::zeros_like(g));
  for (std::int64_t i = 0; i < kBatch; ++i) {
    const double scale = std::min(1.0, clip / norms[static_cast<std::size_t>(i)]);
    for (std::size_t k = 0; k < expected.size(); ++k) {
      expected[k] += per_sample[static_cast<std::size_t>(i)][k] * (scale / kBatch);
    }
  }
  auto defense = dp_sgd(0.0, clip);
  const std::vector<at::Tensor> set = first_step(*defense, *model, data, kBatch);
  CHECK(all_close(set, expected, 1e-5, 1e-7));
  CHECK(joint_norm(set) <= clip * (1.0 + 1e-6));
}

TEST_CASE("dp_sgd: the noise is seeded by the context and has deviation sigma * C / B") {
  constexpr std::int64_t kBatch = 4;
  constexpr double kSigma = 1.3, kClip = 0.5;
  const LabeledData data = blobs(kBatch, kFeatures, kClasses, 4);
  auto model = built_mlp(/*hidden=*/1000);  // 13,004 parameters

  auto first = dp_sgd(kSigma, kClip);
  auto second = dp_sgd(kSigma, kClip);
  auto other = dp_sgd(kSigma, kClip);
  const std::vector<at::Tensor> a = first_step(*first, *model, data, kBatch, 5);
  const std::vector<at::Tensor> b = first_step(*second, *model, data, kBatch, 5);
  const std::vector<at::Tensor> c = first_step(*other, *model, data, kBatch, 6);
  for (std::size_t k = 0; k < a.size(); ++k) CHECK(torch::equal(a[k], b[k]));
  bool differs = false;
  for (std::size_t k = 0; k < a.size(); ++k) differs = differs || !torch::equal(a[k], c[k]);
  CHECK(differs);

  auto noiseless = dp_sgd(0.0, kClip);
  const std::vector<at::Tensor> clean = first_step(*noiseless, *model, data, kBatch, 5);
  std::vector<at::Tensor> noise;
  for (std::size_t k = 0; k < a.size(); ++k) {
    noise.push_back((a[k].to(torch::kFloat64) - clean[k].to(torch::kFloat64)).flatten());
  }
  const at::Tensor all = torch::cat(noise);
  const double expected = kSigma * kClip / kBatch;
  CHECK(all.numel() > 10000);
  CHECK(std::abs(all.std().item<double>() - expected) < 0.1 * expected);
  CHECK(std::abs(all.mean().item<double>()) < 5.0 * expected / std::sqrt(all.numel()));

  // A second step of one round draws new noise.
  TestContext context(5);
  const std::vector<at::Tensor> next = defended_step(*first, *model, data, kBatch, context);
  bool fresh = false;
  for (std::size_t k = 0; k < a.size(); ++k) fresh = fresh || !torch::equal(a[k], next[k]);
  CHECK(fresh);
}

TEST_CASE("dp_sgd: measurements report the RDP accountant's epsilon over all rounds' steps") {
  constexpr double kSigma = 1.1, kDelta = 1e-4;
  const LabeledData data = blobs(64, kFeatures, kClasses, 5);
  auto model = built_mlp();
  auto defense = dp_sgd(kSigma, 1.0, kDelta);
  CHECK(measurement(*defense, "epsilon") == 0.0);
  CHECK(measurement(*defense, "steps") == 0.0);

  TestContext context(9);
  defense->begin_round(training_set(data), RoundInfo{1, 2}, context);
  for (int step = 0; step < 5; ++step) defended_step(*defense, *model, data, 16, context);
  const double q = 16.0 / 64.0;
  CHECK(measurement(*defense, "steps") == 5.0);
  CHECK(measurement(*defense, "sampling_rate") == q);
  CHECK(measurement(*defense, "delta") == kDelta);
  CHECK(measurement(*defense, "noise_multiplier") == kSigma);
  const PrivacyGuarantee after_five = dp_sgd_privacy(q, kSigma, 5, kDelta);
  CHECK(measurement(*defense, "epsilon") == after_five.epsilon);
  CHECK(measurement(*defense, "rdp_order") == after_five.order);

  // The next round's steps compose with the first's; a smaller last batch does not lower
  // the sampling rate of the full ones.
  defense->begin_round(training_set(data), RoundInfo{2, 2}, context);
  for (int step = 0; step < 3; ++step) defended_step(*defense, *model, data, 16, context);
  defended_step(*defense, *model, data, 5, context);
  CHECK(measurement(*defense, "steps") == 9.0);
  CHECK(measurement(*defense, "sampling_rate") == q);
  const double epsilon = measurement(*defense, "epsilon");
  CHECK(epsilon == dp_sgd_privacy(q, kSigma, 9, kDelta).epsilon);
  CHECK(epsilon > after_five.epsilon);

  // Without noise nothing is private.
  auto noiseless = dp_sgd(0.0, 1.0);
  first_step(*noiseless, *model, data, 16);
  CHECK(measurement(*noiseless, "epsilon") == std::numeric_limits<double>::infinity());
}

TEST_CASE("dp_sgd: a fit through the trainer runs, counts its steps and learns") {
  const LabeledData data = blobs(128, kFeatures, kClasses, 6);
  auto model = built_mlp();
  auto defense = dp_sgd(0.5, 1.0);
  host::TrainerSettings settings;
  settings.epochs = 8;
  settings.batch_size = 32;
  settings.learning_rate = 0.2;
  settings.seed = 13;
  const double loss_before = host::evaluate(*model, data, 256).loss;
  host::FitOptions options;
  options.defense = defense.get();
  options.round = RoundInfo{1, 0};
  TestContext context(21);
  host::fit(*model, data, settings, options, context);

  for (const at::Tensor& p : model->module().parameters()) {
    CHECK(torch::isfinite(p).all().item<bool>());
  }
  CHECK(measurement(*defense, "steps") == 8.0 * 4.0);
  CHECK(measurement(*defense, "sampling_rate") == 32.0 / 128.0);
  const double epsilon = measurement(*defense, "epsilon");
  CHECK(std::isfinite(epsilon));
  CHECK(epsilon == dp_sgd_privacy(0.25, 0.5, 32, 1e-5).epsilon);
  const host::Evaluation after = host::evaluate(*model, data, 256);
  CHECK(after.loss < loss_before);
}

TEST_CASE("dp_sgd: batch norm, eval mode and bad parameters are refused") {
  const LabeledData data = blobs(8, kFeatures, kClasses, 7);
  const at::Tensor positions = torch::arange(4, torch::kInt64);
  const Batch batch{data.inputs.index_select(0, positions),
                    data.labels.index_select(0, positions),
                    positions,
                    {}};
  NormalizedMlp normalized;
  TestContext context(1);
  normalized.build(DataShape{{kFeatures}, kClasses}, context);
  normalized.module().train(true);
  auto defense = dp_sgd(1.0, 1.0);
  defense->begin_round(training_set(data), RoundInfo{1, 1}, context);
  const std::string message = testing::message_of<ConfigError>(
      [&] { defense->compute_gradients(normalized, batch, context); });
  CHECK(testing::contains(message, "'norm'"));
  CHECK(testing::contains(message, "BatchNorm1d"));
  CHECK(testing::contains(message, "without batch norm"));

  auto model = built_mlp();
  model->module().train(false);
  auto eval_defense = dp_sgd(1.0, 1.0);
  eval_defense->begin_round(training_set(data), RoundInfo{1, 1}, context);
  CHECK(testing::contains(
      testing::message_of<Error>([&] { eval_defense->compute_gradients(*model, batch, context); }),
      "training mode"));

  // Hooks out of order: no sampling rate is known before begin_round.
  auto unstarted = dp_sgd(1.0, 1.0);
  model->module().train(true);
  CHECK_THROWS_AS(unstarted->compute_gradients(*model, batch, context), Error);

  CHECK_THROWS_AS(dp_sgd(1.0, 0.0), Error);
  CHECK_THROWS_AS(dp_sgd(1.0, 1.0, 0.0), Error);
  CHECK_THROWS_AS(dp_sgd(1.0, 1.0, 1.0), Error);
  CHECK_THROWS_AS(dp_sgd(-1.0, 1.0), Error);
}
