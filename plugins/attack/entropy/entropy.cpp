// attack.entropy: a model's posterior is sharper (lower entropy) on its training samples.
// Unlike confidence it ignores the label, so it cannot tell a confidently wrong answer
// from a confidently right one; per-class thresholds as in attack.confidence.
#include <torch/torch.h>

#include <secateurs/sdk.h>

namespace {

using namespace secateurs;

at::Tensor statistic(const at::Tensor& logits, const at::Tensor&) {
  return -prediction_entropy(logits);
}

class Entropy final : public Attack {
 public:
  explicit Entropy(const Params&) {}

  AttackResult run(const AttackInputs& inputs, Context&) override {
    return threshold_attack(inputs, statistic, /*per_class=*/true, "attack.entropy");
  }
};

void register_components(Registrar& registrar) {
  registrar.add<Entropy>(
      Kind::Attack, "entropy",
      "Metric: negative prediction entropy, per-class thresholds from shadow models", {});
}

}  // namespace

SECATEURS_PLUGIN("entropy", "1.0.0", register_components)
