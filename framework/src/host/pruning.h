// Pruning, host side: which layers are pruned, turning a pruner's decision into masks,
// the physical removal of dead channels, the per-round record, and the schedules
// (one-shot, iterative, gradual, adaptive; lottery-ticket rewinding as an option).
//
// Threading: every function works on one model that no other thread uses.
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "host/checkpoint.h"
#include "host/trainer.h"
#include "secateurs/export.h"
#include "secateurs/params.h"
#include "secateurs/pruner.h"

namespace secateurs::host {

// Which weights are pruned: every convolution and linear weight the forward pass uses,
// except the output layer unless `include_output`; `include` (when not empty) keeps
// only those matching one of its glob patterns, then `exclude` removes matches. Patterns
// match the parameter name ("features.0.weight") or its module ("features.0").
struct TargetSelection {
  std::vector<std::string> include;
  std::vector<std::string> exclude;
  bool include_output = false;
};

// Target parameter names in the model's parameter order. Throws ConfigError when the
// selection leaves nothing to prune.
SECATEURS_API std::vector<std::string> select_targets(Model& model, const DataShape& shape,
                                                      const TargetSelection& selection);

// One call of the pruner, to `sparsity` over `targets`, starting from `current` (masks of
// earlier rounds; missing entries mean nothing pruned yet). Returns the new masks: one per
// target, plus, for pruned channels, the masks of their producers' biases and of their
// batch norms, so that a pruned channel outputs exactly zero. Weights pruned before stay
// pruned. The model's weights are not changed (apply_masks does that). Exceptions
// other than the SDK's are rethrown as Error naming `pruner_name`.
SECATEURS_API MaskSet prune_masks(Model& model, Pruner& pruner, const std::string& pruner_name,
                                  const std::vector<std::string>& targets, const MaskSet& current,
                                  double sparsity, const LabeledData* data, std::int64_t batch_size,
                                  Context& context);

// Fraction of zeros over the targets' masks (1 where a target has no mask).
SECATEURS_API double target_sparsity(const Model& model, const std::vector<std::string>& targets,
                                     const MaskSet& masks);

struct RemovedChannels {
  std::string group;
  std::int64_t before = 0, after = 0;
};

// Physically removes the channels that `masks` make dead: all producer weight rows
// pruned, and the producers' biases and the batch norms' weights and biases masked at
// that channel (what prune_masks does for a pruned channel). The model's tensors and
// `masks` shrink in place; a group keeps at least one channel. The smaller model gives
// the masked model's outputs.
SECATEURS_API std::vector<RemovedChannels> remove_dead_channels(Model& model, MaskSet& masks);

// The sizes of the model's channel groups, "name=size,name=size" (the checkpoint
// metadata key "channels" of a pruned model), and the reverse: shrinks each group of a
// freshly built model to the listed size (its first channels; the values are meant to be
// overwritten by a checkpoint). Throws DataError for a malformed list, a group missing
// from either side, or a size larger than the model's.
SECATEURS_API std::string channel_sizes_text(const Model& model);
SECATEURS_API void resize_channel_groups(Model& model, const std::string& sizes);

// load_checkpoint for models whose channels were physically removed: when the metadata
// has "channels", the freshly built `model` is first shrunk to those sizes. The file's
// header and checksum are checked before; if the load itself then fails, the model is
// left shrunk (build a fresh one to try again).
SECATEURS_API LoadedCheckpoint load_pruned_checkpoint(const std::filesystem::path& path,
                                                      Model& model);

// Values of all parameters and buffers by name: a point to go back to (adaptive back-off)
// or to rewind to (lottery tickets).
using NamedState = std::map<std::string, at::Tensor>;
SECATEURS_API NamedState capture_state(Model& model);
// Copies the saved values back; names or shapes the model no longer has are skipped.
SECATEURS_API void restore_state(Model& model, const NamedState& state);

// Bytes of the weights in a sparse-aware format: each tensor stored as the cheaper of
// dense float32 and a bitmap of its nonzeros followed by their float32 values.
SECATEURS_API std::int64_t sparse_size_bytes(Model& model);

struct LayerSparsity {
  std::string name;
  std::int64_t weights = 0, nonzero = 0;
};

struct RoundRecord {
  int round = 0;                  // 0: the dense fine-tune round, when asked for
  double requested_sparsity = 0;  // what the schedule asked of the pruner
  double sparsity = 0;            // reached, over the targets' dense weight count
  std::vector<LayerSparsity> layers;
  std::int64_t parameters = 0, nonzero_parameters = 0;
  std::int64_t dense_macs = 0, effective_macs = 0;
  std::int64_t size_bytes = 0;                 // sparse_size_bytes
  double train_accuracy = 0;                   // NaN unless ScheduleInputs::measure_training
  double dev_accuracy = 0, test_accuracy = 0;  // NaN without that set
  double prune_seconds = 0, finetune_seconds = 0, eval_seconds = 0;
  bool kept = true;  // adaptive: false when the round exceeded the budget and was undone
  std::string note;
};

enum class ScheduleKind { OneShot, Iterative, Gradual, Adaptive };

struct ScheduleSettings {
  ScheduleKind kind = ScheduleKind::Iterative;
  double sparsity = 0.5;          // final, over the targets
  int rounds = 5;                 // iterative and gradual
  bool dense_round = false;       // round 0 fine-tunes without pruning (as in WeMeM)
  double initial_sparsity = 0.0;  // gradual: AGP's starting sparsity
  // Adaptive: each round adds `step` to the sparsity. After fine-tuning, if the dev
  // accuracy is more than `budget` below the dense model's, the round is undone and the
  // step halved (stop when it falls below `min_step`); if the drop is at most half the
  // budget, the next step grows by `growth` (never past the final sparsity). At most
  // `max_rounds` rounds, undone ones included.
  double budget = 0.01, step = 0.2, min_step = 0.01, growth = 1.5;
  int max_rounds = 20;
  // Lottery-ticket rewinding: after each pruning, the kept weights go back to their
  // values in the rewind state (ScheduleInputs::rewind) before fine-tuning.
  bool rewind = false;
  // Physically remove dead channels after the last round.
  bool remove_channels = true;
  // The first training examples handed to data-driven pruners (gradients, PGD) each round.
  std::int64_t importance_examples = 1024;
};

SECATEURS_API ParamSchema schedule_schema();
SECATEURS_API ScheduleSettings schedule_settings(const Params& params);

// The cumulative sparsity the iterative (1-(1-S)^(k/n)) or gradual (AGP:
// S + (S_i - S)(1 - k/n)^3) schedule asks for after round k of n (k = 1..n).
SECATEURS_API double scheduled_sparsity(const ScheduleSettings& settings, int round);

struct ScheduleInputs {
  const LabeledData* training = nullptr;  // fine-tuning and data-driven importance
  const LabeledData* dev = nullptr;       // adaptive feedback, early stopping
  const LabeledData* test = nullptr;      // recorded only
  std::vector<std::string> targets;       // select_targets
  std::string pruner_name;                // for messages and records
  TrainerSettings finetune;               // each round's fine-tuning
  Defense* defense = nullptr;             // its hooks act in every round's fine-tuning
  at::Tensor memorization;                // for defenses that need it
  const LabeledData* reference = nullptr;
  const NamedState* rewind = nullptr;  // when settings.rewind
  bool measure_training = false;       // record the training-set accuracy too
  DataShape shape;
  std::function<void(const RoundRecord&)> on_round;
};

// The record of the model as it is now, with `masks` over inputs.targets: sparsity per
// layer and overall, size, cost, and the accuracies of the sets `inputs` has. The overall
// sparsity is 1 - nonzero / `dense_weights` (the targets' weights before channels were
// removed; 0: their current count), so removed weights count as pruned.
SECATEURS_API RoundRecord measure_round(Model& model, const ScheduleInputs& inputs,
                                        const MaskSet& masks, int round, double requested,
                                        std::int64_t dense_weights = 0);

struct ScheduleResult {
  std::vector<RoundRecord> rounds;
  MaskSet masks;
  std::vector<RemovedChannels> removed;
  // The record of the model as the schedule leaves it: the last kept round (adaptive
  // schedules may end with undone ones); null when no round was kept.
  const RoundRecord* final_round() const;
};

SECATEURS_API ScheduleResult run_schedule(Model& model, Pruner& pruner,
                                          const ScheduleSettings& settings,
                                          const ScheduleInputs& inputs, Context& context);

}  // namespace secateurs::host
