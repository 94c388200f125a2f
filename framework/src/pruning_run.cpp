#include "host/pruning_run.h"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <iomanip>
#include <sstream>

#include "host/atomic_file.h"
#include "host/basic_context.h"
#include "host/checkpoint.h"
#include "host/run_text.h"
#include "secateurs/defense.h"
#include "secateurs/error.h"
#include "secateurs/pruner.h"
#include "secateurs/random.h"

namespace secateurs::host {
namespace {

std::string percent(double fraction) {
  return std::isnan(fraction) ? std::string("-") : fixed(fraction * 100, 2) + " %";
}

// The dense checkpoint must be the model this run file describes: same component,
// parameters, data and seed (a different seed would give another membership plan).
void check_dense_metadata(const std::filesystem::path& path, const CheckpointMetadata& found,
                          const CheckpointMetadata& expected) {
  for (const char* key : {"model", "model.params", "dataset", "dataset.params", "seed",
                          "input_shape", "num_classes"}) {
    const auto have = found.find(key);
    const std::string want = expected.at(key);
    if (have == found.end() || have->second != want) {
      throw ConfigError(path.string() + ": the dense checkpoint's " + key + " is '" +
                        (have == found.end() ? std::string("(missing)") : have->second) +
                        "', the run file's is '" + want + "'");
    }
  }
}

std::string round_name(int round) {
  return round < 0 ? "dense" : std::to_string(round);
}

// The model as the run leaves it: the last kept round, or the dense model when none was.
const RoundRecord& final_record(const PruningRunResult& result) {
  const RoundRecord* last = result.schedule.final_round();
  return last != nullptr ? *last : result.dense;
}

}  // namespace

ParamSchema pruning_targets_schema() {
  const TargetSelection d;
  return {
      param::string_list("include", {},
                         "Glob patterns of parameters or modules to prune; empty: all of them"),
      param::string_list("exclude", {}, "Glob patterns of parameters or modules to leave dense"),
      param::boolean("include_output", d.include_output, "Prune the output layer too"),
  };
}

ParamSchema pruning_start_schema() {
  return {
      param::string("checkpoint", "",
                    "Dense model from `secateurs train` (model.ckpt); empty: train it here"),
      param::integer("rewind_epoch", 0,
                     "Lottery-ticket rewinding: weights after this many dense epochs (0: init)")
          .range(0, 100000),
  };
}

PruningRunConfig read_pruning_run(const std::filesystem::path& path, const Registry& registry,
                                  const std::vector<std::string>& overrides) {
  RunFile file(path, overrides);
  file.check_keys(file.root(),
                  {"seed", "dataset", "model", "split", "trainer", "pruning", "memorization"}, "");
  TrainingRunConfig run = read_training_sections(file, registry);
  const Params memorization =
      file.section(file.root()["memorization"], memorization_schema(), "memorization");
  PruningRunConfig config = read_pruning_section(file, registry, std::move(run));
  config.memorization = memorization_settings(memorization);
  return config;
}

PruningRunConfig read_pruning_section(RunFile& file, const Registry& registry,
                                      TrainingRunConfig run) {
  PruningRunConfig config;
  config.run = std::move(run);

  const YAML::Node& root = file.root();
  const YAML::Node pruning = root["pruning"];
  if (!pruning || !pruning.IsMap()) {
    file.add_problem(file.where(pruning) +
                     ": the section 'pruning' is required, a map with 'pruner' and 'schedule'");
    file.throw_if_any();
  }
  file.check_keys(pruning, {"pruner", "schedule", "targets", "finetune", "start", "defense"},
                  "pruning: ");
  config.pruner = file.component(pruning["pruner"], "pruning.pruner", Kind::Pruner, registry);
  if (pruning["defense"] && !pruning["defense"].IsNull()) {
    config.defense = file.component(pruning["defense"], "pruning.defense", Kind::Defense, registry);
  }
  const Params schedule = file.section(pruning["schedule"], schedule_schema(), "pruning.schedule");
  const Params targets =
      file.section(pruning["targets"], pruning_targets_schema(), "pruning.targets");
  const Params finetune = file.section(pruning["finetune"], trainer_schema(), "pruning.finetune");
  const Params start = file.section(pruning["start"], pruning_start_schema(), "pruning.start");
  file.throw_if_any();

  config.schedule = schedule_settings(schedule);
  config.targets.include = targets.get_string_list("include");
  config.targets.exclude = targets.get_string_list("exclude");
  config.targets.include_output = targets.get_bool("include_output");
  config.finetune = trainer_settings(finetune);
  config.finetune.seed = derive_seed(config.run.seed, "finetune");
  config.checkpoint = start.get_string("checkpoint");
  config.rewind_epoch = static_cast<int>(start.get_int("rewind_epoch"));

  const std::string& where = config.run.source;
  if (!config.checkpoint.empty() && config.schedule.rewind && config.rewind_epoch > 0) {
    throw ConfigError(where + ": pruning.start: rewinding to dense epoch " +
                      std::to_string(config.rewind_epoch) +
                      " needs the dense training in this run; remove the checkpoint, or rewind "
                      "to epoch 0 (the initialisation)");
  }
  if (config.schedule.rewind && config.checkpoint.empty() &&
      config.rewind_epoch > config.run.trainer.epochs) {
    throw ConfigError(where + ": pruning.start: rewind_epoch " +
                      std::to_string(config.rewind_epoch) + " is past the dense training's " +
                      std::to_string(config.run.trainer.epochs) + " epochs");
  }
  if (config.schedule.kind == ScheduleKind::Adaptive && config.run.split.dev == 0) {
    throw ConfigError(where + ": the adaptive schedule needs a dev set (split.dev > 0)");
  }
  if ((config.finetune.patience > 0 || config.finetune.restore_best) && config.run.split.dev == 0) {
    throw ConfigError(where +
                      ": pruning.finetune: early stopping (patience, restore_best) needs a dev "
                      "set (split.dev > 0)");
  }
  if (config.schedule.kind == ScheduleKind::Gradual &&
      config.schedule.initial_sparsity > config.schedule.sparsity) {
    throw ConfigError(where + ": pruning.schedule: initial_sparsity " +
                      fixed(config.schedule.initial_sparsity, 3) + " is above the final sparsity " +
                      fixed(config.schedule.sparsity, 3));
  }
  return config;
}

PruningRunResult run_pruning(const PruningRunConfig& config, const Registry& registry,
                             const std::filesystem::path& output, const PruningRunHooks& hooks) {
  const auto status = [&](const std::string& line) {
    if (hooks.status) hooks.status(line);
  };
  PruningRunResult result;
  const TrainingRunConfig& run_config = config.run;
  RunData run = load_run_data(run_config, registry, result.times, hooks.status);
  result.shape = run.shape;
  result.train_size = run.training.labels.size(0);
  result.dev_size = run.dev.labels.size(0);
  result.test_size = run.test.labels.size(0);
  const LabeledData* dev = result.dev_size > 0 ? &run.dev : nullptr;

  Clock::time_point start = Clock::now();
  const std::shared_ptr<Model> model = build_run_model(run_config, registry, run.shape);
  const auto pruner = registry.create<Pruner>(split_qualified_name(config.pruner.component).second,
                                              config.pruner.params);
  std::shared_ptr<Defense> defense;
  if (config.defense) {
    defense = registry.create<Defense>(split_qualified_name(config.defense->component).second,
                                       config.defense->params);
  }
  result.times.build_seconds = seconds_since(start);
  at::Tensor memorization;
  if (defense && defense->needs_memorization()) {
    start = Clock::now();
    const std::vector<MemorizationResult> scores = compute_memorization(
        {{"victim", &run.training, run_config.seed}}, fold_trainer(run_config, registry, run.shape),
        memorization_recipe(run_config, registry), config.memorization,
        // --threads: as many fold models at once as the run may use threads.
        std::max(1, at::get_num_threads()), hooks.status);
    memorization = scores[0].scores.normalized;
    result.memorization_seconds = seconds_since(start);
  }

  // The rewind point: the initialisation, or the weights after rewind_epoch dense epochs.
  std::optional<NamedState> rewind;
  if (config.schedule.rewind && config.rewind_epoch == 0) rewind = capture_state(*model);
  const CheckpointMetadata metadata = run_metadata(run_config, run.shape);
  if (!config.checkpoint.empty()) {
    check_dense_metadata(config.checkpoint, read_checkpoint_metadata(config.checkpoint), metadata);
    const LoadedCheckpoint loaded = load_checkpoint(config.checkpoint, *model);
    if (!loaded.masks.empty()) {
      throw ConfigError(config.checkpoint.string() +
                        ": the dense checkpoint has pruning masks; start from a dense model");
    }
    status("dense model: " + config.checkpoint.string());
  } else {
    status("dense training: " + std::to_string(run_config.trainer.epochs) + " epochs");
    FitOptions options;
    options.dev = dev;
    options.on_epoch = [&](const EpochRecord& record) {
      if (config.schedule.rewind && record.epoch + 1 == config.rewind_epoch) {
        rewind = capture_state(*model);
      }
      if (hooks.epoch_done) hooks.epoch_done(record);
    };
    BasicContext train_context(run_config.trainer.seed);
    result.dense_fit = fit(*model, run.training, run_config.trainer, options, train_context);
    result.times.train_seconds = result.dense_fit->train_seconds;
    result.times.dev_seconds = result.dense_fit->dev_seconds;
    if (config.schedule.rewind && run_config.trainer.restore_best &&
        result.dense_fit->best_epoch + 1 < config.rewind_epoch) {
      status("note: the dense model restored its best epoch " +
             std::to_string(result.dense_fit->best_epoch + 1) + ", before the rewind epoch " +
             std::to_string(config.rewind_epoch));
    }
  }
  if (!output.empty() && result.dense_fit) {
    std::filesystem::create_directories(output);
    save_checkpoint(output / "dense.ckpt", *model, MaskSet{}, metadata);
  }
  if (config.schedule.rewind && !rewind) {
    throw ConfigError(run_config.source + ": the dense training stopped before rewind_epoch " +
                      std::to_string(config.rewind_epoch));
  }

  ScheduleInputs inputs;
  inputs.training = &run.training;
  inputs.dev = dev;
  inputs.test = &run.test;
  inputs.targets = select_targets(*model, run.shape, config.targets);
  inputs.pruner_name = config.pruner.component;
  inputs.finetune = config.finetune;
  inputs.defense = defense.get();
  inputs.memorization = memorization;
  if (run.reference.labels.size(0) > 0) inputs.reference = &run.reference;
  inputs.rewind = rewind ? &*rewind : nullptr;
  inputs.measure_training = true;
  inputs.shape = run.shape;
  inputs.on_round = hooks.round_done;
  result.targets = inputs.targets;

  result.dense = measure_round(*model, inputs, MaskSet{}, -1, 0.0);
  if (hooks.round_done) hooks.round_done(result.dense);

  start = Clock::now();
  BasicContext pruning_context(derive_seed(run_config.seed, "pruning"));
  result.schedule = run_schedule(*model, *pruner, config.schedule, inputs, pruning_context);
  result.pruning_seconds = seconds_since(start);
  if (defense) result.defense_measurements = defense->measurements();

  if (!output.empty()) {
    start = Clock::now();
    std::filesystem::create_directories(output);
    CheckpointMetadata pruned = metadata;
    pruned["pruner"] = config.pruner.component;
    pruned["pruner.params"] = params_text(config.pruner.params);
    const RoundRecord& last = final_record(result);
    pruned["sparsity"] = fixed(last.sparsity, 6);
    pruned["round"] = std::to_string(last.round);
    if (!result.schedule.removed.empty()) pruned["channels"] = channel_sizes_text(*model);
    save_checkpoint(output / "model.ckpt", *model, result.schedule.masks, pruned);
    if (run.plan) save_plan(output / "plan.txt", *run.plan);
    write_file_atomically(output / "rounds.csv", format_rounds_csv(result));
    write_file_atomically(output / "layers.csv", format_layers_csv(result));
    if (result.dense_fit) {
      write_file_atomically(output / "dense_epochs.csv", format_epochs_csv(*result.dense_fit));
    }
    result.times.save_seconds = seconds_since(start);
    write_file_atomically(output / "summary.txt", format_pruning_summary(config, result));
  }
  return result;
}

std::string format_rounds_csv(const PruningRunResult& result) {
  std::ostringstream out;
  out << "round,kept,requested_sparsity,sparsity,parameters,nonzero_parameters,dense_macs,"
         "effective_macs,size_bytes,train_accuracy,dev_accuracy,test_accuracy,prune_seconds,"
         "finetune_seconds,eval_seconds,note\n";
  out << std::setprecision(8);
  const auto line = [&](const RoundRecord& r) {
    out << round_name(r.round) << ',' << (r.kept ? 1 : 0) << ',' << r.requested_sparsity << ','
        << r.sparsity << ',' << r.parameters << ',' << r.nonzero_parameters << ',' << r.dense_macs
        << ',' << r.effective_macs << ',' << r.size_bytes << ',' << r.train_accuracy << ','
        << r.dev_accuracy << ',' << r.test_accuracy << ',' << r.prune_seconds << ','
        << r.finetune_seconds << ',' << r.eval_seconds << ",\"" << r.note << "\"\n";
  };
  line(result.dense);
  for (const RoundRecord& r : result.schedule.rounds) line(r);
  return out.str();
}

std::string format_layers_csv(const PruningRunResult& result) {
  std::ostringstream out;
  out << "round,kept,layer,weights,nonzero,sparsity\n" << std::setprecision(8);
  const auto lines = [&](const RoundRecord& r) {
    for (const LayerSparsity& layer : r.layers) {
      const double sparsity = layer.weights == 0 ? 0.0
                                                 : 1.0 - static_cast<double>(layer.nonzero) /
                                                             static_cast<double>(layer.weights);
      out << round_name(r.round) << ',' << (r.kept ? 1 : 0) << ',' << layer.name << ','
          << layer.weights << ',' << layer.nonzero << ',' << sparsity << '\n';
    }
  };
  lines(result.dense);
  for (const RoundRecord& r : result.schedule.rounds) lines(r);
  return out.str();
}

std::string format_round_line(const RoundRecord& r) {
  std::ostringstream out;
  out << "round " << std::setw(5) << round_name(r.round) << "  sparsity " << std::setw(7)
      << percent(r.sparsity) << "  nonzero " << std::setw(9) << r.nonzero_parameters << "/"
      << r.parameters << "  MACs " << r.effective_macs << "/" << r.dense_macs << "  train "
      << percent(r.train_accuracy) << "  dev " << percent(r.dev_accuracy) << "  test "
      << percent(r.test_accuracy) << "  " << fixed(r.prune_seconds + r.finetune_seconds, 1) << " s";
  if (!r.kept) out << "  (undone)";
  if (!r.note.empty()) out << "  " << r.note;
  return out.str();
}

std::string format_pruning_summary(const PruningRunConfig& config, const PruningRunResult& result) {
  std::ostringstream out;
  const TrainingRunConfig& run = config.run;
  const RoundRecord& last = final_record(result);
  const char* kinds[] = {"one-shot", "iterative", "gradual", "adaptive"};
  out << "run:       " << run.source << " (seed " << run.seed << ")\n"
      << "data:      " << run.dataset.component << ": " << result.train_size << " train, "
      << result.dev_size << " dev, " << result.test_size << " test\n"
      << "model:     " << run.model.component << " " << params_text(run.model.params) << "\n"
      << "dense:     "
      << (config.checkpoint.empty()
              ? "trained here, " + std::to_string(run.trainer.epochs) + " epochs"
              : config.checkpoint.string())
      << "\n"
      << "pruner:    " << config.pruner.component << " " << params_text(config.pruner.params)
      << "\n"
      << "schedule:  " << kinds[static_cast<int>(config.schedule.kind)] << ", sparsity "
      << config.schedule.sparsity;
  if (config.schedule.kind != ScheduleKind::OneShot)
    out << ", " << config.schedule.rounds << " rounds";
  if (config.schedule.rewind) out << ", rewinding to epoch " << config.rewind_epoch;
  out << "; fine-tuning " << config.finetune.epochs
      << (config.finetune.epochs == 1 ? " epoch" : " epochs") << " per round";
  if (config.defense) out << " with " << config.defense->component;
  out << "\ntargets:   " << result.targets.size() << " tensors\n\n";
  out << format_round_line(result.dense) << "\n";
  for (const RoundRecord& r : result.schedule.rounds) out << format_round_line(r) << "\n";
  out << "\nfinal: sparsity " << percent(last.sparsity) << " over the pruned layers, "
      << last.nonzero_parameters << " of " << result.dense.parameters << " parameters nonzero, "
      << last.size_bytes << " bytes sparse-stored (dense " << result.dense.size_bytes << ")\n"
      << "test accuracy " << percent(result.dense.test_accuracy) << " dense, "
      << percent(last.test_accuracy) << " pruned\n";
  for (const auto& [name, value] : result.defense_measurements) {
    out << "defense: " << name << " " << value << "\n";
  }
  for (const RemovedChannels& removed : result.schedule.removed) {
    out << "removed channels: " << removed.group << " " << removed.before << " -> " << removed.after
        << "\n";
  }
  out << "wall time: load " << fixed(result.times.load_seconds, 2) << " s, dense training "
      << (result.dense_fit ? fixed(result.times.train_seconds + result.times.dev_seconds, 2) + " s"
                           : std::string("none (loaded)"))
      << ", memorization scores " << fixed(result.memorization_seconds, 2) << " s"
      << ", pruning " << fixed(result.pruning_seconds, 2) << " s, save "
      << fixed(result.times.save_seconds, 2) << " s\n";
  return out.str();
}

}  // namespace secateurs::host
