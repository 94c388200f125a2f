// A run killed with SIGKILL in the middle of its work resumes to the results of a run that
// was never interrupted, and the store never holds a partial artifact.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "host/artifact_store.h"
#include "host/graph.h"
#include "host/graph_script.h"
#include "support/built_plugins.h"
#include "support/temp_dir.h"

namespace secateurs {
namespace {

// Models big enough that the run is still training when the test kills it.
const char* const kScript = R"(
local s = require "secateurs"
local recipe = s.recipe{
  seed = 11,
  dataset = { component = "dataset.synthetic_blobs",
              params = { samples = 4000, classes = 4, features = 16 } },
  model = { component = "model.mlp", params = { hidden = { 128, 64 } } },
  split = { mode = "membership", members = 600, dev = 100 },
  trainer = { epochs = 25, batch_size = 32 },
  pruning = { pruner = { component = "pruner.magnitude" },
              schedule = { schedule = "iterative", sparsity = 0.6, rounds = 2 },
              finetune = { epochs = 3, batch_size = 32 } },
  shadows = { count = 6, online = 0, population = 200 },
  metrics = { bootstrap = 10 },
  attacks = { { component = "attack.confidence" },
              { component = "attack.lira", params = { mode = "offline" } } },
}
s.experiment(recipe)
)";

pid_t start_run(const std::filesystem::path& script, const std::filesystem::path& store,
                const std::filesystem::path& output, const std::filesystem::path& log) {
  const pid_t pid = fork();
  if (pid == 0) {
    const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    dup2(fd, STDOUT_FILENO);
    dup2(fd, STDERR_FILENO);
    execl(SECATEURS_EXE, SECATEURS_EXE, "run", script.c_str(), "--store", store.c_str(), "--output",
          output.c_str(), "--jobs", "2", static_cast<char*>(nullptr));
    _exit(127);
  }
  return pid;
}

int wait_for(pid_t pid) {
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::size_t committed(const std::filesystem::path& store) {
  std::size_t count = 0;
  std::error_code error;
  for (std::filesystem::recursive_directory_iterator it(store / "objects", error), end;
       !error && it != end; it.increment(error)) {
    if (it.depth() == 1 && it->is_directory()) ++count;
    if (it.depth() >= 1) it.disable_recursion_pending();
  }
  return count;
}

TEST_CASE("graph resume: a run killed with SIGKILL resumes to the uninterrupted results") {
  testing::TempDir dir;
  const std::filesystem::path script = dir / "experiment.lua";
  std::ofstream(script) << kScript;

  // The run that is never interrupted, in its own store.
  host::ScriptOptions options;
  options.module_dirs = {SECATEURS_SCRIPT_DIR};
  const auto& registry = testing::built_plugins();
  const host::Graph graph =
      host::validate_graph(host::graph_from_file(script, registry, options), registry);
  {
    host::ArtifactStore store(dir / "whole");
    host::GraphRunOptions run_options;
    run_options.jobs = 2;
    host::run_graph(graph, registry, store, run_options);
  }

  // The same run in another store, killed once a few nodes are done.
  const std::filesystem::path store = dir / "killed";
  const pid_t pid = start_run(script, store, dir / "out", dir / "first.log");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(5);
  while (committed(store) < 3 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  int status = 0;
  REQUIRE_MESSAGE(waitpid(pid, &status, WNOHANG) == 0,
                  "the run ended before it could be killed:\n"
                      << testing::read_bytes(dir / "first.log"));
  kill(pid, SIGKILL);
  CHECK(wait_for(pid) == 128 + SIGKILL);
  const std::size_t before = committed(store);
  INFO(before << " of " << graph.nodes.size() << " nodes were committed when it was killed");
  CHECK(before >= 3);
  CHECK(before < graph.nodes.size());
  {
    // Every entry is a complete artifact; an unfinished write is only ever under tmp/.
    const host::ArtifactStore look(store, host::StoreCleanup::Never);
    for (const host::ArtifactInfo& info : look.list()) {
      INFO(info.folder.string());
      CHECK_FALSE(info.damaged());
    }
  }

  // The same command again: it reuses what was committed and computes the rest.
  const pid_t again = start_run(script, store, dir / "out", dir / "second.log");
  REQUIRE_MESSAGE(wait_for(again) == 0, testing::read_bytes(dir / "second.log"));
  const std::string records = testing::read_bytes(dir / "out" / "records.csv");
  std::size_t cached = 0, pos = 0;
  while ((pos = records.find(",cached,", pos)) != std::string::npos) {
    ++cached;
    ++pos;
  }
  CHECK(cached >= before);

  host::ArtifactStore whole(dir / "whole"), resumed(store);
  CHECK(resumed.leftover_count() == 0);
  for (const host::GraphNode& node : graph.nodes) {
    if (node.kind == "report") continue;  // written to the output folder, not stored
    const auto a = whole.find(node.key);
    const auto b = resumed.find(node.key);
    REQUIRE(a);
    REQUIRE(b);
    for (const auto& entry : std::filesystem::directory_iterator(*a)) {
      const std::string name = entry.path().filename().string();
      if (name == "artifact.txt") continue;
      INFO(node.names.front() << "/" << name);
      CHECK(testing::read_bytes(entry.path()) == testing::read_bytes(*b / name));
    }
  }
}

}  // namespace
}  // namespace secateurs
