#include "host/graph_nodes.h"

#include <torch/torch.h>
#include <torch/version.h>

#include <algorithm>
#include <condition_variable>
#include <map>
#include <set>
#include <sstream>

#include "host/atomic_file.h"
#include "host/attack_run.h"
#include "host/checkpoint.h"
#include "host/data_checks.h"
#include "host/fingerprint.h"
#include "host/nearest.h"
#include "host/pruning.h"
#include "host/report.h"
#include "host/run_file.h"
#include "host/run_text.h"
#include "host/runtime_info.h"
#include "secateurs/attack.h"
#include "secateurs/defense.h"
#include "secateurs/random.h"
#include "secateurs/version.h"

namespace secateurs::host {

// ---------------------------------------------------------------------------------------
// The data cache: one entry per key, built once by whichever thread asks first while the
// others wait for it (a failed build is rethrown to every waiter, and retried by none).
struct DataCache::Entry {
  std::mutex mutex;
  std::condition_variable ready_signal;
  bool ready = false;
  std::shared_ptr<const void> value;
  std::exception_ptr error;
};

DataCache::DataCache() = default;
DataCache::~DataCache() = default;

std::shared_ptr<const void> DataCache::get(
    const std::string& key, const std::function<std::shared_ptr<const void>()>& make) {
  std::shared_ptr<Entry> entry;
  bool builder = false;
  {
    const std::lock_guard lock(mutex_);
    const auto found = std::find_if(entries_.begin(), entries_.end(),
                                    [&](const auto& e) { return e.first == key; });
    if (found != entries_.end()) {
      entry = found->second;
    } else {
      entry = std::make_shared<Entry>();
      entries_.emplace_back(key, entry);
      builder = true;
    }
  }
  if (builder) {
    std::shared_ptr<const void> value;
    std::exception_ptr error;
    try {
      value = make();
    } catch (...) {
      error = std::current_exception();
    }
    {
      const std::lock_guard lock(entry->mutex);
      entry->value = value;
      entry->error = error;
      entry->ready = true;
    }
    entry->ready_signal.notify_all();
  }
  std::unique_lock lock(entry->mutex);
  entry->ready_signal.wait(lock, [&] { return entry->ready; });
  if (entry->error) std::rethrow_exception(entry->error);
  return entry->value;
}

namespace {

// ---------------------------------------------------------------------------------------
// Recipes: the sections of an attack run file (host/attack_run.h) a node reads its
// settings from. A recipe is validated with the run file's own readers, so a misspelled
// key gets the same message (with the nearest name) in a script as in a YAML file.

struct Recipe {
  AttackRunConfig config;
  YAML::Node root;
};

// The YAML tree as one line with every map's keys sorted: what a key hashes, so the
// order a script lists its keys in never changes a key.
std::string normal_text(const YAML::Node& node) {
  if (!node || node.IsNull()) return "~";
  if (node.IsScalar()) return node.Scalar();
  std::string text;
  if (node.IsSequence()) {
    for (const YAML::Node& item : node) text += (text.empty() ? "" : ", ") + normal_text(item);
    return "[" + text + "]";
  }
  std::map<std::string, std::string> sorted;
  for (const auto& entry : node) sorted[entry.first.Scalar()] = normal_text(entry.second);
  for (const auto& [key, value] : sorted) text += (text.empty() ? "" : ", ") + key + ": " + value;
  return "{" + text + "}";
}

std::string plugin_version(const Registry& registry, const std::string& component) {
  const RegisteredComponent& found = registry.get(component);
  return found.library ? found.library->plugin_name + " " + found.library->plugin_version
                       : "built in";
}

std::shared_ptr<const Recipe> read_recipe(const NodeSpec& node, const Registry& registry) {
  const YAML::Node given = node.params["recipe"];
  if (!given || !given.IsMap()) {
    throw ConfigError(node.where + ": " + node.kind +
                      ": 'recipe' is required: a map of the run file's sections (seed, dataset, "
                      "model, split, trainer, pruning, shadows, ...)");
  }
  RunFile file(node.where, YAML::Clone(given));
  auto recipe = std::make_shared<Recipe>();
  recipe->config = read_attack_sections(file, registry, false);
  recipe->root = file.root();
  if (recipe->config.search) {
    throw ConfigError(node.where +
                      ": defense_search: a graph searches a defense's parameters with a sweep "
                      "(secateurs.grid) over prune nodes; remove defense_search from the recipe");
  }
  return recipe;
}

std::string section_text(const Recipe& recipe, const std::string& name) {
  return name + "=" + normal_text(recipe.root[name]) + "\n";
}

// ---------------------------------------------------------------------------------------
// Roles and the models' records.

struct RoleChoice {
  ModelRole role = ModelRole::Victim;
  std::int64_t index = 0;
};

RoleChoice read_role(const NodeSpec& node) {
  RoleChoice choice;
  const YAML::Node role = node.params["role"];
  const std::string name = role ? role.Scalar() : "victim";
  if (name == "victim") {
    choice.role = ModelRole::Victim;
  } else if (name == "shadow") {
    choice.role = ModelRole::Shadow;
  } else if (name == "online") {
    choice.role = ModelRole::Online;
  } else {
    throw ConfigError(node.where + ": " + node.kind + ": role: '" + name +
                      "' is not one of victim, shadow, online" +
                      did_you_mean(name, {"victim", "shadow", "online"}));
  }
  if (const YAML::Node index = node.params["index"]) {
    try {
      choice.index = index.as<std::int64_t>();
    } catch (const YAML::Exception&) {
      throw ConfigError(node.where + ": " + node.kind + ": index: expected an integer, found '" +
                        index.Scalar() + "'");
    }
    if (choice.index < 0) {
      throw ConfigError(node.where + ": " + node.kind + ": index: must be at least 0");
    }
  }
  return choice;
}

using Record = std::map<std::string, std::string>;

std::string format_record(const Record& record) {
  std::string text;
  for (const auto& [key, value] : record) text += key + "=" + value + "\n";
  return text;
}

Record read_record(const std::filesystem::path& path) {
  Record record;
  std::istringstream lines(read_file(path));
  std::string line;
  while (std::getline(lines, line)) {
    const std::size_t equals = line.find('=');
    if (equals != std::string::npos) record[line.substr(0, equals)] = line.substr(equals + 1);
  }
  return record;
}

// The rows of a CSV file a node wrote (no quoted fields), without its header.
std::vector<std::vector<std::string>> read_csv_rows(const std::filesystem::path& path) {
  std::vector<std::vector<std::string>> rows;
  std::istringstream lines(read_file(path));
  std::string line;
  std::getline(lines, line);
  while (std::getline(lines, line)) {
    std::vector<std::string> fields;
    std::istringstream split(line);
    for (std::string field; std::getline(split, field, ',');) fields.push_back(field);
    rows.push_back(std::move(fields));
  }
  return rows;
}

std::string number(double value) {
  std::ostringstream text;
  text.precision(10);
  text << value;
  return text.str();
}

// ---------------------------------------------------------------------------------------
// Configurations of the node kinds.

struct PlanConfig {
  std::shared_ptr<const Recipe> recipe;
};
struct ModelConfig {  // train and memorization nodes
  std::shared_ptr<const Recipe> recipe;
  RoleChoice role;
};
struct RecipeConfig {  // prune, robustness, evaluate
  std::shared_ptr<const Recipe> recipe;
};
struct AttackConfig {
  std::shared_ptr<const Recipe> recipe;
  ComponentChoice attack;
  std::string label;
};
struct ReportConfig {
  std::string title;
  std::vector<std::string> names;  // of its inputs, as the script names them
};

template <class Config>
const Config& config_of(const GraphNode& node) {
  return *static_cast<const Config*>(node.config.get());
}

// The plan's data: the dataset, the victim's sets and the attacker's view of them.
struct PlanData {
  RunData run;
  std::string fingerprint;  // data_fingerprint(run)
};

std::size_t input_of(const GraphNode& node, const std::string& slot, std::size_t k = 0) {
  for (const auto& [name, indices] : node.inputs) {
    if (name == slot && k < indices.size()) return indices[k];
  }
  throw Error(node.where + ": " + node.kind + ": no input '" + slot + "'");
}

const std::vector<std::size_t>& inputs_of(const GraphNode& node, const std::string& slot) {
  static const std::vector<std::size_t> none;
  for (const auto& [name, indices] : node.inputs) {
    if (name == slot) return indices;
  }
  return none;
}

// The train node a model comes from (a prune node's model input, or the node itself).
std::size_t origin_of(const Graph& graph, std::size_t model) {
  while (graph.nodes[model].kind == "prune") model = input_of(graph.nodes[model], "model");
  return model;
}

std::size_t plan_of(const Graph& graph, std::size_t model) {
  return input_of(graph.nodes[origin_of(graph, model)], "plan");
}

// SHA-256 of every example of the dataset: what the plan's results were computed from.
std::string data_fingerprint(const RunData& run) {
  Sha256 hash;
  hash_labeled_data(hash, run.pool);
  return to_hex(hash.finish());
}

// The plan's data, loaded once per run. A node's key says how its data were made (dataset
// component and parameters), not what they are; when a stored plan is reused, the data
// loaded now are checked against the fingerprint it recorded, so that results computed
// from other data (a dataset file replaced) are never mixed with new ones.
std::shared_ptr<const PlanData> plan_data(NodeRun& run, std::size_t plan) {
  const GraphNode& node = run.graph.nodes[plan];
  const AttackRunConfig& config = config_of<PlanConfig>(node).recipe->config;
  return std::static_pointer_cast<const PlanData>(run.data.get(node.key, [&] {
    auto data = std::make_shared<PlanData>();
    PhaseTimes times;
    data->run = load_run_data(config.run, run.registry, times, {}, config.attack.shadows);
    data->fingerprint = data_fingerprint(data->run);
    if (&run.node != &node) {
      const Record stored = read_record(run.artifact(plan) / "record.txt");
      const auto found = stored.find("data_sha256");
      if (found == stored.end() || found->second != data->fingerprint ||
          read_file(run.artifact(plan) / "plan.txt") != format_plan(*data->run.plan)) {
        throw DataError(
            node.where + ": plan '" + node.names.front() +
            "': the data loaded now differ from those the store's results of this plan were "
            "computed from (were the dataset files replaced?); run with another --store, or "
            "remove the old results with `secateurs cache gc --all`");
      }
    }
    return std::shared_ptr<const void>(data);
  }));
}

// The attacker's view of the plan's data with `population` samples for RMIA and the halves
// of `online` online shadows: each is drawn from the plan's seed, so the same for every
// node that asks for the same counts.
std::shared_ptr<const AttackerView> view_of(NodeRun& run, std::size_t plan, const PlanData& data,
                                            std::int64_t population, std::int64_t online) {
  const GraphNode& node = run.graph.nodes[plan];
  AttackRunConfig config = config_of<PlanConfig>(node).recipe->config;
  config.attack.population = population;
  const std::string key =
      node.key + " view " + std::to_string(population) + " " + std::to_string(online);
  return std::static_pointer_cast<const AttackerView>(run.data.get(key, [&] {
    return std::shared_ptr<const void>(
        std::make_shared<AttackerView>(attacker_view(config, data.run, online)));
  }));
}

// Online shadows train on halves of the victim's evaluation samples, drawn for the recipe's
// shadows.online of them: that count is part of what an online model is.
std::int64_t online_count(const GraphNode& origin) {
  const ModelConfig& config = config_of<ModelConfig>(origin);
  return config.role.role == ModelRole::Online ? config.recipe->config.attack.online_shadows : 0;
}

// The data of the model `model` trains on (its origin's role), and the view they come from
// (kept alive by `view`).
RoleData role_of(NodeRun& run, std::size_t model, const PlanData& data,
                 std::shared_ptr<const AttackerView>& view) {
  const GraphNode& origin = run.graph.nodes[origin_of(run.graph, model)];
  const std::size_t plan = input_of(origin, "plan");
  const RoleChoice& role = config_of<ModelConfig>(origin).role;
  view = view_of(run, plan, data, 0, online_count(origin));
  return role_data(config_of<PlanConfig>(run.graph.nodes[plan]).recipe->config, data.run, *view,
                   role.role, role.index);
}

// The model of a train or prune node, rebuilt from its recipe and loaded from its artifact.
std::shared_ptr<Model> load_model(NodeRun& run, std::size_t model, const PlanData& data) {
  const GraphNode& origin = run.graph.nodes[origin_of(run.graph, model)];
  const AttackRunConfig& recipe = config_of<ModelConfig>(origin).recipe->config;
  std::shared_ptr<Model> built = build_run_model(recipe.run, run.registry, data.run.shape);
  load_pruned_checkpoint(run.artifact(model) / "model.ckpt", *built);
  return built;
}

// Artifacts hold results only, never timings (those are the run's records.csv): the
// same node computed twice, on any number of threads, gives the same bytes.
Record model_record(const std::string& role, Model& model, const RoleData& data, double sparsity) {
  return {{"role", role},
          {"members", std::to_string(data.training.labels.size(0))},
          {"train_accuracy", number(evaluate(model, data.training).accuracy)},
          {"test_accuracy", number(evaluate(model, data.test).accuracy)},
          {"sparsity", number(sparsity)}};
}

void write(const std::filesystem::path& path, const std::string& text) {
  write_file_atomically(path, text);
}

// ---------------------------------------------------------------------------------------
// The kinds.

const std::vector<std::string> kModelKinds = {"train", "prune"};

NodeKind plan_kind() {
  NodeKind kind;
  kind.name = "plan";
  kind.doc =
      "the membership plan: the dataset, the victim's members, non-members and dev set, the "
      "shadows' halves and the attacker's population (recipe: seed, dataset, split, shadows)";
  kind.params = {"recipe"};
  kind.prepare = [](const NodeSpec& node, const Registry& registry) {
    auto config = std::make_shared<PlanConfig>();
    config->recipe = read_recipe(node, registry);
    const Recipe& recipe = *config->recipe;
    PreparedNode prepared;
    prepared.canonical =
        "seed=" + std::to_string(recipe.config.run.seed) + "\n" + section_text(recipe, "dataset") +
        section_text(recipe, "split") + "shadows=" + std::to_string(recipe.config.attack.shadows) +
        "\n" + "dataset plugin=" + plugin_version(registry, recipe.config.run.dataset.component) +
        "\n";
    prepared.label = "plan";
    prepared.config = config;
    return prepared;
  };
  kind.run = [](NodeRun& run) {
    const std::size_t self = static_cast<std::size_t>(&run.node - run.graph.nodes.data());
    const std::shared_ptr<const PlanData> data = plan_data(run, self);
    write(run.output / "plan.txt", format_plan(*data->run.plan));
    write(run.output / "record.txt",
          format_record({{"members", std::to_string(data->run.training.labels.size(0))},
                         {"non_members", std::to_string(data->run.test.labels.size(0))},
                         {"shadows", std::to_string(data->run.plan->shadow_in.size())},
                         {"data_sha256", data->fingerprint}}));
  };
  return kind;
}

void check_role_in_plan(const Graph& graph, const GraphNode& node, const Registry&) {
  const RoleChoice& role = config_of<ModelConfig>(node).role;
  const AttackRunConfig& plan =
      config_of<PlanConfig>(graph.nodes[input_of(node, "plan")]).recipe->config;
  const auto over = [&](const char* what, std::int64_t have) {
    if (role.index >= have) {
      throw ConfigError(node.where + ": " + node.kind + ": " + role_name(role.role, role.index) +
                        ": its plan has " + std::to_string(have) + " " + what +
                        " (recipe shadows." +
                        (role.role == ModelRole::Shadow ? "count" : "online") + ")");
    }
  };
  if (role.role == ModelRole::Shadow) over("shadows", plan.attack.shadows);
  if (role.role == ModelRole::Online) over("online shadows", plan.attack.online_shadows);
}

// Train and memorization nodes: a recipe and a role. Their key hashes the role, the dense
// recipe (model, trainer) and the model plugin's version, then what `extra` adds.
PreparedNode prepare_role_node(const NodeSpec& node, const Registry& registry,
                               const std::string& label,
                               const std::function<std::string(const Recipe&)>& extra) {
  auto config = std::make_shared<ModelConfig>();
  config->recipe = read_recipe(node, registry);
  config->role = read_role(node);
  const Recipe& recipe = *config->recipe;
  PreparedNode prepared;
  prepared.canonical =
      "role=" + role_name(config->role.role, config->role.index) + "\n" +
      section_text(recipe, "model") + section_text(recipe, "trainer") +
      "model plugin=" + plugin_version(registry, recipe.config.run.model.component) + "\n" +
      extra(recipe);
  if (config->role.role == ModelRole::Online) {
    prepared.canonical +=
        "online_shadows=" + std::to_string(recipe.config.attack.online_shadows) + "\n";
  }
  prepared.label = label + " " + role_name(config->role.role, config->role.index);
  prepared.config = config;
  return prepared;
}

NodeKind train_kind() {
  NodeKind kind;
  kind.name = "train";
  kind.doc =
      "a dense model of one role (victim, shadow i, online i) trained on that role's data of "
      "its plan (recipe: model, trainer)";
  kind.params = {"recipe", "role", "index"};
  kind.inputs = {{"plan", true, false, {"plan"}, "the membership plan"}};
  kind.prepare = [](const NodeSpec& node, const Registry& registry) {
    return prepare_role_node(node, registry, "train", [](const Recipe& recipe) -> std::string {
      // A rewinding schedule needs the weights of an early epoch, which only the dense
      // training sees: they are part of this node's artifact.
      if (!recipe.config.pruning || !recipe.config.pruning->schedule.rewind) return "";
      return "rewind_epoch=" + std::to_string(recipe.config.pruning->rewind_epoch) + "\n";
    });
  };
  kind.check_inputs = check_role_in_plan;
  kind.run = [](NodeRun& run) {
    const std::size_t self = static_cast<std::size_t>(&run.node - run.graph.nodes.data());
    const ModelConfig& config = config_of<ModelConfig>(run.node);
    const std::shared_ptr<const PlanData> data = plan_data(run, plan_of(run.graph, self));
    std::shared_ptr<const AttackerView> view;
    const RoleData role = role_of(run, self, *data, view);
    DenseModel dense = train_dense(config.recipe->config, run.registry, data->run.shape,
                                   role.training, role.dev, role.seed);
    Model& model = *dense.model;
    const CheckpointMetadata metadata = {{"role", role.role}};
    save_checkpoint(run.output / "model.ckpt", model, MaskSet{}, metadata);
    if (dense.rewind) {
      const NamedState trained = capture_state(model);
      restore_state(model, *dense.rewind);
      save_checkpoint(run.output / "rewind.ckpt", model, MaskSet{}, metadata);
      restore_state(model, trained);
    }
    Record record = model_record(role.role, model, role, 0.0);
    record["epochs"] = std::to_string(dense.fit.epochs.size());
    write(run.output / "record.txt", format_record(record));
  };
  return kind;
}

NodeKind memorization_kind() {
  NodeKind kind;
  kind.name = "memorization";
  kind.doc =
      "memorization scores of one role's training set, from K fold models trained with the "
      "recipe's dense recipe (recipe: model, trainer, memorization.folds)";
  kind.params = {"recipe", "role", "index"};
  kind.inputs = {{"plan", true, false, {"plan"}, "the membership plan"}};
  kind.prepare = [](const NodeSpec& node, const Registry& registry) {
    return prepare_role_node(node, registry, "memorization", [](const Recipe& recipe) {
      return "folds=" + std::to_string(recipe.config.memorization.folds) + "\n";
    });
  };
  kind.check_inputs = check_role_in_plan;
  kind.run = [](NodeRun& run) {
    const ModelConfig& config = config_of<ModelConfig>(run.node);
    const std::size_t plan = input_of(run.node, "plan");
    const std::shared_ptr<const PlanData> data = plan_data(run, plan);
    const AttackRunConfig& plan_recipe =
        config_of<PlanConfig>(run.graph.nodes[plan]).recipe->config;
    const std::shared_ptr<const AttackerView> view =
        view_of(run, plan, *data, 0, online_count(run.node));
    const RoleData role =
        role_data(plan_recipe, data->run, *view, config.role.role, config.role.index);
    MemorizationSettings settings = config.recipe->config.memorization;
    settings.cache.clear();  // the artifact store is the cache
    const std::vector<MemorizationResult> results = compute_memorization(
        {{role.role, &role.training, role.seed}},
        fold_trainer(config.recipe->config.run, run.registry, data->run.shape),
        memorization_recipe(config.recipe->config.run, run.registry), settings, 1);
    const at::Tensor scores = results.at(0).scores.normalized.to(torch::kFloat64).contiguous();
    std::ostringstream text;
    text.precision(17);
    for (std::int64_t i = 0; i < scores.size(0); ++i) text << scores.data_ptr<double>()[i] << '\n';
    write(run.output / "scores.txt", text.str());
  };
  return kind;
}

at::Tensor read_scores(const std::filesystem::path& path) {
  std::istringstream lines(read_file(path));
  std::vector<double> values;
  std::string line;
  while (std::getline(lines, line)) {
    if (!line.empty()) values.push_back(std::stod(line));  // "nan" reads as NaN
  }
  return torch::tensor(values, torch::kFloat64);
}

NodeKind prune_kind() {
  NodeKind kind;
  kind.name = "prune";
  kind.doc =
      "the recipe's pruning schedule (and defense) run on a trained model, fine-tuning on the "
      "model's own training set (recipe: pruning)";
  kind.params = {"recipe"};
  kind.inputs = {{"model", true, false, kModelKinds,
                  "the model to prune: a dense one, or a pruned one to prune further"},
                 {"memorization",
                  false,
                  false,
                  {"memorization"},
                  "the scores of the model's training set, for a defense that needs them"}};
  kind.prepare = [](const NodeSpec& node, const Registry& registry) {
    auto config = std::make_shared<RecipeConfig>();
    config->recipe = read_recipe(node, registry);
    const AttackRunConfig& recipe = config->recipe->config;
    if (!recipe.pruning) {
      throw ConfigError(node.where + ": prune: the recipe has no 'pruning' section");
    }
    PreparedNode prepared;
    prepared.canonical = section_text(*config->recipe, "pruning") + "pruner plugin=" +
                         plugin_version(registry, recipe.pruning->pruner.component) + "\n";
    if (recipe.pruning->defense) {
      prepared.canonical +=
          "defense plugin=" + plugin_version(registry, recipe.pruning->defense->component) + "\n";
    }
    prepared.label = "prune";
    prepared.config = config;
    return prepared;
  };
  kind.check_inputs = [](const Graph& graph, const GraphNode& node, const Registry& registry) {
    const AttackRunConfig& recipe = config_of<RecipeConfig>(node).recipe->config;
    const std::vector<std::size_t>& scores = inputs_of(node, "memorization");
    const GraphNode& model = graph.nodes[origin_of(graph, input_of(node, "model"))];
    const RoleChoice& role = config_of<ModelConfig>(model).role;
    if (recipe.pruning->schedule.rewind) {
      // Only the dense training sees the weights of an early epoch: it keeps those its own
      // recipe rewinds to.
      const GraphNode& input = graph.nodes[input_of(node, "model")];
      const AttackRunConfig& dense = config_of<ModelConfig>(model).recipe->config;
      const int epoch = recipe.pruning->rewind_epoch;
      if (input.kind != "train" || !dense.pruning || !dense.pruning->schedule.rewind ||
          dense.pruning->rewind_epoch != epoch) {
        throw ConfigError(node.where + ": prune: the schedule rewinds to epoch " +
                          std::to_string(epoch) + ", so its model must be a train node whose " +
                          "recipe rewinds to epoch " + std::to_string(epoch) + " too; '" +
                          input.names.front() + "' (" + input.where + ") keeps no such weights");
      }
    }
    if (scores.empty() && defense_needs_scores(recipe, registry)) {
      throw ConfigError(node.where + ": prune: " + recipe.pruning->defense->component +
                        " needs memorization scores: give the node a 'memorization' input");
    }
    if (!scores.empty()) {
      const RoleChoice& scored = config_of<ModelConfig>(graph.nodes[scores[0]]).role;
      if (scored.role != role.role || scored.index != role.index ||
          input_of(graph.nodes[scores[0]], "plan") != input_of(model, "plan")) {
        throw ConfigError(node.where + ": prune: memorization: the scores are of " +
                          role_name(scored.role, scored.index) + "'s training set, the model is " +
                          role_name(role.role, role.index) + "'s");
      }
    }
  };
  kind.run = [](NodeRun& run) {
    const std::size_t self = static_cast<std::size_t>(&run.node - run.graph.nodes.data());
    const AttackRunConfig& recipe = config_of<RecipeConfig>(run.node).recipe->config;
    const std::size_t source = input_of(run.node, "model");
    const std::shared_ptr<const PlanData> data = plan_data(run, plan_of(run.graph, self));
    std::shared_ptr<const AttackerView> view;
    const RoleData role = role_of(run, self, *data, view);
    DenseModel dense;
    dense.model = load_model(run, source, *data);
    const std::filesystem::path rewind = run.artifact(origin_of(run.graph, source)) / "rewind.ckpt";
    if (std::filesystem::exists(rewind) && run.graph.nodes[source].kind == "train") {
      const NamedState trained = capture_state(*dense.model);
      load_checkpoint(rewind, *dense.model);
      dense.rewind = capture_state(*dense.model);
      restore_state(*dense.model, trained);
    }
    DefenseData defense_data;
    defense_data.reference = role.reference;
    const std::vector<std::size_t>& scores = inputs_of(run.node, "memorization");
    if (!scores.empty()) {
      defense_data.memorization = read_scores(run.artifact(scores[0]) / "scores.txt");
    }
    if (recipe.pruning->defense && !defense_data.memorization.defined() &&
        defense_needs_scores(recipe, run.registry)) {
      throw ConfigError(run.node.where + ": prune: " + recipe.pruning->defense->component +
                        " needs memorization scores: give the node a 'memorization' input");
    }
    const TrainedModel trained =
        prune_dense(recipe, run.registry, data->run.shape, std::move(dense), role.training,
                    role.dev, role.seed, defense_data);
    Model& model = *trained.model;
    CheckpointMetadata metadata = {{"role", role.role}};
    if (!trained.schedule->removed.empty()) metadata["channels"] = channel_sizes_text(model);
    save_checkpoint(run.output / "model.ckpt", model, trained.schedule->masks, metadata);
    write(run.output / "record.txt",
          format_record(model_record(role.role, model, role, final_sparsity(trained))));
    std::ostringstream rounds, defense;
    rounds << "round,requested_sparsity,sparsity,test_accuracy,kept\n";
    for (const RoundRecord& r : trained.schedule->rounds) {
      rounds << r.round << ',' << number(r.requested_sparsity) << ',' << number(r.sparsity) << ','
             << number(r.test_accuracy) << ',' << (r.kept ? 1 : 0) << '\n';
    }
    defense << "measurement,value\n";
    for (const auto& [name, value] : trained.defense_measurements) {
      defense << name << ',' << number(value) << '\n';
    }
    write(run.output / "rounds.csv", rounds.str());
    write(run.output / "defense.csv", defense.str());
    run.status("sparsity " + fixed(final_sparsity(trained), 3));
  };
  return kind;
}

NodeKind attack_kind() {
  NodeKind kind;
  kind.name = "attack";
  kind.doc =
      "one membership-inference attack on the victim's members and non-members, calibrated on "
      "the shadows (attack: {component, params}; recipe: metrics)";
  kind.params = {"recipe", "attack"};
  kind.inputs = {{"target", true, false, kModelKinds, "the victim"},
                 {"shadows", false, true, kModelKinds, "shadow 0, 1, ... in order"},
                 {"online", false, true, kModelKinds, "online shadow 0, 1, ... in order"}};
  kind.prepare = [](const NodeSpec& node, const Registry& registry) {
    auto config = std::make_shared<AttackConfig>();
    config->recipe = read_recipe(node, registry);
    const YAML::Node attack = node.params["attack"];
    if (!attack) {
      throw ConfigError(node.where +
                        ": attack: 'attack' is required: {component = \"attack.NAME\", params = "
                        "{...}}");
    }
    YAML::Node root(YAML::NodeType::Map);
    root["attack"] = YAML::Clone(attack);
    RunFile file(node.where, root);
    config->attack = file.component(root["attack"], "attack", Kind::Attack, registry);
    file.throw_if_any();
    config->label = attack_label(config->attack, registry);
    PreparedNode prepared;
    prepared.canonical =
        "attack=" + normal_text(attack) + "\n" + section_text(*config->recipe, "metrics") +
        "population=" + std::to_string(config->recipe->config.attack.population) + "\n" +
        "attack plugin=" + plugin_version(registry, config->attack.component) + "\n";
    prepared.label = "attack " + config->label;
    prepared.config = config;
    return prepared;
  };
  kind.check_inputs = [](const Graph& graph, const GraphNode& node, const Registry& registry) {
    const std::size_t target = input_of(node, "target");
    const auto role_at = [&](std::size_t model) {
      return config_of<ModelConfig>(graph.nodes[origin_of(graph, model)]).role;
    };
    const std::size_t plan = plan_of(graph, target);
    if (role_at(target).role != ModelRole::Victim) {
      throw ConfigError(node.where + ": attack: target: " + graph.nodes[target].label +
                        " is not the victim");
    }
    const auto check_list = [&](const char* slot, ModelRole expected) {
      const std::vector<std::size_t>& models = inputs_of(node, slot);
      for (std::size_t k = 0; k < models.size(); ++k) {
        const RoleChoice role = role_at(models[k]);
        if (role.role != expected || role.index != static_cast<std::int64_t>(k)) {
          throw ConfigError(node.where + ": attack: " + slot + "[" + std::to_string(k + 1) +
                            "]: expected " + role_name(expected, static_cast<std::int64_t>(k)) +
                            ", found " + role_name(role.role, role.index));
        }
        if (plan_of(graph, models[k]) != plan) {
          throw ConfigError(node.where + ": attack: " + slot + "[" + std::to_string(k + 1) +
                            "]: from another plan than the target");
        }
      }
      return static_cast<std::int64_t>(models.size());
    };
    const std::int64_t shadows = check_list("shadows", ModelRole::Shadow);
    const std::int64_t online = check_list("online", ModelRole::Online);
    const AttackConfig& config = config_of<AttackConfig>(node);
    const std::shared_ptr<Attack> attack = registry.create<Attack>(
        split_qualified_name(config.attack.component).second, config.attack.params);
    const auto too_few = [&](const char* what, std::int64_t have, int need) {
      if (have >= need) return;
      throw ConfigError(node.where + ": attack: " + config.label + " needs at least " +
                        std::to_string(need) + " " + what + ", the node has " +
                        std::to_string(have));
    };
    too_few("shadows", shadows, attack->minimum_shadows());
    too_few("online shadows", attack->needs_online_shadows() ? online : 0,
            attack->minimum_online_shadows());
  };
  kind.run = [](NodeRun& run) {
    const AttackConfig& config = config_of<AttackConfig>(run.node);
    const std::size_t target = input_of(run.node, "target");
    const std::size_t plan = plan_of(run.graph, target);
    const std::shared_ptr<const PlanData> data = plan_data(run, plan);
    const AttackRunConfig& plan_recipe =
        config_of<PlanConfig>(run.graph.nodes[plan]).recipe->config;
    const std::shared_ptr<Attack> attack = run.registry.create<Attack>(
        split_qualified_name(config.attack.component).second, config.attack.params);
    std::vector<std::shared_ptr<Model>> shadows, online;
    for (const std::size_t s : inputs_of(run.node, "shadows")) {
      shadows.push_back(load_model(run, s, *data));
    }
    for (const std::size_t s : inputs_of(run.node, "online")) {
      online.push_back(load_model(run, s, *data));
    }
    if (!attack->needs_online_shadows()) online.clear();
    const std::shared_ptr<Model> victim = load_model(run, target, *data);
    // The online shadows' halves as their recipe drew them; RMIA's population as this
    // node's recipe asks.
    const std::vector<std::size_t>& online_nodes = inputs_of(run.node, "online");
    const std::int64_t online_drawn =
        online_nodes.empty() ? 0
                             : online_count(run.graph.nodes[origin_of(run.graph, online_nodes[0])]);
    const AttackSettings& settings = config.recipe->config.attack;
    const std::shared_ptr<const AttackerView> view =
        view_of(run, plan, *data, settings.population, online_drawn);
    const AttackInputs inputs = observe_models(*victim, shadows, online, data->run, *view);
    const AttackMetrics metrics = run_one_attack(*attack, config.label, inputs, *view, settings,
                                                 attack_seed(plan_recipe.run.seed, config.label));
    write(run.output / "metrics.txt",
          format_record({{"attack", config.label},
                         {"balanced_accuracy", number(metrics.balanced_accuracy)},
                         {"auc", number(metrics.auc.estimate)},
                         {"auc_low", number(metrics.auc.low)},
                         {"auc_high", number(metrics.auc.high)},
                         {"tpr_at_1pct", number(metrics.tpr_at_1pct.estimate)},
                         {"tpr_at_1pct_low", number(metrics.tpr_at_1pct.low)},
                         {"tpr_at_1pct_high", number(metrics.tpr_at_1pct.high)},
                         {"tpr_at_0.1pct", number(metrics.tpr_at_01pct)},
                         {"tpr_at_0.01pct", number(metrics.tpr_at_001pct)}}));
    std::ostringstream scores, roc;
    scores.precision(17);
    roc.precision(17);
    scores << "sample,label,is_member,score,decision\n";
    const at::Tensor score = metrics.result.scores.to(torch::kFloat64).contiguous();
    const at::Tensor decision = metrics.result.decisions.to(torch::kBool).contiguous();
    const AttackEvaluationSet& evaluation = view->evaluation;
    for (std::int64_t i = 0; i < score.size(0); ++i) {
      scores << evaluation.indices[i].item<std::int64_t>() << ','
             << view->target.labels[i].item<std::int64_t>() << ','
             << (evaluation.is_member[i].item<bool>() ? 1 : 0) << ',' << score.data_ptr<double>()[i]
             << ',' << (decision.data_ptr<bool>()[i] ? 1 : 0) << '\n';
    }
    roc << "threshold,fpr,tpr\n";
    for (std::size_t k = 0; k < metrics.roc.fpr.size(); ++k) {
      roc << metrics.roc.thresholds[k] << ',' << metrics.roc.fpr[k] << ',' << metrics.roc.tpr[k]
          << '\n';
    }
    write(run.output / "scores.csv", scores.str());
    write(run.output / "roc.csv", roc.str());
    run.status("AUC " + fixed(metrics.auc.estimate, 4));
  };
  return kind;
}

NodeKind robustness_kind() {
  NodeKind kind;
  kind.name = "robustness";
  kind.doc =
      "FGSM and PGD accuracy of a model on its non-members (recipe: robustness.epsilons, "
      "samples, pgd_steps, ...)";
  kind.params = {"recipe"};
  kind.inputs = {{"model", true, false, kModelKinds, "the model attacked"}};
  kind.prepare = [](const NodeSpec& node, const Registry& registry) {
    auto config = std::make_shared<RecipeConfig>();
    config->recipe = read_recipe(node, registry);
    if (config->recipe->config.robustness.epsilons.empty()) {
      throw ConfigError(node.where + ": robustness: the recipe's robustness.epsilons is empty");
    }
    PreparedNode prepared;
    prepared.canonical = section_text(*config->recipe, "robustness");
    prepared.label = "robustness";
    prepared.config = config;
    return prepared;
  };
  kind.run = [](NodeRun& run) {
    const RobustnessSettings& settings =
        config_of<RecipeConfig>(run.node).recipe->config.robustness;
    const std::size_t model_node = input_of(run.node, "model");
    const std::size_t plan = plan_of(run.graph, model_node);
    const std::shared_ptr<const PlanData> data = plan_data(run, plan);
    std::shared_ptr<const AttackerView> view;
    const RoleData role = role_of(run, model_node, *data, view);
    const std::shared_ptr<Model> model = load_model(run, model_node, *data);
    const std::string label =
        role.role + (run.graph.nodes[model_node].kind == "prune" ? " pruned" : " dense");
    const auto records = measure_robustness(
        *model, label, settings, role.test,
        config_of<PlanConfig>(run.graph.nodes[plan]).recipe->config.run.seed, run.status);
    std::ostringstream csv;
    csv << "model,method,epsilon,accuracy\n";
    for (const RobustnessRecord& r : records) {
      csv << r.model << ',' << r.method << ',' << number(r.epsilon) << ',' << number(r.accuracy)
          << '\n';
    }
    write(run.output / "robustness.csv", csv.str());
  };
  return kind;
}

NodeKind evaluate_kind() {
  NodeKind kind;
  kind.name = "evaluate";
  kind.doc = "accuracy and loss of a model on its members and on its non-members";
  kind.params = {};
  kind.inputs = {{"model", true, false, kModelKinds, "the model evaluated"}};
  kind.prepare = [](const NodeSpec&, const Registry&) {
    PreparedNode prepared;
    prepared.label = "evaluate";
    prepared.config = std::make_shared<int>(0);
    return prepared;
  };
  kind.run = [](NodeRun& run) {
    const std::size_t model_node = input_of(run.node, "model");
    const std::shared_ptr<const PlanData> data = plan_data(run, plan_of(run.graph, model_node));
    std::shared_ptr<const AttackerView> view;
    const RoleData role = role_of(run, model_node, *data, view);
    const std::shared_ptr<Model> model = load_model(run, model_node, *data);
    const Evaluation members = evaluate(*model, role.training);
    const Evaluation non_members = evaluate(*model, role.test);
    write(run.output / "evaluation.txt",
          format_record({{"model", run.graph.nodes[model_node].label},
                         {"member_accuracy", number(members.accuracy)},
                         {"member_loss", number(members.loss)},
                         {"non_member_accuracy", number(non_members.accuracy)},
                         {"non_member_loss", number(non_members.loss)}}));
  };
  return kind;
}

// The recipe a node was declared with; null for a report.
std::shared_ptr<const Recipe> recipe_of(const GraphNode& node) {
  if (node.kind == "plan") return config_of<PlanConfig>(node).recipe;
  if (node.kind == "train" || node.kind == "memorization") {
    return config_of<ModelConfig>(node).recipe;
  }
  if (node.kind == "prune" || node.kind == "robustness") {
    return config_of<RecipeConfig>(node).recipe;
  }
  if (node.kind == "attack") return config_of<AttackConfig>(node).recipe;
  return nullptr;
}

ReportModel report_model_from(const NodeRun& run, std::size_t index,
                              const std::function<std::string(std::size_t)>& name_of,
                              const std::filesystem::path& dir) {
  const GraphNode& node = run.graph.nodes[index];
  const Record record = read_record(dir / "record.txt");
  ReportModel model;
  model.name = name_of(index);
  model.label = node.label;
  model.role = record.at("role");
  model.members = record.at("members");
  model.train_accuracy = record.at("train_accuracy");
  model.test_accuracy = record.at("test_accuracy");
  model.sparsity = record.at("sparsity");
  const YAML::Node& root = recipe_of(node)->root;
  const auto stops_early = [](const YAML::Node& trainer) {
    return trainer && trainer["patience"] && trainer["patience"].as<int>() > 0;
  };
  bool early = stops_early(root["trainer"]);
  if (node.kind == "prune") {
    const YAML::Node pruning = root["pruning"];
    const YAML::Node schedule = pruning["schedule"];
    const std::string kind =
        schedule && schedule["schedule"] ? schedule["schedule"].Scalar() : "iterative";
    // round,requested_sparsity,sparsity,test_accuracy,kept
    for (const auto& row : read_csv_rows(dir / "rounds.csv")) {
      if (row.size() >= 5 && row[4] == "1" && std::stoi(row[0]) >= 1) ++model.rounds;
    }
    const YAML::Node pruner = pruning["pruner"];
    model.pruner = split_qualified_name(pruner["component"].Scalar()).second;
    model.pruning =
        model.pruner + ", " +
        (kind == "one_shot" ? std::string("one-shot") : kind + " x" + std::to_string(model.rounds));
    const YAML::Node defense = pruning["defense"];
    if (defense) model.defense = split_qualified_name(defense["component"].Scalar()).second;
    // The dense model it was pruned from (through earlier prune nodes).
    std::size_t source = input_of(node, "model");
    while (run.graph.nodes[source].kind == "prune")
      source = input_of(run.graph.nodes[source], "model");
    model.dense = name_of(source);
    early = early || stops_early(pruning["finetune"]);
  }
  if (model.defense == "none" && early) model.defense = "early stopping";
  return model;
}

// A model node (train or prune) as a report shows it. Recipes are shared between worker
// threads, so they are read through const nodes only (a non-const lookup would insert).
ReportModel report_model(const NodeRun& run, std::size_t index,
                         const std::function<std::string(std::size_t)>& name_of) {
  const GraphNode& node = run.graph.nodes[index];
  const std::filesystem::path dir = run.artifact(index);
  try {
    return report_model_from(run, index, name_of, dir);
  } catch (const std::out_of_range& e) {
    throw Error("report: " + node.names.front() + ": " + dir.string() +
                " lacks a field the report needs (" + e.what() + ")");
  } catch (const std::invalid_argument& e) {
    throw Error("report: " + node.names.front() + ": " + dir.string() +
                " holds a field that is not a number (" + e.what() + ")");
  }
}

// What every report of a run shows of its provenance beyond what the command line gives.
std::vector<std::pair<std::string, std::string>> run_provenance(const Graph& graph,
                                                                const Registry& registry) {
  std::set<std::uint64_t> seeds;
  for (const GraphNode& node : graph.nodes) {
    if (node.kind == "plan") seeds.insert(config_of<PlanConfig>(node).recipe->config.run.seed);
  }
  std::string seed_list, plugins;
  for (const std::uint64_t seed : seeds) {
    seed_list += (seed_list.empty() ? "" : ", ") + std::to_string(seed);
  }
  std::set<std::string> libraries;
  for (const RegisteredComponent* component : registry.components()) {
    libraries.insert(component->library->plugin_name + " " + component->library->plugin_version);
  }
  for (const std::string& library : libraries) plugins += (plugins.empty() ? "" : ", ") + library;
  const BlasInfo blas = loaded_blas();
  std::string blas_text = blas.library.empty()
                              ? std::string("none loaded")
                              : std::filesystem::path(blas.library).filename().string();
  if (blas.is_openblas) blas_text += " (OpenBLAS, " + blas.core + ")";
  return {{"graph", graph.source + " (" + std::to_string(graph.nodes.size()) + " nodes)"},
          {"seeds", seed_list.empty() ? "-" : seed_list},
          {"secateurs", SECATEURS_VERSION_STRING},
          {"LibTorch", TORCH_VERSION},
          {"BLAS", blas_text},
          {"build fingerprint", host_fingerprint()},
          {"plugins", plugins}};
}

NodeKind report_kind() {
  NodeKind kind;
  kind.name = "report";
  kind.doc =
      "the report of the models, attacks, robustness and evaluations it is given (index.html, "
      "summary.txt, CSV tables, gnuplot figures), written to <output>/<its name> at every run "
      "from the stored results";
  kind.params = {"title"};
  kind.inputs = {{"of",
                  true,
                  true,
                  {"train", "prune", "attack", "robustness", "evaluate", "plan", "memorization"},
                  "the nodes whose results it tabulates"}};
  kind.prepare = [](const NodeSpec& node, const Registry&) {
    auto config = std::make_shared<ReportConfig>();
    config->title = node.params["title"] ? node.params["title"].Scalar() : "secateurs report";
    for (const auto& [slot, names] : node.inputs) {
      if (slot == "of") config->names = names;
    }
    PreparedNode prepared;
    // Not stored, so never reused; the name keeps two reports of the same nodes apart.
    prepared.canonical = "name=" + node.name + "\ntitle=" + config->title + "\n";
    prepared.label = "report " + config->title;
    prepared.config = config;
    return prepared;
  };
  kind.stored = false;
  kind.run = [](NodeRun& run) {
    const ReportConfig& config = config_of<ReportConfig>(run.node);
    ReportContent content;
    content.title = config.title;
    if (run.provenance != nullptr) content.provenance = *run.provenance;
    for (auto& entry : run_provenance(run.graph, run.registry)) {
      content.provenance.push_back(std::move(entry));
    }
    std::map<std::string, std::vector<std::string>> recipes;  // YAML -> node names
    std::vector<std::string> recipe_order;
    const auto note_recipe = [&](std::size_t index, const std::string& name) {
      const std::shared_ptr<const Recipe> recipe = recipe_of(run.graph.nodes[index]);
      if (!recipe) return;
      YAML::Emitter yaml;
      yaml << recipe->root;
      const std::string text = yaml.c_str();
      if (recipes.count(text) == 0) recipe_order.push_back(text);
      recipes[text].push_back(name);
    };
    const std::vector<std::size_t>& inputs = inputs_of(run.node, "of");
    // One name per node, wherever it appears (a model, an attack's target): the report's
    // own name for it when it is one of its inputs, else its first declared name.
    std::map<std::size_t, std::string> names;
    for (std::size_t k = 0; k < inputs.size(); ++k) {
      names.emplace(inputs[k], k < config.names.size() ? config.names[k]
                                                       : run.graph.nodes[inputs[k]].names.front());
    }
    const auto name_of = [&](std::size_t index) {
      const auto found = names.find(index);
      return found != names.end() ? found->second : run.graph.nodes[index].names.front();
    };
    // A model is read once, however many attacks and robustness nodes name it.
    std::map<std::size_t, ReportModel> models;
    const auto model_at = [&](std::size_t index) -> const ReportModel& {
      auto found = models.find(index);
      if (found == models.end()) {
        found = models.emplace(index, report_model(run, index, name_of)).first;
      }
      return found->second;
    };
    std::set<std::size_t> seen;
    for (std::size_t k = 0; k < inputs.size(); ++k) {
      const std::size_t index = inputs[k];
      if (!seen.insert(index).second) continue;  // given twice, under two names: once
      const GraphNode& node = run.graph.nodes[index];
      const std::filesystem::path dir = run.artifact(index);
      const std::string name = name_of(index);
      if (node.kind == "train" || node.kind == "prune") {
        content.models.push_back(model_at(index));
        note_recipe(index, name);
      } else if (node.kind == "attack") {
        ReportAttack attack;
        attack.name = name;
        const Record metrics = read_record(dir / "metrics.txt");
        attack.attack = metrics.at("attack");
        for (const auto& [key, value] : metrics) {
          if (key != "attack") attack.metrics.emplace_back(key, value);
        }
        attack.roc = dir / "roc.csv";
        const std::size_t target = input_of(node, "target");
        attack.target = model_at(target);
        content.attacks.push_back(std::move(attack));
        note_recipe(index, name);
      } else if (node.kind == "robustness") {
        const std::size_t model = input_of(node, "model");
        const ReportModel& measured = model_at(model);
        // model,method,epsilon,accuracy
        for (const auto& row : read_csv_rows(dir / "robustness.csv")) {
          if (row.size() != 4) continue;
          content.robustness.push_back({name, measured, row[0], row[1], row[2], row[3]});
        }
      } else if (node.kind == "evaluate") {
        const Record r = read_record(dir / "evaluation.txt");
        content.evaluations.push_back(
            {name, r.at("model"), r.at("member_accuracy"), r.at("non_member_accuracy")});
      }
    }
    for (const std::string& text : recipe_order) content.recipes.emplace_back(text, recipes[text]);
    write_report(content, run.output, run.status);
  };
  return kind;
}

}  // namespace

bool defense_needs_scores(const AttackRunConfig& config, const Registry& registry) {
  if (!config.pruning || !config.pruning->defense) return false;
  return registry
      .create<Defense>(split_qualified_name(config.pruning->defense->component).second,
                       config.pruning->defense->params)
      ->needs_memorization();
}

std::vector<std::pair<std::string, double>> node_metrics(const GraphNode& node,
                                                         const std::filesystem::path& folder) {
  std::vector<std::pair<std::string, double>> metrics;
  const auto add = [&](const std::string& name, const std::string& text) {
    char* end = nullptr;
    const double value = std::strtod(text.c_str(), &end);
    if (!text.empty() && end != nullptr && *end == '\0') metrics.emplace_back(name, value);
  };
  const auto add_record = [&](const std::filesystem::path& file) {
    for (const auto& [key, value] : read_record(file)) add(key, value);
  };
  if (node.kind == "train" || node.kind == "prune") {
    add_record(folder / "record.txt");
  }
  if (node.kind == "prune") {
    // round,requested_sparsity,sparsity,test_accuracy,kept
    for (const auto& row : read_csv_rows(folder / "rounds.csv")) {
      if (row.size() < 5) continue;
      add("round " + row[0] + " sparsity", row[2]);
      add("round " + row[0] + " test_accuracy", row[3]);
      add("round " + row[0] + " kept", row[4]);
    }
    for (const auto& row : read_csv_rows(folder / "defense.csv")) {
      if (row.size() == 2) add("defense " + row[0], row[1]);
    }
  } else if (node.kind == "attack") {
    add_record(folder / "metrics.txt");
  } else if (node.kind == "robustness") {
    // model,method,epsilon,accuracy
    for (const auto& row : read_csv_rows(folder / "robustness.csv")) {
      if (row.size() == 4) add(row[1] + " eps " + row[2] + " accuracy", row[3]);
    }
  } else if (node.kind == "evaluate") {
    add_record(folder / "evaluation.txt");
  }
  return metrics;
}

std::optional<std::uint64_t> node_seed(const Graph& graph, std::size_t index) {
  for (;;) {
    const GraphNode& node = graph.nodes[index];
    if (node.kind == "plan") return config_of<PlanConfig>(node).recipe->config.run.seed;
    if (node.inputs.empty() || node.inputs.front().second.empty()) return std::nullopt;
    index = node.inputs.front().second.front();
  }
}

const std::vector<NodeKind>& node_kinds() {
  static const std::vector<NodeKind> kinds = {plan_kind(),     train_kind(),  memorization_kind(),
                                              prune_kind(),    attack_kind(), robustness_kind(),
                                              evaluate_kind(), report_kind()};
  return kinds;
}

const NodeKind* find_node_kind(const std::string& name) {
  for (const NodeKind& kind : node_kinds()) {
    if (kind.name == name) return &kind;
  }
  return nullptr;
}

}  // namespace secateurs::host
