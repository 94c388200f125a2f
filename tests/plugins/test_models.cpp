// The model plugins, initialize_parameters and the host's model summary (parameters, MACs).
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <thread>

#include "host/model_summary.h"
#include "secateurs/init.h"
#include "support/built_plugins.h"
#include "support/messages.h"
#include "support/temp_dir.h"

using namespace secateurs;
using host::ModelSummary;
using host::summarize_model;
using testing::contains;
using testing::make_component;
using testing::message_of;
using testing::TempDir;
using testing::TestContext;
namespace fs = std::filesystem;

namespace {

struct ModelCase {
  const char* component;
  const char* yaml;
  DataShape shape;
  const char* output_weight;  // the classifier's weight, by parameter name
};

// Every built-in architecture on its natural data, at a width that keeps each check fast.
const ModelCase kModels[] = {
    {"model.mlp", "{}", {{1, 28, 28}, 10}, "classifier.weight"},
    {"model.small_cnn", "{}", {{1, 28, 28}, 10}, "classifier.2.weight"},
    {"model.vgg_bn", "width: 0.125", {{3, 32, 32}, 10}, "classifier.weight"},
    {"model.resnet18", "width: 0.125", {{3, 32, 32}, 10}, "fc.weight"},
    {"model.tabular_fc", "{}", {{600}, 100}, "classifier.weight"},
};

std::shared_ptr<Model> build_model(const std::string& component, const std::string& yaml,
                                   const DataShape& shape, std::uint64_t seed = 7) {
  std::shared_ptr<Model> model = make_component<Model>(component, yaml);
  TestContext context(seed);
  model->build(shape, context);
  return model;
}

at::Tensor examples(const DataShape& shape, std::int64_t n) {
  std::vector<std::int64_t> sizes{n};
  sizes.insert(sizes.end(), shape.input_shape.begin(), shape.input_shape.end());
  return torch::randn(sizes);
}

std::int64_t total_numel(torch::nn::Module& module) {
  std::int64_t total = 0;
  for (const at::Tensor& p : module.parameters()) total += p.numel();
  return total;
}

const host::WeightedLayer& layer_named(const ModelSummary& summary, const std::string& name) {
  for (const host::WeightedLayer& layer : summary.layers) {
    if (layer.parameter == name) return layer;
  }
  FAIL("no weighted layer " << name);
  return summary.layers.front();
}

}  // namespace

TEST_CASE("models: every architecture builds, runs, learns and is summarised") {
  for (const ModelCase& c : kModels) {
    CAPTURE(c.component);
    const std::shared_ptr<Model> model = build_model(c.component, c.yaml, c.shape);
    torch::nn::Module& module = model->module();

    // Logits [N, C].
    module.train(true);
    const at::Tensor inputs = examples(c.shape, 2);
    const at::Tensor logits = model->forward(inputs);
    CHECK(logits.sizes() == at::IntArrayRef({2, c.shape.num_classes}));

    // The seed alone decides the weights.
    const std::shared_ptr<Model> same = build_model(c.component, c.yaml, c.shape);
    const std::shared_ptr<Model> other = build_model(c.component, c.yaml, c.shape, 8);
    const auto mine = module.named_parameters();
    const auto same_params = same->module().named_parameters();
    const auto other_params = other->module().named_parameters();
    REQUIRE(mine.keys() == same_params.keys());
    for (const auto& item : mine) {
      CAPTURE(item.key());
      CHECK(item.value().equal(same_params[item.key()]));
      if (item.value().dim() >= 2) CHECK_FALSE(item.value().equal(other_params[item.key()]));
    }

    // Gradients reach every parameter.
    torch::nn::functional::cross_entropy(logits, torch::randint(c.shape.num_classes, {2}))
        .backward();
    for (const auto& item : mine) {
      CAPTURE(item.key());
      REQUIRE(item.value().grad().defined());
      CHECK(item.value().grad().abs().sum().item<double>() > 0);
    }

    // The summary: every parameter counted once, the classifier flagged as the output, and
    // zeroed weights leave the effective MACs by exactly their uses.
    ModelSummary dense = summarize_model(*model, c.shape);
    CHECK(module.is_training());
    CHECK(dense.parameters == total_numel(module));
    CHECK(dense.nonzero_parameters <= dense.parameters);
    CHECK(dense.effective_macs == dense.dense_macs);
    CHECK(dense.unmeasured.empty());
    REQUIRE_FALSE(dense.layers.empty());
    CHECK(dense.layers.back().parameter == c.output_weight);
    CHECK(dense.layers.back().is_output);
    CHECK(std::count_if(dense.layers.begin(), dense.layers.end(),
                        [](const host::WeightedLayer& l) { return l.is_output; }) == 1);

    const host::WeightedLayer& first = dense.layers.front();
    {
      const at::NoGradGuard no_grad;
      mine[first.parameter].view(-1).slice(0, 0, 5).zero_();
    }
    const ModelSummary pruned = summarize_model(*model, c.shape);
    CHECK(pruned.dense_macs == dense.dense_macs);
    CHECK(dense.effective_macs - pruned.effective_macs == 5 * first.uses_per_weight);
    CHECK(dense.nonzero_parameters - pruned.nonzero_parameters == 5);
  }
}

TEST_CASE("models: MACs of a 784-512-256-10 MLP are the weights' count") {
  const DataShape shape{{1, 28, 28}, 10};
  const auto model = build_model("model.mlp", "hidden: [512, 256]", shape);
  const ModelSummary summary = summarize_model(*model, shape);
  REQUIRE(summary.layers.size() == 3);
  CHECK(summary.layers[0].parameter == "features.0.weight");
  CHECK(summary.layers[1].parameter == "features.2.weight");
  CHECK(summary.layers[0].op == "linear");
  CHECK(summary.layers[0].weight_shape == std::vector<std::int64_t>{512, 784});
  for (const auto& layer : summary.layers) CHECK(layer.uses_per_weight == 1);
  CHECK(summary.dense_macs == 784 * 512 + 512 * 256 + 256 * 10);
  CHECK(summary.parameters == 784 * 512 + 512 + 512 * 256 + 256 + 256 * 10 + 10);
}

TEST_CASE("models: summaries on two threads at once each see only their own model") {
  const DataShape images{{1, 28, 28}, 10};
  const auto mlp = build_model("model.mlp", "{}", images);
  const auto cnn = build_model("model.small_cnn", "{}", images);
  ModelSummary from_thread;
  std::thread other([&] {
    for (int i = 0; i < 20; ++i) from_thread = summarize_model(*cnn, images);
  });
  ModelSummary here;
  for (int i = 0; i < 20; ++i) here = summarize_model(*mlp, images);
  other.join();
  CHECK(here.dense_macs == 784 * 512 + 512 * 256 + 256 * 10);
  CHECK(from_thread.dense_macs == 4241152);
}

TEST_CASE("models: MACs of small_cnn on 1x28x28, by hand") {
  const DataShape shape{{1, 28, 28}, 10};
  const auto model = build_model("model.small_cnn", "{}", shape);
  const ModelSummary summary = summarize_model(*model, shape);
  REQUIRE(summary.layers.size() == 4);
  // conv 1->32, 3x3, padding 1: 288 weights, each used at all 28*28 output pixels.
  CHECK(layer_named(summary, "features.0.weight").op == "conv");
  CHECK(layer_named(summary, "features.0.weight").uses_per_weight == 28 * 28);
  CHECK(layer_named(summary, "features.0.weight").dense_macs == 32 * 1 * 9 * 28 * 28);
  // After a 2x2 pool, conv 32->64 on 14x14.
  CHECK(layer_named(summary, "features.3.weight").dense_macs == 64 * 32 * 9 * 14 * 14);
  // After the second pool: 64 x 7 x 7 features into 128 units, then 128 -> 10.
  CHECK(layer_named(summary, "classifier.0.weight").dense_macs == 64 * 7 * 7 * 128);
  CHECK(layer_named(summary, "classifier.2.weight").dense_macs == 128 * 10);
  CHECK(summary.dense_macs == 225792 + 3612672 + 401408 + 1280);
}

TEST_CASE("models: resnet18 counts its shortcut convolutions at their resolution") {
  const DataShape shape{{3, 32, 32}, 10};
  const auto model = build_model("model.resnet18", "width: 0.125", shape);
  const ModelSummary summary = summarize_model(*model, shape);
  // Stem 3->8 at 32x32; layer4 runs at 4x4; its 1x1 downsample 32->64 at 4x4.
  CHECK(layer_named(summary, "conv1.weight").dense_macs == 8 * 3 * 9 * 32 * 32);
  CHECK(layer_named(summary, "layer4.0.conv2.weight").uses_per_weight == 16);
  CHECK(layer_named(summary, "layer4.0.downsample.0.weight").dense_macs == 64 * 32 * 16);
  CHECK(summary.layers.size() == 1 + 16 + 3 + 1);
}

namespace {

// torch::nn::Linear on [N, T, F] (C++ runs matmul with weight.t(), not aten::linear), and
// a parameter used as the left operand of a matmul, which no layer rule covers.
class SequenceModel final : public Model {
 public:
  void build(const DataShape&, Context&) override {
    proj_ = root_->register_module("proj", torch::nn::Linear(4, 3));
    mix_ = root_->register_parameter("mix", torch::randn({5, 5}));
  }
  torch::nn::Module& module() override { return *root_; }
  at::Tensor forward(const at::Tensor& inputs) override {
    return torch::matmul(mix_, proj_->forward(inputs)).sum(1);
  }

 private:
  std::shared_ptr<torch::nn::Module> root_ = std::make_shared<torch::nn::Module>();
  torch::nn::Linear proj_{nullptr};
  at::Tensor mix_;
};

}  // namespace

TEST_CASE("models: the summary counts a linear once per row and lists what it cannot see") {
  SequenceModel model;
  TestContext context;
  const DataShape shape{{5, 4}, 3};
  model.build(shape, context);
  const ModelSummary summary = summarize_model(model, shape);
  REQUIRE(summary.layers.size() == 1);
  CHECK(summary.layers[0].parameter == "proj.weight");
  CHECK(summary.layers[0].op == "linear");
  CHECK(summary.layers[0].uses_per_weight == 5);
  CHECK(summary.layers[0].is_output);
  CHECK(summary.dense_macs == 3 * 4 * 5);
  CHECK(summary.unmeasured == std::vector<std::string>{"mix"});
}

TEST_CASE("models: the summary leaves train/eval modes and batch-norm statistics alone") {
  const DataShape shape{{3, 32, 32}, 10};
  const auto model = build_model("model.vgg_bn", "width: 0.125", shape);
  torch::nn::Module& module = model->module();
  module.train(true);
  module.named_children()["features"]->eval();  // a mixed state: frozen features
  const auto buffers = module.named_buffers();
  std::vector<at::Tensor> before;
  for (const auto& b : buffers) before.push_back(b.value().clone());
  summarize_model(*model, shape);
  CHECK(module.is_training());
  CHECK_FALSE(module.named_children()["features"]->is_training());
  std::size_t i = 0;
  for (const auto& b : buffers) CHECK(b.value().equal(before[i++]));
}

TEST_CASE("models: vgg_bn pools only while there is something to halve") {
  // 28 -> 14 -> 7 -> 3 -> 1, then the fifth pool is left out.
  const auto model = build_model("model.vgg_bn", "depth: 11", {{1, 28, 28}, 10});
  const ModelSummary summary = summarize_model(*model, {{1, 28, 28}, 10});
  CHECK(layer_named(summary, "features.0.weight").uses_per_weight == 28 * 28);
  CHECK(summary.layers[summary.layers.size() - 2].uses_per_weight == 1);
  CHECK(model->forward(torch::zeros({2, 1, 28, 28})).sizes() == at::IntArrayRef({2, 10}));
  const auto deepest = build_model("model.vgg_bn", "depth: 19\nwidth: 0.0625", {{1, 28, 28}, 10});
  // VGG-19's 16 convolutions, and one linear classifier where the original has three.
  CHECK(summarize_model(*deepest, {{1, 28, 28}, 10}).layers.size() == 17);
}

TEST_CASE("models: a shape the architecture cannot take is refused with both shapes") {
  CHECK(message_of<ConfigError>([] {
          build_model("model.small_cnn", "{}", {{784}, 10});
        }) == "model.small_cnn takes examples of shape [C, H, W], got [784]");
  CHECK(message_of<ConfigError>([] {
          build_model("model.resnet18", "{}", {{3, 32}, 10});
        }) == "model.resnet18 takes examples of shape [C, H, W], got [3, 32]");
  CHECK(message_of<ConfigError>([] {
          build_model("model.mlp", "{}", {{1, 0, 28}, 10});
        }) ==
        "model.mlp takes examples of shape [features...] (any shape; it is flattened), got "
        "[1, 0, 28]");
  CHECK(
      contains(message_of<ConfigError>([] {
                 build_model("model.small_cnn", "channels: [4, 4, 4, 4, 4, 4]", {{1, 28, 28}, 10});
               }),
               "model.small_cnn: 6 stages halve the image as many times, too often for "
               "examples of shape [1, 28, 28]"));
  CHECK(message_of<ConfigError>([] { make_component<Model>("model.vgg_bn", "depth: 12"); }) ==
        "model.vgg_bn: depth must be 11, 13, 16 or 19, got 12");
  CHECK(message_of<ConfigError>([] {
          build_model("model.vgg_bn", "{}", {{3, 32, 32}, 1});
        }) == "model.vgg_bn needs at least 2 classes, got 1");

  const auto model = build_model("model.mlp", "{}", {{1, 28, 28}, 10});
  CHECK(message_of<DataError>([&] {
          model->forward(torch::zeros({2, 784}));
        }) == "model.mlp expects float inputs [N, 1, 28, 28], got Float [2, 784]");
  const auto unbuilt = make_component<Model>("model.mlp", "{}");
  CHECK(message_of<Error>([&] {
          unbuilt->forward(torch::zeros({2, 784}));
        }) == "model.mlp: forward() called before build()");
}

TEST_CASE("initialize_parameters: PyTorch's bounds, from the seed alone, on any thread") {
  torch::nn::Sequential net(torch::nn::Conv2d(torch::nn::Conv2dOptions(3, 8, 3)),
                            torch::nn::BatchNorm2d(8), torch::nn::Linear(50, 4));
  {
    const at::NoGradGuard no_grad;
    for (const at::Tensor& p : net->parameters()) p.fill_(7);
    for (const at::Tensor& b : net->buffers()) b.fill_(7);
  }
  initialize_parameters(*net, 3);
  const auto params = net->named_parameters();
  const double conv_bound = 1 / std::sqrt(3.0 * 9);  // fan_in = in channels x kernel
  CHECK(params["0.weight"].abs().max().item<double>() <= conv_bound);
  CHECK(params["0.weight"].abs().max().item<double>() > 0.9 * conv_bound);
  CHECK(params["0.bias"].abs().max().item<double>() <= conv_bound);
  CHECK(params["2.weight"].abs().max().item<double>() <= 1 / std::sqrt(50.0));
  CHECK(params["1.weight"].eq(1).all().item<bool>());
  CHECK(params["1.bias"].eq(0).all().item<bool>());
  const auto buffers = net->named_buffers();
  CHECK(buffers["1.running_mean"].eq(0).all().item<bool>());
  CHECK(buffers["1.running_var"].eq(1).all().item<bool>());
  CHECK(buffers["1.num_batches_tracked"].item<std::int64_t>() == 0);

  // Another thread drawing from the global generator meanwhile changes nothing.
  torch::nn::Linear a(20, 30), b(20, 30);
  std::thread noise([] {
    for (int i = 0; i < 100; ++i) torch::rand({100});
  });
  std::thread other([&] { initialize_parameters(*b, 11); });
  initialize_parameters(*a, 11);
  noise.join();
  other.join();
  CHECK(a->weight.equal(b->weight));
  CHECK(a->bias.equal(b->bias));

  struct Custom : torch::nn::Module {
    Custom() { register_parameter("scale", torch::ones({3})); }
  };
  torch::nn::Module holder;
  holder.register_module("block", std::make_shared<Custom>());
  CHECK(contains(message_of<Error>([&] { initialize_parameters(holder, 1); }),
                 "initialize_parameters: no initialisation rule for parameter 'block.scale'"));
}

namespace {

// A scripted network written with the C++ API, as a user would from Python: a "Linear"
// submodule (a class name initialize rules know) and a head of raw parameters (one they
// do not). Its output moves by +1 in training mode, so that train/eval can be seen.
torch::jit::Module scripted_net() {
  torch::jit::Module fc("Linear");
  fc.register_parameter("weight", torch::randn({16, 12}), false);
  fc.register_parameter("bias", torch::randn({16}), false);
  fc.define(R"(
def forward(self, x):
    return torch.linear(x, self.weight, self.bias)
)");
  torch::jit::Module net("Net");
  net.register_attribute("training", c10::BoolType::get(), true);
  net.register_module("fc1", fc);
  net.register_parameter("w2", torch::randn({3, 16}), false);
  net.register_parameter("b2", torch::randn({3}), false);
  net.define(R"(
def forward(self, x):
    h = torch.relu(self.fc1.forward(torch.flatten(x, 1)))
    shift = 1.0 if self.training else 0.0
    return torch.linear(h, self.w2, self.b2) + shift
)");
  return net;
}

std::string torchscript_yaml(const fs::path& file, const std::string& weights = "file") {
  return "path: " + file.string() + "\nweights: " + weights;
}

}  // namespace

TEST_CASE("torchscript: the script's own tensors are the model's parameters") {
  const TempDir dir;
  const fs::path file = dir / "net.pt";
  torch::jit::Module script = scripted_net();
  script.save(file.string());
  const DataShape shape{{3, 4}, 3};
  const auto model = build_model("model.torchscript", torchscript_yaml(file), shape);
  torch::nn::Module& module = model->module();
  const at::Tensor x = torch::randn({5, 3, 4});

  std::vector<std::string> names = module.named_parameters().keys();
  CHECK(names == std::vector<std::string>{"w2", "b2", "fc1.weight", "fc1.bias"});
  const at::NoGradGuard no_grad;
  script.train(false);
  module.eval();
  CHECK(model->forward(x).allclose(script.forward({x}).toTensor()));
  // train(bool) reaches the script's `training` attribute.
  module.train(true);
  script.train(true);
  CHECK(model->forward(x).allclose(script.forward({x}).toTensor()));
  module.eval();

  // Zeroing a parameter through module() zeroes what the script computes with.
  module.named_parameters()["w2"].zero_();
  const at::Tensor b2 = module.named_parameters()["b2"];
  CHECK(model->forward(x).equal(b2.expand({5, 3})));
}

TEST_CASE("torchscript: gradients reach the script's parameters and the summary sees its ops") {
  const TempDir dir;
  const fs::path file = dir / "grad.pt";
  scripted_net().save(file.string());
  const DataShape shape{{3, 4}, 3};
  const auto model = build_model("model.torchscript", torchscript_yaml(file), shape);
  model->module().train(true);
  model->forward(torch::randn({4, 3, 4})).sum().backward();
  for (const at::Tensor& p : model->module().parameters()) {
    REQUIRE(p.grad().defined());
    CHECK(p.grad().abs().sum().item<double>() > 0);
  }

  // The interpreter dispatches aten::linear like C++ modules do.
  const ModelSummary summary = summarize_model(*model, shape);
  CHECK(model->module().is_training());
  REQUIRE(summary.layers.size() == 2);
  CHECK(summary.layers[0].parameter == "fc1.weight");
  CHECK(summary.layers[1].parameter == "w2");
  CHECK(summary.layers[1].is_output);
  CHECK(summary.dense_macs == 16 * 12 + 3 * 16);
  CHECK(summary.parameters == 16 * 12 + 16 + 3 * 16 + 3);
}

TEST_CASE("torchscript: weights: seed re-initialises the torch.nn layers it recognises") {
  const TempDir dir;
  const fs::path file = dir / "seeded.pt";
  torch::jit::Module script = scripted_net();
  script.save(file.string());
  const DataShape shape{{3, 4}, 3};
  const auto a = build_model("model.torchscript", torchscript_yaml(file, "seed"), shape, 1);
  const auto b = build_model("model.torchscript", torchscript_yaml(file, "seed"), shape, 1);
  const auto c = build_model("model.torchscript", torchscript_yaml(file, "seed"), shape, 2);
  const auto pa = a->module().named_parameters();
  const at::Tensor file_weight = script.attr("fc1").toModule().attr("weight").toTensor();
  CHECK_FALSE(pa["fc1.weight"].equal(file_weight));
  CHECK(pa["fc1.weight"].abs().max().item<double>() <= 1 / std::sqrt(12.0));
  CHECK(pa["fc1.weight"].equal(b->module().named_parameters()["fc1.weight"]));
  CHECK_FALSE(pa["fc1.weight"].equal(c->module().named_parameters()["fc1.weight"]));
  // "Net" is no torch.nn class: its raw parameters keep the file's values.
  CHECK(pa["w2"].equal(script.attr("w2").toTensor()));
}

TEST_CASE("torchscript: a missing, corrupt or mismatched file gets one clear error") {
  const TempDir dir;
  const fs::path missing = dir / "missing.pt";
  CHECK(message_of<ConfigError>([&] {
          make_component<Model>("model.torchscript", torchscript_yaml(missing));
        }) == "model.torchscript: path '" + missing.string() +
                  "' is not a file (expected a TorchScript file from torch.jit.save)");

  const fs::path whole = dir / "whole.pt";
  scripted_net().save(whole.string());
  const fs::path truncated = dir / "truncated.pt";
  {
    std::ifstream in(whole, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), {});
    std::ofstream(truncated, std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  }
  const std::string corrupt = message_of<DataError>(
      [&] { make_component<Model>("model.torchscript", torchscript_yaml(truncated)); });
  CHECK(contains(corrupt, "model.torchscript: '" + truncated.string() +
                              "' is not a readable TorchScript file: PytorchStreamReader failed "
                              "reading zip archive"));

  const std::string classes = message_of<ConfigError>([&] {
    build_model("model.torchscript", torchscript_yaml(whole), {{3, 4}, 10});
  });
  CHECK(classes == "model.torchscript: '" + whole.string() +
                       "' returns [1, 3] for one example of shape [1, 3, 4]; expected logits "
                       "[1, 10]");
  const std::string input = message_of<ConfigError>([&] {
    build_model("model.torchscript", torchscript_yaml(whole), {{5, 5}, 3});
  });
  CHECK(contains(input, "model.torchscript: '" + whole.string() +
                            "' failed on one example of shape [1, 5, 5]: RuntimeError: mat1 "
                            "and mat2 shapes cannot be multiplied"));
}
