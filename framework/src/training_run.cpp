#include "host/training_run.h"

#include <torch/torch.h>

#include <chrono>
#include <iomanip>
#include <map>
#include <sstream>

#include "host/atomic_file.h"
#include "host/basic_context.h"
#include "host/checkpoint.h"
#include "host/data_checks.h"
#include "host/nearest.h"
#include "host/params_builder.h"
#include "host/run_text.h"
#include "host/yaml_params.h"
#include "secateurs/error.h"
#include "secateurs/model.h"
#include "secateurs/random.h"

namespace secateurs::host {
namespace {

LabeledData rows(const LabeledData& data, std::int64_t begin, std::int64_t end) {
  return {data.inputs.slice(0, begin, end), data.labels.slice(0, begin, end), data.num_classes};
}

std::string shape_text(const DataShape& shape) {
  std::string text;
  for (std::int64_t d : shape.input_shape) text += (text.empty() ? "" : "x") + std::to_string(d);
  return text;
}

}  // namespace

ParamSchema split_schema() {
  return {
      param::choice("mode", {"membership", "ordered"}, "membership",
                    "membership: members, non-members and dev from the membership plan; "
                    "ordered: the dataset's own order (train, then dev, then test)"),
      param::integer("members", 0, "Training samples (the members)").at_least(1).make_required(),
      param::integer("dev", 0, "Dev samples for early stopping; 0: none").at_least(0),
      param::integer("test", 0, "ordered: test samples after members and dev; 0: all the rest")
          .at_least(0),
      param::boolean("stratified", true, "membership: equal class counts in every set"),
      param::integer("reference", 0,
                     "membership: the defender's own non-member samples per model, for "
                     "defenses that use them (adversarial regularization, mixup+MMD); 0: none")
          .at_least(0),
  };
}

TrainingRunConfig read_training_sections(RunFile& file, const Registry& registry) {
  const YAML::Node& root = file.root();
  TrainingRunConfig config;
  config.source = file.file();
  if (const YAML::Node seed = root["seed"]) {
    try {
      config.seed = seed.as<std::uint64_t>();
    } catch (const YAML::Exception&) {
      file.add_problem(file.where(seed) + ": seed: expected a non-negative integer, found '" +
                       seed.Scalar() + "'");
    }
  }
  config.dataset = file.component(root["dataset"], "dataset", Kind::Dataset, registry);
  config.model = file.component(root["model"], "model", Kind::Model, registry);
  if (!root["split"]) file.add_problem(file.file() + ": the section 'split' is required");
  const Params split = file.section(root["split"], split_schema(), "split");
  const Params trainer = file.section(root["trainer"], trainer_schema(), "trainer");
  if (split.values().empty() || trainer.values().empty()) return config;

  config.split.mode =
      split.get_string("mode") == "ordered" ? SplitMode::Ordered : SplitMode::Membership;
  config.split.members = split.get_int("members");
  config.split.dev = split.get_int("dev");
  config.split.test = split.get_int("test");
  config.split.stratified = split.get_bool("stratified");
  config.split.reference = split.get_int("reference");
  config.trainer = trainer_settings(trainer);
  config.trainer.seed = derive_seed(config.seed, "trainer");
  return config;
}

TrainingRunConfig read_training_run(const std::filesystem::path& path, const Registry& registry,
                                    const std::vector<std::string>& overrides) {
  RunFile file(path, overrides);
  file.check_keys(file.root(), {"seed", "dataset", "model", "split", "trainer"}, "");
  TrainingRunConfig config = read_training_sections(file, registry);
  file.throw_if_any();
  return config;
}

LabeledData select_examples(const LabeledData& data, const at::Tensor& indices) {
  return {data.inputs.index_select(0, indices), data.labels.index_select(0, indices),
          data.num_classes};
}

RunData load_run_data(const TrainingRunConfig& config, const Registry& registry, PhaseTimes& times,
                      const std::function<void(const std::string&)>& status, std::int64_t shadows) {
  RunData run;
  Clock::time_point start = Clock::now();
  const auto dataset = registry.create<Dataset>(
      split_qualified_name(config.dataset.component).second, config.dataset.params);
  BasicContext dataset_context(derive_seed(config.seed, "dataset"));
  const LabeledData data = dataset->load(dataset_context);
  check_labeled_data(data, config.dataset.component);
  times.load_seconds = seconds_since(start);
  if (status) {
    status(config.dataset.component + ": " + std::to_string(data.labels.size(0)) +
           " examples loaded in " + fixed(times.load_seconds, 2) + " s");
  }

  start = Clock::now();
  const SplitSettings& split = config.split;
  const std::int64_t available = data.labels.size(0);
  if (split.mode == SplitMode::Ordered) {
    const std::int64_t first_test = split.members + split.dev;
    const std::int64_t tests = split.test > 0 ? split.test : available - first_test;
    if (first_test + tests > available || tests <= 0) {
      throw ConfigError(config.source + ": split: members + dev + test = " +
                        std::to_string(split.members) + " + " + std::to_string(split.dev) + " + " +
                        std::to_string(split.test > 0 ? split.test : 1) + " examples needed, " +
                        config.dataset.component + " has " + std::to_string(available));
    }
    if (split.reference > 0) {
      throw ConfigError(config.source +
                        ": split: reference samples need split.mode membership (they come from "
                        "the membership plan)");
    }
    run.training = rows(data, 0, split.members);
    run.dev = rows(data, split.members, first_test);
    run.test = rows(data, first_test, first_test + tests);
  } else {
    PlanSettings plan_settings;
    plan_settings.members = split.members;
    plan_settings.dev = split.dev;
    plan_settings.reference = split.reference;
    plan_settings.stratified = split.stratified;
    plan_settings.seed = derive_seed(config.seed, "plan");
    plan_settings.shadows = shadows;
    plan_settings.shadow_mode = ShadowMode::Halves;
    run.plan = make_membership_plan(plan_settings, data.labels, data.num_classes);
    run.training = select_examples(data, index_tensor(run.plan->victim.members));
    run.dev = select_examples(data, index_tensor(run.plan->victim.dev));
    run.test = select_examples(data, index_tensor(run.plan->victim.non_members));
    run.reference = select_examples(data, index_tensor(run.plan->victim.reference));
  }
  if (shadows > 0 && split.mode != SplitMode::Membership) {
    throw ConfigError(config.source + ": split: shadow models need split.mode membership");
  }
  run.pool = data;
  run.shape.input_shape.assign(data.inputs.sizes().begin() + 1, data.inputs.sizes().end());
  run.shape.num_classes = data.num_classes;
  times.plan_seconds = seconds_since(start);
  return run;
}

std::shared_ptr<Model> build_run_model(const TrainingRunConfig& config, const Registry& registry,
                                       const DataShape& shape) {
  auto model = registry.create<Model>(split_qualified_name(config.model.component).second,
                                      config.model.params);
  BasicContext model_context(derive_seed(config.seed, "model"));
  model->build(shape, model_context);
  return model;
}

FoldTrainer fold_trainer(const TrainingRunConfig& config, const Registry& registry,
                         const DataShape& shape) {
  return [config, &registry, shape](const LabeledData& training, std::uint64_t seed) {
    TrainingRunConfig run = config;
    run.seed = seed;
    run.trainer.seed = derive_seed(seed, "trainer");
    run.trainer.patience = 0;
    run.trainer.restore_best = false;
    std::shared_ptr<Model> model = build_run_model(run, registry, shape);
    BasicContext context(run.trainer.seed);
    fit(*model, training, run.trainer, FitOptions{}, context);
    return model;
  };
}

std::string memorization_recipe(const TrainingRunConfig& config, const Registry& registry) {
  TrainerSettings trainer = config.trainer;
  trainer.seed = 0;  // fold models derive theirs from the fold's seed
  trainer.patience = 0;
  trainer.restore_best = false;
  // The model plugin's version: a new version may build or initialise the model otherwise.
  const RegisteredComponent& model = registry.get(config.model.component);
  const std::string plugin =
      model.library ? model.library->plugin_name + " " + model.library->plugin_version : "";
  return "model=" + config.model.component + " (" + plugin + ") " +
         params_text(config.model.params) + " trainer: " + trainer_settings_text(trainer);
}

CheckpointMetadata run_metadata(const TrainingRunConfig& config, const DataShape& shape) {
  return {
      {"run", config.source},
      {"seed", std::to_string(config.seed)},
      {"model", config.model.component},
      {"model.params", params_text(config.model.params)},
      {"dataset", config.dataset.component},
      {"dataset.params", params_text(config.dataset.params)},
      {"input_shape", shape_text(shape)},
      {"num_classes", std::to_string(shape.num_classes)},
  };
}

TrainingRunResult run_training(const TrainingRunConfig& config, const Registry& registry,
                               const std::filesystem::path& output, const TrainingRunHooks& hooks) {
  TrainingRunResult result;
  RunData run = load_run_data(config, registry, result.times, hooks.status);
  result.shape = run.shape;
  result.plan = run.plan;
  result.train_size = run.training.labels.size(0);
  result.dev_size = run.dev.labels.size(0);
  result.test_size = run.test.labels.size(0);

  Clock::time_point start = Clock::now();
  const std::shared_ptr<Model> model = build_run_model(config, registry, run.shape);
  result.model = summarize_model(*model, result.shape);
  result.times.build_seconds = seconds_since(start);
  if (hooks.status) {
    hooks.status(config.model.component + ": " + std::to_string(result.model.parameters) +
                 " parameters, " + std::to_string(result.model.dense_macs) + " MACs per example");
  }

  FitOptions options;
  if (result.dev_size > 0) options.dev = &run.dev;
  options.on_epoch = hooks.epoch_done;
  BasicContext train_context(config.trainer.seed);
  result.fit = fit(*model, run.training, config.trainer, options, train_context);
  result.times.train_seconds = result.fit.train_seconds;
  result.times.dev_seconds = result.fit.dev_seconds;

  start = Clock::now();
  const std::int64_t batch = config.trainer.eval_batch_size;
  result.train = evaluate(*model, run.training, batch);
  result.test = evaluate(*model, run.test, batch);
  if (result.dev_size > 0) result.dev = evaluate(*model, run.dev, batch);
  result.times.evaluate_seconds = seconds_since(start);

  if (!output.empty()) {
    start = Clock::now();
    std::filesystem::create_directories(output);
    save_checkpoint(output / "model.ckpt", *model, MaskSet{}, run_metadata(config, run.shape));
    if (result.plan) save_plan(output / "plan.txt", *result.plan);
    write_file_atomically(output / "epochs.csv", format_epochs_csv(result.fit));
    result.times.save_seconds = seconds_since(start);
    write_file_atomically(output / "summary.txt", format_training_summary(config, result));
  }
  return result;
}

std::string format_epochs_csv(const FitReport& report) {
  std::ostringstream out;
  out << "epoch,learning_rate,samples,train_loss,train_accuracy,dev_loss,dev_accuracy,"
         "train_seconds,dev_seconds\n";
  out << std::setprecision(8);
  for (const EpochRecord& e : report.epochs) {
    out << e.epoch + 1 << ',' << e.learning_rate << ',' << e.samples << ',' << e.train_loss << ','
        << e.train_accuracy << ',' << e.dev_loss << ',' << e.dev_accuracy << ',' << e.train_seconds
        << ',' << e.dev_seconds << '\n';
  }
  return out.str();
}

std::string format_training_summary(const TrainingRunConfig& config,
                                    const TrainingRunResult& result) {
  std::ostringstream out;
  const bool membership = config.split.mode == SplitMode::Membership;
  out << "run:       " << config.source << " (seed " << config.seed << ")\n"
      << "dataset:   " << config.dataset.component << " " << params_text(config.dataset.params)
      << "\n"
      << "split:     " << (membership ? "membership plan" : "dataset order") << ": "
      << result.train_size << " train, " << result.dev_size << " dev, " << result.test_size
      << (membership ? " non-members (test)" : " test") << "\n"
      << "model:     " << config.model.component << " " << params_text(config.model.params) << "\n"
      << "           " << result.model.parameters << " parameters, " << result.model.dense_macs
      << " MACs per example (" << result.model.effective_macs << " effective)\n"
      << "trainer:   " << result.fit.epochs.size() << " epochs";
  if (result.fit.stopped_early) out << " (stopped early)";
  if (result.fit.best_epoch >= 0) out << ", best dev epoch " << result.fit.best_epoch + 1;
  if (result.fit.restored_best) out << " (restored)";
  out << "\n\n"
      << "train accuracy " << fixed(result.train.accuracy * 100, 2) << " %  (loss "
      << fixed(result.train.loss, 4) << ")\n";
  if (result.dev) {
    out << "dev accuracy   " << fixed(result.dev->accuracy * 100, 2) << " %  (loss "
        << fixed(result.dev->loss, 4) << ")\n";
  }
  out << "test accuracy  " << fixed(result.test.accuracy * 100, 2) << " %  (loss "
      << fixed(result.test.loss, 4) << ")\n"
      << "gap            " << fixed((result.train.accuracy - result.test.accuracy) * 100, 2)
      << " points of accuracy, " << fixed(result.test.loss - result.train.loss, 4)
      << " of loss\n\n";
  const PhaseTimes& t = result.times;
  out << "wall time: load " << fixed(t.load_seconds, 2) << " s, split " << fixed(t.plan_seconds, 2)
      << " s, build " << fixed(t.build_seconds, 2) << " s, train " << fixed(t.train_seconds, 2)
      << " s, dev " << fixed(t.dev_seconds, 2) << " s, evaluate " << fixed(t.evaluate_seconds, 2)
      << " s, save " << fixed(t.save_seconds, 2) << " s\n";
  return out.str();
}

}  // namespace secateurs::host
