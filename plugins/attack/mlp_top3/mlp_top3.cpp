// attack.mlp_top3: attack.mlp_posterior on the three largest log-posteriors, sorted
// (Salem et al.): blind to which classes they belong to, so one attack model serves every
// class and the features keep the same meaning across datasets.
#include <torch/torch.h>

#include <secateurs/sdk.h>

namespace {

using namespace secateurs;

// Clamped, because a log-posterior of -1e4 would dominate the standardisation.
at::Tensor features(const at::Tensor& logits, const at::Tensor&) {
  const at::Tensor log_p = log_posteriors(logits).clamp_min(-30.0);
  const std::int64_t k = std::min<std::int64_t>(3, log_p.size(1));
  return std::get<0>(log_p.topk(k, 1, /*largest=*/true, /*sorted=*/true)).to(torch::kFloat32);
}

class MlpTop3 final : public Attack {
 public:
  explicit MlpTop3(const Params& params) : settings_(learned_attack_settings(params)) {}

  AttackResult run(const AttackInputs& inputs, Context& context) override {
    return learned_attack(inputs, features, settings_,
                          derive_seed(context.seed(), "attack.mlp_top3"), "attack.mlp_top3");
  }

 private:
  LearnedAttackSettings settings_;
};

void register_components(Registrar& registrar) {
  registrar.add<MlpTop3>(Kind::Attack, "mlp_top3",
                         "Learned: MLP on the top-3 log-posteriors, trained on shadow models",
                         learned_attack_schema());
}

}  // namespace

SECATEURS_PLUGIN("mlp_top3", "1.0.0", register_components)
