#include "train_command.h"

#include <ATen/Parallel.h>

#include <cmath>
#include <iomanip>
#include <sstream>

#include "host/runtime_info.h"
#include "host/training_run.h"

namespace secateurs::cli {
namespace {

std::string percent(double fraction) {
  if (std::isnan(fraction)) return "      -";
  std::ostringstream text;
  text << std::fixed << std::setprecision(2) << std::setw(6) << fraction * 100 << "%";
  return text.str();
}

}  // namespace

std::function<void(const host::EpochRecord&)> epoch_printer(int epochs, std::ostream& out) {
  return [epochs, &out](const host::EpochRecord& e) {
    out << "epoch " << std::setw(3) << e.epoch + 1 << "/" << epochs << "  lr " << std::fixed
        << std::setprecision(5) << e.learning_rate << "  loss " << std::setprecision(4)
        << e.train_loss << "  train " << percent(e.train_accuracy) << "  dev "
        << percent(e.dev_accuracy) << "  " << std::setprecision(1)
        << e.train_seconds + e.dev_seconds << " s\n"
        << std::defaultfloat << std::flush;
  };
}

int train(const host::Registry& registry, const std::filesystem::path& run_file,
          const std::vector<std::string>& overrides, const std::filesystem::path& output,
          int threads, std::ostream& out) {
  const host::TrainingRunConfig config = host::read_training_run(run_file, registry, overrides);
  host::set_compute_threads(threads);
  out << "secateurs train " << run_file.string() << " (LibTorch threads: " << at::get_num_threads()
      << ")\n";
  host::TrainingRunHooks hooks;
  hooks.status = [&](const std::string& line) { out << line << "\n" << std::flush; };
  hooks.epoch_done = epoch_printer(config.trainer.epochs, out);
  const host::TrainingRunResult result = host::run_training(config, registry, output, hooks);
  out << "\n" << host::format_training_summary(config, result);
  if (!output.empty()) out << "written to " << output.string() << "\n";
  return 0;
}

}  // namespace secateurs::cli
