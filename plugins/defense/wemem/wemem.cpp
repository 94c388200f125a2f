// defense.rsw, defense.rmr, defense.swmr: the memorization-aware defenses of WeMeM
// (Shang et al., "Defending Against Membership Inference Attacks on Iteratively Pruned
// Deep Neural Networks", NDSS 2025). Iterative pruning fine-tunes on the same samples
// round after round (data reuse), and some samples are memorized far more than others
// (inherent memorability). The ranked sliding window (RSW) lets each epoch see only a
// window of every class's samples, ranked by memorization, so no sample is reused in
// every epoch; risky-memory regularization (RMR) trains the most memorized samples in
// steps of their own with a much stronger weight decay; SWMR does both.
#include <torch/torch.h>

#include <secateurs/sdk.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace {

using namespace secateurs;

enum class RankOrder { HighToLow, LowToHigh };

// Each class's training positions, ranked by memorization score; equal scores keep
// position order (a stable sort), so the schedule is exact and deterministic.
std::vector<std::vector<std::int64_t>> rank_classes(const std::vector<std::int64_t>& labels,
                                                    const std::vector<double>& memorization,
                                                    std::int64_t num_classes, RankOrder order) {
  std::vector<std::vector<std::int64_t>> ranked(static_cast<std::size_t>(num_classes));
  for (std::size_t p = 0; p < labels.size(); ++p) {
    ranked[static_cast<std::size_t>(labels[p])].push_back(static_cast<std::int64_t>(p));
  }
  const auto score = [&](std::int64_t p) { return memorization[static_cast<std::size_t>(p)]; };
  for (std::vector<std::int64_t>& positions : ranked) {
    if (order == RankOrder::HighToLow) {
      std::stable_sort(positions.begin(), positions.end(),
                       [&](std::int64_t a, std::int64_t b) { return score(a) > score(b); });
    } else {
      std::stable_sort(positions.begin(), positions.end(),
                       [&](std::int64_t a, std::int64_t b) { return score(a) < score(b); });
    }
  }
  return ranked;
}

// The window of one class of `class_size` samples, in ranks: `width` and `stride` are
// fractions of the class, rounded half away from zero; every class keeps at least one
// sample per epoch.
struct WindowShape {
  std::int64_t width = 0;
  std::int64_t stride = 0;
};

WindowShape window_shape(std::int64_t class_size, double width, double stride) {
  const auto n = static_cast<double>(class_size);
  return {std::max<std::int64_t>(1, std::llround(width * n)), std::llround(stride * n)};
}

// The positions visited in `epoch` (0-based, within the round): ranks
// [epoch * stride, epoch * stride + width) of each class, taken modulo the class size, so
// a window that runs past the last rank continues at the first and every epoch visits
// the same number of samples of each class.
std::vector<std::int64_t> window_positions(const std::vector<std::vector<std::int64_t>>& ranked,
                                           double width, double stride, int epoch) {
  std::vector<std::int64_t> positions;
  for (const std::vector<std::int64_t>& ranks : ranked) {
    const auto n = static_cast<std::int64_t>(ranks.size());
    if (n == 0) continue;
    const WindowShape shape = window_shape(n, width, stride);
    const std::int64_t start = (static_cast<std::int64_t>(epoch) * shape.stride) % n;
    for (std::int64_t k = 0; k < shape.width; ++k) {
      positions.push_back(ranks[static_cast<std::size_t>((start + k) % n)]);
    }
  }
  return positions;
}

// Positions whose memorization score is at least `threshold`, in increasing order.
std::vector<std::int64_t> risky_positions(const std::vector<double>& memorization,
                                          double threshold) {
  std::vector<std::int64_t> risky;
  for (std::size_t p = 0; p < memorization.size(); ++p) {
    if (memorization[p] >= threshold) risky.push_back(static_cast<std::int64_t>(p));
  }
  return risky;
}

std::vector<double> memorization_of(const TrainingSet& training, const std::string& component) {
  const std::int64_t size = training.labels.size(0);
  const at::Tensor& m = training.memorization;
  if (!m.defined() || m.dim() != 1 || m.size(0) != size) {
    throw ConfigError(component + " needs one memorization score per training sample, and " +
                      (m.defined() ? "their count differs" : "none were given"));
  }
  const at::Tensor scores = m.to(torch::kCPU, torch::kFloat64).contiguous();
  std::vector<double> values(scores.data_ptr<double>(), scores.data_ptr<double>() + size);
  // A NaN compares false both ways, which would break the ranking's ordering.
  for (std::size_t p = 0; p < values.size(); ++p) {
    if (std::isnan(values[p])) {
      throw DataError(component + ": the memorization score of training sample " +
                      std::to_string(p) + " is NaN");
    }
  }
  return values;
}

std::vector<std::int64_t> labels_of(const TrainingSet& training, const std::string& component) {
  const at::Tensor labels = training.labels.to(torch::kCPU, torch::kInt64).contiguous();
  std::vector<std::int64_t> values(labels.data_ptr<std::int64_t>(),
                                   labels.data_ptr<std::int64_t>() + labels.numel());
  for (std::size_t p = 0; p < values.size(); ++p) {
    if (values[p] < 0 || values[p] >= training.num_classes) {
      throw DataError(component + ": training sample " + std::to_string(p) + " has label " +
                      std::to_string(values[p]) + ", outside the " +
                      std::to_string(training.num_classes) + " classes");
    }
  }
  return values;
}

ParamSchema window_schema() {
  return {
      param::choice("order", {"high_to_low", "low_to_high"}, "high_to_low",
                    "Ranking of each class's samples by memorization score"),
      // 0.4 and 0.15 cover every rank in 5 epochs with no sample in more than 3 of them.
      param::real("width", 0.4, "Window width, as a fraction of each class, in (0, 1]").range(0, 1),
      param::real("stride", 0.15, "Window shift per epoch, as a fraction of each class")
          .range(0, 1),
  };
}

ParamSchema regularization_schema() {
  return {
      param::real("threshold", 0.8, "Samples with a memorization score at least this are risky")
          .range(0, 1),
      param::real("risky_weight_decay", 0.1, "Weight decay of the risky samples' steps")
          .range(0, 10),
      param::real("risky_lr_scale", 1.0,
                  "Learning-rate factor of the risky samples' steps (1: the trainer's rate)")
          .range(0, 10),
  };
}

ParamSchema both_schemas() {
  ParamSchema schema = window_schema();
  for (ParamSpec& spec : regularization_schema()) schema.push_back(std::move(spec));
  return schema;
}

struct Primitives {
  bool window = false;
  bool regularization = false;
};

struct WindowSettings {
  RankOrder order = RankOrder::HighToLow;
  double width = 0;
  double stride = 0;
};

struct RegularizationSettings {
  double threshold = 0;
  OptimizerOverride risky;
};

// One implementation for the three methods; each reads only its own primitives'
// parameters.
class WeMeM : public Defense {
 public:
  WeMeM(const Params& params, Primitives primitives, std::string component)
      : component_(std::move(component)) {
    if (primitives.window) {
      WindowSettings w;
      w.order =
          params.get_string("order") == "low_to_high" ? RankOrder::LowToHigh : RankOrder::HighToLow;
      w.width = params.get_float("width");
      w.stride = params.get_float("stride");
      if (!(w.width > 0)) {
        throw ConfigError(component_ + ": width must be above 0 (a fraction of each class)");
      }
      window_ = w;
    }
    if (primitives.regularization) {
      RegularizationSettings r;
      r.threshold = params.get_float("threshold");
      r.risky.weight_decay = params.get_float("risky_weight_decay");
      r.risky.learning_rate_scale = params.get_float("risky_lr_scale");
      regularization_ = r;
    }
  }

  bool needs_memorization() const override { return true; }

  // The ranking and the risky set depend only on the training set, so they are fixed
  // once per round; the window restarts at epoch 0 because the trainer counts epochs
  // within the round.
  void begin_round(const TrainingSet& training, const RoundInfo& round, Context& context) override {
    const std::vector<double> scores = memorization_of(training, component_);
    const auto size = static_cast<double>(scores.size());
    measured_.clear();
    if (window_) {
      ranked_ = rank_classes(labels_of(training, component_), scores, training.num_classes,
                             window_->order);
      std::int64_t per_epoch = 0;
      for (const std::vector<std::int64_t>& ranks : ranked_) {
        if (!ranks.empty()) {
          per_epoch +=
              window_shape(static_cast<std::int64_t>(ranks.size()), window_->width, window_->stride)
                  .width;
        }
      }
      // Every round restarts the window, so ranks past the last epoch's window are never
      // trained on in fine-tuning: worth saying, since it may not be what was meant.
      const double covered = window_->width + window_->stride * std::max(0, round.epochs - 1);
      if (covered < 1.0) {
        context.log(LogLevel::Warning,
                    component_ + ": with width " + std::to_string(window_->width) + ", stride " +
                        std::to_string(window_->stride) + " and " + std::to_string(round.epochs) +
                        " epochs, the lowest-ranked " + std::to_string((1.0 - covered) * 100) +
                        " % of each class is never visited in a round");
      }
      measured_.emplace_back("window_samples", static_cast<double>(per_epoch));
      measured_.emplace_back("window_fraction", static_cast<double>(per_epoch) / size);
    }
    if (regularization_) {
      risky_ = risky_positions(scores, regularization_->threshold);
      measured_.emplace_back("risky_samples", static_cast<double>(risky_.size()));
      measured_.emplace_back("risky_fraction", static_cast<double>(risky_.size()) / size);
    }
    in_round_ = true;
  }

  std::vector<std::int64_t> epoch_samples(const TrainingSet&, const RoundInfo&, int epoch,
                                          Context&) override {
    if (!window_) return {};
    require_round("epoch_samples");
    return window_positions(ranked_, window_->width, window_->stride, epoch);
  }

  std::vector<SampleGroup> sample_groups(const TrainingSet&, const RoundInfo&, Context&) override {
    if (!regularization_) return {};
    require_round("sample_groups");
    if (risky_.empty()) return {};
    return {SampleGroup{"risky", risky_, regularization_->risky}};
  }

  void end_round(Model&, Context&) override { in_round_ = false; }

  std::vector<std::pair<std::string, double>> measurements() const override { return measured_; }

 private:
  void require_round(const char* hook) const {
    if (!in_round_) throw Error(component_ + ": " + hook + " called outside a round");
  }

  std::string component_;
  std::optional<WindowSettings> window_;
  std::optional<RegularizationSettings> regularization_;
  bool in_round_ = false;
  std::vector<std::vector<std::int64_t>> ranked_;
  std::vector<std::int64_t> risky_;
  std::vector<std::pair<std::string, double>> measured_;  // of the last round begun
};

class Rsw final : public WeMeM {
 public:
  explicit Rsw(const Params& params) : WeMeM(params, {.window = true}, "defense.rsw") {}
};

class Rmr final : public WeMeM {
 public:
  explicit Rmr(const Params& params) : WeMeM(params, {.regularization = true}, "defense.rmr") {}
};

class Swmr final : public WeMeM {
 public:
  explicit Swmr(const Params& params)
      : WeMeM(params, {.window = true, .regularization = true}, "defense.swmr") {}
};

void register_components(Registrar& registrar) {
  registrar.add<Rsw>(Kind::Defense, "rsw",
                     "WeMeM ranked sliding window: each epoch trains on a window of every "
                     "class's samples ranked by memorization",
                     window_schema());
  registrar.add<Rmr>(Kind::Defense, "rmr",
                     "WeMeM risky-memory regularization: highly memorized samples train in "
                     "separate steps with a strong weight decay",
                     regularization_schema());
  registrar.add<Swmr>(Kind::Defense, "swmr",
                      "WeMeM sliding window with memory regularization: RSW and RMR together",
                      both_schemas());
}

}  // namespace

SECATEURS_PLUGIN("wemem", "1.0.0", register_components)
