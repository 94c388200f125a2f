// Attack components: membership-inference scores from model outputs.
#pragma once

#include <ATen/core/Tensor.h>

#include <vector>

#include "secateurs/component.h"
#include "secateurs/context.h"

namespace secateurs {

// One model's outputs on a set of samples.
struct ModelOutputs {
  at::Tensor logits;     // [N, C]
  at::Tensor labels;     // [N] int64
  at::Tensor is_member;  // [N] bool; known for shadows, undefined for the target
};

struct AttackInputs {
  ModelOutputs target;
  std::vector<ModelOutputs> shadows;  // trained exactly as the target (adaptive attacker)
};

class SECATEURS_API Attack : public Component {
 public:
  ~Attack() override;
  // One float64 score per target sample, higher meaning "more likely a member". Metrics
  // rank samples by this continuous score, so it must not be rounded to a decision.
  virtual at::Tensor score(const AttackInputs& inputs, Context& context) = 0;
};

}  // namespace secateurs
