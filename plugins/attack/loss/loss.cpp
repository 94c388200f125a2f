// attack.loss: training drives the loss of the training samples down, so a low loss
// betrays a member. Per-class thresholds as in attack.confidence; with them it ranks like
// attack.confidence (-loss is log p_y) and is kept as the attack the literature names.
#include <torch/torch.h>

#include <secateurs/sdk.h>

namespace {

using namespace secateurs;

at::Tensor statistic(const at::Tensor& logits, const at::Tensor& labels) {
  return -sample_loss(logits, labels);
}

class Loss final : public Attack {
 public:
  explicit Loss(const Params&) {}

  AttackResult run(const AttackInputs& inputs, Context&) override {
    return threshold_attack(inputs, statistic, /*per_class=*/true, "attack.loss");
  }
};

void register_components(Registrar& registrar) {
  registrar.add<Loss>(
      Kind::Attack, "loss",
      "Metric: negative cross-entropy loss, per-class thresholds from shadow models", {});
}

}  // namespace

SECATEURS_PLUGIN("loss", "1.0.0", register_components)
