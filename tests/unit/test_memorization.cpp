// Memorization scores: the K-fold split, the estimate from the fold models, planted
// mislabeled samples ranked at the top, and the cache.
#include "support/doctest_torch.h"

#include <algorithm>
#include <atomic>
#include <fstream>
#include <map>
#include <set>
#include <vector>

#include "host/atomic_file.h"
#include "host/memorization.h"
#include "host/trainer.h"
#include "secateurs/error.h"
#include "secateurs/metrics.h"
#include "secateurs/random.h"
#include "support/temp_dir.h"
#include "support/test_context.h"
#include "support/tiny_model.h"

using namespace secateurs;
using namespace secateurs::host;
using secateurs::testing::blobs;
using secateurs::testing::TempDir;
using secateurs::testing::TestContext;
using secateurs::testing::TinyMlp;

namespace {

constexpr std::int64_t kFeatures = 8;
constexpr std::int64_t kClasses = 4;
constexpr std::int64_t kSamples = 240;
constexpr std::int64_t kMislabeled = 12;

// Blobs far apart (centres about 12 noise deviations from each other) whose first
// kMislabeled samples get the next class's label: only a model that trained on a
// mislabeled sample can fit it.
LabeledData planted_data() {
  at::Generator generator = make_generator(5);
  const at::Tensor centres = torch::randn({kClasses, kFeatures}, generator, torch::kFloat64) * 3.0;
  const at::Tensor labels = torch::arange(kSamples, torch::kInt64) % kClasses;
  const at::Tensor points = centres.index_select(0, labels) +
                            torch::randn({kSamples, kFeatures}, generator, torch::kFloat64);
  at::Tensor planted = labels.clone();
  planted.slice(0, 0, kMislabeled).add_(1).remainder_(kClasses);
  return {points.to(torch::kFloat32), planted, kClasses};
}

// Long enough, and wide enough, to memorise the mislabeled samples it trains on.
FoldTrainer tiny_trainer(std::atomic<int>* calls = nullptr) {
  return [calls](const LabeledData& training, std::uint64_t seed) {
    if (calls != nullptr) ++*calls;
    auto model = std::make_shared<TinyMlp>(128);
    TestContext context(seed);
    model->build(DataShape{{kFeatures}, kClasses}, context);
    TrainerSettings settings;
    settings.epochs = 200;
    settings.batch_size = 32;
    settings.learning_rate = 0.1;
    settings.weight_decay = 0;
    settings.seed = derive_seed(seed, "trainer");
    TestContext train_context(settings.seed);
    fit(*model, training, settings, FitOptions{}, train_context);
    return std::shared_ptr<Model>(model);
  };
}

}  // namespace

TEST_CASE("memorization folds: every sample held out once, classes spread evenly") {
  const at::Tensor labels = torch::tensor(
      std::vector<std::int64_t>{0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2},
      torch::kInt64);
  const std::vector<int> fold = memorization_folds(labels, 3, 17);
  REQUIRE(fold.size() == 20);
  std::map<std::pair<std::int64_t, int>, int> per_class_fold;
  for (std::size_t i = 0; i < fold.size(); ++i) {
    CHECK(fold[i] >= 0);
    CHECK(fold[i] < 3);
    ++per_class_fold[{labels[static_cast<std::int64_t>(i)].item<std::int64_t>(), fold[i]}];
  }
  for (std::int64_t c = 0; c < 3; ++c) {
    std::vector<int> counts;
    for (int k = 0; k < 3; ++k) counts.push_back(per_class_fold[{c, k}]);
    INFO("class " << c);
    CHECK(*std::max_element(counts.begin(), counts.end()) -
              *std::min_element(counts.begin(), counts.end()) <=
          1);
  }
  CHECK(memorization_folds(labels, 3, 17) == fold);
  CHECK(memorization_folds(labels, 3, 18) != fold);
  CHECK_THROWS_AS(memorization_folds(labels, 1, 17), ConfigError);
  CHECK_THROWS_AS(memorization_folds(labels, 21, 17), ConfigError);
}

TEST_CASE(
    "memorization estimate: mean probability of the models that trained on a sample "
    "minus that of the model that held it out") {
  // Three samples, three folds; sample i was held out of fold i's model.
  const std::vector<at::Tensor> p = {
      torch::tensor({0.10, 0.90, 0.80}, torch::kFloat64),  // fold 0's model
      torch::tensor({0.95, 0.20, 0.70}, torch::kFloat64),  // fold 1's model
      torch::tensor({0.85, 0.60, 0.80}, torch::kFloat64),  // fold 2's model
  };
  const MemorizationScores scores = memorization_from_folds(p, {0, 1, 2});
  const std::vector<double> expected = {(0.95 + 0.85) / 2 - 0.10, (0.90 + 0.60) / 2 - 0.20,
                                        (0.80 + 0.70) / 2 - 0.80};
  for (std::int64_t i = 0; i < 3; ++i) {
    CHECK(scores.estimate[i].item<double>() ==
          doctest::Approx(expected[static_cast<std::size_t>(i)]));
  }
  // Min-max over the set: the largest estimate is 1, the smallest 0.
  CHECK(scores.normalized[0].item<double>() == doctest::Approx(1.0));
  CHECK(scores.normalized[2].item<double>() == doctest::Approx(0.0));
  CHECK(scores.normalized[1].item<double>() ==
        doctest::Approx((expected[1] - expected[2]) / (expected[0] - expected[2])));
  CHECK_THROWS_AS(memorization_from_folds({p[0]}, {0, 0, 0}), Error);
  CHECK_THROWS_AS(memorization_from_folds(p, {0, 1, 3}), Error);
}

TEST_CASE("memorization scores rank planted mislabeled samples at the top") {
  const LabeledData data = planted_data();
  TempDir cache;
  MemorizationSettings settings;
  settings.folds = 4;
  settings.cache = cache.path();
  const std::vector<MemorizationResult> results = compute_memorization(
      {{"planted", &data, 99}}, tiny_trainer(), "tiny mlp, 60 epochs", settings, 2);
  REQUIRE(results.size() == 1);
  const at::Tensor scores = results[0].scores.normalized;
  REQUIRE(scores.numel() == kSamples);
  CHECK(scores.min().item<double>() == doctest::Approx(0.0));
  CHECK(scores.max().item<double>() == doctest::Approx(1.0));

  // Every planted sample is memorised: its score is near the top of the scale and it ranks
  // in the top 10 %. A few clean samples score high too, and rightly: a clean sample whose
  // nearest neighbour is a planted one (e.g. 1.8 apart, where the median distance is 9) is
  // misclassified by the fold model that learned the neighbour's wrong label without it,
  // and fitted by the models that trained on both. So the top 12 hold most of the planted
  // samples, not necessarily all.
  const at::Tensor rank_of = torch::empty({kSamples}, torch::kInt64)
                                 .index_put_({std::get<1>(scores.sort(0, /*descending=*/true))},
                                             torch::arange(kSamples, torch::kInt64));
  std::int64_t in_top = 0;
  for (std::int64_t i = 0; i < kMislabeled; ++i) {
    INFO("planted sample " << i << ": score " << scores[i].item<double>() << ", rank "
                           << rank_of[i].item<std::int64_t>());
    CHECK(scores[i].item<double>() > 0.85);
    CHECK(rank_of[i].item<std::int64_t>() < kSamples / 10);
    in_top += rank_of[i].item<std::int64_t>() < kMislabeled ? 1 : 0;
  }
  CHECK(in_top >= kMislabeled * 2 / 3);
  const double planted_mean = scores.slice(0, 0, kMislabeled).mean().item<double>();
  const double clean_mean = scores.slice(0, kMislabeled).mean().item<double>();
  INFO("planted mean " << planted_mean << ", clean mean " << clean_mean);
  CHECK(planted_mean > 0.9);
  CHECK(clean_mean < 0.15);
  // Ranked by score, planted against clean: nearly perfect.
  const at::Tensor is_planted = torch::arange(kSamples, torch::kInt64).lt(kMislabeled);
  CHECK(roc_auc(scores, is_planted) > 0.97);
}

TEST_CASE("memorization cache: a rerun reads the scores back; another recipe recomputes") {
  const LabeledData data = blobs(60, kFeatures, kClasses, 8, 0.1);
  TempDir cache;
  MemorizationSettings settings;
  settings.folds = 3;
  settings.cache = cache.path();
  std::atomic<int> calls = 0;
  const auto first =
      compute_memorization({{"a", &data, 1}}, tiny_trainer(&calls), "recipe 1", settings, 1);
  CHECK(calls == 3);
  CHECK_FALSE(first[0].from_cache);

  const auto again =
      compute_memorization({{"a", &data, 1}}, tiny_trainer(&calls), "recipe 1", settings, 1);
  CHECK(calls == 3);
  CHECK(again[0].from_cache);
  CHECK(torch::equal(again[0].scores.estimate, first[0].scores.estimate));
  CHECK(torch::equal(again[0].scores.normalized, first[0].scores.normalized));

  // One thread or two: the same scores (each fold model trains alone in its task).
  MemorizationSettings uncached = settings;
  uncached.cache.clear();
  const auto two_threads =
      compute_memorization({{"a", &data, 1}}, tiny_trainer(), "recipe 1", uncached, 2);
  CHECK(torch::equal(two_threads[0].scores.estimate, first[0].scores.estimate));

  compute_memorization({{"a", &data, 1}}, tiny_trainer(&calls), "recipe 2", settings, 1);
  CHECK(calls == 6);
  compute_memorization({{"a", &data, 2}}, tiny_trainer(&calls), "recipe 1", settings, 1);
  CHECK(calls == 9);

  // A damaged entry is recomputed and rewritten, never trusted.
  const std::filesystem::path file = cache.path() / "memorization" / (first[0].key + ".txt");
  REQUIRE(std::filesystem::exists(file));
  std::string text = read_file(file);
  text.resize(text.size() / 2);
  write_file_atomically(file, text);
  const auto repaired =
      compute_memorization({{"a", &data, 1}}, tiny_trainer(&calls), "recipe 1", settings, 1);
  CHECK(calls == 12);
  CHECK_FALSE(repaired[0].from_cache);
  CHECK(torch::equal(repaired[0].scores.estimate, first[0].scores.estimate));
}
