// `secateurs attack RUN.yaml`: a victim, its shadow models and every attack, as a run
// file says.
#pragma once

#include <filesystem>
#include <ostream>
#include <string>
#include <vector>

#include "host/registry.h"

namespace secateurs::cli {

// Prints progress and the summary to `out`; writes the run's files to `output` (none
// when empty). `overrides` are --set KEY=VALUE; `threads` models train at once (0: one
// per core). Errors are thrown.
int attack(const host::Registry& registry, const std::filesystem::path& run_file,
           const std::vector<std::string>& overrides, const std::filesystem::path& output,
           int threads, std::ostream& out);

}  // namespace secateurs::cli
