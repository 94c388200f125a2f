// Gradients and adversarial examples, for components that need them (data-driven
// pruners, adversarial pruning, robustness measurements).
//
// Threading: each call uses the model it is given and nothing else; the model must not be
// used by another thread during the call. Both functions run the model in eval mode
// (batch-norm statistics are read, not updated) and restore its mode afterwards.
#pragma once

#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>

#include <vector>

#include "secateurs/dataset.h"
#include "secateurs/model.h"

namespace secateurs {

// Gradients of the mean cross-entropy of `batch` with respect to `parameters` (tensors
// of the model that require gradients), in their order. Leaves the parameters' .grad
// untouched.
SECATEURS_API std::vector<at::Tensor> loss_gradients(Model& model, const LabeledData& batch,
                                                     const std::vector<at::Tensor>& parameters);

struct PgdSettings {
  double epsilon = 0.1;  // L-infinity radius around each input
  int steps = 10;        // 1 step without random start is FGSM
  double step_size = 0;  // 0: 2.5 * epsilon / steps (Madry et al.)
  bool random_start = true;
  double lower = 0.0, upper = 1.0;  // the valid input range (Fashion-MNIST pixels: [0, 1])
};

// Projected gradient descent examples that maximise the cross-entropy of `batch`
// (L-infinity); the random start is drawn from `generator`, so a seeded generator gives
// the same examples on every run. Returns a new tensor shaped like batch.inputs.
SECATEURS_API at::Tensor pgd_examples(Model& model, const LabeledData& batch,
                                      const PgdSettings& settings, at::Generator generator);

}  // namespace secateurs
