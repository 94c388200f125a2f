// attack.label_only_noise: the noise-robustness attack of Choquette-Choo et al. (2021). A
// model's decision on its training samples survives small input perturbations more often
// than on unseen samples, and the attack sees only predicted labels, so defences that only
// reshape the posterior (rounding, top-1 output, temperature) do not stop it.
#include <torch/torch.h>

#include <secateurs/sdk.h>

namespace {

using namespace secateurs;

// Noise is drawn a block of samples at a time, so memory stays bounded; the block size is
// fixed, not derived from the hardware, because it decides the order of the draws.
constexpr std::int64_t kBlock = 1024;

class LabelOnlyNoise final : public Attack {
 public:
  explicit LabelOnlyNoise(const Params& params)
      : queries_(params.get_int("queries")),
        sigma_(params.get_float("sigma")),
        max_shadow_samples_(params.get_int("max_shadow_samples")) {}

  AttackResult run(const AttackInputs& inputs, Context& context) override {
    if (inputs.shadows.empty()) throw ConfigError("attack.label_only_noise needs shadow models");
    if (!inputs.target_model) throw Error("attack.label_only_noise needs the target model");
    // The threshold from the shadows on their own samples, which they were trained on
    // exactly as the target was.
    const Samples& pool = inputs.shadows.samples;
    const std::int64_t count = std::min(pool.labels.size(0), max_shadow_samples_);
    std::vector<at::Tensor> scores, members;
    for (std::size_t k = 0; k < inputs.shadows.models.size(); ++k) {
      const ShadowModel& shadow = inputs.shadows.models[k];
      scores.push_back(robustness(*shadow.model, pool, count,
                                  stream_seed(context, "shadow." + std::to_string(k))));
      members.push_back(shadow.is_member.slice(0, 0, count));
    }
    const double threshold = best_threshold(torch::cat(scores), torch::cat(members));
    const at::Tensor target =
        robustness(*inputs.target_model, inputs.target, inputs.target.labels.size(0),
                   stream_seed(context, "target"));
    return {target, target.ge(threshold)};
  }

 private:
  // One stream per model, so that the target's noise does not depend on the shadows.
  static std::uint64_t stream_seed(const Context& context, const std::string& model) {
    return derive_seed(context.seed(), "attack.label_only_noise." + model);
  }

  // The fraction of the clean input and `queries_` noisy copies of it that `model`
  // labels correctly, for the first `count` samples: [count] float64.
  at::Tensor robustness(Model& model, const Samples& samples, std::int64_t count,
                        std::uint64_t seed) const {
    // Noise from a seeded CPU generator, drawn serially in double (LibTorch draws float32
    // normals through CPU-specific vector code), so the score does not depend on the
    // machine or the thread count.
    at::Generator generator = make_generator(seed);
    std::vector<at::Tensor> blocks;
    for (std::int64_t start = 0; start < count; start += kBlock) {
      const at::Tensor inputs = samples.inputs.slice(0, start, std::min(start + kBlock, count));
      const at::Tensor labels = samples.labels.slice(0, start, start + inputs.size(0));
      const auto correct = [&](const at::Tensor& x) {
        return query_logits(model, x).argmax(1).cpu().eq(labels.to(torch::kLong).cpu());
      };
      at::Tensor hits = correct(inputs).to(torch::kFloat64);
      for (std::int64_t q = 0; q < queries_; ++q) {
        const at::Tensor noise = torch::randn(inputs.sizes(), generator, torch::kFloat64);
        hits += correct(inputs + (noise * sigma_).to(inputs.options()));
      }
      blocks.push_back(hits / static_cast<double>(queries_ + 1));
    }
    if (blocks.empty()) return torch::empty({0}, torch::kFloat64);
    return torch::cat(blocks);
  }

  std::int64_t queries_;
  double sigma_;
  std::int64_t max_shadow_samples_;
};

void register_components(Registrar& registrar) {
  registrar.add<LabelOnlyNoise>(
      Kind::Attack, "label_only_noise",
      "Label-only: fraction of Gaussian-noised queries still labelled correctly "
      "(Choquette-Choo et al.)",
      {param::integer("queries", 16, "Noisy copies queried per sample").range(1, 1000),
       param::real("sigma", 0.1, "Standard deviation of the input noise").range(0, 10),
       param::integer("max_shadow_samples", 4000,
                      "Shadow samples per shadow model used for the threshold (the first)")
           .range(100, 1e7)});
}

}  // namespace

SECATEURS_PLUGIN("label_only_noise", "1.0.0", register_components)
