// Pruner components: importance scores and masks for a model they are handed.
//
// The schedule (one-shot, iterative, gradual, rewinding, adaptive) lives in the host; a
// pruner only answers "which weights go, to reach this sparsity".
#pragma once

#include <ATen/core/Tensor.h>

#include <string>
#include <vector>

#include "secateurs/component.h"
#include "secateurs/context.h"
#include "secateurs/model.h"

namespace secateurs {

// One prunable weight tensor of the model.
struct PruneTarget {
  std::string name;   // the parameter's name in the module, e.g. "fc1.weight"
  at::Tensor weight;  // the parameter itself (read it; do not modify it)
  at::Tensor mask;    // current keep-mask, same shape: 1 kept, 0 already pruned
};

class SECATEURS_API Pruner : public Component {
 public:
  ~Pruner() override;
  // Returns one keep-mask per target (same order and shapes) so that the fraction of
  // zeros over all targets reaches `sparsity` in [0, 1). Weights already pruned stay
  // pruned. `model` gives access to data-dependent importance (gradients, activations).
  virtual std::vector<at::Tensor> compute_masks(Model& model,
                                                const std::vector<PruneTarget>& targets,
                                                double sparsity, Context& context) = 0;
};

}  // namespace secateurs
