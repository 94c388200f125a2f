// Experiment graphs end to end on synthetic data: scripts to graphs, validation messages,
// the store as a cache, --jobs independence, and agreement with `secateurs attack`.
#include <fstream>
#include <map>
#include <set>

#include "host/artifact_store.h"
#include "host/attack_run.h"
#include "host/graph.h"
#include "host/graph_script.h"
#include "support/built_plugins.h"
#include "support/messages.h"
#include "support/temp_dir.h"

#define CHECK_CONTAINS(text, part) \
  CHECK_MESSAGE(::secateurs::testing::contains((text), (part)), (text))

namespace secateurs {
namespace {

host::ScriptOptions script_options() {
  host::ScriptOptions options;
  options.module_dirs = {SECATEURS_SCRIPT_DIR};
  return options;
}

host::GraphSpec graph_of(const std::string& lua) {
  return host::graph_from_lua(lua, "exp.lua", testing::built_plugins(), script_options());
}

// The recipe of the tests: small enough that a whole protocol trains in seconds.
const char* const kRecipe = R"(
local s = require "secateurs"
local recipe = s.recipe{
  seed = 3,
  dataset = { component = "dataset.synthetic_blobs",
              params = { samples = 900, classes = 3, features = 6 } },
  model = { component = "model.mlp", params = { hidden = { 24 } } },
  split = { mode = "membership", members = 120, dev = 30 },
  trainer = { epochs = 4, batch_size = 32 },
  pruning = { pruner = { component = "pruner.magnitude" },
              schedule = { schedule = "iterative", sparsity = 0.5, rounds = 2 },
              finetune = { epochs = 2, batch_size = 32 } },
  shadows = { count = 4, online = 4, population = 100 },
  metrics = { bootstrap = 0 },
}
)";

host::GraphRunResult run(const host::GraphSpec& spec, const std::filesystem::path& store_root,
                         int jobs, const std::filesystem::path& output = {}) {
  const host::Graph graph = host::validate_graph(spec, testing::built_plugins());
  host::ArtifactStore store(store_root);
  host::GraphRunOptions options;
  options.jobs = jobs;
  options.output = output;
  return host::run_graph(graph, testing::built_plugins(), store, options);
}

std::map<std::string, std::string> statuses(const host::GraphRunResult& result) {
  std::map<std::string, std::string> by_name;
  for (const host::NodeRecord& record : result.records) by_name[record.name] = record.status;
  return by_name;
}

TEST_CASE("graph: a misspelled recipe key fails at its script line, before anything runs") {
  const std::string script = std::string(kRecipe) + R"(
local r2 = s.with(recipe, { trainer = { epocs = 3 } })
)";
  // The `with` call is on line 17 of the script.
  const std::string message = testing::message_of<ConfigError>([&] { graph_of(script); });
  CHECK_CONTAINS(message, "exp.lua:17:");
  CHECK_CONTAINS(message, "epocs");
  CHECK_CONTAINS(message, "did you mean 'epochs'");
}

TEST_CASE("graph: a misspelled node parameter or input fails at its line") {
  const std::string script = std::string(kRecipe) + R"(
local p = s.protocol(recipe)
s.attack{ target = p.victim, shadows = p.shadows, recipe = recipe,
          atack = { component = "attack.confidence" } }
)";
  const std::string message = testing::message_of<ConfigError>([&] { graph_of(script); });
  CHECK_CONTAINS(message, "exp.lua:18:");
  CHECK_CONTAINS(message, "unknown parameter 'atack'");
  CHECK_CONTAINS(message, "did you mean 'attack'");

  const std::string component = std::string(kRecipe) + R"(
local p = s.protocol(recipe)
s.attack{ target = p.victim, shadows = p.shadows, recipe = recipe,
          attack = { component = "attack.confidense" } }
)";
  CHECK_CONTAINS(testing::message_of<ConfigError>([&] { graph_of(component); }), "exp.lua:18:");
}

TEST_CASE("graph: a cycle is reported with the nodes on it") {
  const std::string script = std::string(kRecipe) + R"(
local plan = s.plan{ recipe = recipe }
s.prune{ name = "first", model = "second", recipe = recipe }
s.prune{ name = "second", model = "first", recipe = recipe }
)";
  const host::GraphSpec spec = graph_of(script);
  const std::string message = testing::message_of<ConfigError>(
      [&] { host::validate_graph(spec, testing::built_plugins()); });
  CHECK_CONTAINS(message, "cycle");
  CHECK_CONTAINS(message, "'first' (exp.lua:18)");
  CHECK_CONTAINS(message, "'second' (exp.lua:19)");
}

TEST_CASE("graph: inputs of the wrong kind, unknown names and missing inputs are refused") {
  const std::string script = std::string(kRecipe) + R"(
local plan = s.plan{ recipe = recipe }
s.prune{ model = plan, recipe = recipe }
s.evaluate{ model = "no such node" }
)";
  const host::GraphSpec spec = graph_of(script);
  const std::string message = testing::message_of<ConfigError>(
      [&] { host::validate_graph(spec, testing::built_plugins()); });
  CHECK_CONTAINS(message, "exp.lua:18: prune: input 'model': 'plan' is a plan node");
  CHECK_CONTAINS(message, "exp.lua:19: evaluate: input 'model': no node named 'no such node'");

  const std::string missing = std::string(kRecipe) + "s.train{ recipe = recipe }\n";
  CHECK_CONTAINS(testing::message_of<ConfigError>([&] { graph_of(missing); }),
                 "input 'plan' is required");
}

TEST_CASE("graph: the sandbox holds inside experiment scripts") {
  CHECK_CONTAINS(testing::message_of<ConfigError>(
                     [&] { graph_of("local s = require 'secateurs'\nos.execute('true')\n"); }),
                 "exp.lua:2:");
  CHECK_CONTAINS(testing::message_of<ConfigError>([&] { graph_of("io.open('x', 'w')\n"); }),
                 "'io'");
  host::ScriptOptions limited = script_options();
  limited.limits.instructions = 1'000'000;
  CHECK_CONTAINS(testing::message_of<ConfigError>([&] {
                   host::graph_from_lua("while true do end\n", "exp.lua", testing::built_plugins(),
                                        limited);
                 }),
                 "instructions");
}

TEST_CASE("graph: grid and zip sweeps branch a graph, and shared prefixes merge") {
  const std::string script = std::string(kRecipe) + R"(
for _, point in ipairs(s.grid{ sparsity = { 0.3, 0.6 }, rounds = { 1, 2 } }) do
  local r = s.with(recipe, { pruning = { schedule = { sparsity = point.sparsity,
                                                      rounds = point.rounds } } })
  local plan = s.plan{ recipe = r }
  local dense = s.train{ plan = plan, recipe = r }
  s.prune{ model = dense, recipe = r }
end
assert(#s.zip{ a = { 1, 2 }, b = { 3, 4 } } == 2)
)";
  const host::GraphSpec spec = graph_of(script);
  CHECK(spec.nodes.size() == 12);
  const host::Graph graph = host::validate_graph(spec, testing::built_plugins());
  // One plan and one dense model serve the four pruning settings.
  std::map<std::string, int> kinds;
  for (const host::GraphNode& node : graph.nodes) ++kinds[node.kind];
  CHECK(kinds["plan"] == 1);
  CHECK(kinds["train"] == 1);
  CHECK(kinds["prune"] == 4);
}

TEST_CASE("graph: a shadow set is its models in index order, trained then pruned") {
  const std::string script = std::string(kRecipe) + R"(
local plan = s.plan{ recipe = recipe }
local shadows, dense = s.shadows{ plan = plan, recipe = recipe, count = 3 }
assert(#shadows == 3 and #dense == 3)
assert(shadows[1].kind == "prune" and dense[3].kind == "train")
local online = s.shadows{ plan = plan, recipe = recipe, role = "online" }
assert(#online == 4 and online[4].name == "online 3")
)";
  const host::Graph graph = host::validate_graph(graph_of(script), testing::built_plugins());
  CHECK(graph.nodes.size() == 1 + 3 * 2 + 4 * 2);
}

// The protocol: plan, victim and 4 shadows trained and pruned, 4 online shadows, attacks.
std::string protocol_script(const std::string& lira_mode) {
  return std::string(kRecipe) + R"(
local p = s.protocol(recipe, { online = true })
s.attack{ name = "confidence", target = p.victim, shadows = p.shadows, recipe = recipe,
          attack = { component = "attack.confidence" } }
s.attack{ name = "lira", target = p.victim, shadows = p.shadows, online = p.online,
          recipe = recipe, attack = { component = "attack.lira", params = { mode = ")" +
         lira_mode + R"(" } } }
s.evaluate{ name = "evaluation", model = p.victim }
)";
}

TEST_CASE("graph: results are identical with 1 and 2 parallel jobs") {
  testing::TempDir dir;
  // Every kind of node: a defense that needs memorization scores, robustness, online
  // shadows, a report.
  const host::GraphSpec spec = graph_of(std::string(kRecipe) + R"(
local defended = s.with(recipe, {
  pruning = { defense = { component = "defense.rmr", params = { threshold = 0.5 } } },
  memorization = { folds = 2 },
  robustness = { epsilons = { 0.1 }, samples = 40 },
  attacks = { { component = "attack.confidence" },
              { component = "attack.lira", params = { mode = "online" } } },
})
local p = s.experiment(defended)
s.evaluate{ model = p.victim }
)");
  std::set<std::string> kinds;
  for (const host::NodeSpec& node : spec.nodes) kinds.insert(node.kind);
  CHECK(kinds.size() == 8);
  const host::GraphRunResult one = run(spec, dir / "one", 1);
  const host::GraphRunResult two = run(spec, dir / "two", 2);
  REQUIRE(one.records.size() == two.records.size());
  host::ArtifactStore first(dir / "one"), second(dir / "two");
  std::size_t files = 0;
  for (std::size_t i = 0; i < one.records.size(); ++i) {
    if (one.records[i].kind == "report") continue;  // not stored (no output folder given)
    CHECK(one.records[i].status == "computed");
    CHECK(two.records[i].status == "computed");
    const auto a = first.find(one.records[i].key);
    const auto b = second.find(two.records[i].key);
    REQUIRE(a);
    REQUIRE(b);
    for (const auto& entry : std::filesystem::directory_iterator(*a)) {
      const std::string name = entry.path().filename().string();
      if (name == "artifact.txt") continue;  // its creation time differs
      INFO(one.records[i].name << "/" << name);
      CHECK(testing::read_bytes(entry.path()) == testing::read_bytes(*b / name));
      ++files;
    }
  }
  CHECK(files >= 30);
}

TEST_CASE("graph: a changed attack parameter recomputes that attack node only") {
  testing::TempDir dir;
  const host::GraphRunResult first = run(graph_of(protocol_script("online")), dir / "store", 2);
  for (const auto& [name, status] : statuses(first)) CHECK(status == "computed");
  const host::GraphRunResult again = run(graph_of(protocol_script("online")), dir / "store", 2);
  for (const auto& [name, status] : statuses(again)) CHECK(status == "cached");

  const host::GraphRunResult changed = run(graph_of(protocol_script("offline")), dir / "store", 2);
  std::set<std::string> computed;
  for (const auto& [name, status] : statuses(changed)) {
    if (status == "computed") computed.insert(name);
    if (status != "computed") CHECK(status == "cached");
  }
  CHECK(computed == std::set<std::string>{"lira"});
  CHECK(changed.records.size() == first.records.size());
}

TEST_CASE("graph: stored results of other data are refused, not mixed with new ones") {
  testing::TempDir dir;
  const host::GraphRunResult first = run(graph_of(protocol_script("online")), dir / "store", 2);
  // The dataset as the plan recorded it, replaced by a fingerprint of other data (same
  // length, so the artifact itself stays intact).
  host::ArtifactStore store(dir / "store");
  const auto plan = store.find(first.records.front().key);
  REQUIRE(plan);
  REQUIRE(first.records.front().kind == "plan");
  std::string record = testing::read_bytes(*plan / "record.txt");
  const std::size_t at = record.find("data_sha256=");
  REQUIRE(at != std::string::npos);
  record.replace(at + 12, 64, std::string(64, '0'));
  std::filesystem::permissions(*plan / "record.txt", std::filesystem::perms::owner_write,
                               std::filesystem::perm_options::add);
  std::ofstream(*plan / "record.txt", std::ios::binary | std::ios::trunc) << record;
  const std::string message = testing::message_of<DataError>(
      [&] { run(graph_of(protocol_script("offline")), dir / "store", 2); });
  CHECK_CONTAINS(message, "plan 'plan': the data loaded now differ");
}

TEST_CASE("graph: a YAML experiment gives the numbers `secateurs attack` gives") {
  testing::TempDir dir;
  const std::filesystem::path file = dir / "experiment.yaml";
  std::ofstream(file) << R"(seed: 3
dataset: {component: dataset.synthetic_blobs, params: {samples: 900, classes: 3, features: 6}}
model: {component: model.mlp, params: {hidden: [24]}}
split: {mode: membership, members: 120, dev: 30}
trainer: {epochs: 4, batch_size: 32}
pruning:
  pruner: {component: pruner.magnitude}
  schedule: {schedule: iterative, sparsity: 0.5, rounds: 2}
  finetune: {epochs: 2, batch_size: 32}
shadows: {count: 4, online: 4, population: 100}
attacks:
  - {component: attack.confidence}
  - {component: attack.lira, params: {mode: online}}
  - {component: attack.rmia}
metrics: {bootstrap: 20}
robustness: {epsilons: [0.1], samples: 50}
)";
  const auto& registry = testing::built_plugins();
  const host::AttackRunResult direct =
      host::run_attack(host::read_attack_run(file, registry), registry, {}, 2);
  const host::GraphSpec spec = host::graph_from_file(file, registry, script_options());
  const host::GraphRunResult result = run(spec, dir / "store", 2, dir / "out");
  // Every row by its label, every column.
  // Rows keyed by their columns [first, first + count).
  const auto rows = [&](const std::string& file, std::size_t first, std::size_t count) {
    std::map<std::string, std::vector<std::string>> by_key;
    std::istringstream lines(testing::read_bytes(dir / "out" / "report" / file));
    std::string line;
    std::getline(lines, line);
    while (std::getline(lines, line)) {
      std::vector<std::string> fields;
      std::string field;
      bool quoted = false;
      for (const char ch : line) {
        if (ch == '"') {
          quoted = !quoted;
        } else if (ch == ',' && !quoted) {
          fields.push_back(field);
          field.clear();
        } else {
          field += ch;
        }
      }
      fields.push_back(field);
      std::string key;
      for (std::size_t k = first; k < first + count; ++k) key += fields.at(k) + "|";
      by_key[key] = fields;
    }
    return by_key;
  };
  const auto text = [](double value) {
    std::ostringstream out;
    out.precision(10);
    out << value;
    return out.str();
  };
  // node,target,attack,balanced_accuracy,auc,auc_low,auc_high,tpr_at_1pct,tpr_at_0.1pct
  const auto attacks = rows("attacks.csv", 1, 2);
  REQUIRE(attacks.size() == direct.attacks.size());
  for (const host::AttackMetrics& m : direct.attacks) {
    const std::string key = "victim|" + m.attack + "|";
    REQUIRE_MESSAGE(attacks.count(key) == 1, key);
    const std::vector<std::string>& row = attacks.at(key);
    INFO(m.attack);
    CHECK(row.at(3) == text(m.balanced_accuracy));
    CHECK(row.at(4) == text(m.auc.estimate));
    CHECK(row.at(5) == text(m.auc.low));
    CHECK(row.at(6) == text(m.auc.high));
    CHECK(row.at(7) == text(m.tpr_at_1pct.estimate));
    CHECK(row.at(8) == text(m.tpr_at_01pct));
  }
  // node,model,members,train_accuracy,test_accuracy,sparsity
  const auto models = rows("models.csv", 0, 1);
  REQUIRE(models.size() == direct.models.size());
  for (const host::ModelRecord& m : direct.models) {
    REQUIRE_MESSAGE(models.count(m.role + "|") == 1, m.role);
    const std::vector<std::string>& row = models.at(m.role + "|");
    CHECK(row.at(2) == std::to_string(m.members));
    CHECK(row.at(3) == text(m.train_accuracy));
    CHECK(row.at(4) == text(m.test_accuracy));
    CHECK(row.at(5) == text(m.sparsity));
  }
  // node,model,method,epsilon,accuracy; `secateurs attack` names the victim's two versions
  // "dense" and "pruned"
  const auto robustness = rows("robustness.csv", 0, 5);
  std::map<std::string, std::string> measured;
  for (const auto& [key, row] : robustness)
    measured[row.at(1) + " " + row.at(2) + " " + row.at(3)] = row.at(4);
  REQUIRE(direct.robustness.size() == 4);
  for (const host::RobustnessRecord& r : direct.robustness) {
    const std::string key = "victim " + r.model + " " + r.method + " " + text(r.epsilon);
    REQUIRE_MESSAGE(measured.count(key) == 1, key);
    CHECK(measured.at(key) == text(r.accuracy));
  }
  CHECK(std::filesystem::exists(dir / "out" / "records.csv"));
}

}  // namespace
}  // namespace secateurs
