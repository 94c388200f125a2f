// `secateurs train RUN.yaml`: one model, trained and evaluated as a run file says.
#pragma once

#include <filesystem>
#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "host/registry.h"
#include "host/trainer.h"

namespace secateurs::cli {

// Prints progress and the summary to `out`; writes the run's files to `output` (none
// when empty). `overrides` are --set KEY=VALUE; `threads` > 0 sets LibTorch's intra-op
// threads. Errors are thrown.
int train(const host::Registry& registry, const std::filesystem::path& run_file,
          const std::vector<std::string>& overrides, const std::filesystem::path& output,
          int threads, std::ostream& out);

// Prints one line per epoch of a fit of `epochs` epochs.
std::function<void(const host::EpochRecord&)> epoch_printer(int epochs, std::ostream& out);

}  // namespace secateurs::cli
