// The results database of a campaign: one SQLite file in a run's output folder
// (results.sqlite) that every `secateurs run` writing there appends one run to.
//
//   runs        run, started (UTC), seconds, status, command, graph, jobs, store,
//               secateurs_version, libtorch_version, build_fingerprint
//   nodes       run, node, names (every declared name of a merged node), kind, label, key,
//               place (script:line), status (computed, cached, written, skipped, failed),
//               seconds (0 when cached), seed (its plan's seed; null without a plan)
//   inputs      run, node, slot, position, input
//   parameters  run, node, name, value: what the node's key hashes of the node itself
//   metrics     run, node, name, value: every number its artifact holds (accuracies,
//               sparsity, each round's, attack metrics, robust accuracies)
//   plugins     run, plugin, version, component: every component the run could use
//   provenance  run, name, value
// and two views that put one row per attack (attack_results) and per model
// (model_results) with its metrics as columns.
//
// Threading: one thread; SQLite's own locking (with a busy timeout) keeps two processes
// writing the same folder apart, and each run is one transaction, so a killed process
// leaves the database as it was before that run.
#pragma once

#include <filesystem>
#include <functional>
#include <optional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "host/graph.h"
#include "secateurs/export.h"

namespace secateurs::host {

struct RunSummary {
  std::string started;  // UTC, ISO 8601
  std::string status;   // "completed", "stopped", "failed: <why>"
  int jobs = 0;
  std::string store;
  std::vector<std::pair<std::string, std::string>> provenance;  // command, ...
};

// A node's numbers, as read from its artifact folder (empty for kinds without numbers).
using NodeMetrics = std::vector<std::pair<std::string, double>>;

// Appends one run to `database` (created with its tables when missing). `artifact` gives
// the committed folder of a node's key, or nothing when the run did not reach it.
// Throws Error naming the file when SQLite fails (a full disk, a file that is no database).
SECATEURS_API void record_run_results(
    const std::filesystem::path& database, const RunSummary& run, const Graph& graph,
    const GraphRunResult& result, const Registry& registry,
    const std::function<std::optional<std::filesystem::path>(const std::string& key)>& artifact);

// Every table and view of `database`: as one CSV file each in folder `destination`
// (format "csv"), or as one JSON object {"runs": [{...}], ...} written to `destination`
// ("-": `out`). Throws Error for a missing or damaged database or an unknown format.
SECATEURS_API void export_results(const std::filesystem::path& database, const std::string& format,
                                  const std::filesystem::path& destination, std::ostream& out);

// The tables and views export_results writes, in order.
SECATEURS_API std::vector<std::string> results_tables();

}  // namespace secateurs::host
