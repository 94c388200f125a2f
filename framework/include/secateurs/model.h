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

 private:
  std::string id_;
  std::size_t rank_;
  std::string expected_;
  DataShape shape_;
  std::shared_ptr<torch::nn::Module> root_ = std::make_shared<torch::nn::Module>();
};

}  // namespace secateurs
