// attack.modified_entropy: Song & Mittal's entropy that uses the label, so a confident
// wrong answer scores as uncertain (high) rather than as certain; per-class thresholds
// as in attack.confidence.
#include <torch/torch.h>

#include <secateurs/sdk.h>

namespace {

using namespace secateurs;

at::Tensor statistic(const at::Tensor& logits, const at::Tensor& labels) {
  return -modified_entropy(logits, labels);
}

class ModifiedEntropy final : public Attack {
 public:
  explicit ModifiedEntropy(const Params&) {}

  AttackResult run(const AttackInputs& inputs, Context&) override {
    return threshold_attack(inputs, statistic, /*per_class=*/true, "attack.modified_entropy");
  }
};

void register_components(Registrar& registrar) {
  registrar.add<ModifiedEntropy>(
      Kind::Attack, "modified_entropy",
      "Metric: negative modified entropy (Song & Mittal), per-class thresholds from shadow models",
      {});
}

}  // namespace

SECATEURS_PLUGIN("modified_entropy", "1.0.0", register_components)
