// attack.mlp_posterior: a small MLP learns from the shadows which posteriors belong to
// members (Shokri et al.; the single attack model of Salem et al.), so it can use any
// pattern of the posterior, not just one statistic of it.
#include <torch/torch.h>

#include <secateurs/sdk.h>

namespace {

using namespace secateurs;

// Clamped, because a log-posterior of -1e4 would dominate the standardisation.
at::Tensor features(const at::Tensor& logits, const at::Tensor&) {
  return log_posteriors(logits).clamp_min(-30.0).to(torch::kFloat32);
}

class MlpPosterior final : public Attack {
 public:
  explicit MlpPosterior(const Params& params) : settings_(learned_attack_settings(params)) {}

  AttackResult run(const AttackInputs& inputs, Context& context) override {
    return learned_attack(inputs, features, settings_,
                          derive_seed(context.seed(), "attack.mlp_posterior"),
                          "attack.mlp_posterior");
  }

 private:
  LearnedAttackSettings settings_;
};

void register_components(Registrar& registrar) {
  registrar.add<MlpPosterior>(Kind::Attack, "mlp_posterior",
                              "Learned: MLP on the log-posterior, trained on shadow models",
                              learned_attack_schema());
}

}  // namespace

SECATEURS_PLUGIN("mlp_posterior", "1.0.0", register_components)
