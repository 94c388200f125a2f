#include "host/data_checks.h"

#include <ATen/ATen.h>

#include <cstdio>

#include "secateurs/error.h"

namespace secateurs::host {

void check_labeled_data(const LabeledData& data, const std::string& component) {
  const std::string where = component + " returned ";
  if (!data.inputs.defined() || !data.labels.defined()) {
    throw PluginError(where + "no inputs or no labels");
  }
  if (data.inputs.dim() < 2 || data.inputs.size(0) == 0) {
    throw PluginError(where + "inputs of shape " + c10::str(data.inputs.sizes()) +
                      "; expected [N, ...] with N > 0");
  }
  if (data.inputs.scalar_type() != at::kFloat) {
    throw PluginError(where + std::string(c10::toString(data.inputs.scalar_type())) +
                      " inputs; expected Float (float32)");
  }
  if (data.labels.dim() != 1 || data.labels.size(0) != data.inputs.size(0)) {
    throw PluginError(where + "labels of shape " + c10::str(data.labels.sizes()) + " for " +
                      std::to_string(data.inputs.size(0)) + " inputs; expected [N]");
  }
  if (data.labels.scalar_type() != at::kLong) {
    throw PluginError(where + std::string(c10::toString(data.labels.scalar_type())) +
                      " labels; expected Long (int64)");
  }
  if (data.num_classes < 2) {
    throw PluginError(where + "num_classes " + std::to_string(data.num_classes) +
                      "; expected at least 2");
  }
  const std::int64_t low = data.labels.min().item<std::int64_t>();
  const std::int64_t high = data.labels.max().item<std::int64_t>();
  if (low < 0 || high >= data.num_classes) {
    throw PluginError(where + "labels in [" + std::to_string(low) + ", " + std::to_string(high) +
                      "]; expected them in [0, " + std::to_string(data.num_classes) + ")");
  }
  if (!at::isfinite(data.inputs).all().item<bool>()) {
    throw PluginError(where + "inputs with NaN or infinite values");
  }
}

std::string summarize_labeled_data(const LabeledData& data) {
  const at::Tensor inputs = data.inputs.to(at::kDouble);
  std::vector<std::int64_t> shape(data.inputs.sizes().begin() + 1, data.inputs.sizes().end());
  char stats[160];
  std::snprintf(stats, sizeof stats, "inputs: min %.4g, max %.4g, mean %.4f, std %.4f\n",
                inputs.min().item<double>(), inputs.max().item<double>(),
                inputs.mean().item<double>(), inputs.std().item<double>());
  std::string text = std::to_string(data.inputs.size(0)) + " examples of shape " +
                     c10::str(at::IntArrayRef(shape)) + ", " + std::to_string(data.num_classes) +
                     " classes\n" + stats + "examples per class:";
  const at::Tensor counts = at::bincount(data.labels, {}, data.num_classes);
  for (std::int64_t c = 0; c < data.num_classes; ++c) {
    text += (c % 10 == 0 ? "\n " : "") + std::string(" ") + std::to_string(c) + ":" +
            std::to_string(counts[c].item<std::int64_t>());
  }
  return text + "\n";
}

void hash_labeled_data(Sha256& hash, const LabeledData& data) {
  const at::Tensor inputs = data.inputs.to(at::kFloat).contiguous();
  const at::Tensor labels = data.labels.to(at::kLong).contiguous();
  std::string shape = "inputs";
  for (const std::int64_t d : inputs.sizes()) shape += " " + std::to_string(d);
  shape += " labels " + std::to_string(labels.numel()) + "\n";
  hash.update(shape);
  hash.update(inputs.data_ptr(), static_cast<std::size_t>(inputs.numel()) * sizeof(float));
  hash.update(labels.data_ptr(), static_cast<std::size_t>(labels.numel()) * sizeof(std::int64_t));
}

}  // namespace secateurs::host
