// Membership-inference metrics against hand-computed cases (ties included) and against
// the Mann-Whitney U statistic computed pair by pair.
#include "support/doctest_torch.h"

#include <torch/torch.h>

#include "secateurs/error.h"
#include "secateurs/metrics.h"
#include "secateurs/random.h"
#include "support/messages.h"

using namespace secateurs;

namespace {

at::Tensor doubles(std::vector<double> values) {
  return torch::tensor(values, torch::kFloat64);
}
at::Tensor classes(std::vector<std::int64_t> values) {
  return torch::tensor(values, torch::kInt64);
}

// U / (members x non-members), ties one half, by comparing every pair.
double mann_whitney(const at::Tensor& scores, const at::Tensor& labels) {
  const auto s = scores.accessor<double, 1>();
  const auto l = labels.accessor<std::int64_t, 1>();
  double u = 0;
  std::int64_t pairs = 0;
  for (std::int64_t i = 0; i < scores.size(0); ++i) {
    if (l[i] != 1) continue;
    for (std::int64_t j = 0; j < scores.size(0); ++j) {
      if (l[j] != 0) continue;
      u += s[i] > s[j] ? 1.0 : s[i] == s[j] ? 0.5 : 0.0;
      ++pairs;
    }
  }
  return u / static_cast<double>(pairs);
}

}  // namespace

TEST_CASE("ROC curve and AUC: separated, tied and partly tied scores, by hand") {
  // Perfect separation: the members' scores are all higher.
  RocCurve curve = roc_curve(doubles({0.9, 0.8, 0.7, 0.6}), classes({1, 1, 0, 0}));
  CHECK(curve.fpr == std::vector<double>{0, 0, 0, 0.5, 1});
  CHECK(curve.tpr == std::vector<double>{0, 0.5, 1, 1, 1});
  CHECK(std::isinf(curve.thresholds[0]));
  CHECK(curve.thresholds[1] == 0.9);
  CHECK(roc_auc(curve) == 1.0);
  CHECK(tpr_at_fpr(curve, 0.0) == 1.0);

  // Every score tied: one diagonal step, AUC one half.
  curve = roc_curve(doubles({0.5, 0.5, 0.5, 0.5}), classes({1, 0, 1, 0}));
  CHECK(curve.fpr == std::vector<double>{0, 1});
  CHECK(curve.tpr == std::vector<double>{0, 1});
  CHECK(roc_auc(curve) == 0.5);
  CHECK(tpr_at_fpr(curve, 0.5) == 0.0);  // no threshold reaches FPR 0.5 or less with any TPR

  // Members {0.9, 0.7}, non-members {0.7, 0.3}: pairs 1 + 1 + 1/2 + 1 of 4.
  curve = roc_curve(doubles({0.9, 0.7, 0.7, 0.3}), classes({1, 1, 0, 0}));
  CHECK(curve.fpr == std::vector<double>{0, 0, 0.5, 1});
  CHECK(curve.tpr == std::vector<double>{0, 0.5, 1, 1});
  CHECK(roc_auc(curve) == 0.875);
  CHECK(tpr_at_fpr(curve, 0.49) == 0.5);
  CHECK(tpr_at_fpr(curve, 0.5) == 1.0);
  CHECK(best_balanced_accuracy(curve) == 0.75);

  // Reversed scores: AUC 0.
  CHECK(roc_auc(doubles({0.1, 0.2, 0.8, 0.9}), classes({1, 1, 0, 0})) == 0.0);
}

TEST_CASE("AUC equals the normalised Mann-Whitney U statistic on random data with ties") {
  at::Generator generator = make_generator(17);
  for (int trial = 0; trial < 20; ++trial) {
    CAPTURE(trial);
    const std::int64_t n = 50 + 37 * trial;
    // Rounded to one decimal, so that many scores tie within and across the classes.
    const at::Tensor labels = torch::randint(2, {n}, generator, torch::kInt64);
    const at::Tensor scores =
        (torch::randn({n}, generator, torch::kFloat64) + labels.to(torch::kFloat64) * 0.3)
            .mul(10)
            .round()
            .div(10);
    if (labels.sum().item<std::int64_t>() == 0 || labels.sum().item<std::int64_t>() == n) continue;
    CHECK(roc_auc(scores, labels) == doctest::Approx(mann_whitney(scores, labels)).epsilon(1e-12));
  }
}

TEST_CASE("TPR at a fixed FPR takes the best threshold at or below it, without interpolation") {
  // 10 non-members at 0, 1, ..., 9; 10 members at 5.5, 6.5, ..., 14.5.
  std::vector<double> values;
  std::vector<std::int64_t> labels;
  for (int i = 0; i < 10; ++i) values.push_back(i), labels.push_back(0);
  for (int i = 5; i < 15; ++i) values.push_back(i + 0.5), labels.push_back(1);
  const RocCurve curve = roc_curve(doubles(values), classes(labels));
  CHECK(tpr_at_fpr(curve, 0.0) == 0.6);   // >= 9.5: six members, no non-member
  CHECK(tpr_at_fpr(curve, 0.05) == 0.6);  // no threshold has an FPR in (0, 0.1)
  CHECK(tpr_at_fpr(curve, 0.1) == 0.7);   // >= 8.5: seven members and the non-member 9
  CHECK(tpr_at_fpr(curve, 0.15) == 0.7);
  CHECK(tpr_at_fpr(curve, 1.0) == 1.0);
}

TEST_CASE("balanced accuracy of decisions, and bootstrap intervals") {
  CHECK(balanced_accuracy(classes({1, 0, 1, 0}), classes({1, 1, 0, 0})) == 0.5);
  CHECK(balanced_accuracy(classes({1, 1, 1, 0}), classes({1, 1, 0, 0})) == 0.75);
  // Unbalanced classes: 3 of 3 members right, 1 of 2 non-members.
  CHECK(balanced_accuracy(classes({1, 1, 1, 1, 0}), classes({1, 1, 1, 0, 0})) == 0.75);

  at::Generator generator = make_generator(4);
  const at::Tensor labels =
      torch::cat({torch::ones({400}, torch::kInt64), torch::zeros({400}, torch::kInt64)});
  const at::Tensor scores =
      torch::randn({800}, generator, torch::kFloat64) + labels.to(torch::kFloat64) * 0.5;
  const auto auc = [](const at::Tensor& s, const at::Tensor& l) { return roc_auc(s, l); };
  const Interval interval = bootstrap_interval(scores, labels, auc, 300, 0.95, 9);
  CHECK(interval.estimate == roc_auc(scores, labels));
  CHECK(interval.low < interval.estimate);
  CHECK(interval.estimate < interval.high);
  // About +-0.04 for 400 against 400 at AUC ~0.64; not degenerate, not absurd.
  CHECK(interval.high - interval.low > 0.02);
  CHECK(interval.high - interval.low < 0.12);
  // Same seed, same interval; another seed, another one.
  const Interval again = bootstrap_interval(scores, labels, auc, 300, 0.95, 9);
  CHECK(again.low == interval.low);
  CHECK(again.high == interval.high);
  CHECK(bootstrap_interval(scores, labels, auc, 300, 0.95, 10).low != interval.low);
}

TEST_CASE("metrics refuse inputs they cannot score") {
  using testing::contains;
  using testing::message_of;
  CHECK(contains(message_of<Error>([] {
                   roc_curve(doubles({0.1, 0.2}), classes({1, 1}));
                 }),
                 "needs members and non-members, got 2 and 0"));
  CHECK(contains(message_of<Error>([] {
                   roc_curve(doubles({0.1, 0.2}), classes({1}));
                 }),
                 "one length"));
  CHECK(contains(message_of<Error>([] {
                   roc_curve(doubles({0.1, 0.2}), classes({1, 2}));
                 }),
                 "labels must be 0"));
  CHECK(contains(message_of<Error>([] {
                   roc_curve(doubles({0.1, std::nan("")}), classes({1, 0}));
                 }),
                 "NaN"));
}
