// attack.gap: the label-only baseline of Yeom et al.: call every correctly classified
// sample a member. Its balanced accuracy is 1/2 + (train - test accuracy)/2, so it
// measures the generalization gap and needs no shadow models.
#include <torch/torch.h>

#include <secateurs/sdk.h>

namespace {

using namespace secateurs;

class Gap final : public Attack {
 public:
  explicit Gap(const Params&) {}

  AttackResult run(const AttackInputs& inputs, Context&) override {
    const at::Tensor correct =
        inputs.target_logits.argmax(1).eq(inputs.target.labels.to(torch::kLong));
    return {correct.to(torch::kFloat64), correct};
  }
};

void register_components(Registrar& registrar) {
  registrar.add<Gap>(Kind::Attack, "gap",
                     "Label-only: a correctly classified sample is a member (Yeom et al.)", {});
}

}  // namespace

SECATEURS_PLUGIN("gap", "1.0.0", register_components)
