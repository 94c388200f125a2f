// attack.mlp_label: attack.mlp_posterior given the true label as well (one-hot), so the
// attack model can learn class-specific patterns (Nasr et al.'s label input; the
// per-class attack models of Shokri et al. in one network) and whether the answer is right.
#include <torch/torch.h>

#include <secateurs/sdk.h>

namespace {

using namespace secateurs;

// Clamped, because a log-posterior of -1e4 would dominate the standardisation.
at::Tensor features(const at::Tensor& logits, const at::Tensor& labels) {
  const at::Tensor log_p = log_posteriors(logits).clamp_min(-30.0);
  const at::Tensor one_hot = torch::one_hot(labels.to(torch::kLong), log_p.size(1));
  return torch::cat({log_p, one_hot.to(torch::kFloat64)}, 1).to(torch::kFloat32);
}

class MlpLabel final : public Attack {
 public:
  explicit MlpLabel(const Params& params) : settings_(learned_attack_settings(params)) {}

  AttackResult run(const AttackInputs& inputs, Context& context) override {
    return learned_attack(inputs, features, settings_,
                          derive_seed(context.seed(), "attack.mlp_label"), "attack.mlp_label");
  }

 private:
  LearnedAttackSettings settings_;
};

void register_components(Registrar& registrar) {
  registrar.add<MlpLabel>(
      Kind::Attack, "mlp_label",
      "Learned: MLP on the log-posterior and the one-hot label, trained on shadow models",
      learned_attack_schema());
}

}  // namespace

SECATEURS_PLUGIN("mlp_label", "1.0.0", register_components)
