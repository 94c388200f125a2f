#include "run_command.h"

#include <unistd.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <csignal>
#include <iostream>
#include <optional>

#include "host/artifact_store.h"
#include "host/graph.h"
#include "host/graph_script.h"
#include "host/results_db.h"
#include "host/run_text.h"
#include "host/sha256.h"

namespace secateurs::cli {
namespace {

std::atomic<bool> stop_requested{false};

// The first Ctrl-C asks the graph to start no new node (running ones finish and are
// kept); a second one ends the process at once, which the store survives as well: a
// write in progress is a tmp/ folder, never an artifact.
extern "C" void on_interrupt(int) {
  stop_requested.store(true);
  std::signal(SIGINT, SIG_DFL);
}

// Ctrl-C handled while the graph runs, the default action again afterwards (whatever way
// the run ends).
struct InterruptHandled {
  InterruptHandled() {
    stop_requested.store(false);
    std::signal(SIGINT, on_interrupt);
  }
  ~InterruptHandled() { std::signal(SIGINT, SIG_DFL); }
  InterruptHandled(const InterruptHandled&) = delete;
  InterruptHandled& operator=(const InterruptHandled&) = delete;
};

// The store's name for the run writing to `output`: the folder's name for people, and a
// digest of its absolute path so that two runs writing to a/out and b/out keep separate
// records (gc keeps what either uses).
std::string run_name(const std::filesystem::path& output) {
  const std::filesystem::path absolute = std::filesystem::absolute(output).lexically_normal();
  std::string base = absolute.filename().string();
  if (base.empty()) base = absolute.parent_path().filename().string();
  std::string safe;
  for (const char ch : base) {
    safe += std::isalnum(static_cast<unsigned char>(ch)) != 0 || ch == '-' || ch == '_' ? ch : '_';
  }
  if (safe.empty()) safe = "run";
  return safe + "-" + host::sha256_hex(absolute.string()).substr(0, 12);
}

}  // namespace

int run(const host::Registry& registry, const RunCommandOptions& options, std::ostream& out) {
  host::ScriptOptions script;
  const host::GraphSpec spec = host::graph_from_file(options.file, registry, script);
  const host::Graph graph = host::validate_graph(spec, registry);
  const std::filesystem::path output =
      options.output.empty() ? std::filesystem::path("runs") / options.file.stem() : options.output;
  if (options.dry_run) {
    // A dry run creates nothing: a store that does not exist yet has no node.
    std::optional<host::ArtifactStore> store;
    if (host::ArtifactStore::exists(options.store)) {
      store.emplace(options.store, host::StoreCleanup::Never);
    }
    std::size_t cached = 0;
    for (const host::GraphNode& node : graph.nodes) {
      const auto info = store ? store->inspect(node.key) : std::nullopt;
      const bool present = info && !info->damaged();
      cached += present ? 1 : 0;
      out << (node.kind == "report" ? "write    "
              : present             ? "cached   "
                                    : "compute  ")
          << node.key.substr(0, 12) << "  " << node.names.front() << " (" << node.label << ")  "
          << node.where << "\n";
    }
    out << graph.nodes.size() << " nodes, " << cached << " in " << options.store.string() << "\n";
    return 0;
  }

  host::ArtifactStore store(options.store);
  out << "secateurs run " << options.file.string() << ": " << graph.nodes.size() << " nodes, store "
      << options.store.string() << "\n"
      << std::flush;
  host::GraphRunOptions run_options;
  run_options.jobs = options.jobs;
  run_options.output = output;
  run_options.run_name = run_name(output);
  run_options.terminal = options.progress && isatty(STDERR_FILENO) == 1;
  run_options.log = [&](const std::string& text) {
    if (run_options.terminal) {
      std::cerr << text << std::flush;
    } else {
      out << text << std::flush;
    }
  };
  run_options.stop = &stop_requested;
  host::RunSummary summary;
  summary.started = host::utc_text(std::chrono::system_clock::now());
  summary.jobs = options.jobs;
  summary.store = options.store.string();
  summary.provenance = {
      {"command", options.command_line},
      {"started", summary.started},
      {"store", options.store.string()},
      {"jobs", options.jobs == 0 ? "one per core" : std::to_string(options.jobs)}};
  run_options.provenance = summary.provenance;
  const std::filesystem::path database = output / "results.sqlite";
  run_options.finished = [&](const host::GraphRunResult& finished, const std::string& failure) {
    summary.status = !failure.empty()   ? "failed: " + failure
                     : finished.stopped ? std::string("stopped")
                                        : std::string("completed");
    try {
      host::record_run_results(database, summary, graph, finished, registry,
                               [&](const std::string& key) { return store.find(key); });
    } catch (const std::exception& e) {
      if (failure.empty()) throw;
      std::cerr << "secateurs: the results database was not written: " << e.what() << "\n";
    }
  };
  host::GraphRunResult result;
  {
    const InterruptHandled interrupt;
    result = host::run_graph(graph, registry, store, run_options);
  }

  std::size_t computed = 0, cached = 0;
  for (const host::NodeRecord& record : result.records) {
    computed += record.status == "computed" ? 1 : 0;
    cached += record.status == "cached" ? 1 : 0;
  }
  out << computed << " computed, " << cached << " from the store, in "
      << host::fixed(result.seconds, 1) << " s; records in " << (output / "records.csv").string()
      << ", results in " << database.string() << "\n";
  if (result.stopped) {
    out << "stopped: rerun the same command to resume where it stopped\n";
    return 130;
  }
  for (const host::GraphNode& node : graph.nodes) {
    if (node.kind != "report") continue;
    const std::filesystem::path folder = host::output_folder(output, node.names.front());
    out << "report: " << (folder / "index.html").string()
        << " (tables: " << (folder / "summary.txt").string() << ")\n";
  }
  return 0;
}

}  // namespace secateurs::cli
