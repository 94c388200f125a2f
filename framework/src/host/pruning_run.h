// One pruning experiment from a run file: the dense model (trained here, or loaded from a
// checkpoint of `secateurs train`), then a pruner under a schedule, each round
// fine-tuned through the trainer with an optional defense's hooks. It is what
// `secateurs prune` runs, and the measured runs of docs/pruning.md.
//
// Run file: a training run (host/training_run.h) plus a `pruning` section:
//
//   pruning:
//     pruner:   {component: pruner.magnitude, params: {scope: global}}
//     schedule: {schedule: iterative, sparsity: 0.7, rounds: 5}
//     targets:  {exclude: ["features.0"]}          # default: every conv/linear but the output
//     finetune: {epochs: 3, learning_rate: 0.01}   # trainer settings of each round
//     start:    {checkpoint: runs/dense/model.ckpt, rewind_epoch: 0}
//     defense:  {component: defense.NAME, params: {}}   # optional
//   memorization: {folds: 5, cache: runs/cache}   # when the defense needs the scores
//
// Without start.checkpoint the dense model is trained with the `trainer` section first.
// The checkpoint must come from the same model, dataset and seed (its metadata is
// compared with the run file's). Lottery-ticket rewinding (schedule.rewind) goes back to
// the weights after start.rewind_epoch dense epochs: 0 is the initialisation, which a
// run with a checkpoint rebuilds from the seed; later epochs need the dense training in
// this run.
//
// Seeds as in a training run; the pruner and the fine-tuning get derive_seed(seed,
// "pruning") and derive_seed(seed, "finetune").
#pragma once

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "host/pruning.h"
#include "host/training_run.h"
#include "secateurs/export.h"

namespace secateurs::host {

struct PruningRunConfig {
  TrainingRunConfig run;  // seed, data, split, model, dense training
  ComponentChoice pruner;
  ScheduleSettings schedule;
  TargetSelection targets;
  TrainerSettings finetune;
  std::filesystem::path checkpoint;  // empty: train the dense model here
  int rewind_epoch = 0;
  std::optional<ComponentChoice> defense;
  // Scores for a defense that needs them (a top-level `memorization` section).
  MemorizationSettings memorization;
};

SECATEURS_API ParamSchema pruning_targets_schema();
SECATEURS_API ParamSchema pruning_start_schema();

// Reads and validates a pruning run file, after `overrides` (host/run_file.h). Throws
// ConfigError listing every problem with its file, line and key.
SECATEURS_API PruningRunConfig read_pruning_run(const std::filesystem::path& path,
                                                const Registry& registry,
                                                const std::vector<std::string>& overrides = {});

// The `pruning` section of `file`, for a run whose training sections are `run` (read
// with read_training_sections from the same file). Throws like read_pruning_run.
SECATEURS_API PruningRunConfig read_pruning_section(RunFile& file, const Registry& registry,
                                                    TrainingRunConfig run);

struct PruningRunResult {
  DataShape shape;
  std::int64_t train_size = 0, dev_size = 0, test_size = 0;
  std::vector<std::string> targets;
  RoundRecord dense;                   // the dense model before pruning (round -1)
  std::optional<FitReport> dense_fit;  // when trained in this run
  ScheduleResult schedule;
  PhaseTimes times;            // train_seconds: dense training; the rounds carry their own
  double pruning_seconds = 0;  // the whole schedule
  double memorization_seconds = 0;
  std::vector<std::pair<std::string, double>> defense_measurements;
};

struct PruningRunHooks {
  std::function<void(const std::string&)> status;
  std::function<void(const EpochRecord&)> epoch_done;  // dense training epochs
  std::function<void(const RoundRecord&)> round_done;
};

// Runs it. When `output` is not empty, writes there (atomically each): model.ckpt (the
// pruned model with its masks; metadata "channels" when channels were removed, read it
// with load_pruned_checkpoint), rounds.csv, layers.csv, summary.txt, and, when the dense
// model was trained here, dense.ckpt and dense_epochs.csv; plan.txt in membership mode.
SECATEURS_API PruningRunResult run_pruning(const PruningRunConfig& config, const Registry& registry,
                                           const std::filesystem::path& output,
                                           const PruningRunHooks& hooks = {});

// rounds.csv: one line per round (the dense model first, as round "dense"); layers.csv:
// one line per round and pruned layer.
SECATEURS_API std::string format_rounds_csv(const PruningRunResult& result);
SECATEURS_API std::string format_layers_csv(const PruningRunResult& result);
SECATEURS_API std::string format_pruning_summary(const PruningRunConfig& config,
                                                 const PruningRunResult& result);
// One round as a line for a terminal.
SECATEURS_API std::string format_round_line(const RoundRecord& round);

}  // namespace secateurs::host
