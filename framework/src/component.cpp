// Key functions of the SDK interfaces (so their type_info lives in the core library
// only) and the neutral defaults of the Defense hooks.
#include <algorithm>
#include <cstdlib>
#include <string>

#include "secateurs/sdk.h"

namespace secateurs {

std::string_view to_string(Kind kind) {
  switch (kind) {
    case Kind::Pruner: return "pruner";
    case Kind::Defense: return "defense";
    case Kind::Attack: return "attack";
    case Kind::Dataset: return "dataset";
    case Kind::Model: return "model";
  }
  return "unknown";
}

std::optional<Kind> kind_from_string(std::string_view text) {
  for (Kind kind : kAllKinds) {
    if (to_string(kind) == text) return kind;
  }
  return std::nullopt;
}

Component::~Component() = default;
Context::~Context() = default;
Dataset::~Dataset() = default;
Model::~Model() = default;
std::vector<ChannelGroup> Model::channel_groups() const {
  return {};
}
Pruner::~Pruner() = default;
Defense::~Defense() = default;

bool Defense::needs_memorization() const {
  return false;
}
void Defense::begin_round(const TrainingSet&, const RoundInfo&, Context&) {}
std::vector<std::int64_t> Defense::epoch_samples(const TrainingSet&, const RoundInfo&, int,
                                                 Context&) {
  return {};
}
std::vector<SampleGroup> Defense::sample_groups(const TrainingSet&, const RoundInfo&, Context&) {
  return {};
}
void Defense::prepare_batch(Batch&, Context&) {}
at::Tensor Defense::loss(Model&, const Batch&, const at::Tensor&, const at::Tensor& base_loss,
                         Context&) {
  return base_loss;
}
bool Defense::compute_gradients(Model&, const Batch&, Context&) {
  return false;
}
void Defense::after_step(Model&, const Batch&, Context&) {}
void Defense::end_round(Model&, Context&) {}
std::vector<std::pair<std::string, double>> Defense::measurements() const {
  return {};
}

std::string data_directory(const std::string& path, const std::string& component,
                           const char* environment, const std::string& fallback) {
  if (!path.empty()) return path;
  if (const char* from_environment = std::getenv(environment)) {
    if (*from_environment != '\0') return from_environment;
  }
  if (!fallback.empty()) return fallback;
  throw ConfigError(component + ": give the directory of its files as the parameter 'path' or in " +
                    environment);
}

LabeledData first_examples(LabeledData data, std::int64_t limit, const std::string& source) {
  const std::int64_t available = data.labels.size(0);
  if (limit > available) {
    throw DataError(source + ": asked for the first " + std::to_string(limit) +
                    " examples, but there are only " + std::to_string(available));
  }
  if (limit > 0) {
    data.inputs = data.inputs.slice(0, 0, limit).clone();
    data.labels = data.labels.slice(0, 0, limit).clone();
  }
  return data;
}

}  // namespace secateurs
