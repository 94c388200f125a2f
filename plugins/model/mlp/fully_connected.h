// The fully connected network behind model.mlp and model.tabular_fc: they differ only in
// their defaults, so both libraries compile this one class.
#pragma once

#include <torch/torch.h>

#include <string>
#include <vector>

#include <secateurs/sdk.h>

namespace secateurs_models {

class FullyConnected final : public secateurs::NetworkModel {
 public:
  FullyConnected(std::string id, const secateurs::Params& params)
      : NetworkModel(std::move(id), 0, "[features...] (any shape; it is flattened)"),
        hidden_(params.get_int_list("hidden")),
        tanh_(params.get_string("activation") == "tanh") {}

  static secateurs::ParamSchema schema(std::vector<std::int64_t> hidden,
                                       const std::string& activation) {
    using namespace secateurs;
    return {param::int_list("hidden", std::move(hidden),
                            "Units of each hidden layer, input side first ([] for none)")
                .range(1, 1000000),
            param::choice("activation", {"relu", "tanh"}, activation,
                          "Non-linearity after each hidden layer")};
  }

  std::vector<secateurs::ChannelGroup> channel_groups() const override {
    return secateurs::chain_channel_groups(root());
  }

 private:
  void make_layers(torch::nn::Module& root, const secateurs::DataShape& shape) override {
    std::int64_t width = 1;
    for (const std::int64_t d : shape.input_shape) width *= d;
    // "features.<i>" then "classifier", as in torchvision, so that pruning reports read
    // features.0.weight, features.2.weight, classifier.weight.
    features_ = root.register_module("features", torch::nn::Sequential());
    for (const std::int64_t units : hidden_) {
      features_->push_back(torch::nn::Linear(width, units));
      if (tanh_) {
        features_->push_back(torch::nn::Tanh());
      } else {
        features_->push_back(torch::nn::ReLU());
      }
      width = units;
    }
    classifier_ = root.register_module("classifier", torch::nn::Linear(width, shape.num_classes));
  }

  at::Tensor run(const at::Tensor& inputs) override {
    at::Tensor x = inputs.flatten(1);
    // An empty Sequential refuses forward(): no hidden layers is logistic regression.
    if (!features_->is_empty()) x = features_->forward(x);
    return classifier_->forward(x);
  }

  std::vector<std::int64_t> hidden_;
  bool tanh_;
  torch::nn::Sequential features_{nullptr};
  torch::nn::Linear classifier_{nullptr};
};

}  // namespace secateurs_models
