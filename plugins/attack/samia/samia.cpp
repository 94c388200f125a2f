// attack.samia: the self-attention membership inference attack of Yuan & Zhang,
// "Membership Inference Attacks and Defenses in Neural Network Pruning" (USENIX Security
// 2022). Pruning makes some members' posteriors brittle, so besides the posterior p_c each
// class token carries its sensitivity s_c to small Gaussian noise on the input, and the
// true label y_c; a small transformer encoder, trained on the shadows' tokens, weighs the
// classes against each other without a fixed order of classes.
#include <torch/torch.h>

#include <secateurs/sdk.h>

#include <algorithm>
#include <string>
#include <vector>

namespace {

using namespace secateurs;

// Noisy inputs are drawn and queried this many samples at a time, so memory stays bounded
// whatever the number of samples; fixed so that the noise stream does not depend on it.
constexpr std::int64_t kChunk = 1024;

// Tokens [N, C, 3] -> member logit [N]: Linear(3, d) embedding of each class token, a
// post-norm transformer encoder over the C tokens, their mean, Linear(d, 1).
class TokenEncoderImpl : public torch::nn::Module {
 public:
  TokenEncoderImpl(std::int64_t d_model, std::int64_t heads, std::int64_t layers)
      : embed_(register_module("embed", torch::nn::Linear(3, d_model))),
        encoder_(register_module("encoder",
                                 torch::nn::TransformerEncoder(torch::nn::TransformerEncoderOptions(
                                     torch::nn::TransformerEncoderLayerOptions(d_model, heads)
                                         .dim_feedforward(2 * d_model)
                                         .dropout(0.0),
                                     layers)))),
        head_(register_module("head", torch::nn::Linear(d_model, 1))) {}

  at::Tensor forward(const at::Tensor& features) {
    // LibTorch 1.13's encoder takes [sequence, batch, feature]: the tokens are the sequence.
    const at::Tensor tokens = embed_(features).transpose(0, 1);
    return head_(encoder_(tokens).mean(0)).squeeze(1);
  }

 private:
  torch::nn::Linear embed_;
  torch::nn::TransformerEncoder encoder_;
  torch::nn::Linear head_;
};

class Samia final : public Attack {
 public:
  explicit Samia(const Params& params)
      : sigma_(params.get_float("sigma")),
        draws_(params.get_int("draws")),
        d_model_(params.get_int("d_model")),
        heads_(params.get_int("heads")),
        layers_(params.get_int("layers")),
        max_training_(params.get_int("max_training")) {
    settings_.epochs = static_cast<int>(params.get_int("epochs"));
    settings_.learning_rate = params.get_float("learning_rate");
    settings_.batch_size = params.get_int("batch_size");
    if (d_model_ % heads_ != 0) {
      throw ConfigError("attack.samia: heads (" + std::to_string(heads_) +
                        ") must divide d_model (" + std::to_string(d_model_) +
                        "), since each head attends over d_model / heads features");
    }
  }

  AttackResult run(const AttackInputs& inputs, Context& context) override {
    const ShadowSet& shadows = inputs.shadows;
    check_inputs(inputs);
    const auto shadow_count = static_cast<std::int64_t>(shadows.models.size());
    // The first max_training / S samples of every shadow: all shadows see the same
    // samples, each with its own membership, so the classifier cannot learn the samples.
    const std::int64_t per_shadow =
        std::clamp<std::int64_t>(max_training_ / shadow_count, 1, shadows.samples.labels.size(0));
    const std::int64_t steps = shadow_count + 2;  // every shadow's tokens, training, target

    std::vector<at::Tensor> features, members;
    for (std::int64_t k = 0; k < shadow_count; ++k) {
      const ShadowModel& shadow = shadows.models[static_cast<std::size_t>(k)];
      features.push_back(tokens(
          *shadow.model, shadows.samples.inputs.slice(0, 0, per_shadow),
          shadows.samples.labels.slice(0, 0, per_shadow), shadow.logits.slice(0, 0, per_shadow),
          derive_seed(context.seed(), "attack.samia.noise.shadow." + std::to_string(k))));
      members.push_back(shadow.is_member.slice(0, 0, per_shadow).to(torch::kBool));
      context.progress(k + 1, steps);
    }
    const at::Tensor is_member = torch::cat(members);
    const auto member_count = is_member.sum().item<std::int64_t>();
    if (member_count == 0 || member_count == is_member.numel()) {
      throw ConfigError("attack.samia: the " + std::to_string(is_member.numel()) +
                        " training samples (the first " + std::to_string(per_shadow) +
                        " of each shadow) are all " + (member_count == 0 ? "non-" : "") +
                        "members; raise max_training");
    }

    MembershipClassifier classifier(
        torch::nn::AnyModule(std::make_shared<TokenEncoderImpl>(d_model_, heads_, layers_)));
    classifier.fit(torch::cat(features), is_member, settings_,
                   derive_seed(context.seed(), "attack.samia"));
    context.progress(shadow_count + 1, steps);

    const at::Tensor target_tokens =
        tokens(*inputs.target_model, inputs.target.inputs, inputs.target.labels,
               inputs.target_logits, derive_seed(context.seed(), "attack.samia.noise.target"));
    const at::Tensor scores = classifier.score(target_tokens);
    context.progress(steps, steps);
    // The classifier's logit: 0 is where it finds member and non-member equally likely,
    // on training data balanced as each shadow's halves are.
    return {scores, scores.ge(0.0)};
  }

 private:
  void check_inputs(const AttackInputs& inputs) const {
    const ShadowSet& shadows = inputs.shadows;
    if (shadows.models.empty()) {
      throw ConfigError(
          "attack.samia needs at least 1 shadow model to train its classifier on, but there "
          "are none; train shadows");
    }
    if (shadows.samples.labels.numel() == 0) {
      throw ConfigError("attack.samia: the shadows' sample set is empty; nothing to train on");
    }
    for (const ShadowModel& shadow : shadows.models) {
      if (shadow.model == nullptr) throw Error("attack.samia: a shadow without a model");
    }
    if (inputs.target_model == nullptr) throw Error("attack.samia: no target model to query");
  }

  // Tokens [N, C, 3] float32 (p_c, s_c, y_c) of `model` on `inputs`: p = softmax(logits),
  // s_c = mean over the draws of |p_c(x + noise) - p_c(x)| with noise ~ N(0, sigma^2) per
  // input element, y = one-hot(labels).
  at::Tensor tokens(Model& model, const at::Tensor& inputs, const at::Tensor& labels,
                    const at::Tensor& logits, std::uint64_t seed) const {
    const at::Tensor posterior = torch::softmax(logits.to(torch::kFloat64), 1);
    at::Tensor sensitivity = torch::zeros_like(posterior);
    // Normals drawn in float64 and converted: LibTorch's float32 normals come from
    // CPU-specific vector code, so they would differ between machines.
    at::Generator generator = make_generator(seed);
    const std::int64_t n = inputs.size(0);
    for (std::int64_t start = 0; start < n; start += kChunk) {
      const std::int64_t end = std::min(start + kChunk, n);
      const at::Tensor rows = inputs.slice(0, start, end);
      const at::Tensor clean = posterior.slice(0, start, end);
      at::Tensor total = torch::zeros_like(clean);
      for (std::int64_t draw = 0; draw < draws_; ++draw) {
        const at::Tensor noise =
            (torch::randn(rows.sizes(), generator, torch::kFloat64) * sigma_).to(rows.options());
        const at::Tensor noisy = torch::softmax(
            query_logits(model, rows + noise).to(torch::kFloat64).to(clean.device()), 1);
        total += (noisy - clean).abs();
      }
      sensitivity.slice(0, start, end).copy_(total / static_cast<double>(draws_));
    }
    const at::Tensor one_hot =
        torch::one_hot(labels.to(torch::kLong), posterior.size(1)).to(torch::kFloat64);
    return torch::stack({posterior, sensitivity, one_hot.to(posterior.device())}, 2)
        .to(torch::kFloat32);
  }

  double sigma_;
  std::int64_t draws_;
  std::int64_t d_model_;
  std::int64_t heads_;
  std::int64_t layers_;
  std::int64_t max_training_;
  ClassifierSettings settings_;
};

void register_components(Registrar& registrar) {
  registrar.add<Samia>(
      Kind::Attack, "samia",
      "SAMIA: transformer over per-class (posterior, noise sensitivity, label) tokens (Yuan & "
      "Zhang 2022)",
      {param::real("sigma", 0.01, "Deviation of the Gaussian noise added to the inputs")
           .range(0, 10),
       param::integer("draws", 8, "Noise draws averaged into each sensitivity").range(1, 256),
       param::integer("d_model", 32, "Token embedding width").range(4, 512),
       param::integer("heads", 4, "Attention heads (must divide d_model)").range(1, 16),
       param::integer("layers", 2, "Transformer encoder layers").range(1, 8),
       param::integer("epochs", 20, "Training epochs of the classifier").range(1, 1000),
       param::real("learning_rate", 1e-3, "Adam learning rate").range(1e-6, 1),
       param::integer("batch_size", 128, "Training batch size").range(1, 65536),
       param::integer("max_training", 20000,
                      "Training samples in all, the first max_training / S of each shadow")
           .range(100, 10000000)});
}

}  // namespace

SECATEURS_PLUGIN("samia", "1.0.0", register_components)
