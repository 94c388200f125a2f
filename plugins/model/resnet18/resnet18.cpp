// model.resnet18: ResNet-18 (He et al., CVPR 2016) in its CIFAR form: a 3x3 stem at
// stride 1 and no max-pool, so that 32x32 (and 28x28) images keep enough resolution.
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include <secateurs/sdk.h>

namespace {

constexpr const char* kId = "model.resnet18";

torch::nn::Conv2d conv3x3(std::int64_t in, std::int64_t out, std::int64_t stride) {
  // No bias: the batch norm that follows has its own shift.
  return torch::nn::Conv2d(
      torch::nn::Conv2dOptions(in, out, 3).stride(stride).padding(1).bias(false));
}

// Two 3x3 convolutions with a residual connection; a 1x1 convolution and batch norm
// ("downsample", torchvision's name) match the shortcut when the shape changes.
class BasicBlockImpl : public torch::nn::Module {
 public:
  BasicBlockImpl(std::int64_t in, std::int64_t out, std::int64_t stride)
      : conv1_(register_module("conv1", conv3x3(in, out, stride))),
        bn1_(register_module("bn1", torch::nn::BatchNorm2d(out))),
        conv2_(register_module("conv2", conv3x3(out, out, 1))),
        bn2_(register_module("bn2", torch::nn::BatchNorm2d(out))) {
    if (stride != 1 || in != out) {
      downsample_ = register_module(
          "downsample",
          torch::nn::Sequential(
              torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 1).stride(stride).bias(false)),
              torch::nn::BatchNorm2d(out)));
    }
  }

  at::Tensor forward(const at::Tensor& x) {
    const at::Tensor y =
        bn2_->forward(conv2_->forward(torch::relu(bn1_->forward(conv1_->forward(x)))));
    return torch::relu(y + (downsample_ ? downsample_->forward(x) : x));
  }

 private:
  torch::nn::Conv2d conv1_;
  torch::nn::BatchNorm2d bn1_;
  torch::nn::Conv2d conv2_;
  torch::nn::BatchNorm2d bn2_;
  torch::nn::Sequential downsample_{nullptr};
};
TORCH_MODULE(BasicBlock);

class ResNet18 final : public secateurs::NetworkModel {
 public:
  explicit ResNet18(const secateurs::Params& params)
      : NetworkModel(kId, 3, "[C, H, W]"), width_(params.get_float("width")) {}

 private:
  void make_layers(torch::nn::Module& root, const secateurs::DataShape& shape) override {
    const auto channels = [&](std::int64_t base) {
      return std::max<std::int64_t>(1, std::llround(base * width_));
    };
    std::int64_t in = channels(64);
    conv1_ = root.register_module("conv1", conv3x3(shape.input_shape[0], in, 1));
    bn1_ = root.register_module("bn1", torch::nn::BatchNorm2d(in));
    layers_.clear();
    const std::int64_t bases[] = {64, 128, 256, 512};
    for (int stage = 0; stage < 4; ++stage) {
      const std::int64_t out = channels(bases[stage]);
      // Two blocks per stage; every stage after the first halves the resolution.
      layers_.push_back(root.register_module(
          "layer" + std::to_string(stage + 1),
          torch::nn::Sequential(BasicBlock(in, out, stage == 0 ? 1 : 2), BasicBlock(out, out, 1))));
      in = out;
    }
    fc_ = root.register_module("fc", torch::nn::Linear(in, shape.num_classes));
  }

 public:
  // Two kinds of groups. Inside a block, conv1's channels (and bn1) feed conv2 alone. The
  // residual stream of a stage is one group: every convolution that adds into it (the stem
  // or a downsample, and each block's conv2, with their batch norms) produces its
  // channels, and every block's conv1, the next stage's downsample and the classifier
  // read them. A stream channel that all its producers zero is zero after every sum and
  // ReLU of the stage, so it can go. Sizes are read from the current weights.
  std::vector<secateurs::ChannelGroup> channel_groups() const override {
    const auto params = root().named_parameters();
    const auto has = [&](const std::string& module) {
      return params.find(module + ".weight") != nullptr;
    };
    const auto channels = [&](const std::string& module) {
      return params[module + ".weight"].size(0);
    };
    std::vector<secateurs::ChannelGroup> groups;
    secateurs::ChannelGroup stream{"conv1", channels("conv1"), {"conv1"}, {"bn1"}, {}};
    for (std::size_t stage = 1; stage <= layers_.size(); ++stage) {
      for (std::size_t block = 0; block < layers_[stage - 1]->size(); ++block) {
        const std::string p = "layer" + std::to_string(stage) + "." + std::to_string(block) + ".";
        stream.consumers.push_back({p + "conv1", 1});
        groups.push_back(
            {p + "conv1", channels(p + "conv1"), {p + "conv1"}, {p + "bn1"}, {{p + "conv2", 1}}});
        if (has(p + "downsample.0")) {
          // A new stream: this block's conv2 and downsample sum into it.
          stream.consumers.push_back({p + "downsample.0", 1});
          groups.push_back(std::move(stream));
          stream = {p + "conv2",
                    channels(p + "conv2"),
                    {p + "conv2", p + "downsample.0"},
                    {p + "bn2", p + "downsample.1"},
                    {}};
        } else {
          stream.producers.push_back(p + "conv2");
          stream.norms.push_back(p + "bn2");
        }
      }
    }
    stream.consumers.push_back({"fc", 1});
    groups.push_back(std::move(stream));
    return groups;
  }

 private:
  at::Tensor run(const at::Tensor& inputs) override {
    at::Tensor x = torch::relu(bn1_->forward(conv1_->forward(inputs)));
    for (torch::nn::Sequential& layer : layers_) x = layer->forward(x);
    return fc_->forward(x.mean({2, 3}));
  }

  double width_;
  torch::nn::Conv2d conv1_{nullptr};
  torch::nn::BatchNorm2d bn1_{nullptr};
  std::vector<torch::nn::Sequential> layers_;  // layer1..layer4
  torch::nn::Linear fc_{nullptr};
};

void register_components(secateurs::Registrar& registrar) {
  using namespace secateurs;
  registrar.add<ResNet18>(
      Kind::Model, "resnet18", "ResNet-18, CIFAR variant (3x3 stem, no max-pool), width multiplier",
      {param::real("width", 0.25,
                   "Channel multiplier on 64/128/256/512 (1: the original 11M parameters)")
           .range(0.01, 4)});
}

}  // namespace

SECATEURS_PLUGIN("resnet18", "1.0.0", register_components)
