// The node kinds of experiment graphs (host/graph.h): what each takes, validates, hashes
// and computes. Internal to the graph; a script sees them through scripts/secateurs.lua.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "host/attack_run.h"
#include "host/graph.h"

namespace secateurs::host {

struct InputSlot {
  std::string name;
  bool required = true;
  bool many = false;                 // a list of nodes
  std::vector<std::string> accepts;  // node kinds whose output the slot takes
  std::string doc;
};

// What validation makes of a node's parameters.
struct PreparedNode {
  std::shared_ptr<const void> config;
  std::string canonical;  // the parameters as the key hashes them
  std::string label;      // "train shadow 3"
};

class DataCache;

// Everything a running node may use. Input artifacts are committed folders.
struct NodeRun {
  const Graph& graph;
  const GraphNode& node;
  const Registry& registry;
  std::filesystem::path output;  // the pending artifact's folder, empty and writable
  // The committed folder of graph.nodes[index] (an input of this node, or an input's input).
  std::function<std::filesystem::path(std::size_t)> artifact;
  DataCache& data;
  std::function<void(const std::string&)> status;
  // The run's provenance, for reports (null: none given).
  const std::vector<std::pair<std::string, std::string>>* provenance = nullptr;
};

struct NodeKind {
  std::string name;
  std::string doc;
  std::vector<std::string> params;  // the parameter keys a node of this kind may have
  std::vector<InputSlot> inputs;
  // Validates the parameters (ConfigError naming node.where); inputs are not resolved yet.
  std::function<PreparedNode(const NodeSpec&, const Registry&)> prepare;
  // Checks what depends on the resolved inputs (a train node's role against its plan's
  // shadow count); may be empty.
  std::function<void(const Graph&, const GraphNode&, const Registry&)> check_inputs;
  std::function<void(NodeRun&)> run;
  // false: a view of other nodes' results (a report), written to the run's output folder
  // at every run instead of being stored and reused.
  bool stored = true;
};

// Whether the recipe's defense (if any) needs memorization scores of its training sets.
bool defense_needs_scores(const AttackRunConfig& config, const Registry& registry);

// Every number a node's artifact folder holds, named as the results database stores them:
// a model's record (accuracies, sparsity), each pruning round's ("round 3 sparsity"), a
// defense's measurements ("defense epsilon"), an attack's metrics, robust accuracies
// ("pgd eps 0.03 accuracy"), an evaluation's. Empty for plans, scores and reports.
std::vector<std::pair<std::string, double>> node_metrics(const GraphNode& node,
                                                         const std::filesystem::path& folder);

// The seed of the plan a node descends from (the recipe's seed), if it has a plan.
std::optional<std::uint64_t> node_seed(const Graph& graph, std::size_t index);

const std::vector<NodeKind>& node_kinds();
const NodeKind* find_node_kind(const std::string& name);

// Per run: the datasets and membership plans the nodes share, loaded once however many
// nodes need them (and whatever thread asks first).
class DataCache {
 public:
  DataCache();
  ~DataCache();
  // The data of the plan node `plan` (an index into graph.nodes).
  std::shared_ptr<const void> get(const std::string& key,
                                  const std::function<std::shared_ptr<const void>()>& make);

 private:
  struct Entry;
  std::mutex mutex_;
  std::vector<std::pair<std::string, std::shared_ptr<Entry>>> entries_;
};

}  // namespace secateurs::host
