// defense.dp_sgd: differentially private SGD (Abadi et al., CCS 2016). Each sample's
// gradient is clipped to L2 norm max_grad_norm over all trainable parameters jointly, the
// clipped gradients are summed, Gaussian noise of standard deviation
// noise_multiplier * max_grad_norm is added to every coordinate, and the sum is divided by
// the batch size. The privacy spent is accounted with the RDP of the sampled Gaussian
// mechanism (secateurs/privacy.h) over every step this defense object trained.
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include <secateurs/sdk.h>

namespace {

using namespace secateurs;

constexpr const char* kId = "defense.dp_sgd";

bool is_batch_norm(const torch::nn::Module& module) {
  const std::string& type = module.name();
  if (type.find("BatchNorm") != std::string::npos) return true;
  // Instance norm normalises each sample by itself, even when it tracks statistics.
  if (type.find("InstanceNorm") != std::string::npos) return false;
  const auto& buffers = module.named_buffers(/*recurse=*/false);
  return buffers.contains("running_mean") || buffers.contains("running_var");
}

// The name and type of a module whose batch statistics tie a sample's gradient to the
// rest of its batch, or empty names. Recognised by class name (C++ and TorchScript batch
// norms) and by running statistics (any other normalisation over the batch that tracks
// them).
std::pair<std::string, std::string> find_batch_norm(torch::nn::Module& root) {
  // The root is checked apart: named_modules() can include it only when a shared_ptr
  // owns it, which the Model interface does not promise.
  if (is_batch_norm(root)) return {"(the root module)", root.name()};
  for (const auto& item : root.named_modules("", /*include_self=*/false)) {
    if (is_batch_norm(*item.value())) return {item.key(), item.value()->name()};
  }
  return {};
}

// Cross-entropy of one sample: against its label, or against the soft target a
// previous hook set.
at::Tensor sample_loss(const at::Tensor& logits, const Batch& batch, std::int64_t index) {
  if (batch.soft_targets.defined()) {
    const at::Tensor target = batch.soft_targets.slice(0, index, index + 1).to(logits.dtype());
    return -(target * torch::log_softmax(logits, 1)).sum();
  }
  return torch::nn::functional::cross_entropy(logits, batch.labels.slice(0, index, index + 1));
}

class DpSgd final : public Defense {
 public:
  explicit DpSgd(const Params& params)
      : noise_multiplier_(params.get_float("noise_multiplier")),
        max_grad_norm_(params.get_float("max_grad_norm")),
        delta_(params.get_float("delta")) {
    if (!(max_grad_norm_ > 0.0)) {
      throw ConfigError(std::string(kId) + ": max_grad_norm must be > 0, got " +
                        std::to_string(max_grad_norm_));
    }
    if (!(delta_ > 0.0 && delta_ < 1.0)) {
      throw ConfigError(std::string(kId) + ": delta must be in (0, 1), got " +
                        std::to_string(delta_));
    }
  }

  void begin_round(const TrainingSet& training, const RoundInfo& round, Context& context) override {
    training_size_ = training.labels.size(0);
    // A stream per fit: rounds must not replay each other's noise, whatever seed the host
    // hands each round's context.
    noise_ = make_generator(derive_seed(
        context.seed(),
        "dp_sgd.noise.round." + std::to_string(round.round) + ".fit." + std::to_string(fits_)));
    ++fits_;
  }

  bool compute_gradients(Model& model, const Batch& batch, Context&) override {
    if (!noise_.defined()) {
      throw Error(std::string(kId) + ": compute_gradients was called before begin_round");
    }
    torch::nn::Module& module = model.module();
    if (!checked_model_) {
      const auto [name, type] = find_batch_norm(module);
      if (!name.empty()) {
        throw ConfigError(std::string(kId) + ": the model's module '" + name + "' (" + type +
                          ") is a batch norm, which mixes the samples of a batch, so per-sample "
                          "gradients are undefined; use a model without batch norm (e.g. "
                          "model.small_cnn or model.mlp)");
      }
      checked_model_ = true;
    }
    // The trainer trains in training mode; running each sample alone then sees the
    // same layers (dropout included) as a batched step would.
    if (!module.is_training()) {
      throw Error(std::string(kId) + ": the model must be in training mode");
    }

    std::vector<at::Tensor> parameters;
    for (const at::Tensor& p : module.parameters()) {
      if (p.requires_grad()) parameters.push_back(p);
    }
    const std::int64_t batch_size = batch.inputs.size(0);
    if (parameters.empty()) return false;
    if (batch_size == 0) throw Error(std::string(kId) + ": an empty batch");

    torch::AutoGradMode enable_grad(true);
    // Summed in float64: a sum of many clipped float32 gradients and the noise would
    // otherwise round at the level of the smallest updates.
    std::vector<at::Tensor> sums;
    sums.reserve(parameters.size());
    for (const at::Tensor& p : parameters) {
      sums.push_back(torch::zeros(p.sizes(), p.options().dtype(torch::kFloat64)));
    }
    for (std::int64_t i = 0; i < batch_size; ++i) {
      const at::Tensor logits = model.forward(batch.inputs.slice(0, i, i + 1));
      const at::Tensor loss = sample_loss(logits, batch, i);
      std::vector<at::Tensor> gradients =
          torch::autograd::grad({loss}, parameters, {}, /*retain_graph=*/false,
                                /*create_graph=*/false, /*allow_unused=*/true);
      double squared_norm = 0.0;
      for (const at::Tensor& g : gradients) {
        if (g.defined()) squared_norm += g.to(torch::kFloat64).pow(2).sum().item<double>();
      }
      const double norm = std::sqrt(squared_norm);
      // The trainer's own divergence check is skipped with this hook; a NaN norm would
      // also pass the clipping unclipped.
      if (!std::isfinite(norm)) {
        throw DataError(std::string(kId) + ": a sample's gradient is not finite (training " +
                        "diverged); lower the learning rate");
      }
      const double scale = norm > max_grad_norm_ ? max_grad_norm_ / norm : 1.0;
      for (std::size_t k = 0; k < parameters.size(); ++k) {
        if (gradients[k].defined()) sums[k].add_(gradients[k].to(torch::kFloat64), scale);
      }
    }

    const double noise_std = noise_multiplier_ * max_grad_norm_;
    for (std::size_t k = 0; k < parameters.size(); ++k) {
      at::Tensor& p = parameters[k];
      if (noise_std > 0.0) {
        // Drawn in float64 on the CPU, so the noise is the same on every machine.
        sums[k].add_(torch::randn(p.sizes(), noise_, torch::kFloat64).to(sums[k].device()),
                     noise_std);
      }
      p.mutable_grad() = (sums[k] / static_cast<double>(batch_size)).to(p.dtype()).detach();
    }

    ++steps_;
    // Fixed-size shuffled batches: the full batch is the sampling rate of the accounting,
    // and the largest one bounds every step's (the RDP grows with the rate).
    sampling_rate_ = std::max(
        sampling_rate_, static_cast<double>(batch_size) / static_cast<double>(training_size_));
    return true;
  }

  std::vector<std::pair<std::string, double>> measurements() const override {
    double epsilon = 0.0;
    double order = 0.0;  // none before the first step, as in PrivacyGuarantee
    if (steps_ > 0 && noise_multiplier_ == 0.0) {
      epsilon = std::numeric_limits<double>::infinity();
    } else if (steps_ > 0) {
      const PrivacyGuarantee guarantee =
          dp_sgd_privacy(std::min(sampling_rate_, 1.0), noise_multiplier_, steps_, delta_);
      epsilon = guarantee.epsilon;
      order = guarantee.order;
    }
    return {{"epsilon", epsilon},
            {"delta", delta_},
            {"steps", static_cast<double>(steps_)},
            {"noise_multiplier", noise_multiplier_},
            {"max_grad_norm", max_grad_norm_},
            {"sampling_rate", sampling_rate_},
            {"rdp_order", order}};
  }

 private:
  double noise_multiplier_;
  double max_grad_norm_;
  double delta_;

  std::int64_t training_size_ = 0;
  at::Generator noise_;
  int fits_ = 0;
  bool checked_model_ = false;
  // Over every fit of this object: its epsilon composes all the steps it trained.
  std::int64_t steps_ = 0;
  double sampling_rate_ = 0.0;
};

void register_components(Registrar& registrar) {
  registrar.add<DpSgd>(
      Kind::Defense, "dp_sgd",
      "DP-SGD: per-sample clipping and Gaussian noise, epsilon from the RDP accountant",
      {param::real("noise_multiplier", 1.0,
                   "sigma: noise standard deviation over the clipping norm (0: no noise, "
                   "epsilon infinite)")
           .at_least(0),
       param::real("max_grad_norm", 1.0,
                   "C: each sample's gradient is clipped to this L2 norm (all parameters)")
           .at_least(0),
       param::real("delta", 1e-5, "delta of the reported (epsilon, delta) guarantee").range(0, 1)});
}

}  // namespace

SECATEURS_PLUGIN("dp_sgd", "1.0.0", register_components)
