// defense.label_smoothing: trains on soft targets, (1 - s) on the label plus s / C on every
// class (Szegedy et al., "Rethinking the Inception Architecture for Computer Vision", CVPR
// 2016). The cross-entropy against such a target is smallest at a true-class probability
// of 1 - s + s / C, not 1, so training no longer drives members to the extreme confidences
// that the metric attacks key on.
#include <torch/torch.h>

#include <secateurs/sdk.h>

#include <cstdint>

namespace {

using namespace secateurs;

class LabelSmoothing final : public Defense {
 public:
  explicit LabelSmoothing(const Params& params) : smoothing_(params.get_float("smoothing")) {
    // At 1 every target is uniform and the label no longer reaches the loss; the schema's
    // bounds are inclusive, so the open end is checked here.
    if (smoothing_ >= 1.0) {
      throw ConfigError("defense.label_smoothing: smoothing must be below 1, got 1");
    }
  }

  void begin_round(const TrainingSet& training, const RoundInfo&, Context&) override {
    num_classes_ = training.num_classes;
  }

  void prepare_batch(Batch& batch, Context&) override {
    if (num_classes_ < 2) {
      throw Error("defense.label_smoothing: prepare_batch before begin_round");
    }
    const at::Tensor one_hot = torch::one_hot(batch.labels, num_classes_).to(torch::kFloat32);
    batch.soft_targets = one_hot * static_cast<float>(1.0 - smoothing_) +
                         static_cast<float>(smoothing_ / static_cast<double>(num_classes_));
  }

 private:
  double smoothing_;
  std::int64_t num_classes_ = 0;
};

void register_components(Registrar& registrar) {
  registrar.add<LabelSmoothing>(
      Kind::Defense, "label_smoothing",
      "Label smoothing: soft targets (1 - smoothing) on the label + smoothing / C on every class "
      "(Szegedy et al., CVPR 2016)",
      {param::real("smoothing", 0.1,
                   "Mass taken from the label and spread evenly over all classes, in [0, 1)")
           .range(0, 1)});
}

}  // namespace

SECATEURS_PLUGIN("label_smoothing", "1.0.0", register_components)
