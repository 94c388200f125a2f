// model.vgg_bn: VGG with batch normalisation (Simonyan and Zisserman 2015; Ioffe and
// Szegedy 2015), in the CIFAR form: a single linear classifier after global pooling.
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include <secateurs/sdk.h>

namespace {

constexpr const char* kId = "model.vgg_bn";
constexpr std::int64_t kPool = 0;  // a max-pool in a configuration

// torchvision's configurations A, B, D and E, by the original network's depth (its
// weighted layers, three of them linear; here the classifier is one linear layer).
const std::map<std::int64_t, std::vector<std::int64_t>>& configurations() {
  static const std::map<std::int64_t, std::vector<std::int64_t>> kConfigurations = {
      {11, {64, kPool, 128, kPool, 256, 256, kPool, 512, 512, kPool, 512, 512, kPool}},
      {13, {64, 64, kPool, 128, 128, kPool, 256, 256, kPool, 512, 512, kPool, 512, 512, kPool}},
      {16,
       {64, 64, kPool, 128, 128, kPool, 256, 256, 256, kPool, 512, 512, 512, kPool, 512, 512, 512,
        kPool}},
      {19, {64,  64,  kPool, 128, 128,   kPool, 256, 256, 256, 256,  kPool,
            512, 512, 512,   512, kPool, 512,   512, 512, 512, kPool}}};
  return kConfigurations;
}

// An int rather than an enum parameter, so that `depth: 16` reads the same in YAML and Lua.
const std::vector<std::int64_t>& configuration(std::int64_t depth) {
  const auto found = configurations().find(depth);
  if (found == configurations().end()) {
    throw secateurs::ConfigError(std::string(kId) + ": depth must be 11, 13, 16 or 19, got " +
                                 std::to_string(depth));
  }
  return found->second;
}

class VggBn final : public secateurs::NetworkModel {
 public:
  explicit VggBn(const secateurs::Params& params)
      : NetworkModel(kId, 3, "[C, H, W]"),
        configuration_(configuration(params.get_int("depth"))),
        width_(params.get_float("width")) {}

  std::vector<secateurs::ChannelGroup> channel_groups() const override {
    return secateurs::chain_channel_groups(root());
  }

 private:
  void make_layers(torch::nn::Module& root, const secateurs::DataShape& shape) override {
    std::int64_t in = shape.input_shape[0];
    std::int64_t height = shape.input_shape[1];
    std::int64_t width = shape.input_shape[2];
    features_ = root.register_module("features", torch::nn::Sequential());
    for (const std::int64_t entry : configuration_) {
      if (entry == kPool) {
        // A 28x28 image reaches 1x1 after four pools; the fifth would have nothing to halve,
        // so pools stop at 1 pixel and the global pool in run() takes what is left.
        if (height >= 2 && width >= 2) {
          features_->push_back(torch::nn::MaxPool2d(2));
          height /= 2;
          width /= 2;
        }
        continue;
      }
      const std::int64_t out = std::max<std::int64_t>(1, std::llround(entry * width_));
      features_->push_back(torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 3).padding(1)));
      features_->push_back(torch::nn::BatchNorm2d(out));
      features_->push_back(torch::nn::ReLU());
      in = out;
    }
    classifier_ = root.register_module("classifier", torch::nn::Linear(in, shape.num_classes));
  }

  at::Tensor run(const at::Tensor& inputs) override {
    // Global average pool: any input size ends as one feature vector per example.
    return classifier_->forward(features_->forward(inputs).mean({2, 3}));
  }

  const std::vector<std::int64_t>& configuration_;
  double width_;
  torch::nn::Sequential features_{nullptr};
  torch::nn::Linear classifier_{nullptr};
};

void register_components(secateurs::Registrar& registrar) {
  using namespace secateurs;
  registrar.add<VggBn>(
      Kind::Model, "vgg_bn", "VGG-11/13/16/19 with batch norm, global pooling, width multiplier",
      {param::integer("depth", 11,
                      "VGG-11, 13, 16 or 19 (torchvision's A, B, D, E: 8, 10, 13, 16 convs)")
           .range(11, 19),
       param::real("width", 0.25, "Channel multiplier on 64..512 (0.25: 16..128, CPU-sized)")
           .range(0.01, 4)});
}

}  // namespace

SECATEURS_PLUGIN("vgg_bn", "1.0.0", register_components)
