// Defense components: hooks into the trainer, active in every fine-tuning of a pruning
// round for the victim and the shadow models alike (the adaptive attacker trains its
// shadows with the same defense). Every hook has a neutral default, so a defense
// overrides only what it changes.
//
// Order of calls in one fit (one pruning round's training):
//   begin_round                           once
//   sample_groups                         once; the groups hold for the whole round
//   per epoch: epoch_samples              which training samples this epoch visits
//     per batch (each holds one sample group's samples, or the trainer's own):
//       prepare_batch                     may rewrite inputs or set soft targets (mixup)
//       compute_gradients                 may replace forward/backward (DP-SGD)
//         or: forward, loss               may change the loss (PPB, RelaxLoss, ...)
//       optimizer step with the group's settings, then the pruning masks are re-applied
//       after_step                        an extra step of the defense's own (adv. reg.)
//   end_round                             once
//
// Threading: the host creates one Defense per trained model and calls it from one
// thread at a time. References passed in are valid only during the call.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "secateurs/component.h"
#include "secateurs/context.h"
#include "secateurs/model.h"

namespace secateurs {

// One model's training set (its members), as the trainer sees it. Positions used by the
// hooks below index into these tensors.
struct TrainingSet {
  at::Tensor inputs;  // [N, ...] float32
  at::Tensor labels;  // [N] int64
  std::int64_t num_classes = 0;
  // [N] float64 in [0, 1], the memorization score of each sample (PROTOCOL.md, section 2);
  // defined only when the defense's needs_memorization() is true.
  at::Tensor memorization;
  // Non-member samples from the same distribution that the defender owns (the reference
  // set of adversarial regularization); may be undefined.
  at::Tensor reference_inputs;
  at::Tensor reference_labels;
};

struct RoundInfo {
  int round = 0;   // 0 for the dense training, then 1, 2, ... for pruning rounds
  int epochs = 0;  // epochs planned for this round
};

// One minibatch, restricted to one sample group.
struct Batch {
  at::Tensor inputs;     // [B, ...]
  at::Tensor labels;     // [B] int64
  at::Tensor positions;  // [B] int64, positions in the TrainingSet
  // [B, C] float32; when a hook defines it, the trainer's loss is the cross-entropy
  // against these targets instead of the labels.
  at::Tensor soft_targets;
};

// Optimizer settings that differ for a group of samples.
struct OptimizerOverride {
  std::optional<double> weight_decay;  // replaces the trainer's weight decay
  double learning_rate_scale = 1.0;    // multiplies the scheduled learning rate
};

// Samples of a group are batched on their own (in the epoch's shuffled order) and trained
// in optimizer steps of their own with the group's settings, interleaved evenly with the
// other batches (risky-memory regularization: a much stronger weight decay for the
// samples most at risk, in ceil(n / batch size) steps per epoch). Samples in no group use
// the trainer's settings.
struct SampleGroup {
  std::string name;
  std::vector<std::int64_t> positions;
  OptimizerOverride settings;
};

class SECATEURS_API Defense : public Component {
 public:
  ~Defense() override;

  // True when the defense reads TrainingSet::memorization; the host then computes it.
  virtual bool needs_memorization() const;

  virtual void begin_round(const TrainingSet& training, const RoundInfo& round, Context& context);

  // Positions of the training samples visited in `epoch` (0-based) of the current round,
  // in any order (the trainer shuffles them); empty means all.
  virtual std::vector<std::int64_t> epoch_samples(const TrainingSet& training,
                                                  const RoundInfo& round, int epoch,
                                                  Context& context);

  // Groups with their own optimizer settings; empty (the default) means none. A position
  // may belong to one group at most.
  virtual std::vector<SampleGroup> sample_groups(const TrainingSet& training,
                                                 const RoundInfo& round, Context& context);

  // May rewrite the batch before the forward pass (e.g. mix inputs, set soft targets).
  virtual void prepare_batch(Batch& batch, Context& context);

  // The loss to minimise, given the trainer's cross-entropy `base_loss` (a scalar, mean
  // over the batch) on `logits` (the model's output for batch.inputs, with gradients).
  // `model` is in training mode; a defense may run it on other inputs too (mixup+MMD
  // compares the outputs on reference data). The default returns `base_loss`.
  virtual at::Tensor loss(Model& model, const Batch& batch, const at::Tensor& logits,
                          const at::Tensor& base_loss, Context& context);

  // Return true after setting the .grad of every trainable parameter of `model` yourself
  // (per-sample clipping and noise of DP-SGD); the trainer then skips its own forward,
  // loss and backward. The default returns false. On entry every .grad is undefined (the
  // trainer drops gradients before each step): assign it (p.mutable_grad() = g), do not
  // add to it.
  virtual bool compute_gradients(Model& model, const Batch& batch, Context& context);

  // Called after each optimizer step, masks already re-applied (e.g. to train an
  // inference model against the updated classifier).
  virtual void after_step(Model& model, const Batch& batch, Context& context);

  virtual void end_round(Model& model, Context& context);

  // Figures the defense measured about itself so far (DP-SGD's epsilon and delta, the size
  // of WeMeM's risky group), reported by the host next to the model's results.
  // Names are short identifiers ("epsilon"); the default is none.
  virtual std::vector<std::pair<std::string, double>> measurements() const;
};

}  // namespace secateurs
