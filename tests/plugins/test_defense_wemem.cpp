// The WeMeM defenses (defense.rsw, defense.rmr, defense.swmr): the exact sliding-window
// schedule on a hand-made training set, the risky sample group, and what the risky
// group's weight decay does to a fit of a tiny model.
#include <set>
#include <string>
#include <vector>

#include "host/trainer.h"
#include "support/built_plugins.h"
#include "support/messages.h"
#include "support/tiny_model.h"

using namespace secateurs;
using testing::make_component;
using testing::same_weights;
using testing::TestContext;
using testing::TinyMlp;

namespace {

using Window = std::set<std::int64_t>;

// 15 samples, the classes interleaved: class 1 at positions 1, 4, 7, 10, 13, class 0 at
// the ten others. Positions 3 and 9 (both class 0) share the score 0.35.
//
// Ranks of class 0, high to low: 8 2 14 5 11 3 9 12 0 6 (3 before 9: position order)
//                   low to high: 6 0 12 3 9 11 5 14 2 8 (3 before 9 again)
// Ranks of class 1, high to low: 1 13 10 7 4; low to high: 4 7 10 13 1.
TrainingSet hand_made_set() {
  const std::vector<double> scores = {0.10, 0.95, 0.80, 0.35, 0.20, 0.60, 0.05, 0.50,
                                      0.90, 0.35, 0.70, 0.45, 0.25, 0.85, 0.65};
  std::vector<std::int64_t> labels(15, 0);
  for (std::int64_t p : {1, 4, 7, 10, 13}) labels[static_cast<std::size_t>(p)] = 1;
  TrainingSet set;
  set.inputs = torch::zeros({15, 2});
  set.labels = torch::tensor(labels, torch::kInt64);
  set.num_classes = 2;
  set.memorization = torch::tensor(scores, torch::kFloat64);
  return set;
}

std::shared_ptr<Defense> defense(const std::string& name, const std::string& yaml) {
  return make_component<Defense>("defense." + name, yaml);
}

// One round's hooks in the trainer's order; the windows of epochs 0 .. epochs-1.
std::vector<Window> run_round(Defense& d, const TrainingSet& set, int round, int epochs) {
  TestContext context;
  const RoundInfo info{round, epochs};
  d.begin_round(set, info, context);
  d.sample_groups(set, info, context);
  std::vector<Window> windows;
  for (int epoch = 0; epoch < epochs; ++epoch) {
    const std::vector<std::int64_t> positions = d.epoch_samples(set, info, epoch, context);
    const Window window(positions.begin(), positions.end());
    CHECK(window.size() == positions.size());  // no sample twice in one epoch
    windows.push_back(window);
  }
  TinyMlp unused_model;
  d.end_round(unused_model, context);
  return windows;
}

double measurement(const Defense& d, const std::string& name) {
  for (const auto& [key, value] : d.measurements()) {
    if (key == name) return value;
  }
  FAIL("no measurement named " << name);
  return 0;
}

constexpr std::int64_t kFeatures = 8;
constexpr std::int64_t kClasses = 4;
constexpr std::int64_t kSamples = 64;

// Score i / 64 for position i: exact in binary, so every threshold below splits the set
// at a known position.
at::Tensor ramp_scores() {
  return torch::arange(kSamples, torch::kFloat64) / static_cast<double>(kSamples);
}

host::TrainerSettings quick_settings() {
  host::TrainerSettings s;
  s.epochs = 3;
  s.batch_size = 16;
  s.learning_rate = 0.1;
  s.seed = 11;
  return s;
}

std::vector<at::Tensor> fitted_weights(Defense* d, double weight_decay) {
  const LabeledData data = testing::blobs(kSamples, kFeatures, kClasses, 5);
  TinyMlp model;
  TestContext context(3);
  model.build(DataShape{{kFeatures}, kClasses}, context);
  host::TrainerSettings s = quick_settings();
  s.weight_decay = weight_decay;
  host::FitOptions options;
  options.defense = d;
  options.round.round = 1;
  options.memorization = ramp_scores();
  host::fit(model, data, s, options, context);
  return testing::weights_of(model);
}

}  // namespace

TEST_CASE("rsw: each epoch trains on a window of every class's ranks, wrapping around") {
  const TrainingSet set = hand_made_set();
  // Class 0 (10 samples): width 4, stride 2; class 1 (5 samples): width 2, stride 1.
  // Each expected window lists class 0's positions, then class 1's; the comments give
  // the ranks they hold (class 0 | class 1).
  const std::string shape = "width: 0.4\nstride: 0.2\n";

  SUBCASE("high to low") {
    auto rsw = defense("rsw", shape + "order: high_to_low\n");
    CHECK(rsw->needs_memorization());
    const std::vector<Window> expected = {
        {8, 2, 14, 5, /**/ 1, 13},    // ranks 0-3 | 0-1
        {14, 5, 11, 3, /**/ 13, 10},  // ranks 2-5 | 1-2: 3 ranks above its tie 9
        {11, 3, 9, 12, /**/ 10, 7},   // ranks 4-7 | 2-3
        {9, 12, 0, 6, /**/ 7, 4},     // ranks 6-9 | 3-4
        {0, 6, 8, 2, /**/ 4, 1},      // ranks 8, 9, 0, 1 | 4, 0: both wrap
        {8, 2, 14, 5, /**/ 1, 13},    // ranks 10-13 = 0-3 | 5-6 = 0-1
    };
    const std::vector<Window> round1 = run_round(*rsw, set, 1, 6);
    CHECK(round1 == expected);
    CHECK(measurement(*rsw, "window_samples") == 6.0);
    CHECK(measurement(*rsw, "window_fraction") == doctest::Approx(6.0 / 15.0));
    // The window restarts in every round.
    const std::vector<Window> round2 = run_round(*rsw, set, 2, 1);
    CHECK(round2.front() == round1.front());
    // A window defense has no sample groups.
    TestContext context;
    CHECK(rsw->sample_groups(set, {1, 6}, context).empty());
  }

  SUBCASE("low to high") {
    auto rsw = defense("rsw", shape + "order: low_to_high\n");
    const std::vector<Window> expected = {
        {6, 0, 12, 3, /**/ 4, 7},     // ranks 0-3 | 0-1: 3 ranks above its tie 9
        {12, 3, 9, 11, /**/ 7, 10},   // ranks 2-5 | 1-2
        {9, 11, 5, 14, /**/ 10, 13},  // ranks 4-7 | 2-3
        {5, 14, 2, 8, /**/ 13, 1},    // ranks 6-9 | 3-4
        {2, 8, 6, 0, /**/ 1, 4},      // ranks 8, 9, 0, 1 | 4, 0
        {6, 0, 12, 3, /**/ 4, 7},     // ranks 10-13 = 0-3 | 5-6 = 0-1
    };
    const std::vector<Window> round1 = run_round(*rsw, set, 1, 6);
    CHECK(round1 == expected);
    CHECK(run_round(*rsw, set, 2, 1).front() == round1.front());
  }

  SUBCASE("full width visits every sample; stride 0 keeps the window in place") {
    const Window all = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14};
    auto full = defense("rsw", "width: 1.0\nstride: 0.3\n");
    for (const Window& w : run_round(*full, set, 1, 4)) CHECK(w == all);
    auto still = defense("rsw", "width: 0.4\nstride: 0.0\n");
    for (const Window& w : run_round(*still, set, 1, 4)) CHECK(w == Window{8, 2, 14, 5, 1, 13});
  }
}

TEST_CASE("rmr: the samples at or above the threshold form one group with a strong decay") {
  const TrainingSet set = hand_made_set();
  TestContext context;
  const RoundInfo info{1, 4};

  auto rmr = defense("rmr", "threshold: 0.8\n");
  CHECK(rmr->needs_memorization());
  rmr->begin_round(set, info, context);
  const std::vector<SampleGroup> groups = rmr->sample_groups(set, info, context);
  REQUIRE(groups.size() == 1);
  CHECK(groups[0].name == "risky");
  // Scores 0.95, 0.80 (equal to the threshold), 0.90, 0.85.
  CHECK(groups[0].positions == std::vector<std::int64_t>{1, 2, 8, 13});
  REQUIRE(groups[0].settings.weight_decay.has_value());
  CHECK(*groups[0].settings.weight_decay == 0.1);
  CHECK(groups[0].settings.learning_rate_scale == 1.0);
  for (int epoch = 0; epoch < 4; ++epoch) {
    CHECK(rmr->epoch_samples(set, info, epoch, context).empty());  // every sample
  }
  CHECK(measurement(*rmr, "risky_samples") == 4.0);

  auto tuned = defense("rmr", "threshold: 0.9\nrisky_weight_decay: 0.02\nrisky_lr_scale: 0.5\n");
  tuned->begin_round(set, info, context);
  const std::vector<SampleGroup> tuned_groups = tuned->sample_groups(set, info, context);
  REQUIRE(tuned_groups.size() == 1);
  CHECK(tuned_groups[0].positions == std::vector<std::int64_t>{1, 8});
  CHECK(*tuned_groups[0].settings.weight_decay == 0.02);
  CHECK(tuned_groups[0].settings.learning_rate_scale == 0.5);

  // No risky sample: no group at all, so the trainer runs exactly as without a defense.
  auto none = defense("rmr", "threshold: 0.96\n");
  none->begin_round(set, info, context);
  CHECK(none->sample_groups(set, info, context).empty());
  CHECK(measurement(*none, "risky_samples") == 0.0);
}

TEST_CASE("swmr: the sliding window and the risky group together") {
  const TrainingSet set = hand_made_set();
  const std::string shape = "width: 0.4\nstride: 0.2\n";
  auto swmr = defense("swmr", shape + "threshold: 0.8\n");
  CHECK(swmr->needs_memorization());
  auto rsw = defense("rsw", shape);
  const std::vector<Window> windows = run_round(*swmr, set, 1, 6);
  CHECK(windows == run_round(*rsw, set, 1, 6));
  CHECK(windows[1] == Window{14, 5, 11, 3, 13, 10});

  TestContext context;
  const RoundInfo info{1, 6};
  swmr->begin_round(set, info, context);
  const std::vector<SampleGroup> groups = swmr->sample_groups(set, info, context);
  REQUIRE(groups.size() == 1);
  CHECK(groups[0].positions == std::vector<std::int64_t>{1, 2, 8, 13});
  REQUIRE(groups[0].settings.weight_decay.has_value());
  CHECK(*groups[0].settings.weight_decay == 0.1);
  CHECK(measurement(*swmr, "window_samples") == 6.0);
  CHECK(measurement(*swmr, "risky_samples") == 4.0);
}

TEST_CASE("rmr on a tiny model: the strong decay acts on the risky samples' steps only") {
  // The trainer splits each batch by group, its own samples first, and takes one step per
  // non-empty part with that part's settings. No risky sample: no group, so the same
  // steps as without a defense. All risky: every batch is one risky step over the same
  // positions in the same order, at the same learning rate (scale 1 is exact) with weight
  // decay 0.1 -- the steps of a plain fit whose own weight decay is 0.1, and SGD's one
  // momentum buffer sees the same gradients. So both identities hold bit for bit.
  const std::vector<at::Tensor> plain = fitted_weights(nullptr, 5e-4);
  const std::vector<at::Tensor> plain_strong = fitted_weights(nullptr, 0.1);
  REQUIRE_FALSE(same_weights(plain, plain_strong));  // the decay does matter here

  auto above_all = defense("rmr", "threshold: 0.99\n");  // scores reach 63/64
  CHECK(same_weights(fitted_weights(above_all.get(), 5e-4), plain));
  CHECK(measurement(*above_all, "risky_samples") == 0.0);

  auto all_risky = defense("rmr", "threshold: 0.0\n");
  CHECK(same_weights(fitted_weights(all_risky.get(), 5e-4), plain_strong));
  CHECK(measurement(*all_risky, "risky_samples") == static_cast<double>(kSamples));

  auto half_risky = defense("rmr", "threshold: 0.5\n");  // positions 32 .. 63
  const std::vector<at::Tensor> half = fitted_weights(half_risky.get(), 5e-4);
  CHECK(measurement(*half_risky, "risky_samples") == static_cast<double>(kSamples / 2));
  CHECK_FALSE(same_weights(half, plain));
  CHECK_FALSE(same_weights(half, plain_strong));
}

TEST_CASE("rsw in a fit: every epoch visits exactly the window's samples") {
  const LabeledData data = testing::blobs(kSamples, kFeatures, kClasses, 5);
  TinyMlp model;
  TestContext context(3);
  model.build(DataShape{{kFeatures}, kClasses}, context);
  auto rsw = defense("rsw", "width: 0.3\nstride: 0.25\n");
  host::FitOptions options;
  options.defense = rsw.get();
  options.round.round = 1;
  options.memorization = ramp_scores();
  const host::FitReport report = host::fit(model, data, quick_settings(), options, context);
  const double per_epoch = measurement(*rsw, "window_samples");
  CHECK(per_epoch < static_cast<double>(kSamples));
  REQUIRE(report.epochs.size() == 3);
  for (const host::EpochRecord& record : report.epochs) {
    CHECK(static_cast<double>(record.samples) == per_epoch);
  }
}

TEST_CASE("rsw, rmr and swmr refuse to fit without memorization scores") {
  const LabeledData data = testing::blobs(20, kFeatures, kClasses, 1);
  for (const char* name : {"rsw", "rmr", "swmr"}) {
    CAPTURE(name);
    auto d = defense(name, "{}");
    TinyMlp model;
    TestContext context;
    model.build(DataShape{{kFeatures}, kClasses}, context);
    host::FitOptions options;
    options.defense = d.get();
    const std::string message = testing::message_of<ConfigError>(
        [&] { host::fit(model, data, quick_settings(), options, context); });
    CHECK(testing::contains(message, "memorization scores"));
  }
}
