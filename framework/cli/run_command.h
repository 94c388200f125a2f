// `secateurs run FILE`: an experiment graph from a Lua script or a YAML experiment file,
// validated as a whole, then run over the artifact store (host/graph.h).
#pragma once

#include <filesystem>
#include <ostream>

#include "host/registry.h"

namespace secateurs::cli {

struct RunCommandOptions {
  std::filesystem::path file;
  std::filesystem::path store = "runs/store";
  std::filesystem::path output;  // empty: runs/<the file's stem>
  int jobs = 0;                  // nodes at once; 0: one per core
  bool dry_run = false;          // validate, then list the nodes and what the store has
  bool progress = true;          // a redrawn status line when stderr is a terminal
  std::string command_line;      // as typed, for the results database and reports
};

// Returns the exit code: 0 done, 130 stopped by Ctrl-C (the store keeps every finished
// node: the same command resumes). Errors are thrown.
int run(const host::Registry& registry, const RunCommandOptions& options, std::ostream& out);

}  // namespace secateurs::cli
