// One model trained from a run file: dataset, split (membership plan or the dataset's
// own order), model, trainer settings and seed. It is what `secateurs train` runs, and
// the documented accuracy runs of docs/training.md.
//
// Run file (YAML); every section is validated against its schema before any work starts,
// and every problem names the file, line and key:
//
//   seed: 1
//   dataset: {component: dataset.fashion_mnist, params: {}}
//   model:   {component: model.mlp, params: {hidden: [512, 256]}}
//   split:   {mode: membership, members: 5000, dev: 1000}
//   trainer: {epochs: 30, learning_rate: 0.05}
//
// split.mode "ordered" takes the dataset's examples in order: `members` for training,
// then `dev`, then `test` for the test set (0: all that remain), e.g. Fashion-MNIST's own
// 60,000/10,000 split. "membership" draws the victim's members, non-members and dev set
// with the membership plan (host/membership_plan.h); the non-members are the test set.
//
// Seeds: the dataset, the plan, the model's initialisation and the trainer each get
// derive_seed(seed, "<part>"), so changing one part's randomness never moves another's.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "host/checkpoint.h"
#include "host/membership_plan.h"
#include "host/memorization.h"
#include "host/model_summary.h"
#include "host/registry.h"
#include "host/run_file.h"
#include "host/trainer.h"
#include "secateurs/export.h"
#include "secateurs/params.h"

namespace secateurs::host {

enum class SplitMode { Ordered, Membership };

struct SplitSettings {
  SplitMode mode = SplitMode::Membership;
  std::int64_t members = 0;
  std::int64_t dev = 0;
  std::int64_t test = 0;   // ordered mode; 0: every example after members and dev
  bool stratified = true;  // membership mode: equal class counts in every set
  // membership mode: the defender's non-member reference samples (host/membership_plan.h)
  std::int64_t reference = 0;
};

struct TrainingRunConfig {
  std::string source;  // the run file, for messages
  std::uint64_t seed = 0;
  ComponentChoice dataset;
  ComponentChoice model;
  SplitSettings split;
  TrainerSettings trainer;
};

SECATEURS_API ParamSchema split_schema();

// Reads and validates a run file against the registry's components, after applying
// `overrides` ("trainer.epochs=5", see host/run_file.h). Throws ConfigError listing every
// problem (file:line: section: what).
SECATEURS_API TrainingRunConfig read_training_run(const std::filesystem::path& path,
                                                  const Registry& registry,
                                                  const std::vector<std::string>& overrides = {});

// The sections a training run has (seed, dataset, model, split, trainer), read from a run
// file that may have more (a pruning run's): problems go to `file`.
SECATEURS_API TrainingRunConfig read_training_sections(RunFile& file, const Registry& registry);

struct PhaseTimes {
  double load_seconds = 0, plan_seconds = 0, build_seconds = 0;
  double train_seconds = 0, dev_seconds = 0, evaluate_seconds = 0, save_seconds = 0;
};

struct TrainingRunResult {
  DataShape shape;
  std::int64_t train_size = 0, dev_size = 0, test_size = 0;
  ModelSummary model;
  FitReport fit;
  Evaluation train, test;
  std::optional<Evaluation> dev;
  PhaseTimes times;
  std::optional<MembershipPlan> plan;  // membership mode
};

// The data of a run as the split makes it, and the model built for it (seeded, untrained).
struct RunData {
  DataShape shape;
  LabeledData training, dev, test;  // dev may be empty
  LabeledData reference;            // the victim's reference samples; may be empty
  std::optional<MembershipPlan> plan;
  LabeledData pool;  // every example of the dataset; the plan's indices point into it
};

// The examples of `data` at `indices` (int64), in that order.
SECATEURS_API LabeledData select_examples(const LabeledData& data, const at::Tensor& indices);

// `shadows` > 0 (membership mode) adds that many shadows to the plan in halves mode; the
// victim's sets stay those of the same run without shadows.
SECATEURS_API RunData load_run_data(const TrainingRunConfig& config, const Registry& registry,
                                    PhaseTimes& times,
                                    const std::function<void(const std::string&)>& status,
                                    std::int64_t shadows = 0);
SECATEURS_API std::shared_ptr<Model> build_run_model(const TrainingRunConfig& config,
                                                     const Registry& registry,
                                                     const DataShape& shape);
// Memorization scores' fold models (host/memorization.h) trained with this run's dense
// recipe: its model and trainer settings, seeds derived from the fold's seed as a run
// with that seed would, and no early stopping (fold models have no dev set: each trains
// the recipe's full epochs). `memorization_recipe` describes it for the cache key.
SECATEURS_API FoldTrainer fold_trainer(const TrainingRunConfig& config, const Registry& registry,
                                       const DataShape& shape);
SECATEURS_API std::string memorization_recipe(const TrainingRunConfig& config,
                                              const Registry& registry);

// What a checkpoint of this run says about how it was made (component, params, data).
SECATEURS_API CheckpointMetadata run_metadata(const TrainingRunConfig& config,
                                              const DataShape& shape);

struct TrainingRunHooks {
  std::function<void(const std::string&)> status;      // one line per phase
  std::function<void(const EpochRecord&)> epoch_done;  // after every epoch
};

// Runs the whole thing. When `output` is not empty, writes there (atomically each):
// model.ckpt (weights + metadata, see host/checkpoint.h), epochs.csv, summary.txt and,
// in membership mode, plan.txt.
SECATEURS_API TrainingRunResult run_training(const TrainingRunConfig& config,
                                             const Registry& registry,
                                             const std::filesystem::path& output,
                                             const TrainingRunHooks& hooks = {});

// The summary a person reads: data, model size and cost, accuracies, gap, phase times.
SECATEURS_API std::string format_training_summary(const TrainingRunConfig& config,
                                                  const TrainingRunResult& result);

// epochs.csv: one line per epoch with a header.
SECATEURS_API std::string format_epochs_csv(const FitReport& report);

}  // namespace secateurs::host
