// Membership-inference metrics: ROC curve, AUC, TPR at a fixed FPR, balanced accuracy and
// bootstrap confidence intervals, over per-sample attack scores.
//
// Conventions: `scores` are float64 [N], higher meaning "more likely a member"; `labels`
// are [N] integers or booleans, 1 for a member and 0 for a non-member; both classes must
// be present. Nothing here draws from a global generator: the bootstrap takes a seed.
// Every function is pure and may run on any thread.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <vector>

#include "secateurs/export.h"

namespace secateurs {

// The ROC curve of the rule "member when score >= threshold", one point per distinct
// score from the highest down, after a first point (0, 0) at threshold +infinity. Tied
// scores move together, so the curve has a diagonal segment where members and
// non-members tie.
struct RocCurve {
  std::vector<double> thresholds;
  std::vector<double> fpr;  // non-members at or above the threshold / non-members
  std::vector<double> tpr;  // members at or above the threshold / members
};

SECATEURS_API RocCurve roc_curve(const at::Tensor& scores, const at::Tensor& labels);

// Area under the ROC curve (trapezoids), which equals the Mann-Whitney U statistic over
// (members x non-members) normalised to [0, 1], ties counted one half.
SECATEURS_API double roc_auc(const RocCurve& curve);
SECATEURS_API double roc_auc(const at::Tensor& scores, const at::Tensor& labels);

// The largest TPR of a threshold whose FPR is at most `fpr`: no interpolation between
// points, so the figure is one some threshold achieves (the rule of Carlini et al.'s LiRA
// code). 0 when only the threshold +infinity qualifies.
SECATEURS_API double tpr_at_fpr(const RocCurve& curve, double fpr);

// (TPR + TNR) / 2 of hard decisions (1: member), against the labels.
SECATEURS_API double balanced_accuracy(const at::Tensor& decisions, const at::Tensor& labels);
// The best (TPR + 1 - FPR) / 2 over the curve's thresholds: what a threshold chosen with
// knowledge of the labels reaches (an upper bound for a threshold chosen elsewhere).
SECATEURS_API double best_balanced_accuracy(const RocCurve& curve);

struct Interval {
  double estimate = 0;  // the statistic on the data as given
  double low = 0, high = 0;
};

// Percentile bootstrap: `statistic` on `resamples` resamplings of the samples with
// replacement, members and non-members resampled separately (both keep their counts),
// drawn from `seed`. The interval holds the central `confidence` of the values.
SECATEURS_API Interval bootstrap_interval(
    const at::Tensor& scores, const at::Tensor& labels,
    const std::function<double(const at::Tensor& scores, const at::Tensor& labels)>& statistic,
    int resamples, double confidence, std::uint64_t seed);

}  // namespace secateurs
