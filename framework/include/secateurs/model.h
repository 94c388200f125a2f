// Model components: a network architecture.
#pragma once

#include <torch/nn/module.h>

#include <cstdint>
#include <vector>

#include "secateurs/component.h"
#include "secateurs/context.h"

namespace secateurs {

struct DataShape {
  std::vector<std::int64_t> input_shape;  // one example's shape, e.g. {1, 28, 28}
  std::int64_t num_classes = 0;
};

// The component owns its network. Calls after build() may come from any one thread at a
// time; the host never shares one Model between concurrent trainings.
class SECATEURS_API Model : public Component {
 public:
  ~Model() override;
  // Creates the layers for data of this shape, initialised from context.seed().
  virtual void build(const DataShape& shape, Context& context) = 0;
  // The network, for the trainer and the pruners (parameters, buffers, train/eval).
  virtual torch::nn::Module& module() = 0;
  // Logits [N, num_classes] for inputs [N, input_shape...].
  virtual at::Tensor forward(const at::Tensor& inputs) = 0;
};

}  // namespace secateurs
