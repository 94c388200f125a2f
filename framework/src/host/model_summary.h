// Size and cost of a model: parameters, and multiply-accumulate operations (MACs) per
// example, dense and with the pruned (zero) weights left out.
//
// Measured, not declared: summarize_model runs one no-grad forward pass on a single
// all-zero example and watches, through LibTorch's RecordFunction observers, the operators
// it dispatches: convolutions (conv1d/2d/3d, conv_transpose*, convolution), aten::linear
// (what the TorchScript interpreter runs for nn.Linear) and addmm/mm/matmul on a parameter
// or its transpose (what torch::nn::Linear runs in C++: weight.t() then addmm or matmul).
// Each op's weight is matched to the model's parameter by tensor identity, and its output
// shape gives how often each weight is used. Only the outermost such op of a use counts
// (aten::linear runs addmm inside, conv2d runs convolution), so nothing is counted twice.
// Weights that reach the operators some other way (a weight computed from parameters, a
// parameter as the first operand of a matmul) are counted as parameters but not as MACs;
// their names are listed in `unmeasured`. Bias additions, activations, normalisation and
// pooling are not counted: the MACs are those of the weighted layers, the quantity
// pruning reduces.
//
// Threading: the observer is installed for the calling thread only and removed before
// return, so models may be summarised on several threads at once.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "secateurs/export.h"
#include "secateurs/model.h"

namespace secateurs::host {

// One run of a linear or convolution operator during the forward pass (a weight used
// twice appears twice).
struct WeightedLayer {
  std::string parameter;  // the weight's name in module().named_parameters()
  std::string op;         // "linear" (aten::linear, addmm, mm, matmul) or "conv"
  std::vector<std::int64_t> weight_shape;
  std::int64_t nonzero_weights = 0;
  // MACs per weight per example: output positions of a conv (input positions of a
  // transposed conv), rows per example of a linear (1 for inputs [N, features]).
  std::int64_t uses_per_weight = 0;
  bool is_output = false;           // the last such op producing num_classes channels
  std::int64_t dense_macs = 0;      // weight elements x uses_per_weight
  std::int64_t effective_macs = 0;  // nonzero weight elements x uses_per_weight
};

struct ModelSummary {
  std::int64_t parameters = 0;  // elements of all parameters, shared ones once
  std::int64_t nonzero_parameters = 0;
  std::vector<WeightedLayer> layers;  // in the order the forward pass runs them
  std::int64_t dense_macs = 0;        // per example
  std::int64_t effective_macs = 0;
  std::vector<std::string> unmeasured;  // weights (2+ dims) no linear or conv op used
};

// Summarises a built model for examples of `shape`. The model's train/eval modes are
// restored afterwards (the pass itself runs in eval mode, so batch-norm statistics are not
// touched). The forward pass's own exceptions pass through; throws Error when no operator
// at all could be observed (a LibTorch built without per-op RecordFunction).
SECATEURS_API ModelSummary summarize_model(Model& model, const DataShape& shape);

// Several lines for a person: parameters, MACs, and a table of the weighted layers.
SECATEURS_API std::string format_model_summary(const ModelSummary& summary);

}  // namespace secateurs::host
