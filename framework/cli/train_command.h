// `secateurs train RUN.yaml`: one model, trained and evaluated as a run file says.
#pragma once

#include <filesystem>
#include <ostream>

#include "host/registry.h"

namespace secateurs::cli {

// Prints progress and the summary to `out`; writes the run's files to `output` (none
// when empty). `threads` > 0 sets LibTorch's intra-op threads. Errors are thrown.
int train(const host::Registry& registry, const std::filesystem::path& run_file,
          const std::filesystem::path& output, int threads, std::ostream& out);

}  // namespace secateurs::cli
