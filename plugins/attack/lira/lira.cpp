// attack.lira: the likelihood-ratio attack of Carlini et al., "Membership Inference Attacks
// From First Principles" (S&P 2022). A sample's logit-scaled confidence is compared with
// its own distribution under reference models that did not train on it (and, online, under
// ones that did), so that a sample every model finds easy does not pass for a member.
#include <torch/torch.h>

#include <secateurs/sdk.h>

#include <algorithm>
#include <cmath>
#include <numbers>
#include <string>
#include <vector>

namespace {

using namespace secateurs;

// A deviation fitted on (nearly) identical confidences would turn a rounding difference
// into an enormous score.
constexpr double kMinDeviation = 1e-6;
// Calibration scores each of the first 4 shadows against the others: fewer than 4 leaves
// too few references per sample (each is OUT for only about half of the others).
constexpr std::size_t kMinShadows = 4;
constexpr std::size_t kPseudoTargets = 4;

// Gaussian fit, per sample, of one group (IN or OUT) of reference features.
struct GroupFit {
  at::Tensor count;      // [N] float64: references in the group
  at::Tensor mean;       // [N] float64, NaN where count is 0
  at::Tensor deviation;  // [N] float64
};

// `refs` [K, N] float64, `group` [K, N] bool. The deviation is the sample's own (unbiased)
// when it has at least 2 references in the group and fixed_variance is off; otherwise the
// group's pooled within-sample deviation sqrt(sum of squared residuals / sum(count - 1)),
// which one reference, or none, cannot estimate on its own.
GroupFit fit_group(const at::Tensor& refs, const at::Tensor& group, bool fixed_variance) {
  GroupFit fit;
  const at::Tensor weight = group.to(torch::kFloat64);
  fit.count = weight.sum(0);
  fit.mean = (refs * weight).sum(0) / fit.count;
  // where(), not a product with the mask: the mean is NaN in columns without references.
  const at::Tensor squares =
      torch::where(group, refs - fit.mean, torch::zeros_like(refs)).square().sum(0);
  const at::Tensor dof = (fit.count - 1).clamp_min(0);
  const double pooled_dof = dof.sum().item<double>();
  double pooled = 1.0;
  if (pooled_dof > 0) {
    pooled = squares.sum().item<double>() / pooled_dof;
  } else {
    // No sample has two references: the spread of the whole group around its overall
    // mean, an overestimate (it includes the differences between samples) but on the
    // right scale.
    const at::Tensor all = refs.masked_select(group);
    if (all.numel() >= 2) pooled = all.var().item<double>();
  }
  const at::Tensor pooled_variance = torch::full_like(fit.count, pooled);
  const at::Tensor variance = fixed_variance
                                  ? pooled_variance
                                  : torch::where(fit.count >= 2, squares / dof, pooled_variance);
  fit.deviation = variance.sqrt().clamp_min(kMinDeviation);
  return fit;
}

at::Tensor log_normal_density(const at::Tensor& x, const at::Tensor& mean,
                              const at::Tensor& deviation) {
  const at::Tensor z = (x - mean) / deviation;
  return -0.5 * z.square() - deviation.log() - 0.5 * std::log(2 * std::numbers::pi);
}

// LiRA's score of the features `phi` [N] of one model, against reference features `refs`
// [K, N] of K other models, `in` [K, N] saying which of them trained on which sample.
//
// Offline: (phi - mu_out) / sd_out over the OUT references, a one-sided test whose p-value
// 1 - Phi(score) is the same decreasing function of the score for every sample, so ranking
// by it ranks by p-value. NaN for a sample with no OUT reference: it cannot be scored.
//
// Online: log N(phi; mu_in, sd_in) - log N(phi; mu_out, sd_out). A sample without IN
// references takes mu_in = mu_out + gap, one without OUT references mu_out = mu_in - gap,
// with gap the mean of mu_in - mu_out over the samples that have both: the score stays a
// log-likelihood ratio, on the scale of every other sample's.
at::Tensor lira_scores(const at::Tensor& phi, const at::Tensor& refs, const at::Tensor& in,
                       bool online, bool fixed_variance) {
  const GroupFit out = fit_group(refs, in.logical_not(), fixed_variance);
  if (!online) return (phi - out.mean) / out.deviation;

  const GroupFit inside = fit_group(refs, in, fixed_variance);
  const at::Tensor has_in = inside.count > 0;
  const at::Tensor has_out = out.count > 0;
  if (!has_in.any().item<bool>() || !has_out.any().item<bool>()) {
    throw Error(std::string("attack.lira: the online references include no model that ") +
                (has_in.any().item<bool>() ? "left out" : "trained on") +
                " any of the samples, so IN and OUT cannot both be fitted");
  }
  const at::Tensor both = has_in & has_out;
  const double gap =
      both.any().item<bool>()
          ? (inside.mean - out.mean).masked_select(both).mean().item<double>()
          : (refs.masked_select(in).mean() - refs.masked_select(in.logical_not()).mean())
                .item<double>();
  const at::Tensor mean_in = torch::where(has_in, inside.mean, out.mean + gap);
  const at::Tensor mean_out = torch::where(has_out, out.mean, inside.mean - gap);
  return log_normal_density(phi, mean_in, inside.deviation) -
         log_normal_density(phi, mean_out, out.deviation);
}

// Every row but pseudo-target k and its partner k ^ 1, which trained on k's complement
// (attack.h): without the partner each of k's samples has as many OUT references as IN
// ones whether it is a member or not, so the deviation estimate does not depend on the
// truth the threshold is fitted to.
at::Tensor references(const at::Tensor& stacked, std::int64_t k) {
  std::vector<std::int64_t> rows;
  for (std::int64_t r = 0; r < stacked.size(0); ++r) {
    if (r != k && r != (k ^ 1)) rows.push_back(r);
  }
  return stacked.index_select(0, torch::tensor(rows, torch::kLong));
}

class Lira final : public Attack {
 public:
  explicit Lira(const Params& params)
      : online_(params.get_string("mode") == "online"),
        fixed_variance_(params.get_bool("fixed_variance")) {}

  bool needs_online_shadows() const override { return online_; }
  int minimum_shadows() const override { return static_cast<int>(kMinShadows); }
  int minimum_online_shadows() const override {
    return online_ ? static_cast<int>(kMinShadows) : 0;
  }

  AttackResult run(const AttackInputs& inputs, Context&) override {
    check_inputs(inputs);
    const double threshold = calibrate(inputs.shadows);
    const at::Tensor& labels = inputs.target.labels;
    const at::Tensor phi = scaled_confidence(inputs.target_logits, labels);
    std::vector<at::Tensor> refs, in;
    if (online_) {
      for (const ShadowModel& shadow : inputs.online.models) {
        refs.push_back(scaled_confidence(shadow.logits, labels));
        in.push_back(shadow.is_member.to(torch::kBool));
      }
    } else {
      // The shadows trained on the attacker's data: every target sample is OUT for all.
      for (const ShadowModel& shadow : inputs.shadows.models) {
        refs.push_back(scaled_confidence(shadow.target_logits, labels));
        in.push_back(torch::zeros({phi.size(0)}, torch::kBool));
      }
    }
    const at::Tensor scores =
        lira_scores(phi, torch::stack(refs), torch::stack(in), online_, fixed_variance_);
    return {scores, scores.ge(threshold)};
  }

 private:
  void check_inputs(const AttackInputs& inputs) const {
    const std::size_t shadows = inputs.shadows.models.size();
    if (shadows < kMinShadows) {
      throw ConfigError("attack.lira needs at least " + std::to_string(kMinShadows) +
                        " shadow models (to calibrate its threshold, each of the first " +
                        std::to_string(kPseudoTargets) +
                        " is scored against the others), but there are " + std::to_string(shadows) +
                        "; train more shadows");
    }
    if (inputs.shadows.samples.labels.numel() == 0) {
      throw ConfigError("attack.lira: the shadows' sample set is empty; nothing to calibrate on");
    }
    if (online_) {
      const std::size_t online = inputs.online.models.size();
      if (online < kMinShadows) {
        throw ConfigError("attack.lira in online mode needs at least " +
                          std::to_string(kMinShadows) +
                          " online shadow models (trained on halves of the target samples), "
                          "but there are " +
                          std::to_string(online) + "; train more or use mode: offline");
      }
      for (const ShadowModel& shadow : inputs.online.models) {
        if (shadow.logits.size(0) != inputs.target.labels.size(0)) {
          throw Error("attack.lira: an online shadow answered on " +
                      std::to_string(shadow.logits.size(0)) + " samples, not the " +
                      std::to_string(inputs.target.labels.size(0)) + " target samples");
        }
      }
    }
  }

  // The threshold that best separates members from non-members when each of the first
  // shadows plays the target, against the other shadows as references: the target's own
  // membership is never seen.
  double calibrate(const ShadowSet& shadows) const {
    std::vector<at::Tensor> phi_list, in_list;
    for (const ShadowModel& shadow : shadows.models) {
      phi_list.push_back(scaled_confidence(shadow.logits, shadows.samples.labels));
      in_list.push_back(shadow.is_member.to(torch::kBool));
    }
    const at::Tensor phis = torch::stack(phi_list);
    const at::Tensor in = torch::stack(in_list);
    std::vector<at::Tensor> scores, truth;
    const auto pseudo_targets =
        static_cast<std::int64_t>(std::min(shadows.models.size(), kPseudoTargets));
    for (std::int64_t k = 0; k < pseudo_targets; ++k) {
      const at::Tensor s =
          lira_scores(phis[k], references(phis, k), references(in, k), online_, fixed_variance_);
      // Offline, a sample that every other shadow trained on has no reference.
      const at::Tensor scored = s.isnan().logical_not();
      scores.push_back(s.masked_select(scored));
      truth.push_back(in[k].masked_select(scored));
    }
    const at::Tensor pooled = torch::cat(scores);
    if (pooled.numel() == 0) {
      throw ConfigError(
          "attack.lira could not calibrate its threshold: no shadow sample has a reference "
          "shadow that left it out; train more shadows");
    }
    return best_threshold(pooled, torch::cat(truth));
  }

  bool online_;
  bool fixed_variance_;
};

void register_components(Registrar& registrar) {
  registrar.add<Lira>(
      Kind::Attack, "lira",
      "LiRA: Gaussian likelihood ratio of logit-scaled confidence vs shadow models (Carlini 2022)",
      {param::choice("mode", {"online", "offline"}, "offline",
                     "online: fit IN and OUT Gaussians (needs shadows trained on the target "
                     "samples); offline: one-sided test against OUT only"),
       param::boolean("fixed_variance", false,
                      "One deviation per group pooled over all samples instead of one per "
                      "sample (better with few shadows)")});
}

}  // namespace

SECATEURS_PLUGIN("lira", "1.0.0", register_components)
