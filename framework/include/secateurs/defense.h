// Defense components: hooks into the trainer, active in every fine-tuning of a pruning
// round for the victim and the shadow models alike. Every hook has a neutral default,
// so a defense overrides only what it changes.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

#include "secateurs/component.h"
#include "secateurs/context.h"

namespace secateurs {

class SECATEURS_API Defense : public Component {
 public:
  ~Defense() override;
  // A term added to the batch loss; an undefined tensor means none.
  virtual at::Tensor extra_loss(const at::Tensor& logits, const at::Tensor& labels,
                                Context& context);
  // Indices of the training samples to use in this epoch of this round; empty means all.
  virtual std::vector<std::int64_t> epoch_samples(int round, int epoch, std::int64_t num_samples,
                                                  Context& context);
};

}  // namespace secateurs
