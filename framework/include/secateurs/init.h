// Deterministic initialisation of a network's parameters from a 64-bit seed.
//
// Why: LibTorch's layer constructors initialise from the process-wide generator. Models
// train in parallel on TBB threads, so what each draws from it depends on scheduling, and
// two runs with the same seed would start from different weights. A model therefore
// builds its layers, then calls initialize_parameters(module, context.seed()), which
// overwrites every parameter from a private generator: the weights depend on the seed
// alone, whatever the thread count or the order in which models are built. The draws are
// made in float64 and converted, because LibTorch's float32 sampling takes CPU-specific
// vector paths (see random.h).
//
// The rules are PyTorch's defaults, so a secateurs model starts where the same
// architecture in PyTorch would (in distribution, not bit for bit):
// - Linear, Conv1d/2d/3d and ConvTranspose1d/2d/3d: weight and bias uniform in
//   [-1/sqrt(fan_in), 1/sqrt(fan_in)], fan_in = weight.size(1) * kernel elements. For the
//   weight this is kaiming_uniform_ with a = sqrt(5).
// - BatchNorm1d/2d/3d, InstanceNorm1d/2d/3d, LayerNorm, GroupNorm: weight 1, bias 0;
//   running statistics reset (mean 0, variance 1, batches tracked 0).
//
// Ownership: the functions change the tensors they are given in place (without recording
// gradients) and keep no reference to them. Threading: they touch no global state; call
// them for different modules from different threads freely, never for one module from two.
#pragma once

#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>

#include <cstdint>

#include "secateurs/export.h"

namespace secateurs {

// Re-initialises every parameter of `module` and its submodules with the rules above,
// drawing from secateurs::make_generator(seed) in named_parameters() order. Throws
// secateurs::Error naming the parameter when a module of another type owns parameters:
// the function cannot know its rule, and leaving those weights as the global generator
// made them would silently break determinism.
SECATEURS_API void initialize_parameters(torch::nn::Module& module, std::uint64_t seed);

// The rules on their own, for layers that are not torch::nn modules (a TorchScript
// model's). `bias` and the running statistics may be undefined tensors.
SECATEURS_API void initialize_fan_in_uniform(const at::Tensor& weight, const at::Tensor& bias,
                                             at::Generator& generator);
SECATEURS_API void initialize_normalization(const at::Tensor& weight, const at::Tensor& bias,
                                            const at::Tensor& running_mean,
                                            const at::Tensor& running_var,
                                            const at::Tensor& num_batches_tracked);

}  // namespace secateurs
