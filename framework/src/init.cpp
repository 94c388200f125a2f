#include "secateurs/init.h"

#include <ATen/ATen.h>
#include <torch/nn.h>

#include <cmath>
#include <string>

#include "secateurs/error.h"
#include "secateurs/random.h"

namespace secateurs {
namespace {

template <class... Impl>
bool is_one_of(torch::nn::Module& module) {
  return ((dynamic_cast<Impl*>(&module) != nullptr) || ...);
}

// Fills `target` with U(-bound, bound) drawn in float64 (the same numbers on every CPU).
void fill_uniform(const at::Tensor& target, double bound, at::Generator& generator) {
  if (!target.defined() || target.numel() == 0) return;
  const at::Tensor drawn = at::empty(target.sizes(), at::TensorOptions().dtype(at::kDouble))
                               .uniform_(-bound, bound, generator);
  target.copy_(drawn);
}

at::Tensor own(torch::nn::Module& module, const char* name, bool parameter) {
  const auto& items = parameter ? module.named_parameters(/*recurse=*/false)
                                : module.named_buffers(/*recurse=*/false);
  const at::Tensor* found = items.find(name);
  return found != nullptr ? *found : at::Tensor();
}

void initialize_layer(torch::nn::Module& layer, const std::string& prefix,
                      at::Generator& generator) {
  if (layer.named_parameters(/*recurse=*/false).is_empty()) return;
  if (is_one_of<torch::nn::LinearImpl, torch::nn::Conv1dImpl, torch::nn::Conv2dImpl,
                torch::nn::Conv3dImpl, torch::nn::ConvTranspose1dImpl,
                torch::nn::ConvTranspose2dImpl, torch::nn::ConvTranspose3dImpl>(layer)) {
    initialize_fan_in_uniform(own(layer, "weight", true), own(layer, "bias", true), generator);
  } else if (is_one_of<torch::nn::BatchNorm1dImpl, torch::nn::BatchNorm2dImpl,
                       torch::nn::BatchNorm3dImpl, torch::nn::InstanceNorm1dImpl,
                       torch::nn::InstanceNorm2dImpl, torch::nn::InstanceNorm3dImpl,
                       torch::nn::LayerNormImpl, torch::nn::GroupNormImpl>(layer)) {
    initialize_normalization(own(layer, "weight", true), own(layer, "bias", true),
                             own(layer, "running_mean", false), own(layer, "running_var", false),
                             own(layer, "num_batches_tracked", false));
  } else {
    throw Error("initialize_parameters: no initialisation rule for parameter '" + prefix +
                layer.named_parameters(false).keys().front() + "' of a module of type " +
                layer.name() +
                "; it knows Linear, Conv, ConvTranspose, BatchNorm, InstanceNorm, LayerNorm "
                "and GroupNorm layers");
  }
}

}  // namespace

void initialize_fan_in_uniform(const at::Tensor& weight, const at::Tensor& bias,
                               at::Generator& generator) {
  const at::NoGradGuard no_grad;
  if (weight.dim() < 2) {
    throw Error("initialize_fan_in_uniform: a weight of shape " + c10::str(weight.sizes()) +
                " has no fan-in (expected [out, in, kernel...])");
  }
  const std::int64_t fan_in = weight.numel() / weight.size(0);
  // PyTorch's rule: kaiming_uniform_(a = sqrt(5)) has bound gain * sqrt(3 / fan_in) with
  // gain = sqrt(2 / (1 + 5)), which is 1 / sqrt(fan_in); the bias uses the same bound.
  const double bound = fan_in > 0 ? 1.0 / std::sqrt(static_cast<double>(fan_in)) : 0.0;
  fill_uniform(weight, bound, generator);
  fill_uniform(bias, bound, generator);
}

void initialize_normalization(const at::Tensor& weight, const at::Tensor& bias,
                              const at::Tensor& running_mean, const at::Tensor& running_var,
                              const at::Tensor& num_batches_tracked) {
  const at::NoGradGuard no_grad;
  if (weight.defined()) weight.fill_(1);
  if (bias.defined()) bias.zero_();
  if (running_mean.defined()) running_mean.zero_();
  if (running_var.defined()) running_var.fill_(1);
  if (num_batches_tracked.defined()) num_batches_tracked.zero_();
}

void initialize_parameters(torch::nn::Module& module, std::uint64_t seed) {
  at::Generator generator = make_generator(seed);
  // Pre-order over the modules, each module's own parameters in registration order: the
  // order of named_parameters(), so the draws do not depend on how the tree is walked.
  // The root is taken by reference (named_modules(include_self) needs a shared_ptr owner).
  initialize_layer(module, "", generator);
  for (const auto& item : module.named_modules("", /*include_self=*/false)) {
    initialize_layer(*item.value(), item.key() + ".", generator);
  }
}

}  // namespace secateurs
