#include "host/graph.h"

#include <ATen/Parallel.h>
#include <tbb/flow_graph.h>
#include <tbb/task_arena.h>
#include <torch/version.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include "host/artifact_store.h"
#include "host/atomic_file.h"
#include "host/graph_nodes.h"
#include "host/nearest.h"
#include "host/run_text.h"
#include "host/runtime_info.h"
#include "host/training_run.h"
#include "secateurs/version.h"

namespace secateurs::host {

std::vector<std::string> node_kind_names() {
  std::vector<std::string> names;
  for (const NodeKind& kind : node_kinds()) names.push_back(kind.name);
  return names;
}

std::string describe_node_kinds() {
  std::string text;
  for (const NodeKind& kind : node_kinds()) {
    text += kind.name + ": " + kind.doc + "\n";
    for (const InputSlot& slot : kind.inputs) {
      std::string accepts;
      for (const std::string& a : slot.accepts) accepts += (accepts.empty() ? "" : "|") + a;
      text += "  input " + slot.name + (slot.many ? " (list of " : " (") + accepts +
              (slot.required ? "" : ", optional") + "): " + slot.doc + "\n";
    }
  }
  return text;
}

std::filesystem::path output_folder(const std::filesystem::path& output, const std::string& name) {
  std::string safe;
  for (const char ch : name) {
    const bool plain = std::isalnum(static_cast<unsigned char>(ch)) != 0 || ch == '-' ||
                       ch == '_' || ch == '.' || ch == ' ' || ch == '#';
    safe += plain ? ch : '_';
  }
  if (safe.empty() || safe.front() == '.') safe.insert(safe.begin(), '_');
  return output / safe;
}

namespace {

const NodeKind& kind_or_throw(const NodeSpec& node) {
  const NodeKind* kind = find_node_kind(node.kind);
  if (kind == nullptr) {
    throw ConfigError(node.where + ": unknown node kind '" + node.kind + "'" +
                      did_you_mean(node.kind, node_kind_names()));
  }
  return *kind;
}

void check_keys_and_slots(const NodeSpec& node, const NodeKind& kind) {
  if (node.params && node.params.IsMap()) {
    for (const auto& entry : node.params) {
      const std::string key = entry.first.Scalar();
      if (std::find(kind.params.begin(), kind.params.end(), key) == kind.params.end()) {
        throw ConfigError(node.where + ": " + node.kind + ": unknown parameter '" + key + "'" +
                          did_you_mean(key, kind.params));
      }
    }
  } else if (node.params && !node.params.IsNull()) {
    throw ConfigError(node.where + ": " + node.kind + ": parameters must be a table");
  }
  std::vector<std::string> slot_names;
  for (const InputSlot& slot : kind.inputs) slot_names.push_back(slot.name);
  for (const auto& [slot, names] : node.inputs) {
    const auto found = std::find_if(kind.inputs.begin(), kind.inputs.end(),
                                    [&](const InputSlot& s) { return s.name == slot; });
    if (found == kind.inputs.end()) {
      throw ConfigError(node.where + ": " + node.kind + ": unknown input '" + slot + "'" +
                        did_you_mean(slot, slot_names));
    }
    if (!found->many && names.size() > 1) {
      throw ConfigError(node.where + ": " + node.kind + ": input '" + slot +
                        "' takes one node, not a list");
    }
  }
  for (const InputSlot& slot : kind.inputs) {
    const auto given = std::find_if(node.inputs.begin(), node.inputs.end(),
                                    [&](const auto& entry) { return entry.first == slot.name; });
    if (slot.required && (given == node.inputs.end() || given->second.empty())) {
      throw ConfigError(node.where + ": " + node.kind + ": input '" + slot.name +
                        "' is required (" + slot.doc + ")");
    }
  }
}

}  // namespace

void check_node(const NodeSpec& node, const Registry& registry) {
  const NodeKind& kind = kind_or_throw(node);
  check_keys_and_slots(node, kind);
  kind.prepare(node, registry);
}

Graph validate_graph(const GraphSpec& spec, const Registry& registry) {
  std::vector<std::string> problems;
  const auto problem = [&](const std::string& text) {
    if (std::find(problems.begin(), problems.end(), text) == problems.end()) {
      problems.push_back(text);
    }
  };
  const auto throw_if_any = [&] {
    if (problems.empty()) return;
    std::string text;
    for (const std::string& line : problems) text += (text.empty() ? "" : "\n") + line;
    throw ConfigError(text);
  };

  // Every node on its own.
  const std::size_t n = spec.nodes.size();
  std::vector<PreparedNode> prepared(n);
  std::map<std::string, std::size_t> by_name;
  for (std::size_t i = 0; i < n; ++i) {
    const NodeSpec& node = spec.nodes[i];
    if (!by_name.emplace(node.name, i).second) {
      problem(node.where + ": a node named '" + node.name + "' already exists (" +
              spec.nodes[by_name[node.name]].where + ")");
    }
    try {
      const NodeKind& kind = kind_or_throw(node);
      check_keys_and_slots(node, kind);
      prepared[i] = kind.prepare(node, registry);
    } catch (const ConfigError& e) {
      problem(e.what());
    } catch (const NotFoundError& e) {
      problem(e.what());
    }
  }
  throw_if_any();

  // Inputs: existing nodes whose output the slot takes.
  std::vector<std::vector<std::size_t>> depends(n);
  for (std::size_t i = 0; i < n; ++i) {
    const NodeSpec& node = spec.nodes[i];
    const NodeKind& kind = *find_node_kind(node.kind);
    for (const auto& [slot_name, names] : node.inputs) {
      const InputSlot& slot =
          *std::find_if(kind.inputs.begin(), kind.inputs.end(),
                        [&](const InputSlot& s) { return s.name == slot_name; });
      for (const std::string& name : names) {
        const auto found = by_name.find(name);
        if (found == by_name.end()) {
          std::vector<std::string> known;
          for (const auto& entry : by_name) known.push_back(entry.first);
          problem(node.where + ": " + node.kind + ": input '" + slot_name + "': no node named '" +
                  name + "'" + did_you_mean(name, known));
          continue;
        }
        const NodeSpec& input = spec.nodes[found->second];
        if (std::find(slot.accepts.begin(), slot.accepts.end(), input.kind) == slot.accepts.end()) {
          std::string accepts;
          for (const std::string& a : slot.accepts) accepts += (accepts.empty() ? "" : " or ") + a;
          problem(node.where + ": " + node.kind + ": input '" + slot_name + "': '" + name +
                  "' is a " + input.kind + " node (" + input.where + "), the input takes " +
                  accepts);
          continue;
        }
        depends[i].push_back(found->second);
      }
    }
  }
  throw_if_any();

  // Topological order (Kahn's, taking the declared order among ready nodes, so the order is
  // the script's wherever the dependencies allow). What remains lies on or behind a cycle.
  std::vector<std::size_t> waiting(n, 0);
  std::vector<std::vector<std::size_t>> users(n);
  for (std::size_t i = 0; i < n; ++i) {
    for (const std::size_t d : depends[i]) {
      ++waiting[i];
      users[d].push_back(i);
    }
  }
  std::set<std::size_t> ready;
  for (std::size_t i = 0; i < n; ++i) {
    if (waiting[i] == 0) ready.insert(i);
  }
  std::vector<std::size_t> order;
  while (!ready.empty()) {
    const std::size_t i = *ready.begin();
    ready.erase(ready.begin());
    order.push_back(i);
    for (const std::size_t u : users[i]) {
      if (--waiting[u] == 0) ready.insert(u);
    }
  }
  if (order.size() < n) {
    // Walk dependencies from a node left over until one repeats: that is a cycle.
    std::size_t at = 0;
    while (waiting[at] == 0) ++at;
    std::vector<std::size_t> path;
    std::vector<int> seen(n, -1);
    while (seen[at] < 0) {
      seen[at] = static_cast<int>(path.size());
      path.push_back(at);
      at = *std::find_if(depends[at].begin(), depends[at].end(),
                         [&](std::size_t d) { return waiting[d] > 0; });
    }
    std::string text;
    for (std::size_t k = static_cast<std::size_t>(seen[at]); k < path.size(); ++k) {
      const NodeSpec& node = spec.nodes[path[k]];
      text += "'" + node.name + "' (" + node.where + ") takes ";
    }
    text += "'" + spec.nodes[at].name + "'";
    throw ConfigError(spec.source + ": the graph has a cycle: " + text);
  }

  // Keys in topological order; nodes with equal keys become one.
  Graph graph;
  graph.source = spec.source;
  std::vector<std::size_t> position(n);
  std::map<std::string, std::size_t> by_key;
  for (const std::size_t i : order) {
    const NodeSpec& node = spec.nodes[i];
    GraphNode built;
    built.names = {node.name};
    built.kind = node.kind;
    built.where = node.where;
    built.label = prepared[i].label;
    built.config = prepared[i].config;
    built.parameters = prepared[i].canonical;
    KeyBuilder key;
    key.add("secateurs-node 1").add(node.kind).add(prepared[i].canonical);
    // A new framework or LibTorch may compute a node otherwise: its results are not reused.
    key.add(std::string("framework ") + SECATEURS_VERSION_STRING + " libtorch " + TORCH_VERSION);
    for (const auto& [slot, names] : node.inputs) {
      std::vector<std::size_t> indices;
      key.add("input " + slot).add_integer(static_cast<std::int64_t>(names.size()));
      for (const std::string& name : names) {
        const std::size_t input = position[by_name.at(name)];
        indices.push_back(input);
        key.add(graph.nodes[input].key);
      }
      built.inputs.emplace_back(slot, std::move(indices));
    }
    built.key = key.finish();
    const auto same = by_key.find(built.key);
    if (same != by_key.end()) {
      graph.nodes[same->second].names.push_back(node.name);
      position[i] = same->second;
      continue;
    }
    position[i] = graph.nodes.size();
    by_key.emplace(built.key, graph.nodes.size());
    graph.nodes.push_back(std::move(built));
  }

  // What depends on the resolved inputs.
  for (const GraphNode& node : graph.nodes) {
    const NodeKind& kind = *find_node_kind(node.kind);
    if (!kind.check_inputs) continue;
    try {
      kind.check_inputs(graph, node, registry);
    } catch (const ConfigError& e) {
      problem(e.what());
    } catch (const NotFoundError& e) {
      problem(e.what());
    }
  }
  throw_if_any();
  return graph;
}

namespace {

// Progress: plain lines, or on a terminal a status line redrawn under them.
class Progress {
 public:
  Progress(const Graph& graph, const GraphRunOptions& options)
      : graph_(graph), options_(options), start_(Clock::now()) {}

  void started(std::size_t node) {
    const std::lock_guard lock(mutex_);
    running_.insert(node);
    redraw();
  }
  void finished(std::size_t node, const std::string& status, double seconds) {
    const std::lock_guard lock(mutex_);
    running_.erase(node);
    ++done_;
    if (status == "computed") {
      computed_seconds_ += seconds;
      ++computed_;
    }
    line("[" + std::to_string(done_) + "/" + std::to_string(graph_.nodes.size()) + "] " +
         graph_.nodes[node].names.front() + " (" + graph_.nodes[node].label + "): " + status +
         (status == "computed" ? " in " + fixed(seconds, 1) + " s" : ""));
  }
  void note(std::size_t node, const std::string& text) {
    const std::lock_guard lock(mutex_);
    line("  " + graph_.nodes[node].names.front() + ": " + text);
  }
  void done() {
    const std::lock_guard lock(mutex_);
    if (options_.terminal && options_.log) options_.log("\r\033[K");
  }

 private:
  void line(const std::string& text) {
    if (!options_.log) return;
    if (options_.terminal) {
      options_.log("\r\033[K" + text + "\n");
      redraw();
    } else {
      options_.log(text + "\n");
    }
  }
  // "[12/40] 2 running: train shadow 3, train shadow 4 | 31 s, about 2 min left". The
  // estimate: the mean time of the nodes computed so far, for every node not done, spread
  // over the parallel jobs; no estimate before the first node is computed.
  void redraw() {
    if (!options_.terminal || !options_.log) return;
    std::string names;
    for (const std::size_t node : running_) {
      names += (names.empty() ? "" : ", ") + graph_.nodes[node].label;
    }
    if (names.size() > 60) names = names.substr(0, 57) + "...";
    const double elapsed = seconds_since(start_);
    std::string eta;
    if (computed_ > 0) {
      const double left = static_cast<double>(graph_.nodes.size() - done_) *
                          (computed_seconds_ / static_cast<double>(computed_)) /
                          std::max(1, options_.jobs);
      eta = ", about " + fixed(left, 0) + " s left";
    }
    options_.log("\r\033[K[" + std::to_string(done_) + "/" + std::to_string(graph_.nodes.size()) +
                 "] " + std::to_string(running_.size()) + " running: " + names + " | " +
                 fixed(elapsed, 0) + " s" + eta);
  }

  const Graph& graph_;
  const GraphRunOptions& options_;
  Clock::time_point start_;
  std::mutex mutex_;
  std::set<std::size_t> running_;
  std::size_t done_ = 0, computed_ = 0;
  double computed_seconds_ = 0;
};

std::string records_csv(const std::vector<NodeRecord>& records) {
  std::ostringstream csv;
  csv << "node,kind,label,key,status,seconds\n";
  for (const NodeRecord& r : records) {
    csv << csv_quoted(r.name) << ',' << r.kind << ',' << csv_quoted(r.label) << ',' << r.key << ','
        << r.status << ',' << fixed(r.seconds, 3) << '\n';
  }
  return csv.str();
}

}  // namespace

GraphRunResult run_graph(const Graph& graph, const Registry& registry, ArtifactStore& store,
                         const GraphRunOptions& given) {
  GraphRunOptions options = given;
  if (options.jobs <= 0) {
    options.jobs = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  }
  const Clock::time_point start = Clock::now();
  const std::size_t n = graph.nodes.size();
  GraphRunResult result;
  result.records.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    const GraphNode& node = graph.nodes[i];
    result.records[i] = {node.names.front(), node.kind, node.label, node.key, "skipped", 0};
  }

  // Nodes run one LibTorch/BLAS thread each; the caller's setting comes back at the end.
  struct ThreadsRestored {
    int previous = at::get_num_threads();
    ~ThreadsRestored() { set_compute_threads(previous); }
  } threads_restored;
  set_compute_threads(1);

  std::mutex mutex;
  std::vector<std::filesystem::path> folders(n);
  std::exception_ptr failure;
  std::string failure_where;
  bool failed = false;
  DataCache data;
  Progress progress(graph, options);

  // What a node's body reads of another node's output: its committed folder.
  const auto artifact = [&](std::size_t index) {
    const std::lock_guard lock(mutex);
    if (folders[index].empty()) {
      throw Error("internal: " + graph.nodes[index].names.front() + " has no artifact yet");
    }
    return folders[index];
  };

  // Runs on a TBB worker: nothing may escape it (an exception would cancel the flow graph
  // without a record); a failure is kept, and every node not started yet is skipped.
  const auto body = [&](std::size_t i) {
    const GraphNode& node = graph.nodes[i];
    const NodeKind& kind = *find_node_kind(node.kind);
    NodeRecord& record = result.records[i];
    {
      const std::lock_guard lock(mutex);
      if (failed || (options.stop != nullptr && options.stop->load())) return;
    }
    const Clock::time_point begin = Clock::now();
    try {
      if (!kind.stored) {
        // A view of stored results (a report): written to the output folder at every run.
        if (options.output.empty()) return;
        const std::filesystem::path folder = output_folder(options.output, node.names.front());
        std::filesystem::create_directories(folder);
        progress.started(i);
        NodeRun run{graph,
                    node,
                    registry,
                    folder,
                    artifact,
                    data,
                    [&](const std::string& text) { progress.note(i, text); },
                    &options.provenance};
        kind.run(run);
        const std::lock_guard lock(mutex);
        folders[i] = folder;
        record.status = "written";
        record.seconds = seconds_since(begin);
        progress.finished(i, "written", record.seconds);
        return;
      }
      if (std::optional<std::filesystem::path> found = store.find(node.key)) {
        const std::lock_guard lock(mutex);
        folders[i] = *found;
        record.status = "cached";
        progress.finished(i, "cached", 0);
        return;
      }
      progress.started(i);
      ArtifactMeta meta;
      meta.kind = node.kind;
      meta.label = node.label;
      for (const auto& [slot, inputs] : node.inputs) {
        for (const std::size_t input : inputs) meta.inputs.push_back(graph.nodes[input].key);
      }
      PendingArtifact pending = store.begin(node.key, meta);
      NodeRun run{graph,
                  node,
                  registry,
                  pending.folder(),
                  artifact,
                  data,
                  [&](const std::string& text) { progress.note(i, text); },
                  &options.provenance};
      kind.run(run);
      const std::filesystem::path committed = pending.commit();
      const double seconds = seconds_since(begin);
      const std::lock_guard lock(mutex);
      folders[i] = committed;
      record.status = "computed";
      record.seconds = seconds;
      progress.finished(i, "computed", seconds);
    } catch (...) {
      const std::lock_guard lock(mutex);
      record.status = "failed";
      record.seconds = seconds_since(begin);
      if (!failed) {
        failed = true;
        failure = std::current_exception();
        failure_where = node.where + ": " + node.kind + " '" + node.names.front() + "'";
      }
      progress.finished(i, "failed", record.seconds);
    }
  };

  // The run's record first: a run killed at any moment has one, so `cache gc` keeps what
  // it committed for the rerun.
  if (!options.run_name.empty()) {
    std::vector<std::string> keys;
    for (const GraphNode& node : graph.nodes) {
      if (find_node_kind(node.kind)->stored) keys.push_back(node.key);
    }
    store.record_run(options.run_name, keys);
  }

  tbb::task_arena arena(options.jobs);
  arena.execute([&] {
    tbb::flow::graph flow;
    std::vector<std::unique_ptr<tbb::flow::continue_node<tbb::flow::continue_msg>>> nodes;
    nodes.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
      nodes.push_back(std::make_unique<tbb::flow::continue_node<tbb::flow::continue_msg>>(
          flow, [&, i](const tbb::flow::continue_msg&) { body(i); }));
    }
    std::vector<std::size_t> roots;
    for (std::size_t i = 0; i < n; ++i) {
      std::set<std::size_t> inputs;
      for (const auto& [slot, list] : graph.nodes[i].inputs)
        inputs.insert(list.begin(), list.end());
      for (const std::size_t input : inputs) tbb::flow::make_edge(*nodes[input], *nodes[i]);
      if (inputs.empty()) roots.push_back(i);
    }
    for (const std::size_t root : roots) nodes[root]->try_put(tbb::flow::continue_msg());
    flow.wait_for_all();
  });
  progress.done();
  result.seconds = seconds_since(start);
  result.stopped = !failed && options.stop != nullptr && options.stop->load() &&
                   std::any_of(result.records.begin(), result.records.end(),
                               [](const NodeRecord& r) { return r.status == "skipped"; });

  if (!options.output.empty()) {
    std::filesystem::create_directories(options.output);
    write_file_atomically(options.output / "records.csv", records_csv(result.records));
  }
  if (options.finished) {
    std::string why;
    if (failed) {
      try {
        std::rethrow_exception(failure);
      } catch (const std::exception& e) {
        why = failure_where + ": " + e.what();
      } catch (...) {
        why = failure_where;
      }
    }
    options.finished(result, why);
  }
  if (failed) {
    try {
      std::rethrow_exception(failure);
    } catch (const ConfigError& e) {
      throw ConfigError(failure_where + ": " + e.what());
    } catch (const DataError& e) {
      throw DataError(failure_where + ": " + e.what());
    } catch (const std::exception& e) {
      throw Error(failure_where + ": " + e.what());
    } catch (...) {
      throw Error(failure_where + ": failed with an exception that is not a std::exception");
    }
  }
  return result;
}

}  // namespace secateurs::host
