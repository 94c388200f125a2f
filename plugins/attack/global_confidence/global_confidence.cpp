// attack.global_confidence: attack.confidence with one threshold for every class, which is
// Yeom et al.'s loss threshold (log p_y = -loss); the gap to attack.confidence shows what
// per-class thresholds add.
#include <torch/torch.h>

#include <secateurs/sdk.h>

namespace {

using namespace secateurs;

// log p_y rather than p_y: the same order, without float ties at p_y = 1.
at::Tensor statistic(const at::Tensor& logits, const at::Tensor& labels) {
  return true_class_log_probability(logits, labels);
}

class GlobalConfidence final : public Attack {
 public:
  explicit GlobalConfidence(const Params&) {}

  AttackResult run(const AttackInputs& inputs, Context&) override {
    return threshold_attack(inputs, statistic, /*per_class=*/false, "attack.global_confidence");
  }
};

void register_components(Registrar& registrar) {
  registrar.add<GlobalConfidence>(
      Kind::Attack, "global_confidence",
      "Metric: true-class log-probability, one threshold for all classes from shadow models", {});
}

}  // namespace

SECATEURS_PLUGIN("global_confidence", "1.0.0", register_components)
