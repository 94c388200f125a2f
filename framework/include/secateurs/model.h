// Model components: a network architecture.
#pragma once

#include <torch/nn/module.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "secateurs/component.h"
#include "secateurs/context.h"
#include "secateurs/init.h"

namespace secateurs {

struct DataShape {
  std::vector<std::int64_t> input_shape;  // one example's shape, e.g. {1, 28, 28}
  std::int64_t num_classes = 0;
};

// A layer that reads a channel group's channels as its inputs (dim 1 of its weight), in
// blocks of `inputs_per_channel` consecutive inputs (a flattened conv output feeding a
// linear layer: height x width inputs per channel).
struct ChannelConsumer {
  std::string module;  // e.g. "classifier.0"; its parameter "<module>.weight"
  std::int64_t inputs_per_channel = 1;
};

// Channels (conv filters, hidden units) that exist or go together. Removing channel c
// removes index c along dim 0 of every producer's weight and bias, of every batch norm's
// weight, bias and running statistics, and input block c of every consumer. A model
// declares its groups (Model::channel_groups), sized from its current weights (after a
// removal they shrink); producers whose outputs are added (a
// residual connection) belong to one group.
struct ChannelGroup {
  std::string name;  // the first producer's module name, e.g. "features.0"
  std::int64_t size = 0;
  std::vector<std::string> producers;  // modules: "<m>.weight" [size, ...], "<m>.bias" [size]
  std::vector<std::string> norms;      // batch-norm modules over the channels
  std::vector<ChannelConsumer> consumers;
};

// The component owns its network. Calls after build() may come from any one thread at a
// time; the host never shares one Model between concurrent trainings.
class SECATEURS_API Model : public Component {
 public:
  ~Model() override;
  // Creates the layers for data of this shape, initialised from context.seed().
  virtual void build(const DataShape& shape, Context& context) = 0;
  // The network, for the trainer and the pruners (parameters, buffers, train/eval).
  virtual torch::nn::Module& module() = 0;
  // Logits [N, num_classes] for inputs [N, input_shape...].
  virtual at::Tensor forward(const at::Tensor& inputs) = 0;
  // The channels structured pruning may remove, after build(); none by default (the
  // model then supports unstructured pruning only). forward() must work after the host
  // has shrunk the listed tensors, so read sizes from tensors, not from layer options.
  virtual std::vector<ChannelGroup> channel_groups() const;
};

// Checks for models, so that every model words its refusals alike.
//
// Before build(): throws ConfigError naming `model` unless every dimension of
// shape.input_shape is positive, it has `rank` dimensions (any number when rank is 0) and
// num_classes >= 2. `expected` describes what the model takes, e.g. "[C, H, W]".
SECATEURS_API void check_data_shape(std::string_view model, const DataShape& shape,
                                    std::size_t rank, std::string_view expected);
// In forward(): throws DataError naming `model` unless `inputs` is a floating-point tensor
// [N, shape.input_shape...], and Error when `shape` is empty because build() has not run.
SECATEURS_API void check_model_inputs(std::string_view model, const DataShape& shape,
                                      const at::Tensor& inputs);

// Channel groups of a chain network: its convolution and linear layers run one after the
// other in the order they were registered on `root`, each feeding the next (through
// activations, pooling, dropout or a flatten; no branches, no residual sums), and a batch
// norm registered right after a layer normalises that layer's outputs. Every layer but
// the last (the output layer) forms a group; its consumer is the next layer, which reads
// next.in / this.out inputs per channel (more than 1 after a flatten). Sizes come from the
// current weights. Throws Error when consecutive layers do not fit that pattern.
SECATEURS_API std::vector<ChannelGroup> chain_channel_groups(torch::nn::Module& root);

// A base for models made of torch::nn layers, so that each keeps the contract in one
// place: build() checks the shape (check_data_shape), lets make_layers() register the
// layers on a fresh root module and initialises them from context.seed()
// (initialize_parameters); forward() checks the inputs (check_model_inputs) and calls
// run(). Register layers under names that read well in pruning reports ("features.0",
// "classifier"): they become the parameter names.
class NetworkModel : public Model {
 public:
  // `id` is the component's full name ("model.mlp"); rank and expected as for
  // check_data_shape.
  NetworkModel(std::string id, std::size_t rank, std::string expected)
      : id_(std::move(id)), rank_(rank), expected_(std::move(expected)) {}

  void build(const DataShape& shape, Context& context) override {
    check_data_shape(id_, shape, rank_, expected_);
    auto root = std::make_shared<torch::nn::Module>();
    make_layers(*root, shape);
    initialize_parameters(*root, context.seed());
    root_ = std::move(root);
    shape_ = shape;
  }

  torch::nn::Module& module() override { return *root_; }

  at::Tensor forward(const at::Tensor& inputs) override {
    check_model_inputs(id_, shape_, inputs);
    return run(inputs);
  }

 protected:
  // Registers the layers for examples of `shape` on `root` and keeps handles to them;
  // throws ConfigError for a shape the architecture cannot take.
  virtual void make_layers(torch::nn::Module& root, const DataShape& shape) = 0;
  // Logits [N, num_classes] for inputs already checked against the built shape.
  virtual at::Tensor run(const at::Tensor& inputs) = 0;
  const std::string& id() const { return id_; }
  // The root module, for const members such as channel_groups().
  torch::nn::Module& root() const { return *root_; }

 private:
  std::string id_;
  std::size_t rank_;
  std::string expected_;
  DataShape shape_;
  std::shared_ptr<torch::nn::Module> root_ = std::make_shared<torch::nn::Module>();
};

}  // namespace secateurs
