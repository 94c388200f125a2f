// A small fully connected Model and synthetic data for the trainer's tests, so that they
// do not depend on the model plugins.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <vector>

#include "secateurs/dataset.h"
#include "secateurs/model.h"
#include "secateurs/random.h"

namespace secateurs::testing {

class TinyMlp final : public Model {
 public:
  explicit TinyMlp(std::int64_t hidden = 16) : hidden_(hidden) {}

  void build(const DataShape& shape, Context& context) override {
    std::int64_t features = 1;
    for (std::int64_t d : shape.input_shape) features *= d;
    fc1_ = net_.register_module("fc1", torch::nn::Linear(features, hidden_));
    fc2_ = net_.register_module("fc2", torch::nn::Linear(hidden_, shape.num_classes));
    // Drawn from the context's seed, never from LibTorch's global generator.
    at::Generator generator = make_generator(context.seed());
    torch::NoGradGuard no_grad;
    for (at::Tensor& p : net_.parameters()) {
      p.copy_(torch::randn(p.sizes(), generator, torch::kFloat64) * 0.3);
    }
  }
  torch::nn::Module& module() override { return net_; }
  at::Tensor forward(const at::Tensor& inputs) override {
    return fc2_(torch::relu(fc1_(inputs.flatten(1))));
  }

 private:
  std::int64_t hidden_;
  torch::nn::Module net_;
  torch::nn::Linear fc1_{nullptr};
  torch::nn::Linear fc2_{nullptr};
};

// Copies of a model's parameters, to compare the weights of two fits.
inline std::vector<at::Tensor> weights_of(Model& model) {
  std::vector<at::Tensor> copies;
  for (const at::Tensor& p : model.module().parameters()) copies.push_back(p.detach().clone());
  return copies;
}

inline bool same_weights(const std::vector<at::Tensor>& a, const std::vector<at::Tensor>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (!torch::equal(a[i], b[i])) return false;
  }
  return true;
}

// `count` points in `features` dimensions around one centre per class; `label_noise` of
// them get a random other label, which only memorisation can fit.
inline LabeledData blobs(std::int64_t count, std::int64_t features, std::int64_t classes,
                         std::uint64_t seed, double label_noise = 0.0) {
  at::Generator generator = make_generator(seed);
  const at::Tensor centres = torch::randn({classes, features}, generator, torch::kFloat64) * 2.0;
  at::Tensor labels = torch::randint(classes, {count}, generator, torch::kInt64);
  const at::Tensor points =
      centres.index_select(0, labels) + torch::randn({count, features}, generator, torch::kFloat64);
  if (label_noise > 0) {
    const at::Tensor flip = torch::rand({count}, generator, torch::kFloat64).lt(label_noise);
    const at::Tensor shifted =
        (labels + torch::randint(1, classes, {count}, generator, torch::kInt64)) % classes;
    labels = torch::where(flip, shifted, labels);
  }
  return {points.to(torch::kFloat32), labels, classes};
}

}  // namespace secateurs::testing
