// attack.rmia: the relative membership inference attack of Zarifzadeh et al., "Low-Cost
// High-Power Membership Inference Attacks" (ICML 2024). The target's probability of a
// sample, normalised by the reference models' (how easy the sample is anyway), is compared
// with the same ratio on population samples no model trained on; a member beats most of
// them. The pairwise test needs few reference models to be strong.
#include <torch/torch.h>

#include <secateurs/sdk.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

namespace {

using namespace secateurs;

// Offline, the target samples are scored against every shadow (all OUT for them), and
// each calibration pseudo-target against the others but its partner: 3 shadows leave
// every pseudo-target at least one reference.
constexpr std::size_t kMinShadows = 3;
constexpr std::size_t kMinOnlineShadows = 2;
constexpr std::size_t kPseudoTargets = 4;

// log of the mean over the K rows of exp(log_values) [K, N], taking only the entries where
// `use` [K, N] is true; NaN for a column without any.
at::Tensor log_mean_exp(const at::Tensor& log_values, const at::Tensor& use) {
  const at::Tensor masked =
      log_values.masked_fill(use.logical_not(), -std::numeric_limits<double>::infinity());
  return torch::logsumexp(masked, 0) - use.to(torch::kFloat64).sum(0).log();
}

// One calibration or target scoring of RMIA.
struct RmiaCase {
  at::Tensor log_p_x;     // [N] log Pr(x | theta), the model under attack
  at::Tensor ref_log_px;  // [K, N] log Pr(x | theta') of the reference models
  at::Tensor ref_out;     // [K, N] bool: reference k did not train on x
  at::Tensor log_p_z;     // [Z] log Pr(z | theta)
  at::Tensor ref_log_pz;  // [K, Z] log Pr(z | theta'), all OUT
};

class Rmia final : public Attack {
 public:
  explicit Rmia(const Params& params)
      : online_(params.get_string("mode") == "online"),
        offline_a_(params.get_float("offline_a")),
        gamma_(params.get_float("gamma")),
        population_(params.get_int("population")) {
    if (!(gamma_ > 0)) {
      throw ConfigError("attack.rmia: gamma must be greater than 0, got " +
                        format_value(ParamValue(gamma_)));
    }
  }

  bool needs_online_shadows() const override { return online_; }
  int minimum_shadows() const override { return static_cast<int>(kMinShadows); }
  int minimum_online_shadows() const override {
    return online_ ? static_cast<int>(kMinOnlineShadows) : 0;
  }

  AttackResult run(const AttackInputs& inputs, Context& context) override {
    check_inputs(inputs);
    const std::int64_t z = population_size(inputs, context);
    const at::Tensor z_labels = inputs.population.labels.slice(0, 0, z);
    auto on_population = [&](const at::Tensor& logits) {
      return true_class_log_probability(logits.slice(0, 0, z), z_labels);
    };

    const double threshold = calibrate(inputs.shadows, on_population);

    const at::Tensor& labels = inputs.target.labels;
    const ShadowSet& refs = online_ ? inputs.online : inputs.shadows;
    std::vector<at::Tensor> ref_px, ref_out, ref_pz;
    for (const ShadowModel& shadow : refs.models) {
      // Offline references trained on the attacker's data: OUT for every target sample.
      // Online ones are averaged IN and OUT alike, so their membership is not needed.
      ref_px.push_back(
          true_class_log_probability(online_ ? shadow.logits : shadow.target_logits, labels));
      ref_out.push_back(torch::ones({labels.size(0)}, torch::kBool));
      ref_pz.push_back(on_population(shadow.population_logits));
    }
    const at::Tensor scores = score(
        {true_class_log_probability(inputs.target_logits, labels), torch::stack(ref_px),
         torch::stack(ref_out), on_population(inputs.population_logits), torch::stack(ref_pz)});
    return {scores, scores.ge(threshold)};
  }

 private:
  void check_inputs(const AttackInputs& inputs) const {
    const std::size_t shadows = inputs.shadows.models.size();
    if (shadows < kMinShadows) {
      throw ConfigError("attack.rmia needs at least " + std::to_string(kMinShadows) +
                        " shadow models (offline references, and for calibrating its "
                        "threshold each of the first ones is scored against the others), but "
                        "there are " +
                        std::to_string(shadows) + "; train more shadows");
    }
    if (inputs.shadows.samples.labels.numel() == 0) {
      throw ConfigError("attack.rmia: the shadows' sample set is empty; nothing to calibrate on");
    }
    if (!inputs.population_logits.defined() || inputs.population_logits.size(0) == 0) {
      throw ConfigError(
          "attack.rmia needs population samples (attacker data no model trained on), but "
          "there are none; set shadows.population above 0");
    }
    if (online_) {
      const std::size_t online = inputs.online.models.size();
      if (online < kMinOnlineShadows) {
        throw ConfigError("attack.rmia in online mode needs at least " +
                          std::to_string(kMinOnlineShadows) +
                          " online shadow models (trained on halves of the target samples), "
                          "but there are " +
                          std::to_string(online) + "; train more or use mode: offline");
      }
      for (const ShadowModel& shadow : inputs.online.models) {
        if (shadow.logits.size(0) != inputs.target.labels.size(0)) {
          throw Error("attack.rmia: an online shadow answered on " +
                      std::to_string(shadow.logits.size(0)) + " samples, not the " +
                      std::to_string(inputs.target.labels.size(0)) + " target samples");
        }
      }
    }
  }

  std::int64_t population_size(const AttackInputs& inputs, Context& context) const {
    const std::int64_t available = inputs.population_logits.size(0);
    if (population_ == 0) return available;
    if (population_ > available) {
      context.log(LogLevel::Warning, "attack.rmia: population " + std::to_string(population_) +
                                         " requested but " + std::to_string(available) +
                                         " population samples exist; using all");
      return available;
    }
    return population_;
  }

  // log Pr(x) [N] from the references. Online: the mean over all of them. Offline: from
  // the mean over the OUT ones, Pr(x) = ((1 + a) Pr_OUT(x) + (1 - a)) / 2, the paper's
  // linear stand-in for the missing IN models.
  at::Tensor log_marginal(const at::Tensor& ref_log_px, const at::Tensor& ref_out) const {
    if (online_) return log_mean_exp(ref_log_px, torch::ones_like(ref_out));
    const at::Tensor log_out = log_mean_exp(ref_log_px, ref_out);
    // log(1 - a) is -inf for a = 1, which logaddexp takes as a zero term.
    return std::log(0.5) + torch::logaddexp(log_out + std::log1p(offline_a_),
                                            torch::full_like(log_out, std::log(1 - offline_a_)));
  }

  // Score(x) = the fraction of population samples z with
  // (Pr(x|theta) / Pr(x)) / (Pr(z|theta) / Pr(z)) >= gamma, i.e. in logs
  // ratio_z <= ratio_x - log(gamma): the z ratios are sorted once and counted by binary
  // search, O((N + Z) log Z) rather than an N x Z table. NaN where Pr(x) is unknown.
  at::Tensor score(const RmiaCase& c) const {
    const at::Tensor ratio_x = c.log_p_x - log_marginal(c.ref_log_px, c.ref_out);
    // Every reference is OUT for z just as for x, so Pr(z) gets the same offline stand-in
    // for the missing IN models (as the authors' implementation does).
    const at::Tensor ratio_z =
        c.log_p_z - log_marginal(c.ref_log_pz, torch::ones_like(c.ref_log_pz, torch::kBool));
    const at::Tensor sorted_z = std::get<0>(ratio_z.sort());
    const at::Tensor dominated =
        torch::searchsorted(sorted_z, ratio_x - std::log(gamma_), /*out_int32=*/false,
                            /*right=*/true);
    const at::Tensor fraction =
        dominated.to(torch::kFloat64) / static_cast<double>(sorted_z.size(0));
    return fraction.masked_fill(ratio_x.isnan(), std::numeric_limits<double>::quiet_NaN());
  }

  // The threshold that best separates members from non-members when each of the first
  // shadows plays the target over the shadows' samples (with its own population
  // probabilities), the other shadows as references: the target's membership is never
  // seen.
  template <class OnPopulation>
  double calibrate(const ShadowSet& shadows, const OnPopulation& on_population) const {
    std::vector<at::Tensor> px_list, in_list, pz_list;
    for (const ShadowModel& shadow : shadows.models) {
      px_list.push_back(true_class_log_probability(shadow.logits, shadows.samples.labels));
      in_list.push_back(shadow.is_member.to(torch::kBool));
      pz_list.push_back(on_population(shadow.population_logits));
    }
    const at::Tensor px = torch::stack(px_list);
    const at::Tensor in = torch::stack(in_list);
    const at::Tensor pz = torch::stack(pz_list);
    // Every shadow but pseudo-target k and its partner k ^ 1, which trained on k's
    // complement (attack.h): with it, k's members would have one OUT reference more than
    // its non-members, and the threshold would be fitted to that difference.
    auto without = [](const at::Tensor& stacked, std::int64_t k) {
      std::vector<std::int64_t> rows;
      for (std::int64_t r = 0; r < stacked.size(0); ++r) {
        if (r != k && r != (k ^ 1)) rows.push_back(r);
      }
      return stacked.index_select(0, torch::tensor(rows, torch::kLong));
    };
    std::vector<at::Tensor> scores, truth;
    const auto pseudo_targets =
        static_cast<std::int64_t>(std::min(shadows.models.size(), kPseudoTargets));
    for (std::int64_t k = 0; k < pseudo_targets; ++k) {
      const at::Tensor s =
          score({px[k], without(px, k), without(in, k).logical_not(), pz[k], without(pz, k)});
      // Offline, a sample that every other shadow trained on has no OUT reference.
      const at::Tensor scored = s.isnan().logical_not();
      scores.push_back(s.masked_select(scored));
      truth.push_back(in[k].masked_select(scored));
    }
    const at::Tensor pooled_truth = torch::cat(truth);
    const auto members = pooled_truth.sum().item<std::int64_t>();
    if (members == 0 || members == pooled_truth.numel()) {
      // A guard: with at least kMinShadows shadows every pseudo-target has references.
      throw ConfigError("attack.rmia could not calibrate its threshold: scoring " +
                        std::to_string(pseudo_targets) + " of the " +
                        std::to_string(shadows.models.size()) +
                        " shadows against the others left only " +
                        (members == 0 ? "non-members" : "members") + "; train more shadows");
    }
    return best_threshold(torch::cat(scores), pooled_truth);
  }

  bool online_;
  double offline_a_;
  double gamma_;
  std::int64_t population_;
};

void register_components(Registrar& registrar) {
  registrar.add<Rmia>(
      Kind::Attack, "rmia",
      "RMIA: likelihood ratio against population samples, normalised by reference models "
      "(Zarifzadeh 2024)",
      {param::choice("mode", {"offline", "online"}, "offline",
                     "offline: references are shadows that left the target samples out; "
                     "online: shadows trained on halves of the target samples"),
       param::real("offline_a", 0.3, "Offline: Pr(x) = ((1+a) mean_OUT Pr(x|theta') + (1-a)) / 2")
           .range(0, 1),
       param::real("gamma", 1.0,
                   "A member's likelihood ratio must beat a population sample's by this "
                   "factor (> 0)")
           .range(1e-6, 1e6),
       param::integer("population", 0,
                      "Population samples to compare against: the first n (0: all of them)")
           .at_least(0)});
}

}  // namespace

SECATEURS_PLUGIN("rmia", "1.0.0", register_components)
