// `secateurs prune RUN.yaml`: a dense model pruned under a schedule, as a run file says.
#pragma once

#include <filesystem>
#include <ostream>
#include <string>
#include <vector>

#include "host/registry.h"

namespace secateurs::cli {

// Prints progress, one line per round and the summary to `out`; writes the run's files
// to `output` (none when empty). `overrides` are --set KEY=VALUE; `threads` > 0 sets
// LibTorch's intra-op threads. Errors are thrown.
int prune(const host::Registry& registry, const std::filesystem::path& run_file,
          const std::vector<std::string>& overrides, const std::filesystem::path& output,
          int threads, std::ostream& out);

}  // namespace secateurs::cli
