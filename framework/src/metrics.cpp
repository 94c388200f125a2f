#include "secateurs/metrics.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <string>

#include "secateurs/error.h"
#include "secateurs/random.h"

namespace secateurs {
namespace {

struct Samples {
  std::vector<double> scores;
  std::vector<bool> members;
  std::int64_t positives = 0, negatives = 0;
};

// Checks and copies the inputs; `what` names the caller in messages.
Samples read_samples(const at::Tensor& scores, const at::Tensor& labels, const char* what) {
  if (!scores.defined() || !labels.defined() || scores.dim() != 1 || labels.dim() != 1 ||
      scores.size(0) != labels.size(0)) {
    throw Error(std::string(what) + ": scores and labels must be 1-d tensors of one length, got " +
                (scores.defined() ? c10::str(scores.sizes()) : std::string("none")) + " and " +
                (labels.defined() ? c10::str(labels.sizes()) : std::string("none")));
  }
  const at::Tensor values = scores.detach().to(torch::kFloat64).cpu().contiguous();
  const at::Tensor classes = labels.detach().to(torch::kInt64).cpu().contiguous();
  if (values.isnan().any().item<bool>()) throw Error(std::string(what) + ": a score is NaN");
  if (classes.lt(0).logical_or(classes.gt(1)).any().item<bool>()) {
    throw Error(std::string(what) + ": labels must be 0 (non-member) or 1 (member)");
  }
  Samples samples;
  const std::int64_t n = values.size(0);
  samples.scores.assign(values.data_ptr<double>(), values.data_ptr<double>() + n);
  const std::int64_t* label = classes.data_ptr<std::int64_t>();
  samples.members.resize(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) {
    samples.members[static_cast<std::size_t>(i)] = label[i] == 1;
    (label[i] == 1 ? samples.positives : samples.negatives) += 1;
  }
  if (samples.positives == 0 || samples.negatives == 0) {
    throw Error(std::string(what) + ": needs members and non-members, got " +
                std::to_string(samples.positives) + " and " + std::to_string(samples.negatives));
  }
  return samples;
}

}  // namespace

RocCurve roc_curve(const at::Tensor& scores, const at::Tensor& labels) {
  const Samples s = read_samples(scores, labels, "roc_curve");
  std::vector<std::size_t> order(s.scores.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return s.scores[a] > s.scores[b]; });
  RocCurve curve;
  curve.thresholds.push_back(std::numeric_limits<double>::infinity());
  curve.fpr.push_back(0.0);
  curve.tpr.push_back(0.0);
  std::int64_t true_positives = 0, false_positives = 0;
  for (std::size_t i = 0; i < order.size();) {
    const double threshold = s.scores[order[i]];
    // Every sample of one score crosses the threshold together.
    for (; i < order.size() && s.scores[order[i]] == threshold; ++i) {
      (s.members[order[i]] ? true_positives : false_positives) += 1;
    }
    curve.thresholds.push_back(threshold);
    curve.fpr.push_back(static_cast<double>(false_positives) / static_cast<double>(s.negatives));
    curve.tpr.push_back(static_cast<double>(true_positives) / static_cast<double>(s.positives));
  }
  return curve;
}

double roc_auc(const RocCurve& curve) {
  double area = 0;
  for (std::size_t i = 1; i < curve.fpr.size(); ++i) {
    area += (curve.fpr[i] - curve.fpr[i - 1]) * (curve.tpr[i] + curve.tpr[i - 1]) / 2.0;
  }
  return area;
}

double roc_auc(const at::Tensor& scores, const at::Tensor& labels) {
  return roc_auc(roc_curve(scores, labels));
}

double tpr_at_fpr(const RocCurve& curve, double fpr) {
  double best = 0;
  for (std::size_t i = 0; i < curve.fpr.size(); ++i) {
    if (curve.fpr[i] <= fpr) best = std::max(best, curve.tpr[i]);
  }
  return best;
}

double balanced_accuracy(const at::Tensor& decisions, const at::Tensor& labels) {
  const Samples s = read_samples(decisions, labels, "balanced_accuracy");
  std::int64_t true_positives = 0, true_negatives = 0;
  for (std::size_t i = 0; i < s.scores.size(); ++i) {
    const bool said_member = s.scores[i] != 0;
    if (s.members[i] && said_member) ++true_positives;
    if (!s.members[i] && !said_member) ++true_negatives;
  }
  return (static_cast<double>(true_positives) / static_cast<double>(s.positives) +
          static_cast<double>(true_negatives) / static_cast<double>(s.negatives)) /
         2.0;
}

double best_balanced_accuracy(const RocCurve& curve) {
  double best = 0;
  for (std::size_t i = 0; i < curve.fpr.size(); ++i) {
    best = std::max(best, (curve.tpr[i] + 1.0 - curve.fpr[i]) / 2.0);
  }
  return best;
}

Interval bootstrap_interval(
    const at::Tensor& scores, const at::Tensor& labels,
    const std::function<double(const at::Tensor& scores, const at::Tensor& labels)>& statistic,
    int resamples, double confidence, std::uint64_t seed) {
  read_samples(scores, labels, "bootstrap_interval");
  if (resamples < 1 || !(confidence > 0 && confidence < 1)) {
    throw Error("bootstrap_interval: resamples must be at least 1 and confidence in (0, 1)");
  }
  Interval interval;
  interval.estimate = statistic(scores, labels);
  const at::Tensor classes = labels.detach().to(torch::kInt64).cpu();
  const at::Tensor members = classes.eq(1).nonzero().flatten();
  const at::Tensor others = classes.eq(0).nonzero().flatten();
  at::Generator generator = make_generator(seed);
  std::vector<double> values;
  values.reserve(static_cast<std::size_t>(resamples));
  for (int r = 0; r < resamples; ++r) {
    // Separately per class, so that every resample has both and the class balance holds.
    const at::Tensor picked = torch::cat(
        {members.index_select(
             0, torch::randint(members.size(0), {members.size(0)}, generator, torch::kInt64)),
         others.index_select(
             0, torch::randint(others.size(0), {others.size(0)}, generator, torch::kInt64))});
    values.push_back(
        statistic(scores.detach().cpu().index_select(0, picked), classes.index_select(0, picked)));
  }
  std::sort(values.begin(), values.end());
  // Percentiles by the nearest-rank rule on the sorted values.
  const auto at = [&](double q) {
    const auto rank = static_cast<std::int64_t>(std::ceil(q * static_cast<double>(resamples)));
    return values[static_cast<std::size_t>(std::clamp<std::int64_t>(rank - 1, 0, resamples - 1))];
  };
  const double tail = (1.0 - confidence) / 2.0;
  interval.low = at(tail);
  interval.high = at(1.0 - tail);
  return interval;
}

}  // namespace secateurs
