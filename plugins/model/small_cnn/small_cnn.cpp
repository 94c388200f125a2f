// model.small_cnn: a few conv3x3 + ReLU + max-pool stages, one hidden dense layer, and a
// linear classifier: the small CNN of the MNIST/CIFAR membership-inference experiments.
#include <torch/torch.h>

#include <string>
#include <vector>

#include <secateurs/sdk.h>

namespace {

constexpr const char* kId = "model.small_cnn";

class SmallCnn final : public secateurs::NetworkModel {
 public:
  explicit SmallCnn(const secateurs::Params& params)
      : NetworkModel(kId, 3, "[C, H, W]"),
        channels_(params.get_int_list("channels")),
        hidden_(params.get_int("hidden")) {
    if (channels_.empty()) {
      throw secateurs::ConfigError(std::string(kId) + ": channels must list at least one stage");
    }
  }

  std::vector<secateurs::ChannelGroup> channel_groups() const override {
    return secateurs::chain_channel_groups(root());
  }

 private:
  void make_layers(torch::nn::Module& root, const secateurs::DataShape& shape) override {
    std::int64_t in = shape.input_shape[0];
    std::int64_t height = shape.input_shape[1];
    std::int64_t width = shape.input_shape[2];
    features_ = root.register_module("features", torch::nn::Sequential());
    for (const std::int64_t out : channels_) {
      // Padding 1 keeps the size, so only the pools shrink it: 28 -> 14 -> 7, 32 -> 16 -> 8.
      features_->push_back(torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 3).padding(1)));
      features_->push_back(torch::nn::ReLU());
      if (height < 2 || width < 2) {
        throw secateurs::ConfigError(
            std::string(kId) + ": " + std::to_string(channels_.size()) +
            " stages halve the image as many times, too often for examples of shape " +
            c10::str(at::IntArrayRef(shape.input_shape)) + "; use fewer channels entries");
      }
      features_->push_back(torch::nn::MaxPool2d(2));
      in = out;
      height /= 2;
      width /= 2;
    }
    classifier_ = root.register_module(
        "classifier",
        torch::nn::Sequential(torch::nn::Linear(in * height * width, hidden_), torch::nn::ReLU(),
                              torch::nn::Linear(hidden_, shape.num_classes)));
  }

  at::Tensor run(const at::Tensor& inputs) override {
    return classifier_->forward(features_->forward(inputs).flatten(1));
  }

  std::vector<std::int64_t> channels_;
  std::int64_t hidden_;
  torch::nn::Sequential features_{nullptr}, classifier_{nullptr};
};

void register_components(secateurs::Registrar& registrar) {
  using namespace secateurs;
  registrar.add<SmallCnn>(
      Kind::Model, "small_cnn", "Small CNN: conv3x3+ReLU+maxpool stages, a hidden dense layer",
      {param::int_list("channels", {32, 64}, "Output channels of each conv stage (one pool each)")
           .range(1, 65536),
       param::integer("hidden", 128, "Units of the hidden dense layer").range(1, 1000000)});
}

}  // namespace

SECATEURS_PLUGIN("small_cnn", "1.0.0", register_components)
