// defense.mixup_mmd: mixup training with an MMD regularizer, from Li, Li and Ribeiro,
// "Membership Inference Attacks and Defenses in Classification Models" (CODASPY 2021).
// Mixup (Zhang et al., ICLR 2018) trains on convex combinations of samples, so no single
// member is fit to a one-hot target; the MMD term pulls the distribution of the model's
// posteriors on members toward that on non-members of the same class (the defender's
// reference data), the very difference a membership attack measures.
//
// The authors' code (colaalex111/MMD-mixup-Defense) runs the MMD in a second pass over a
// class-sorted training loader, with a Gaussian kernel of bandwidth 1 on softmax outputs,
// the biased estimator, reference outputs detached and a weight of 3. Here both terms act
// in one step, the MMD taken per class and averaged over the classes of the batch that the
// reference data also has; every other choice is theirs.
#include <torch/torch.h>

#include <secateurs/sdk.h>

#include <cstdint>
#include <string>
#include <vector>

namespace {

using namespace secateurs;

// Squared MMD between samples x [n, C] and y [m, C] under the Gaussian kernel
// k(a, b) = exp(-|a - b|^2 / (2 bandwidth^2)), biased (V-statistic) estimator: the means of
// k over all pairs, diagonals included, as the authors' mix_rbf_mmd2(biased=True). It is
// never negative and exactly 0 for identical samples.
at::Tensor gaussian_mmd2(const at::Tensor& x, const at::Tensor& y, double bandwidth) {
  const double gamma = 1.0 / (2.0 * bandwidth * bandwidth);
  // Differences rather than |a|^2 - 2ab + |b|^2, which cancels to small negative numbers
  // for nearby points; no square root, so the gradient at a zero distance is defined.
  const auto mean_kernel = [gamma](const at::Tensor& a, const at::Tensor& b) {
    return (-gamma * (a.unsqueeze(1) - b.unsqueeze(0)).square().sum(2)).exp().mean();
  };
  return mean_kernel(x, x) + mean_kernel(y, y) - 2.0 * mean_kernel(x, y);
}

class MixupMmd final : public Defense {
 public:
  explicit MixupMmd(const Params& params)
      : alpha_(params.get_float("alpha")),
        mmd_weight_(params.get_float("mmd_weight")),
        bandwidth_(params.get_float("bandwidth")) {}

  void begin_round(const TrainingSet& training, const RoundInfo& round, Context& context) override {
    num_classes_ = training.num_classes;
    generator_ = make_generator(
        derive_seed(context.seed(), "defense.mixup_mmd.round." + std::to_string(round.round)));
    if (mmd_weight_ == 0.0) return;
    if (!training.reference_inputs.defined() || !training.reference_labels.defined() ||
        training.reference_labels.numel() == 0) {
      throw ConfigError(
          "defense.mixup_mmd needs reference data: set split.reference in the run file");
    }
    training_inputs_ = training.inputs;
    reference_inputs_ = training.reference_inputs;
    reference_by_class_.assign(static_cast<std::size_t>(num_classes_), {});
    const at::Tensor labels = training.reference_labels.to(torch::kInt64).contiguous();
    const std::int64_t* label = labels.data_ptr<std::int64_t>();
    for (std::int64_t i = 0; i < labels.numel(); ++i) {
      if (label[i] < 0 || label[i] >= num_classes_) {
        throw DataError("defense.mixup_mmd: reference label " + std::to_string(label[i]) +
                        " is outside [0, " + std::to_string(num_classes_) + ")");
      }
      reference_by_class_[static_cast<std::size_t>(label[i])].push_back(i);
    }
  }

  // Mixes each sample with the sample a seeded permutation puts beside it, with one
  // lambda ~ Beta(alpha, alpha) for the batch (Zhang et al.'s code); the soft targets are
  // the same mix of the one-hot labels, so the trainer's soft cross-entropy equals
  // lambda * CE(y) + (1 - lambda) * CE(y_perm). batch.labels stay the unmixed labels.
  void prepare_batch(Batch& batch, Context&) override {
    if (num_classes_ < 2) throw Error("defense.mixup_mmd: prepare_batch before begin_round");
    if (alpha_ == 0.0) return;  // lambda = 1: Zhang et al.'s convention for alpha 0
    const double lambda = draw_lambda();
    const at::Tensor partner = torch::randperm(batch.inputs.size(0), generator_, torch::kInt64);
    const at::Tensor one_hot = torch::one_hot(batch.labels, num_classes_).to(torch::kFloat32);
    batch.inputs = lambda * batch.inputs + (1.0 - lambda) * batch.inputs.index_select(0, partner);
    batch.soft_targets = lambda * one_hot + (1.0 - lambda) * one_hot.index_select(0, partner);
  }

  // base_loss (the mixup cross-entropy) + mmd_weight * the mean over classes c of
  // MMD^2(softmax outputs on the batch's members of class c, softmax outputs on as many
  // reference samples of class c, drawn with replacement).
  //
  // The members' outputs come from their clean training inputs (TrainingSet::inputs at
  // batch.positions), not from batch.inputs: an attacker queries members as they are, not
  // mixed (nor as adversarial examples, when the trainer makes them), and the reference
  // samples are clean too, so the two distributions compared are the ones an attack
  // compares. Members and references go through the model in one forward pass, so that
  // batch normalization in training mode normalizes both alike and its statistics do not
  // differ between the two sides of the comparison.
  at::Tensor loss(Model& model, const Batch& batch, const at::Tensor&, const at::Tensor& base_loss,
                  Context&) override {
    if (mmd_weight_ == 0.0) return base_loss;
    const at::Tensor labels = batch.labels.to(torch::kInt64).contiguous();
    const at::Tensor positions = batch.positions.to(torch::kInt64).contiguous();
    const std::int64_t count = labels.numel();
    const at::Tensor uniforms = torch::rand({count}, generator_, torch::kFloat64).contiguous();
    const std::int64_t* label = labels.data_ptr<std::int64_t>();
    const std::int64_t* position = positions.data_ptr<std::int64_t>();
    const double* uniform = uniforms.data_ptr<double>();

    // Rows grouped by class, members and references in the same order.
    std::vector<std::vector<std::int64_t>> members(static_cast<std::size_t>(num_classes_));
    std::vector<std::vector<std::int64_t>> references(static_cast<std::size_t>(num_classes_));
    for (std::int64_t i = 0; i < count; ++i) {
      const auto c = static_cast<std::size_t>(label[i]);
      const std::vector<std::int64_t>& pool = reference_by_class_.at(c);
      if (pool.empty()) continue;
      auto pick = static_cast<std::size_t>(uniform[i] * static_cast<double>(pool.size()));
      if (pick >= pool.size()) pick = pool.size() - 1;
      members[c].push_back(position[i]);
      references[c].push_back(pool[pick]);
    }
    std::vector<std::int64_t> member_rows, reference_rows, class_sizes;
    for (std::size_t c = 0; c < members.size(); ++c) {
      if (members[c].empty()) continue;
      member_rows.insert(member_rows.end(), members[c].begin(), members[c].end());
      reference_rows.insert(reference_rows.end(), references[c].begin(), references[c].end());
      class_sizes.push_back(static_cast<std::int64_t>(members[c].size()));
    }
    if (class_sizes.empty()) return base_loss;

    const auto paired = static_cast<std::int64_t>(member_rows.size());
    const at::Tensor inputs = torch::cat(
        {training_inputs_.index_select(0, torch::tensor(member_rows, torch::kInt64)),
         reference_inputs_.index_select(0, torch::tensor(reference_rows, torch::kInt64))});
    const at::Tensor posteriors = torch::softmax(model.forward(inputs), 1);
    const at::Tensor member_posteriors = posteriors.slice(0, 0, paired);
    // Detached as in the authors' code: the regularizer moves the members' outputs toward
    // the non-members', not the other way round.
    const at::Tensor reference_posteriors = posteriors.slice(0, paired).detach();

    at::Tensor total = torch::zeros({}, posteriors.options());
    std::int64_t start = 0;
    for (std::int64_t size : class_sizes) {
      total = total + gaussian_mmd2(member_posteriors.slice(0, start, start + size),
                                    reference_posteriors.slice(0, start, start + size), bandwidth_);
      start += size;
    }
    const at::Tensor mean_mmd2 = total / static_cast<double>(class_sizes.size());
    return base_loss + mmd_weight_ * mean_mmd2;
  }

 private:
  // lambda ~ Beta(alpha, alpha) as G1 / (G1 + G2), G1, G2 ~ Gamma(alpha, 1), in float64.
  double draw_lambda() {
    const at::Tensor shape = torch::full({2}, alpha_, torch::kFloat64);
    const at::Tensor gammas = at::_standard_gamma(shape, generator_);
    const double first = gammas[0].item<double>();
    const double sum = first + gammas[1].item<double>();
    if (sum > 0.0) return first / sum;
    // Both draws underflow to 0 only for a tiny alpha, where Beta(alpha, alpha) is all but
    // a fair coin between 0 and 1.
    return torch::rand({1}, generator_, torch::kFloat64).item<double>() < 0.5 ? 0.0 : 1.0;
  }

  double alpha_;
  double mmd_weight_;
  double bandwidth_;
  std::int64_t num_classes_ = 0;
  at::Generator generator_;
  at::Tensor training_inputs_;
  at::Tensor reference_inputs_;
  std::vector<std::vector<std::int64_t>> reference_by_class_;
};

void register_components(Registrar& registrar) {
  registrar.add<MixupMmd>(
      Kind::Defense, "mixup_mmd",
      "Mixup training plus a per-class MMD between the posteriors on members and on reference "
      "non-members (Li, Li and Ribeiro, CODASPY 2021); needs reference data",
      {param::real("alpha", 1.0, "Mixup: lambda ~ Beta(alpha, alpha); 0 turns mixing off")
           .range(0, 100),
       param::real("mmd_weight", 3.0,
                   "Weight of the MMD term (authors' setting: 3); 0 turns it off and needs no "
                   "reference data")
           .range(0, 1000),
       param::real("bandwidth", 1.0,
                   "Gaussian kernel bandwidth sigma on softmax outputs (authors' setting: 1)")
           .range(1e-6, 100)});
}

}  // namespace

SECATEURS_PLUGIN("mixup_mmd", "1.0.0", register_components)
