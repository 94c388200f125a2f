// Experiment graphs: a DAG of nodes (membership plan, train, memorization scores, prune,
// attack, robustness, evaluate, report) that a Lua script or a YAML file declares, that the
// host validates as a whole before anything runs, then runs with a TBB flow graph over the
// artifact store (host/artifact_store.h).
//
// A node's output is one artifact, keyed by the SHA-256 of: the node's kind, the recipe
// sections and parameters it uses (as normalised YAML), the versions of the plugins they
// name, the framework version and its inputs' keys. Keys are known before anything runs, so
// a rerun skips every node whose artifact exists, a changed parameter recomputes exactly the
// nodes downstream of it, and two branches of a sweep that share a prefix (the dense model
// of a sparsity sweep) compute it once.
//
// Seeds: a model's randomness comes from the recipe's seed and the model's role ("shadow
// 3"), exactly as `secateurs attack` derives it, and an attack's from the recipe's seed and
// its label; none depends on the order nodes run in or on --jobs.
//
// Threading: validate_graph is single-threaded (Lua never runs on a worker thread).
// run_graph runs independent nodes in parallel, each with one LibTorch/BLAS thread.
#pragma once

#include <yaml-cpp/yaml.h>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "host/registry.h"
#include "secateurs/export.h"

namespace secateurs::host {

class ArtifactStore;

// A node as its script or file declares it.
struct NodeSpec {
  std::string name;   // unique within the graph: "victim", or generated: "train#3"
  std::string kind;   // one of node_kind_names()
  YAML::Node params;  // the node's parameters as given ({recipe: {...}, role: shadow, ...})
  // Input slot -> the names of the nodes it takes, in order.
  std::vector<std::pair<std::string, std::vector<std::string>>> inputs;
  std::string where;  // "exp.lua:12": what every message about the node starts with
};

struct GraphSpec {
  std::string source;  // the script or file, for messages
  std::vector<NodeSpec> nodes;
};

// A validated node, in topological order within its Graph.
struct GraphNode {
  std::vector<std::string> names;  // every declared node with this key (first: its own)
  std::string kind;
  std::string where;
  std::string label;  // "train shadow 3", "attack attack.lira {mode: online}"
  // Input slot -> the indices of its nodes in Graph::nodes (all earlier than this one).
  std::vector<std::pair<std::string, std::vector<std::size_t>>> inputs;
  std::string key;                     // 64 hexadecimal digits
  std::string parameters;              // what the key hashes of the node itself, one per line
  std::shared_ptr<const void> config;  // the kind's validated configuration
};

struct Graph {
  std::string source;
  std::vector<GraphNode> nodes;
};

// The node kinds, and what `secateurs run --list-kinds` prints about each.
SECATEURS_API std::vector<std::string> node_kind_names();
SECATEURS_API std::string describe_node_kinds();

// Checks one node on its own (kind, parameters, recipe against the registry's schemas,
// input slots); what a script binding calls as the node is declared, so the message names
// the script's line. Throws ConfigError.
SECATEURS_API void check_node(const NodeSpec& node, const Registry& registry);

// Validates the whole graph: every node as check_node does, every input naming an existing
// node whose output the slot accepts, no cycle; then computes every key and merges nodes
// with equal keys. Throws ConfigError listing every problem, each with its node's place.
SECATEURS_API Graph validate_graph(const GraphSpec& spec, const Registry& registry);

struct GraphRunResult;

struct GraphRunOptions {
  int jobs = 0;                  // nodes at once (0: one per core)
  std::filesystem::path output;  // records.csv and the reports land here (empty: nowhere)
  // The store's record of this run (empty: none), written before any node starts.
  std::string run_name;
  // Progress: one line per node event; `terminal` redraws a status line with an ETA.
  std::function<void(const std::string&)> log;
  bool terminal = false;
  // When set (Ctrl-C), no node starts any more; running nodes finish and are kept.
  const std::atomic<bool>* stop = nullptr;
  // What a report shows of the run (command, start time, ...), in order.
  std::vector<std::pair<std::string, std::string>> provenance;
  // Called once every node has finished or been skipped, after records.csv, with why the
  // run failed ("" when it did not); an exception from it is the run's when nothing
  // failed before.
  std::function<void(const GraphRunResult&, const std::string& failure)> finished;
};

struct NodeRecord {
  std::string name, kind, label, key;
  // "computed", "cached", "written" (a report), "skipped" (stopped, after a failure, or a
  // report without an output folder), "failed"
  std::string status;
  double seconds = 0;
};

struct GraphRunResult {
  std::vector<NodeRecord> records;  // in the graph's order
  bool stopped = false;
  double seconds = 0;
};

// Where a node that is not stored (a report) writes its files: `output`/<its name>, with
// every character outside [A-Za-z0-9 ._#-] replaced, so no name leaves `output`.
SECATEURS_API std::filesystem::path output_folder(const std::filesystem::path& output,
                                                  const std::string& name);

// Runs every node whose artifact is not in `store` yet. Writes `output`/records.csv
// (atomically) whatever happens, then rethrows the first node's failure as an Error naming
// the node and its place.
SECATEURS_API GraphRunResult run_graph(const Graph& graph, const Registry& registry,
                                       ArtifactStore& store, const GraphRunOptions& options);

}  // namespace secateurs::host
