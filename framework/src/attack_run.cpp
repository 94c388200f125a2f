#include "host/attack_run.h"

#include <ATen/Parallel.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <iomanip>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>

#include "host/atomic_file.h"
#include "host/attack_inputs.h"
#include "host/basic_context.h"
#include "host/run_text.h"
#include "host/runtime_info.h"
#include "host/yaml_params.h"
#include "secateurs/defense.h"
#include "secateurs/error.h"
#include "secateurs/pruner.h"
#include "secateurs/random.h"

namespace secateurs::host {
namespace {

// The run's configuration with every derived seed taken from `seed` instead.
AttackRunConfig reseeded(const AttackRunConfig& config, std::uint64_t seed) {
  AttackRunConfig copy = config;
  copy.run.seed = seed;
  copy.run.trainer.seed = derive_seed(seed, "trainer");
  if (copy.pruning) {
    copy.pruning->run = copy.run;
    copy.pruning->finetune.seed = derive_seed(seed, "finetune");
  }
  return copy;
}

std::string choice_text(const ComponentChoice& choice) {
  const std::string params = params_text(choice.params);
  return params == "{}" ? choice.component : choice.component + " " + params;
}

// The groups paired_halves splits in halves: every class on its own in stratified runs,
// all samples as one group otherwise.
std::vector<std::int64_t> halving_groups(const at::Tensor& labels, bool stratified) {
  std::vector<std::int64_t> groups(static_cast<std::size_t>(labels.size(0)), 0);
  if (stratified) {
    const at::Tensor contiguous = labels.to(torch::kInt64).contiguous();
    std::copy_n(contiguous.data_ptr<std::int64_t>(), contiguous.size(0), groups.begin());
  }
  return groups;
}

// One model to train: its role, its data and the seed its randomness comes from.
struct TrainingJob {
  std::string role;
  LabeledData training;
  const LabeledData* dev = nullptr;
  const LabeledData* test = nullptr;  // its non-members, for the record
  std::uint64_t seed = 0;
  bool victim = false;
  DefenseData defense_data;
  const AttackRunConfig* recipe = nullptr;  // instead of the run's (a search candidate)
};

// Trains the jobs in parallel TBB tasks, one LibTorch/BLAS thread each.
std::vector<TrainedModel> train_all(const AttackRunConfig& config, const Registry& registry,
                                    const DataShape& shape, const std::vector<TrainingJob>& jobs,
                                    int threads,
                                    const std::function<void(const std::string&)>& status) {
  std::vector<TrainedModel> models(jobs.size());
  std::mutex status_mutex;
  set_compute_threads(1);
  tbb::task_arena arena(threads);
  arena.execute([&] {
    tbb::parallel_for(std::size_t{0}, jobs.size(), [&](std::size_t j) {
      const TrainingJob& job = jobs[j];
      models[j] = train_like_victim(job.recipe != nullptr ? *job.recipe : config, registry, shape,
                                    job.training, job.dev, job.seed, job.defense_data);
      if (status) {
        const std::lock_guard lock(status_mutex);
        status(job.role + " trained in " + fixed(models[j].seconds, 1) + " s");
      }
    });
  });
  return models;
}

AttackMetrics measure(const std::string& name, AttackResult result, const at::Tensor& is_member,
                      const AttackSettings& settings, std::uint64_t seed, double seconds) {
  AttackMetrics metrics;
  metrics.attack = name;
  metrics.seconds = seconds;
  const at::Tensor scores = result.scores.to(torch::kFloat64);
  metrics.roc = roc_curve(scores, is_member);
  metrics.balanced_accuracy = balanced_accuracy(result.decisions, is_member);
  metrics.tpr_at_01pct = tpr_at_fpr(metrics.roc, 0.001);
  metrics.tpr_at_001pct = tpr_at_fpr(metrics.roc, 0.0001);
  const auto auc = [](const at::Tensor& s, const at::Tensor& l) { return roc_auc(s, l); };
  const auto tpr1 = [](const at::Tensor& s, const at::Tensor& l) {
    return tpr_at_fpr(roc_curve(s, l), 0.01);
  };
  if (settings.bootstrap > 0) {
    metrics.auc = bootstrap_interval(scores, is_member, auc, settings.bootstrap,
                                     settings.confidence, derive_seed(seed, "auc"));
    metrics.tpr_at_1pct = bootstrap_interval(scores, is_member, tpr1, settings.bootstrap,
                                             settings.confidence, derive_seed(seed, "tpr"));
  } else {
    const double a = roc_auc(metrics.roc), t = tpr_at_fpr(metrics.roc, 0.01);
    metrics.auc = {a, a, a};
    metrics.tpr_at_1pct = {t, t, t};
  }
  metrics.result = std::move(result);
  return metrics;
}

void check_result(const std::string& name, const AttackResult& result, std::int64_t n) {
  const auto bad = [&](const std::string& what) {
    throw Error(name + " returned " + what + " for " + std::to_string(n) + " target samples");
  };
  if (!result.scores.defined() || result.scores.dim() != 1 || result.scores.size(0) != n) {
    bad("scores that are not [N]");
  }
  if (!result.decisions.defined() || result.decisions.dim() != 1 || result.decisions.size(0) != n) {
    bad("decisions that are not [N]");
  }
  if (!torch::isfinite(result.scores.to(torch::kFloat64)).all().item<bool>()) {
    bad("scores that are NaN or infinite");
  }
}

// The defense_search section: every combination of the grid's values, each validated as
// the defense's parameters (the run file's own defense parameters, the grid's values
// replacing theirs).
DefenseSearch read_defense_search(RunFile& file, const YAML::Node& node,
                                  const std::optional<PruningRunConfig>& pruning,
                                  const Registry& registry) {
  DefenseSearch search;
  if (!node.IsMap()) {
    file.add_problem(file.where(node) + ": defense_search: expected a map");
    return search;
  }
  if (!pruning || !pruning->defense) {
    file.add_problem(file.where(node) +
                     ": defense_search: there is no pruning.defense whose parameters to search");
    return search;
  }
  YAML::Node settings = YAML::Clone(node);
  const YAML::Node grid = node["grid"];
  settings.remove("grid");
  const Params read = file.section(settings, defense_search_schema(), "defense_search");
  if (!read.values().empty()) {
    search.objective = read.get_string("objective");
    search.auc_target = read.get_float("auc_target");
    search.weight = read.get_float("weight");
    search.shadows = read.get_int("shadows");
  }
  if (!grid || !grid.IsMap() || grid.size() == 0) {
    file.add_problem(
        file.where(node) +
        ": defense_search.grid: required, a map of parameter name to a list of values");
    return search;
  }
  const RegisteredComponent& defense = registry.get(pruning->defense->component);
  const YAML::Node defense_node = file.root()["pruning"]["defense"];
  const YAML::Node base = defense_node["params"] && defense_node["params"].IsMap()
                              ? YAML::Clone(defense_node["params"])
                              : YAML::Node(YAML::NodeType::Map);
  std::vector<std::pair<std::string, YAML::Node>> axes;
  for (const auto& entry : grid) {
    const auto key = entry.first.as<std::string>();
    if (!entry.second.IsSequence() || entry.second.size() == 0) {
      file.add_problem(file.where(entry.second) + ": defense_search.grid." + key +
                       ": expected a non-empty list of values");
      continue;
    }
    axes.emplace_back(key, entry.second);
  }
  if (axes.size() != grid.size()) return search;
  std::size_t combinations = 1;
  for (const auto& axis : axes) combinations *= axis.second.size();
  for (std::size_t c = 0; c < combinations; ++c) {
    YAML::Node candidate = YAML::Clone(base);
    std::string label;
    std::size_t rest = c;
    for (const auto& [key, values] : axes) {
      const YAML::Node value = values[rest % values.size()];
      rest /= values.size();
      candidate[key] = YAML::Clone(value);
      label += (label.empty() ? "" : ", ") + key + ": " + YAML::Dump(value);
    }
    bool valid = true;
    file.collect([&] {
      try {
        search.candidates.push_back(
            params_from_yaml(defense.spec.params, defense.id(), candidate, file.file()));
      } catch (const ConfigError& e) {
        valid = false;
        throw ConfigError(file.where(grid) + ": defense_search.grid: " + e.what());
      }
    });
    if (!valid) break;  // one message for a bad axis, not one per combination
    search.labels.push_back("{" + label + "}");
  }
  return search;
}

}  // namespace

// "attack.lira {mode: online}": the component and the parameters that differ from their
// defaults, short enough for a table row.
std::string attack_label(const ComponentChoice& choice, const Registry& registry) {
  const RegisteredComponent& component = registry.get(choice.component);
  std::map<std::string, ParamValue> changed;
  for (const auto& [name, value] : choice.params.values()) {
    const auto spec = std::find_if(component.spec.params.begin(), component.spec.params.end(),
                                   [&](const ParamSpec& p) { return p.name == name; });
    if (spec == component.spec.params.end() || !spec->default_value ||
        format_value(*spec->default_value) != format_value(value)) {
      changed.emplace(name, value);
    }
  }
  return choice_text({choice.component, Params(std::move(changed))});
}

double final_sparsity(const TrainedModel& trained) {
  if (!trained.schedule) return 0.0;
  const RoundRecord* last = trained.schedule->final_round();
  return last != nullptr ? last->sparsity : 0.0;
}

std::string role_name(ModelRole role, std::int64_t index) {
  switch (role) {
    case ModelRole::Victim: return "victim";
    case ModelRole::Shadow: return "shadow " + std::to_string(index);
    case ModelRole::Online: return "online " + std::to_string(index);
  }
  return "?";
}

std::uint64_t attack_seed(std::uint64_t run_seed, const std::string& label, std::int64_t twin) {
  return derive_seed(run_seed, "attack/" + label + "/" + std::to_string(twin));
}

ParamSchema shadows_schema() {
  const AttackSettings d;
  return {
      param::integer("count", d.shadows,
                     "Shadow models on random halves of the attacker's population")
          .range(1, 1024),
      param::integer("online", d.online_shadows,
                     "Shadows on random halves of the victim's evaluation samples, trained only "
                     "when an attack needs them (LiRA or RMIA online)")
          .range(0, 1024),
      param::integer("population", d.population,
                     "Attacker samples no model trained on (RMIA's population z)")
          .range(0, 10'000'000),
  };
}

ParamSchema attack_metrics_schema() {
  const AttackSettings d;
  return {
      param::integer("bootstrap", d.bootstrap, "Bootstrap resamples for the intervals (0: none)")
          .range(0, 100'000),
      param::real("confidence", d.confidence, "Central mass of the bootstrap intervals")
          .range(0.5, 0.999),
  };
}

ParamSchema defense_search_schema() {
  const DefenseSearch d;
  return {
      param::choice("objective", {"constrained", "weighted"}, d.objective,
                    "constrained: the most accurate candidate with AUC <= auc_target; "
                    "weighted: the largest accuracy - weight * max(0, AUC - 0.5)"),
      param::real("auc_target", d.auc_target, "The largest acceptable confidence-attack AUC")
          .range(0.5, 1.0),
      param::real("weight", d.weight,
                  "weighted: the price of one unit of AUC above 0.5 in accuracy")
          .range(0, 1e6),
      param::integer("shadows", d.shadows,
                     "Search models per candidate, on complementary halves of the victim's members")
          .range(1, 1024),
  };
}

ParamSchema robustness_schema() {
  const RobustnessSettings d;
  return {
      param::float_list("epsilons", {}, "L-infinity radii for FGSM and PGD (empty: not measured)"),
      param::integer("samples", d.samples, "The first n of the victim's non-members are attacked")
          .range(1, 10'000'000),
      param::integer("pgd_steps", d.pgd_steps, "PGD steps").range(1, 10'000),
      param::real("pgd_step_size", d.pgd_step_size, "PGD step size (0: 2.5 epsilon / steps)")
          .range(0, 1e6),
      param::boolean("random_start", d.random_start, "PGD starts at a random point of the ball"),
      param::real("lower", d.lower, "Smallest valid input value"),
      param::real("upper", d.upper, "Largest valid input value"),
  };
}

AttackRunConfig read_attack_run(const std::filesystem::path& path, const Registry& registry,
                                const std::vector<std::string>& overrides) {
  RunFile file(path, overrides);
  return read_attack_sections(file, registry, true);
}

AttackRunConfig read_attack_sections(RunFile& file, const Registry& registry,
                                     bool attacks_required) {
  const YAML::Node& root = file.root();
  file.check_keys(root,
                  {"seed", "dataset", "model", "split", "trainer", "pruning", "shadows", "attacks",
                   "metrics", "robustness", "memorization", "defense_search"},
                  "");
  AttackRunConfig config;
  config.run = read_training_sections(file, registry);
  if (root["pruning"] && !root["pruning"].IsNull()) {
    config.pruning = read_pruning_section(file, registry, config.run);
  }

  const Params shadows = file.section(root["shadows"], shadows_schema(), "shadows");
  const Params metrics = file.section(root["metrics"], attack_metrics_schema(), "metrics");
  const Params robustness = file.section(root["robustness"], robustness_schema(), "robustness");
  const Params memorization =
      file.section(root["memorization"], memorization_schema(), "memorization");
  const YAML::Node search = root["defense_search"];
  if (search && !search.IsNull()) {
    config.search = read_defense_search(file, search, config.pruning, registry);
  }
  const YAML::Node attacks = root["attacks"];
  if (!attacks_required && (!attacks || attacks.IsNull())) {
    // a recipe: its attacks are nodes of their own
  } else if (!attacks || !attacks.IsSequence() || attacks.size() == 0) {
    file.add_problem(file.where(attacks) +
                     ": 'attacks' is required, a list of {component: attack.NAME, params: {...}}");
  } else {
    for (std::size_t i = 0; i < attacks.size(); ++i) {
      config.attacks.push_back(
          file.component(attacks[i], "attacks[" + std::to_string(i) + "]", Kind::Attack, registry));
    }
  }
  file.throw_if_any();

  config.attack.shadows = shadows.get_int("count");
  config.attack.online_shadows = shadows.get_int("online");
  config.attack.population = shadows.get_int("population");
  config.attack.bootstrap = static_cast<int>(metrics.get_int("bootstrap"));
  config.attack.confidence = metrics.get_float("confidence");
  config.robustness.epsilons = robustness.get_float_list("epsilons");
  config.robustness.samples = robustness.get_int("samples");
  config.robustness.pgd_steps = static_cast<int>(robustness.get_int("pgd_steps"));
  config.robustness.pgd_step_size = robustness.get_float("pgd_step_size");
  config.robustness.random_start = robustness.get_bool("random_start");
  config.robustness.lower = robustness.get_float("lower");
  config.robustness.upper = robustness.get_float("upper");
  config.memorization = memorization_settings(memorization);

  const std::string& where = config.run.source;
  if (config.run.split.mode != SplitMode::Membership) {
    throw ConfigError(where +
                      ": split: an attack run needs split.mode membership (members "
                      "and non-members drawn by the membership plan)");
  }
  for (const double epsilon : config.robustness.epsilons) {
    if (!(epsilon >= 0)) {
      throw ConfigError(where + ": robustness.epsilons: " + fixed(epsilon, 4) +
                        " is not a radius (>= 0)");
    }
  }
  if (config.pruning) {
    if (!config.pruning->checkpoint.empty()) {
      throw ConfigError(where +
                        ": pruning.start.checkpoint: an attack run trains the victim and "
                        "every shadow itself, from the same recipe; remove it");
    }
  }
  return config;
}

DenseModel train_dense(const AttackRunConfig& config, const Registry& registry,
                       const DataShape& shape, const LabeledData& training, const LabeledData* dev,
                       std::uint64_t seed) {
  const Clock::time_point start = Clock::now();
  const AttackRunConfig run = reseeded(config, seed);
  DenseModel dense;
  dense.model = build_run_model(run.run, registry, shape);
  Model& model = *dense.model;

  const bool rewind = run.pruning && run.pruning->schedule.rewind;
  if (rewind && run.pruning->rewind_epoch == 0) dense.rewind = capture_state(model);
  FitOptions options;
  options.dev = dev;
  options.on_epoch = [&](const EpochRecord& record) {
    if (rewind && record.epoch + 1 == run.pruning->rewind_epoch)
      dense.rewind = capture_state(model);
  };
  BasicContext train_context(run.run.trainer.seed);
  dense.fit = fit(model, training, run.run.trainer, options, train_context);
  dense.seconds = seconds_since(start);
  return dense;
}

TrainedModel prune_dense(const AttackRunConfig& config, const Registry& registry,
                         const DataShape& shape, DenseModel dense, const LabeledData& training,
                         const LabeledData* dev, std::uint64_t seed,
                         const DefenseData& defense_data) {
  const Clock::time_point start = Clock::now();
  TrainedModel trained;
  trained.model = dense.model;
  trained.fit = std::move(dense.fit);
  if (!config.pruning) {
    trained.seconds = dense.seconds;
    return trained;
  }
  const AttackRunConfig run = reseeded(config, seed);
  Model& model = *trained.model;
  const PruningRunConfig& pruning = *run.pruning;
  const bool rewind = pruning.schedule.rewind;
  trained.dense = capture_state(model);
  const auto pruner = registry.create<Pruner>(split_qualified_name(pruning.pruner.component).second,
                                              pruning.pruner.params);
  std::shared_ptr<Defense> defense;
  if (pruning.defense) {
    defense = registry.create<Defense>(split_qualified_name(pruning.defense->component).second,
                                       pruning.defense->params);
    if (defense->needs_memorization() &&
        (!defense_data.memorization.defined() ||
         defense_data.memorization.numel() != training.labels.size(0))) {
      throw Error(pruning.defense->component +
                  " needs the memorization scores of this training set, and none were given");
    }
  }
  if (rewind && !dense.rewind) {
    throw ConfigError(config.run.source + ": the dense training stopped before rewind_epoch " +
                      std::to_string(pruning.rewind_epoch));
  }
  ScheduleInputs inputs;
  inputs.training = &training;
  inputs.dev = dev;
  inputs.targets = select_targets(model, shape, pruning.targets);
  inputs.pruner_name = pruning.pruner.component;
  inputs.finetune = pruning.finetune;
  inputs.defense = defense.get();
  if (defense && defense->needs_memorization()) inputs.memorization = defense_data.memorization;
  inputs.reference = defense_data.reference;
  inputs.rewind = dense.rewind ? &*dense.rewind : nullptr;
  inputs.shape = shape;
  BasicContext pruning_context(derive_seed(seed, "pruning"));
  trained.schedule = run_schedule(model, *pruner, pruning.schedule, inputs, pruning_context);
  if (defense) trained.defense_measurements = defense->measurements();
  trained.seconds = dense.seconds + seconds_since(start);
  return trained;
}

TrainedModel train_like_victim(const AttackRunConfig& config, const Registry& registry,
                               const DataShape& shape, const LabeledData& training,
                               const LabeledData* dev, std::uint64_t seed,
                               const DefenseData& defense_data) {
  return prune_dense(config, registry, shape,
                     train_dense(config, registry, shape, training, dev, seed), training, dev, seed,
                     defense_data);
}

double robust_accuracy(Model& model, const LabeledData& data, const PgdSettings& settings,
                       std::uint64_t seed, std::int64_t batch_size) {
  const std::int64_t n = data.labels.size(0);
  if (n == 0) throw Error("robust_accuracy: no samples");
  at::Generator generator = make_generator(seed);
  std::int64_t correct = 0;
  for (std::int64_t start = 0; start < n; start += batch_size) {
    const std::int64_t end = std::min(start + batch_size, n);
    const LabeledData batch{data.inputs.slice(0, start, end), data.labels.slice(0, start, end),
                            data.num_classes};
    const at::Tensor adversarial =
        settings.epsilon > 0 ? pgd_examples(model, batch, settings, generator) : batch.inputs;
    const at::Tensor logits = query_logits(model, adversarial, batch_size);
    correct += logits.argmax(1).eq(batch.labels).sum().item<std::int64_t>();
  }
  return static_cast<double>(correct) / static_cast<double>(n);
}

AttackerView attacker_view(const AttackRunConfig& config, const RunData& run,
                           std::int64_t online_count) {
  const MembershipPlan& plan = *run.plan;
  AttackerView view;
  view.evaluation = victim_evaluation_set(plan);
  view.target = select_examples(run.pool, view.evaluation.indices);
  view.shuffle =
      torch::randperm(view.target.labels.size(0),
                      make_generator(derive_seed(config.run.seed, "target-order")), torch::kLong);

  // The attacker's data: the halves population, its shared dev set, and samples for RMIA.
  view.shadow_samples = select_examples(run.pool, index_tensor(plan.population));
  view.shadow_dev = select_examples(run.pool, index_tensor(plan.shadows[0].dev));
  view.shadow_reference = select_examples(run.pool, index_tensor(plan.shadows[0].reference));
  std::vector<std::int64_t> unused = shadow_pool(plan);
  {
    std::vector<std::int64_t> taken = plan.population;
    taken.insert(taken.end(), plan.shadows[0].dev.begin(), plan.shadows[0].dev.end());
    taken.insert(taken.end(), plan.shadows[0].reference.begin(), plan.shadows[0].reference.end());
    std::sort(taken.begin(), taken.end());
    std::erase_if(
        unused, [&](std::int64_t i) { return std::binary_search(taken.begin(), taken.end(), i); });
  }
  if (static_cast<std::int64_t>(unused.size()) < config.attack.population) {
    throw ConfigError(
        config.run.source + ": shadows.population: " + std::to_string(config.attack.population) +
        " samples asked for, the " + "attacker's data has " + std::to_string(unused.size()) +
        " left after the shadows' population and dev set");
  }
  // A seeded draw of the unused samples, so the population is a uniform sample of them.
  {
    at::Generator generator = make_generator(derive_seed(config.run.seed, "population"));
    const at::Tensor order =
        torch::randperm(static_cast<std::int64_t>(unused.size()), generator, torch::kLong);
    std::vector<std::int64_t> picked;
    for (std::int64_t k = 0; k < config.attack.population; ++k) {
      picked.push_back(unused[static_cast<std::size_t>(order[k].item<std::int64_t>())]);
    }
    std::sort(picked.begin(), picked.end());
    unused = std::move(picked);
  }
  view.population = select_examples(run.pool, index_tensor(unused));
  if (online_count > 0) {
    view.online_in = paired_halves(halving_groups(view.target.labels, config.run.split.stratified),
                                   online_count, derive_seed(config.run.seed, "online-halves"));
  }
  return view;
}

namespace {
at::Tensor rows_where(const std::vector<std::uint8_t>& in, bool value) {
  std::vector<std::int64_t> rows;
  for (std::size_t j = 0; j < in.size(); ++j) {
    if ((in[j] != 0) == value) rows.push_back(static_cast<std::int64_t>(j));
  }
  return index_tensor(rows);
}
}  // namespace

RoleData role_data(const AttackRunConfig& config, const RunData& run, const AttackerView& view,
                   ModelRole role, std::int64_t index) {
  RoleData data;
  data.role = role_name(role, index);
  const auto nonempty = [](const LabeledData& d) { return d.labels.size(0) > 0 ? &d : nullptr; };
  switch (role) {
    case ModelRole::Victim:
      data.training = run.training;
      data.dev = nonempty(run.dev);
      data.test = run.test;
      data.reference = nonempty(run.reference);
      data.seed = config.run.seed;
      break;
    case ModelRole::Shadow: {
      const MembershipPlan& plan = *run.plan;
      if (index < 0 || index >= static_cast<std::int64_t>(plan.shadow_in.size())) {
        throw ConfigError("shadow " + std::to_string(index) + ": the plan has " +
                          std::to_string(plan.shadow_in.size()) + " shadows");
      }
      const auto& in = plan.shadow_in[static_cast<std::size_t>(index)];
      data.training = select_examples(view.shadow_samples, rows_where(in, true));
      data.test = select_examples(view.shadow_samples, rows_where(in, false));
      data.dev = nonempty(view.shadow_dev);
      data.reference = nonempty(view.shadow_reference);
      data.seed = derive_seed(config.run.seed, "shadow/" + std::to_string(index));
      break;
    }
    case ModelRole::Online: {
      if (index < 0 || index >= static_cast<std::int64_t>(view.online_in.size())) {
        throw ConfigError("online shadow " + std::to_string(index) + ": " +
                          std::to_string(view.online_in.size()) + " online shadows were drawn");
      }
      const auto& in = view.online_in[static_cast<std::size_t>(index)];
      data.training = select_examples(view.target, rows_where(in, true));
      data.test = select_examples(view.target, rows_where(in, false));
      // The attacker's shared dev set, as for the other shadows: it only steers early
      // stopping, and it is disjoint from the victim's samples.
      data.dev = nonempty(view.shadow_dev);
      data.reference = nonempty(view.shadow_reference);
      data.seed = derive_seed(config.run.seed, "online/" + std::to_string(index));
      break;
    }
  }
  return data;
}

AttackInputs observe_models(Model& victim, const std::vector<std::shared_ptr<Model>>& shadows,
                            const std::vector<std::shared_ptr<Model>>& online, const RunData& run,
                            const AttackerView& view) {
  const MembershipPlan& plan = *run.plan;
  const Samples target_samples{view.target.inputs.index_select(0, view.shuffle),
                               view.target.labels.index_select(0, view.shuffle)};
  const Samples population_samples{view.population.inputs, view.population.labels};
  std::vector<TrainedShadow> shadow_set, online_set;
  for (std::size_t s = 0; s < shadows.size(); ++s) {
    const auto& in = plan.shadow_in.at(s);
    shadow_set.push_back(
        {shadows[s],
         torch::tensor(std::vector<std::int64_t>(in.begin(), in.end())).to(torch::kBool)});
  }
  for (std::size_t s = 0; s < online.size(); ++s) {
    const auto& in = view.online_in.at(s);
    online_set.push_back({online[s], torch::tensor(std::vector<std::int64_t>(in.begin(), in.end()))
                                         .to(torch::kBool)
                                         .index_select(0, view.shuffle)});
  }
  return observe_target(victim, target_samples, population_samples,
                        observe_shadows({view.shadow_samples.inputs, view.shadow_samples.labels},
                                        shadow_set, target_samples, population_samples),
                        online.empty() ? ShadowSet{}
                                       : observe_shadows(target_samples, online_set, target_samples,
                                                         population_samples));
}

AttackMetrics run_one_attack(Attack& attack, const std::string& label, const AttackInputs& inputs,
                             const AttackerView& view, const AttackSettings& settings,
                             std::uint64_t seed) {
  const Clock::time_point begin = Clock::now();
  const std::int64_t n = view.target.labels.size(0);
  BasicContext context(seed);
  AttackResult shuffled = attack.run(inputs, context);
  check_result(label, shuffled, n);
  AttackResult ordered;
  ordered.scores = torch::empty({n}, torch::kFloat64)
                       .index_copy_(0, view.shuffle, shuffled.scores.to(torch::kFloat64));
  ordered.decisions = torch::empty({n}, torch::kBool)
                          .index_copy_(0, view.shuffle, shuffled.decisions.to(torch::kBool));
  const double seconds = seconds_since(begin);
  return measure(label, std::move(ordered), view.evaluation.is_member, settings,
                 derive_seed(seed, "bootstrap"), seconds);
}

std::vector<RobustnessRecord> measure_robustness(
    Model& model, const std::string& label, const RobustnessSettings& settings,
    const LabeledData& test, std::uint64_t run_seed,
    const std::function<void(const std::string&)>& status) {
  std::vector<RobustnessRecord> records;
  const std::int64_t n = std::min(settings.samples, test.labels.size(0));
  const LabeledData attacked{test.inputs.slice(0, 0, n), test.labels.slice(0, 0, n),
                             test.num_classes};
  for (const double epsilon : settings.epsilons) {
    PgdSettings fgsm;
    fgsm.epsilon = epsilon;
    fgsm.steps = 1;
    fgsm.step_size = epsilon;
    fgsm.random_start = false;
    fgsm.lower = settings.lower;
    fgsm.upper = settings.upper;
    PgdSettings pgd = fgsm;
    pgd.steps = settings.pgd_steps;
    pgd.step_size = settings.pgd_step_size;
    pgd.random_start = settings.random_start;
    const std::uint64_t seed = derive_seed(run_seed, "robustness");
    records.push_back({label, "fgsm", epsilon, robust_accuracy(model, attacked, fgsm, seed)});
    records.push_back({label, "pgd", epsilon, robust_accuracy(model, attacked, pgd, seed)});
    if (status) {
      status(label + " eps " + fixed(epsilon, 3) + ": FGSM " +
             fixed(records[records.size() - 2].accuracy * 100, 2) + " %, PGD " +
             fixed(records.back().accuracy * 100, 2) + " %");
    }
  }
  return records;
}

AttackRunResult run_attack(const AttackRunConfig& config, const Registry& registry,
                           const std::filesystem::path& output, int threads,
                           const AttackRunHooks& hooks) {
  const auto status = [&](const std::string& line) {
    if (hooks.status) hooks.status(line);
  };
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  // Models and attacks run one LibTorch/BLAS thread each; the caller's setting comes back
  // at the end, exception or not.
  struct ThreadsRestored {
    int previous = at::get_num_threads();
    ~ThreadsRestored() { set_compute_threads(previous); }
  } threads_restored;

  // Every attack, and the shadows it needs, checked before any model is trained.
  std::vector<std::shared_ptr<Attack>> attacks;
  std::vector<std::string> labels;
  bool needs_online = false;
  for (const ComponentChoice& choice : config.attacks) {
    attacks.push_back(
        registry.create<Attack>(split_qualified_name(choice.component).second, choice.params));
    labels.push_back(attack_label(choice, registry));
    const Attack& attack = *attacks.back();
    needs_online = needs_online || attack.needs_online_shadows();
    const auto too_few = [&](const char* key, std::int64_t have, int need) {
      if (have >= need) return;
      throw ConfigError(config.run.source + ": shadows." + key + ": " + labels.back() +
                        " needs at least " + std::to_string(need) + " " +
                        (std::string(key) == "online" ? "online shadows" : "shadows") +
                        ", the run file gives " + std::to_string(have));
    };
    too_few("count", config.attack.shadows, attack.minimum_shadows());
    too_few("online", attack.needs_online_shadows() ? config.attack.online_shadows : 0,
            attack.minimum_online_shadows());
  }

  AttackRunResult result;
  PhaseTimes times;
  const RunData run =
      load_run_data(config.run, registry, times, hooks.status, config.attack.shadows);
  const MembershipPlan& plan = *run.plan;
  result.shape = run.shape;
  const LabeledData* victim_dev = run.dev.labels.size(0) > 0 ? &run.dev : nullptr;

  const std::int64_t online_count = needs_online ? config.attack.online_shadows : 0;
  const AttackerView view = attacker_view(config, run, online_count);
  result.sample_indices = view.evaluation.indices;
  result.is_member = view.evaluation.is_member;
  result.sample_labels = view.target.labels;
  result.online_in = view.online_in;

  // Every model to train: the victim, the shadows, and the online shadows when needed.
  std::vector<RoleData> roles;
  roles.push_back(role_data(config, run, view, ModelRole::Victim, 0));
  for (std::int64_t s = 0; s < config.attack.shadows; ++s) {
    roles.push_back(role_data(config, run, view, ModelRole::Shadow, s));
  }
  for (std::int64_t s = 0; s < online_count; ++s) {
    roles.push_back(role_data(config, run, view, ModelRole::Online, s));
  }
  std::vector<TrainingJob> jobs;
  for (const RoleData& role : roles) {
    jobs.push_back({role.role, role.training, role.dev, &role.test, role.seed,
                    role.role == "victim", DefenseData{{}, role.reference}, nullptr});
  }

  // The defender's search models (the automatic variant): trained on complementary halves
  // of the victim's members, the other half serving as their non-members. The defender
  // owns these samples; the attacker's data, and with it the shadows that calibrate the
  // attacks, never informs the choice.
  std::vector<LabeledData> search_training, search_test;
  if (config.search) {
    const std::int64_t pairs = (config.search->shadows + 1) / 2;
    const std::vector<std::vector<std::uint8_t>> halves =
        paired_halves(halving_groups(run.training.labels, config.run.split.stratified), 2 * pairs,
                      derive_seed(config.run.seed, "search-halves"));
    for (std::int64_t s = 0; s < config.search->shadows; ++s) {
      const auto& in = halves[static_cast<std::size_t>(s)];
      search_training.push_back(select_examples(run.training, rows_where(in, true)));
      search_test.push_back(select_examples(run.training, rows_where(in, false)));
    }
  }
  const auto search_seed = [&](std::int64_t s) {
    return derive_seed(config.run.seed, "search/" + std::to_string(s));
  };

  // Memorization scores, when the defense (or any candidate of the search) needs them.
  bool needs_memorization = false;
  if (config.pruning && config.pruning->defense) {
    std::vector<Params> variants = {config.pruning->defense->params};
    if (config.search) variants = config.search->candidates;
    for (const Params& params : variants) {
      needs_memorization =
          needs_memorization ||
          registry
              .create<Defense>(split_qualified_name(config.pruning->defense->component).second,
                               params)
              ->needs_memorization();
    }
  }
  std::vector<at::Tensor> search_memorization(search_training.size());
  if (needs_memorization) {
    std::vector<MemorizationRequest> requests;
    for (const TrainingJob& job : jobs) requests.push_back({job.role, &job.training, job.seed});
    for (std::size_t s = 0; s < search_training.size(); ++s) {
      requests.push_back({"search model " + std::to_string(s), &search_training[s],
                          search_seed(static_cast<std::int64_t>(s))});
    }
    const Clock::time_point begin = Clock::now();
    const std::vector<MemorizationResult> scores = compute_memorization(
        requests, fold_trainer(config.run, registry, run.shape),
        memorization_recipe(config.run, registry), config.memorization, threads, hooks.status);
    for (std::size_t r = 0; r < scores.size(); ++r) {
      if (r < jobs.size()) {
        jobs[r].defense_data.memorization = scores[r].scores.normalized;
      } else {
        search_memorization[r - jobs.size()] = scores[r].scores.normalized;
      }
      result.memorization_cached += scores[r].from_cache ? 1 : 0;
    }
    result.memorization_sets = static_cast<std::int64_t>(scores.size());
    result.memorization_seconds = seconds_since(begin);
  }

  // The automatic variant: the defense's parameters chosen on the search models first.
  AttackRunConfig defended = config;
  if (config.search) {
    const DefenseSearch& search = *config.search;
    const Clock::time_point begin = Clock::now();
    std::vector<AttackRunConfig> recipes(search.candidates.size(), config);
    std::vector<TrainingJob> search_jobs;
    for (std::size_t c = 0; c < search.candidates.size(); ++c) {
      recipes[c].pruning->defense->params = search.candidates[c];
      for (std::int64_t s = 0; s < search.shadows; ++s) {
        const auto k = static_cast<std::size_t>(s);
        TrainingJob job{
            "search " + search.labels[c] + " model " + std::to_string(s),
            search_training[k],
            victim_dev,
            &search_test[k],
            // The same seeds for every candidate: they differ in parameters only.
            search_seed(s),
            false,
            {search_memorization[k], run.reference.labels.size(0) > 0 ? &run.reference : nullptr},
            &recipes[c]};
        search_jobs.push_back(std::move(job));
      }
    }
    status("defense search: " + std::to_string(search.candidates.size()) + " candidates x " +
           std::to_string(search.shadows) + " search models");
    const std::vector<TrainedModel> searched =
        train_all(config, registry, run.shape, search_jobs, threads, hooks.status);
    for (std::size_t c = 0; c < search.candidates.size(); ++c) {
      SearchRecord record;
      record.candidate = search.labels[c];
      for (std::int64_t s = 0; s < search.shadows; ++s) {
        const std::size_t j =
            c * static_cast<std::size_t>(search.shadows) + static_cast<std::size_t>(s);
        Model& model = *searched[j].model;
        const LabeledData& members = search_jobs[j].training;
        const LabeledData& non_members = *search_jobs[j].test;
        record.test_accuracy += evaluate(model, non_members).accuracy;
        const at::Tensor scores = torch::cat(
            {true_class_log_probability(query_logits(model, members.inputs), members.labels),
             true_class_log_probability(query_logits(model, non_members.inputs),
                                        non_members.labels)});
        const at::Tensor is_member =
            torch::cat({torch::ones({members.labels.size(0)}, torch::kBool),
                        torch::zeros({non_members.labels.size(0)}, torch::kBool)});
        record.auc += roc_auc(scores, is_member);
        record.seconds += searched[j].seconds;
      }
      record.test_accuracy /= static_cast<double>(search.shadows);
      record.auc /= static_cast<double>(search.shadows);
      result.search.push_back(record);
    }
    // Ties go to the earlier candidate, so the choice does not depend on float noise order.
    const auto value = [&](const SearchRecord& r) {
      return search.objective == "weighted"
                 ? r.test_accuracy - search.weight * std::max(0.0, r.auc - 0.5)
                 : r.test_accuracy;
    };
    std::size_t chosen = 0;
    if (search.objective == "weighted") {
      for (std::size_t c = 1; c < result.search.size(); ++c) {
        if (value(result.search[c]) > value(result.search[chosen])) chosen = c;
      }
    } else {
      // The most accurate feasible candidate; with none feasible, the lowest AUC.
      std::optional<std::size_t> best;
      for (std::size_t c = 0; c < result.search.size(); ++c) {
        const SearchRecord& r = result.search[c];
        if (r.auc <= search.auc_target && (!best || value(r) > value(result.search[*best]))) {
          best = c;
        }
        if (r.auc < result.search[chosen].auc) chosen = c;
      }
      if (best) chosen = *best;
    }
    result.search[chosen].chosen = true;
    result.chosen_defense =
        choice_text({config.pruning->defense->component, search.candidates[chosen]});
    defended.pruning->defense->params = search.candidates[chosen];
    for (TrainingJob& job : jobs) job.recipe = &defended;
    result.search_seconds = seconds_since(begin);
    status("defense search chose " + search.labels[chosen] + ": accuracy " +
           fixed(result.search[chosen].test_accuracy * 100, 2) + " %, AUC " +
           fixed(result.search[chosen].auc, 4) + " (" + fixed(result.search_seconds, 1) + " s)");
  }

  status("training " + std::to_string(jobs.size()) + " models (" +
         std::to_string(config.attack.shadows) + " shadows" +
         (online_count > 0 ? ", " + std::to_string(online_count) + " online shadows" : "") +
         ") on " + std::to_string(threads) + " threads");
  Clock::time_point start = Clock::now();
  std::vector<TrainedModel> trained =
      train_all(config, registry, run.shape, jobs, threads, hooks.status);
  result.training_seconds = seconds_since(start);

  for (std::size_t j = 0; j < jobs.size(); ++j) {
    ModelRecord record;
    record.role = jobs[j].role;
    record.members = jobs[j].training.labels.size(0);
    record.train_accuracy = evaluate(*trained[j].model, jobs[j].training).accuracy;
    record.test_accuracy = evaluate(*trained[j].model, *jobs[j].test).accuracy;
    record.sparsity = final_sparsity(trained[j]);
    record.seconds = trained[j].seconds;
    record.defense_measurements = trained[j].defense_measurements;
    result.models.push_back(record);
  }

  // What the attacks see.
  std::vector<std::shared_ptr<Model>> shadow_models, online_models;
  for (std::int64_t s = 0; s < config.attack.shadows; ++s) {
    shadow_models.push_back(trained[1 + static_cast<std::size_t>(s)].model);
  }
  for (std::int64_t s = 0; s < online_count; ++s) {
    online_models.push_back(trained[1 + static_cast<std::size_t>(config.attack.shadows + s)].model);
  }
  Model& victim = *trained[0].model;
  const AttackInputs inputs = observe_models(victim, shadow_models, online_models, run, view);

  // The attacks run as parallel tasks, one LibTorch/BLAS thread each (as the models
  // trained), so their results do not depend on --threads either. Seeds come from the
  // attack's label, and its rank among attacks of the same label, not its place in the
  // list: adding an attack changes no other's result.
  std::vector<std::uint64_t> seeds;
  for (std::size_t a = 0; a < attacks.size(); ++a) {
    const auto twins =
        std::count(labels.begin(), labels.begin() + static_cast<std::ptrdiff_t>(a), labels[a]);
    seeds.push_back(attack_seed(config.run.seed, labels[a], twins));
  }
  status("running " + std::to_string(attacks.size()) + " attacks on " + std::to_string(threads) +
         " threads");
  std::vector<AttackMetrics> measured(attacks.size());
  std::mutex status_mutex;
  tbb::task_arena arena(threads);
  arena.execute([&] {
    tbb::parallel_for(std::size_t{0}, attacks.size(), [&](std::size_t a) {
      measured[a] = run_one_attack(*attacks[a], labels[a], inputs, view, config.attack, seeds[a]);
      const std::lock_guard lock(status_mutex);
      status(labels[a] + ": AUC " + fixed(measured[a].auc.estimate, 4) + " in " +
             fixed(measured[a].seconds, 1) + " s");
    });
  });
  result.attacks = std::move(measured);

  if (!config.robustness.epsilons.empty()) {
    const NamedState final_state = capture_state(victim);
    // The dense weights fit the model only while no channel was removed.
    if (config.pruning && trained[0].schedule->removed.empty()) {
      restore_state(victim, trained[0].dense);
      const auto dense = measure_robustness(victim, "dense", config.robustness, run.test,
                                            config.run.seed, hooks.status);
      result.robustness.insert(result.robustness.end(), dense.begin(), dense.end());
      restore_state(victim, final_state);
    }
    const auto final =
        measure_robustness(victim, config.pruning ? "pruned" : "dense", config.robustness, run.test,
                           config.run.seed, hooks.status);
    result.robustness.insert(result.robustness.end(), final.begin(), final.end());
  }

  if (!output.empty()) {
    std::filesystem::create_directories(output / "roc");
    save_plan(output / "plan.txt", plan);
    std::ostringstream attacks_csv, scores_csv, models_csv, robustness_csv;
    attacks_csv << std::setprecision(8)
                << "attack,balanced_accuracy,auc,auc_low,auc_high,tpr_at_1pct,tpr_at_1pct_low,"
                   "tpr_at_1pct_high,tpr_at_0.1pct,tpr_at_0.01pct,seconds\n";
    for (std::size_t a = 0; a < result.attacks.size(); ++a) {
      const AttackMetrics& m = result.attacks[a];
      attacks_csv << '"' << m.attack << "\"," << m.balanced_accuracy << ',' << m.auc.estimate << ','
                  << m.auc.low << ',' << m.auc.high << ',' << m.tpr_at_1pct.estimate << ','
                  << m.tpr_at_1pct.low << ',' << m.tpr_at_1pct.high << ',' << m.tpr_at_01pct << ','
                  << m.tpr_at_001pct << ',' << m.seconds << '\n';
      std::ostringstream roc;
      roc << std::setprecision(17) << "threshold,fpr,tpr\n";
      for (std::size_t k = 0; k < m.roc.fpr.size(); ++k) {
        roc << m.roc.thresholds[k] << ',' << m.roc.fpr[k] << ',' << m.roc.tpr[k] << '\n';
      }
      write_file_atomically(output / "roc" / (std::to_string(a) + ".csv"), roc.str());
    }
    scores_csv << std::setprecision(17) << "sample,label,is_member";
    for (std::size_t a = 0; a < result.attacks.size(); ++a) {
      scores_csv << ",score_" << a << ",decision_" << a;
    }
    scores_csv << '\n';
    std::vector<at::Tensor> scores, decisions;
    for (const AttackMetrics& m : result.attacks) {
      scores.push_back(m.result.scores.to(torch::kFloat64).contiguous());
      decisions.push_back(m.result.decisions.to(torch::kBool).contiguous());
    }
    for (std::int64_t i = 0; i < result.sample_indices.size(0); ++i) {
      scores_csv << result.sample_indices[i].item<std::int64_t>() << ','
                 << result.sample_labels[i].item<std::int64_t>() << ','
                 << (result.is_member[i].item<bool>() ? 1 : 0);
      for (std::size_t a = 0; a < scores.size(); ++a) {
        scores_csv << ',' << scores[a].data_ptr<double>()[i] << ','
                   << (decisions[a].data_ptr<bool>()[i] ? 1 : 0);
      }
      scores_csv << '\n';
    }
    models_csv << std::setprecision(8)
               << "model,members,train_accuracy,test_accuracy,sparsity,seconds\n";
    for (const ModelRecord& m : result.models) {
      models_csv << m.role << ',' << m.members << ',' << m.train_accuracy << ',' << m.test_accuracy
                 << ',' << m.sparsity << ',' << m.seconds << '\n';
    }
    robustness_csv << std::setprecision(8) << "model,method,epsilon,accuracy\n";
    for (const RobustnessRecord& r : result.robustness) {
      robustness_csv << r.model << ',' << r.method << ',' << r.epsilon << ',' << r.accuracy << '\n';
    }
    if (!result.online_in.empty()) {
      // As plan.txt writes the shadows' IN matrix: one row of 0/1 per online shadow, one
      // character per evaluation sample in the order of scores.csv.
      std::string online = "secateurs-online-shadows 1\nsamples " +
                           std::to_string(result.sample_indices.size(0)) + "\n";
      for (std::size_t s = 0; s < result.online_in.size(); ++s) {
        online += "online." + std::to_string(s) + ".in ";
        for (const std::uint8_t in : result.online_in[s]) online += in != 0 ? '1' : '0';
        online += '\n';
      }
      write_file_atomically(output / "online.txt", online + "end\n");
    }
    std::ostringstream defense_csv;
    defense_csv << std::setprecision(10) << "model,measurement,value\n";
    for (const ModelRecord& m : result.models) {
      for (const auto& [name, value] : m.defense_measurements) {
        defense_csv << m.role << ',' << name << ',' << value << '\n';
      }
    }
    write_file_atomically(output / "defense.csv", defense_csv.str());
    if (!result.search.empty()) {
      std::ostringstream search_csv;
      search_csv << std::setprecision(10) << "candidate,test_accuracy,auc,seconds,chosen\n";
      for (const SearchRecord& r : result.search) {
        std::string quoted;  // a CSV field: embedded quotes doubled
        for (const char ch : r.candidate)
          quoted += ch == '"' ? std::string("\"\"") : std::string(1, ch);
        search_csv << '"' << quoted << "\"," << r.test_accuracy << ',' << r.auc << ',' << r.seconds
                   << ',' << (r.chosen ? 1 : 0) << '\n';
      }
      write_file_atomically(output / "search.csv", search_csv.str());
    }
    write_file_atomically(output / "attacks.csv", attacks_csv.str());
    write_file_atomically(output / "scores.csv", scores_csv.str());
    write_file_atomically(output / "models.csv", models_csv.str());
    write_file_atomically(output / "robustness.csv", robustness_csv.str());
    write_file_atomically(output / "summary.txt", format_attack_summary(config, result));
  }
  return result;
}

std::string format_attack_summary(const AttackRunConfig& config, const AttackRunResult& result) {
  std::ostringstream out;
  out << "run: " << config.run.source << " (seed " << config.run.seed << ")\n";
  out << "model: " << choice_text(config.run.model) << "\n";
  if (config.pruning) {
    out << "pruning: " << choice_text(config.pruning->pruner) << ", sparsity "
        << fixed(config.pruning->schedule.sparsity, 3) << "\n";
  }
  if (config.pruning && config.pruning->defense) {
    out << "defense: "
        << (result.chosen_defense.empty() ? choice_text(*config.pruning->defense)
                                          : result.chosen_defense + " (chosen by the search)")
        << "\n";
  }
  if (result.memorization_sets > 0) {
    out << "memorization scores: " << result.memorization_sets << " training sets, "
        << config.memorization.folds << " folds, " << result.memorization_cached
        << " from the cache, " << fixed(result.memorization_seconds, 1) << " s\n";
  }
  if (!result.search.empty()) {
    out << "\ndefense search (" << fixed(result.search_seconds, 1) << " s): accuracy / AUC\n";
    for (const SearchRecord& r : result.search) {
      out << "  " << (r.chosen ? "* " : "  ") << std::left << std::setw(48) << r.candidate
          << std::right << " " << fixed(r.test_accuracy * 100, 2) << " % / " << fixed(r.auc, 4)
          << "\n";
    }
  }
  out << "\nmodels (accuracy on members / non-members):\n";
  for (const ModelRecord& m : result.models) {
    out << "  " << std::left << std::setw(10) << m.role << std::right << " "
        << fixed(m.train_accuracy * 100, 2) << " % / " << fixed(m.test_accuracy * 100, 2)
        << " %, gap " << fixed((m.train_accuracy - m.test_accuracy) * 100, 2) << " points";
    if (config.pruning) out << ", sparsity " << fixed(m.sparsity, 3);
    out << ", " << fixed(m.seconds, 1) << " s";
    for (const auto& [name, value] : m.defense_measurements) out << ", " << name << " " << value;
    out << "\n";
  }
  out << "models trained in " << fixed(result.training_seconds, 1) << " s (wall)\n";
  out << "\nattacks on " << result.is_member.size(0) << " samples (half members):\n";
  out << "  " << std::left << std::setw(50) << "attack" << std::right
      << "  bal.acc     AUC [interval]        TPR@1%  TPR@0.1%  TPR@0.01%\n";
  for (const AttackMetrics& m : result.attacks) {
    out << "  " << std::left << std::setw(50) << m.attack << std::right << "  "
        << fixed(m.balanced_accuracy, 4) << "  " << fixed(m.auc.estimate, 4) << " ["
        << fixed(m.auc.low, 3) << ", " << fixed(m.auc.high, 3) << "]  "
        << fixed(m.tpr_at_1pct.estimate, 4) << "  " << fixed(m.tpr_at_01pct, 4) << "    "
        << fixed(m.tpr_at_001pct, 4) << "\n";
  }
  if (!result.robustness.empty()) {
    out << "\nrobust accuracy:\n";
    for (const RobustnessRecord& r : result.robustness) {
      out << "  " << r.model << " " << r.method << " eps " << fixed(r.epsilon, 3) << ": "
          << fixed(r.accuracy * 100, 2) << " %\n";
    }
  }
  return out.str();
}

}  // namespace secateurs::host
