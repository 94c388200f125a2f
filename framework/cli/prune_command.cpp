#include "prune_command.h"

#include <ATen/Parallel.h>

#include "host/pruning_run.h"
#include "host/runtime_info.h"
#include "train_command.h"

namespace secateurs::cli {

int prune(const host::Registry& registry, const std::filesystem::path& run_file,
          const std::vector<std::string>& overrides, const std::filesystem::path& output,
          int threads, std::ostream& out) {
  const host::PruningRunConfig config = host::read_pruning_run(run_file, registry, overrides);
  host::set_compute_threads(threads);
  out << "secateurs prune " << run_file.string() << " (LibTorch threads: " << at::get_num_threads()
      << ")\n";
  host::PruningRunHooks hooks;
  hooks.status = [&](const std::string& line) { out << line << "\n" << std::flush; };
  hooks.epoch_done = epoch_printer(config.run.trainer.epochs, out);
  hooks.round_done = [&](const host::RoundRecord& round) {
    out << host::format_round_line(round) << "\n" << std::flush;
  };
  const host::PruningRunResult result = host::run_pruning(config, registry, output, hooks);
  out << "\n" << host::format_pruning_summary(config, result);
  if (!output.empty()) out << "written to " << output.string() << "\n";
  return 0;
}

}  // namespace secateurs::cli
