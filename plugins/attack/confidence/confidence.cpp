// attack.confidence: a model is more confident on the samples it trained on. Per-class
// thresholds, because a class the model finds easy is confident on members and
// non-members alike, and one global cut would call all of that class members.
#include <torch/torch.h>

#include <secateurs/sdk.h>

namespace {

using namespace secateurs;

// log p_y rather than p_y: the same order, without float ties at p_y = 1.
at::Tensor statistic(const at::Tensor& logits, const at::Tensor& labels) {
  return true_class_log_probability(logits, labels);
}

class Confidence final : public Attack {
 public:
  explicit Confidence(const Params&) {}

  AttackResult run(const AttackInputs& inputs, Context&) override {
    return threshold_attack(inputs, statistic, /*per_class=*/true, "attack.confidence");
  }
};

void register_components(Registrar& registrar) {
  registrar.add<Confidence>(
      Kind::Attack, "confidence",
      "Metric: true-class log-probability, per-class thresholds from shadow models", {});
}

}  // namespace

SECATEURS_PLUGIN("confidence", "1.0.0", register_components)
