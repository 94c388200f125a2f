#include <ATen/ATen.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>

#include <string>

#include "secateurs/error.h"
#include "secateurs/model.h"

namespace secateurs {

void check_data_shape(std::string_view model, const DataShape& shape, std::size_t rank,
                      std::string_view expected) {
  const at::IntArrayRef dims(shape.input_shape);
  bool fits = !dims.empty() && (rank == 0 || dims.size() == rank);
  for (const std::int64_t d : dims) fits = fits && d > 0;
  if (!fits) {
    throw ConfigError(std::string(model) + " takes examples of shape " + std::string(expected) +
                      ", got " + c10::str(dims));
  }
  if (shape.num_classes < 2) {
    throw ConfigError(std::string(model) + " needs at least 2 classes, got " +
                      std::to_string(shape.num_classes));
  }
}

void check_model_inputs(std::string_view model, const DataShape& shape, const at::Tensor& inputs) {
  if (shape.num_classes == 0) {
    throw Error(std::string(model) + ": forward() called before build()");
  }
  const at::IntArrayRef example(shape.input_shape);
  const bool fits = inputs.defined() &&
                    inputs.dim() == static_cast<std::int64_t>(example.size()) + 1 &&
                    inputs.sizes().slice(1) == example && at::isFloatingType(inputs.scalar_type());
  if (!fits) {
    throw DataError(
        std::string(model) + " expects float inputs [N, " + c10::str(example).substr(1) + ", got " +
        (inputs.defined()
             ? std::string(c10::toString(inputs.scalar_type())) + " " + c10::str(inputs.sizes())
             : std::string("an undefined tensor")));
  }
}

std::vector<ChannelGroup> chain_channel_groups(torch::nn::Module& root) {
  struct Layer {
    std::string name;
    at::Tensor weight;
    std::string norm;
  };
  std::vector<Layer> layers;
  for (const auto& item : root.named_modules("", /*include_self=*/false)) {
    torch::nn::Module& module = *item.value();
    const bool weighted = module.as<torch::nn::Conv1d>() || module.as<torch::nn::Conv2d>() ||
                          module.as<torch::nn::Conv3d>() || module.as<torch::nn::Linear>();
    const bool norm = module.as<torch::nn::BatchNorm1d>() || module.as<torch::nn::BatchNorm2d>() ||
                      module.as<torch::nn::BatchNorm3d>();
    if (weighted) {
      layers.push_back({item.key(), module.named_parameters(false)["weight"], ""});
    } else if (norm && !layers.empty() && layers.back().norm.empty()) {
      layers.back().norm = item.key();
    }
  }
  std::vector<ChannelGroup> groups;
  for (std::size_t i = 0; i + 1 < layers.size(); ++i) {
    const Layer& layer = layers[i];
    const Layer& next = layers[i + 1];
    const std::int64_t channels = layer.weight.size(0);
    const std::int64_t inputs = next.weight.size(1);
    if (inputs % channels != 0) {
      throw Error("layer '" + next.name + "' takes " + std::to_string(inputs) +
                  " inputs, not a multiple of the " + std::to_string(channels) + " outputs of '" +
                  layer.name + "': the network is not a chain");
    }
    ChannelGroup group;
    group.name = layer.name;
    group.size = channels;
    group.producers = {layer.name};
    if (!layer.norm.empty()) group.norms = {layer.norm};
    group.consumers = {{next.name, inputs / channels}};
    groups.push_back(std::move(group));
  }
  return groups;
}

}  // namespace secateurs
