// Gaussian class blobs with tunable separation and planted label noise.
#include <torch/torch.h>

#include <cmath>
#include <limits>

#include <secateurs/sdk.h>

namespace {

class SyntheticBlobs final : public secateurs::Dataset {
 public:
  explicit SyntheticBlobs(const secateurs::Params& params)
      : samples_(params.get_int("samples")),
        classes_(params.get_int("classes")),
        features_(params.get_int("features")),
        separation_(params.get_float("separation")),
        label_noise_(params.get_float("label_noise")) {
    // Refused here, as a parameter problem, rather than as a failed allocation later.
    constexpr double kMaxElements = 2e9;
    if (static_cast<double>(samples_) * static_cast<double>(features_) > kMaxElements) {
      throw secateurs::ConfigError(
          "dataset.synthetic_blobs: samples x features = " +
          std::to_string(static_cast<double>(samples_) * static_cast<double>(features_)) +
          " values, more than the 2e9 this generator makes");
    }
  }

  secateurs::LabeledData load(secateurs::Context& context) override {
    // One generator, drawn from in a fixed order: the data depends on the seed alone.
    // Normals are drawn in double, which LibTorch computes the same way on every CPU.
    at::Generator generator = secateurs::make_generator(context.seed());
    const at::Tensor directions = torch::randn({classes_, features_}, generator, torch::kDouble);
    const at::Tensor centres =
        separation_ * directions / directions.norm(2, /*dim=*/1, /*keepdim=*/true).clamp_min(1e-12);
    at::Tensor labels = torch::randint(classes_, {samples_}, generator, torch::kLong);
    const at::Tensor inputs =
        (centres.index({labels}) + torch::randn({samples_, features_}, generator, torch::kDouble))
            .to(torch::kFloat);

    // Planted noise: exactly round(p * N) examples, each moved to a uniformly chosen other
    // class (adding 1..C-1 modulo C never lands on the original class).
    const auto noisy = static_cast<std::int64_t>(std::llround(label_noise_ * samples_));
    if (noisy > 0) {
      const at::Tensor chosen =
          torch::randperm(samples_, generator, torch::kLong).slice(0, 0, noisy);
      const at::Tensor shift = torch::randint(1, classes_, {noisy}, generator, torch::kLong);
      labels.index_put_({chosen}, (labels.index({chosen}) + shift).remainder(classes_));
    }
    return {inputs, labels, classes_};
  }

 private:
  std::int64_t samples_, classes_, features_;
  double separation_, label_noise_;
};

void register_components(secateurs::Registrar& registrar) {
  using namespace secateurs;
  registrar.add<SyntheticBlobs>(
      Kind::Dataset, "synthetic_blobs", "Gaussian class blobs with planted label noise",
      {param::integer("samples", 1000, "Number of examples").range(1, 100000000),
       param::integer("classes", 10, "Number of classes").range(2, 100000),
       param::integer("features", 16, "Features per example").range(1, 1000000),
       param::real("separation", 4.0, "Distance of each class centre from the origin")
           .range(0, 1e6),
       param::real("label_noise", 0.0, "Fraction of examples relabelled to another class")
           .range(0, 1)});
}

}  // namespace

SECATEURS_PLUGIN("synthetic_blobs", "1.0.0", register_components)
