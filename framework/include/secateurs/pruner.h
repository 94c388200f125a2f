// Pruner components: which weights or channels go, for a model they are handed.
//
// The schedule (one-shot, iterative, gradual, rewinding, adaptive), the choice of the
// prunable layers, the fine-tuning and the physical removal of channels live in the
// host; a pruner only answers "which weights (or channels) go, to reach this sparsity".
//
// Sparsity is always the fraction of zero weights over all targets together, pruned
// channels included: a removed channel zeroes a row of its producers' weights and a
// column block of its consumers' weights.
//
// Threading: the host calls prune() from one thread at a time per pruner object, on a
// model no other thread uses. Ownership: everything in a PruningRequest belongs to the
// host and lives for the call only.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

#include "secateurs/component.h"
#include "secateurs/context.h"
#include "secateurs/dataset.h"
#include "secateurs/model.h"
#include "secateurs/params.h"

namespace secateurs {

// One prunable weight tensor of the model (a convolution or linear layer's weight).
struct PruneTarget {
  std::string name;   // the parameter's name in the module, e.g. "features.0.weight"
  at::Tensor weight;  // the parameter itself (read it; do not modify it)
  at::Tensor mask;    // current keep-mask, same shape, float 0/1: 1 kept, 0 already pruned
};

struct PruningRequest {
  std::vector<PruneTarget> targets;  // in the model's parameter order
  // The model's channel groups whose producers are all targets; empty when the model
  // declares none. Structured pruners choose among these.
  std::vector<ChannelGroup> groups;
  double sparsity = 0;  // in [0, 1): fraction of zeros over all targets to reach
  // Training examples for data-driven importance (gradients, activations, adversarial
  // examples); may be null, in which case a pruner that needs it throws ConfigError.
  const LabeledData* data = nullptr;
  std::int64_t batch_size = 128;  // for passes over `data`
};

// What goes. `masks`: one keep-mask per target (same order and shapes; float or bool);
// may be empty when `channels` says everything. `channels`: one keep-mask [size] per
// request group, for structured pruners; empty otherwise. When both are given, a weight
// is kept only when both keep it. Weights already pruned must stay pruned.
struct PruningDecision {
  std::vector<at::Tensor> masks;
  std::vector<at::Tensor> channels;
};

class SECATEURS_API Pruner : public Component {
 public:
  ~Pruner() override;
  virtual PruningDecision prune(Model& model, const PruningRequest& request, Context& context) = 0;
};

// ---- building blocks for pruners (implemented in the framework library) ------------------

// How far a threshold reaches: each target (or each channel group) to the requested
// sparsity on its own, or one ranking over all of them.
enum class PruneScope { Layer, Global };

// The scope a pruner's validated enum parameter "scope" ({layer, global}) names.
SECATEURS_API PruneScope prune_scope(const Params& params);

// Keep-masks that remove the lowest-scoring weights: `scores` has one tensor per target
// (same shapes; higher is more important). Weights already pruned go first whatever their
// score. Layer scope: every target reaches `sparsity`; global: the fraction over all
// targets does, by one ranking. Ties are broken by position, so equal scores give the
// same masks on every run. Throws ConfigError for sparsity outside [0, 1).
SECATEURS_API std::vector<at::Tensor> keep_highest(const std::vector<PruneTarget>& targets,
                                                   const std::vector<at::Tensor>& scores,
                                                   double sparsity, PruneScope scope);

// Channel keep-masks that reach `sparsity` over the targets by removing the
// lowest-scoring channels, one at a time, until the fraction of zero target weights
// (channels' rows and column blocks included) is as close to it as whole channels allow
// (within half of one channel's weights). `scores`: one tensor [group.size] per group. Layer scope:
// the next channel is taken from the group with the smallest fraction removed so far;
// global: from all groups by score divided by its group's mean score (so that layers of
// different fan-in compare). Every group keeps at least one channel; channels whose
// producer rows are already all pruned go first.
SECATEURS_API std::vector<at::Tensor> keep_channels(const PruningRequest& request,
                                                    const std::vector<at::Tensor>& scores,
                                                    PruneScope scope);

// The target keep-masks that channel keep-masks (one per request group) imply: the
// targets' current masks with the removed channels' producer rows and consumer column
// blocks zeroed. For pruners that combine channel and weight pruning.
SECATEURS_API std::vector<at::Tensor> channel_weight_masks(const PruningRequest& request,
                                                           const std::vector<at::Tensor>& channels);

// The fraction of zeros in `masks` over the targets' weights (masks in target order).
SECATEURS_API double mask_sparsity(const std::vector<at::Tensor>& masks);

// The request's `data` as batches of at most request.batch_size examples, in order;
// throws ConfigError naming `pruner` when there is none.
SECATEURS_API std::vector<LabeledData> pruning_batches(const PruningRequest& request,
                                                       const std::string& pruner,
                                                       std::int64_t max_examples = 0);

// First-order Taylor importance of every target weight: the sum over `batches` of
// (g * w)^2, g the gradient of the batch's mean cross-entropy (secateurs/gradients.h).
// Float64 on the CPU, one tensor per target, in target order.
SECATEURS_API std::vector<at::Tensor> taylor_scores(Model& model,
                                                    const std::vector<PruneTarget>& targets,
                                                    const std::vector<LabeledData>& batches);

}  // namespace secateurs
