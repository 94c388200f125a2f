// The training engine: fits a Model on a training set with an optimizer, a learning-rate
// schedule, early stopping on a dev set, pruning masks and a defense's hooks; and
// batched no-grad inference.
//
// Determinism: every random draw of a fit (shuffling, PGD starts) comes from generators
// seeded by TrainerSettings::seed and the round, so one seed gives the same weights
// however many models train at once, one thread each. A model's own intra-op thread
// count can change the rounding of large matrix products (their sums are split), so runs
// are bit-identical only at equal thread counts. The trainer does not change LibTorch's
// thread settings: the caller picks one intra-op thread per model when many models
// train at once.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "secateurs/context.h"
#include "secateurs/dataset.h"
#include "secateurs/defense.h"
#include "secateurs/export.h"
#include "secateurs/model.h"
#include "secateurs/params.h"

namespace secateurs::host {

// Keep-masks by parameter name (as in Module::named_parameters): 1 kept, 0 pruned, same
// shape as the parameter. Parameters without a mask are dense.
using MaskSet = std::map<std::string, at::Tensor>;

enum class OptimizerKind { Sgd, Adam, AdamW };
enum class LrSchedule { Constant, Step, Cosine };
enum class Monitor { DevAccuracy, DevLoss };

struct TrainerSettings {
  int epochs = 30;
  std::int64_t batch_size = 128;
  // Inference batch: 128 to 512 evaluate the small CNN at 9.7k-10.3k samples/s, 1024 at
  // 4.3k (its activations leave the cache; bench/RESULTS.md).
  std::int64_t eval_batch_size = 256;

  OptimizerKind optimizer = OptimizerKind::Sgd;
  double learning_rate = 0.05;
  double momentum = 0.9;  // SGD
  bool nesterov = false;  // SGD
  double weight_decay = 5e-4;
  double beta1 = 0.9, beta2 = 0.999, epsilon = 1e-8;  // Adam, AdamW

  LrSchedule schedule = LrSchedule::Cosine;
  int step_size = 10;              // Step: epochs between decays
  double gamma = 0.1;              // Step: decay factor
  double min_learning_rate = 0.0;  // Cosine: the floor reached at the last epoch

  // Early stopping on the dev set: stop after `patience` epochs without improvement of
  // `monitor` (0: never stop early) and, when `restore_best`, return to the weights of the
  // best epoch. Needs a dev set whenever patience > 0 or restore_best is true.
  int patience = 0;
  bool restore_best = false;
  Monitor monitor = Monitor::DevAccuracy;
  double min_delta = 0.0;

  // Keep 4-d (convolution) weights in channels-last memory format for the whole fit:
  // oneDNN's fastest convolutions on CPU (bench/RESULTS.md). Values are unchanged; the
  // rounding of convolutions may differ from the contiguous layout's.
  bool channels_last = true;

  // Adversarial training (Madry et al.): before each step, the first
  // `adversarial_fraction` of the (shuffled) batch is replaced by L-infinity PGD examples
  // against the current weights, within `adversarial_epsilon` of the clean inputs and
  // inside [adversarial_input_min, adversarial_input_max] (default [0, 1], the image
  // datasets' pixel range; widen it for standardised or tabular data). 0 turns it off.
  // What adversarial pruning's fine-tuning uses to keep robustness.
  double adversarial_epsilon = 0.0;
  int adversarial_steps = 7;
  double adversarial_step_size = 0.0;  // 0: 2.5 * epsilon / steps
  double adversarial_fraction = 1.0;
  double adversarial_input_min = 0.0, adversarial_input_max = 1.0;

  std::uint64_t seed = 0;
};

// The schema of TrainerSettings as user-facing parameters, so that YAML and Lua
// configurations are validated like a component's.
SECATEURS_API ParamSchema trainer_schema();
SECATEURS_API TrainerSettings trainer_settings(const Params& params);
// Every field of `settings`, "name=value" separated by spaces, for content keys.
SECATEURS_API std::string trainer_settings_text(const TrainerSettings& settings);

struct EpochRecord {
  int epoch = 0;  // 0-based
  double learning_rate = 0;
  std::int64_t samples = 0;               // training samples visited
  double train_loss = 0;                  // mean over the epoch's batches, as trained
  double train_accuracy = 0;              // of the batches as trained (before each step)
  double dev_loss = 0, dev_accuracy = 0;  // NaN without a dev set
  double train_seconds = 0, dev_seconds = 0;
};

struct FitReport {
  std::vector<EpochRecord> epochs;
  int best_epoch = -1;  // by the monitor; -1 without a dev set
  bool stopped_early = false;
  bool restored_best = false;
  double train_seconds = 0;  // optimisation, all epochs
  double dev_seconds = 0;    // dev-set evaluation, all epochs
};

struct FitOptions {
  const LabeledData* dev = nullptr;  // for early stopping and the epoch records
  const MaskSet* masks = nullptr;    // pruned weights stay exactly zero
  Defense* defense = nullptr;        // its hooks act on this fit
  RoundInfo round;                   // round.epochs is set from the settings
  // Memorization scores of the training set when the defense needs them.
  at::Tensor memorization;
  // The defender's non-member reference data, for defenses that use it.
  const LabeledData* reference = nullptr;
  // Called after every epoch (progress display); may be empty.
  std::function<void(const EpochRecord&)> on_epoch;
};

// Trains `model` on `training`. Throws DataError when the loss becomes NaN or infinite
// (naming the epoch and batch), ConfigError for settings that cannot work (e.g. early
// stopping without a dev set).
SECATEURS_API FitReport fit(Model& model, const LabeledData& training,
                            const TrainerSettings& settings, const FitOptions& options,
                            Context& context);

// Sets masked entries of the model's parameters to zero. Throws Error naming a mask whose
// parameter does not exist or whose shape differs.
SECATEURS_API void apply_masks(Model& model, const MaskSet& masks);

struct Predictions {
  at::Tensor logits;      // [N, C] float32
  at::Tensor posteriors;  // [N, C] float32, softmax of the logits
};

// Inference in eval mode without gradients, `batch_size` samples at a time; `indices`
// (int64) selects rows of `inputs`, undefined means all. The model's train/eval mode is
// restored afterwards.
SECATEURS_API Predictions predict(Model& model, const at::Tensor& inputs,
                                  const at::Tensor& indices = {}, std::int64_t batch_size = 256);

struct Evaluation {
  double loss = 0;      // mean cross-entropy
  double accuracy = 0;  // fraction of correct top-1 predictions
  std::int64_t samples = 0;
};

SECATEURS_API Evaluation evaluate(Model& model, const LabeledData& data,
                                  std::int64_t batch_size = 256);

}  // namespace secateurs::host
