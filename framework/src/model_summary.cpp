#include "host/model_summary.h"

#include <ATen/ATen.h>
#include <ATen/record_function.h>

#include <cstdio>
#include <cstring>
#include <memory>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "secateurs/error.h"

namespace secateurs::host {
namespace {

// What the observer saw of one op whose weight is a parameter.
struct Observed {
  const std::string* parameter = nullptr;
  bool linear = false;
  at::Tensor weight;  // the parameter itself, also when the op got its transpose
  std::int64_t uses = 0;
  std::int64_t channels = 0;
};

// A parameter's transpose (weight.t()), as the C++ frontend passes it to addmm or matmul.
// The view is kept alive so that its TensorImpl address cannot be reused meanwhile.
struct Alias {
  const std::string* parameter = nullptr;
  at::Tensor weight;
  at::Tensor view;
};

// The observation in progress on this thread. RecordFunction callbacks are plain function
// pointers in LibTorch 1.13, so their state lives here; thread_local keeps concurrent
// summaries (and ops that intra-op worker threads run with the propagated callback) apart.
struct Probe {
  const std::unordered_map<const c10::TensorImpl*, std::string>* parameters = nullptr;
  std::unordered_map<const c10::TensorImpl*, Alias> aliases;
  int depth = 0;  // known ops open on this thread
  std::int64_t ops_seen = 0;
  std::vector<Observed> observed;
};
thread_local Probe* active_probe = nullptr;

enum class OpKind { Linear, Conv, TransposedConv, GenericConv, Transpose };

struct KnownOp {
  const char* name;
  OpKind kind;
  std::size_t weight_argument;
};

// torch::nn::Linear in C++ does not call aten::linear: its functional form runs
// weight.t() and then addmm (2-D inputs) or matmul. The interpreter runs aten::linear.
constexpr KnownOp kKnownOps[] = {
    {"aten::linear", OpKind::Linear, 1},
    {"aten::addmm", OpKind::Linear, 2},  // (bias, input, weight.t(), ...)
    {"aten::mm", OpKind::Linear, 1},
    {"aten::matmul", OpKind::Linear, 1},
    {"aten::conv1d", OpKind::Conv, 1},
    {"aten::conv2d", OpKind::Conv, 1},
    {"aten::conv3d", OpKind::Conv, 1},
    {"aten::conv_transpose1d", OpKind::TransposedConv, 1},
    {"aten::conv_transpose2d", OpKind::TransposedConv, 1},
    {"aten::conv_transpose3d", OpKind::TransposedConv, 1},
    // (input, weight, bias, stride, padding, dilation, transposed, ...)
    {"aten::convolution", OpKind::GenericConv, 1},
    {"aten::_convolution", OpKind::GenericConv, 1},
    {"aten::t", OpKind::Transpose, 0},
    {"aten::transpose", OpKind::Transpose, 0}};

const KnownOp* known_op(const char* name) {
  for (const KnownOp& op : kKnownOps) {
    if (std::strcmp(name, op.name) == 0) return &op;
  }
  return nullptr;
}

// Carried from an op's start to its end by RecordFunction.
struct OpContext final : at::ObserverContext {
  bool outermost = false;
  bool transpose = false;
  Observed observed;
};

std::unique_ptr<at::ObserverContext> on_op_start(const at::RecordFunction& fn) {
  Probe* probe = active_probe;
  if (probe == nullptr) return nullptr;
  ++probe->ops_seen;
  const KnownOp* op = known_op(fn.name());
  if (op == nullptr) return nullptr;
  auto context = std::make_unique<OpContext>();
  // A linear runs t and addmm inside, a conv2d runs convolution and _convolution: only
  // the outermost op of a weight use counts.
  context->outermost = probe->depth++ == 0;
  if (!context->outermost) return context;

  // Unboxed calls pass exactly the op's arguments; the interpreter's boxed calls pass its
  // whole stack, whose top holds them.
  const c10::ArrayRef<const c10::IValue> stack = fn.inputs();
  const auto schema = fn.operator_schema();
  const std::size_t arity = schema ? schema->arguments().size() : stack.size();
  if (stack.size() < arity || arity <= op->weight_argument) return context;
  const c10::ArrayRef<const c10::IValue> args = stack.slice(stack.size() - arity);
  if (!args[0].isTensor() || !args[op->weight_argument].isTensor()) return context;
  const at::Tensor& input = args[0].toTensor();
  const c10::TensorImpl* impl = args[op->weight_argument].toTensor().unsafeGetTensorImpl();
  Observed& observed = context->observed;
  if (const auto found = probe->parameters->find(impl); found != probe->parameters->end()) {
    observed.parameter = &found->second;
    observed.weight = args[op->weight_argument].toTensor();
  } else if (const auto alias = probe->aliases.find(impl); alias != probe->aliases.end()) {
    if (op->kind != OpKind::Linear) return context;
    observed.parameter = alias->second.parameter;
    observed.weight = alias->second.weight;
  } else {
    return context;
  }
  // Only matrices and kernels are weights of a layer; a vector times an input is not.
  if (observed.weight.dim() < 2) {
    observed.parameter = nullptr;
    return context;
  }

  OpKind kind = op->kind;
  if (kind == OpKind::GenericConv) {
    kind = args.size() > 6 && args[6].isBool() && args[6].toBool() ? OpKind::TransposedConv
                                                                   : OpKind::Conv;
  }
  context->transpose = kind == OpKind::Transpose;
  observed.linear = kind == OpKind::Linear;
  // A transposed conv scatters every input position through the whole kernel; its weight
  // is [in, out / groups, kernel...]. The batch is one example.
  if (kind == OpKind::TransposedConv && observed.weight.size(0) > 0) {
    observed.uses = input.numel() / observed.weight.size(0);
  }
  return context;
}

void on_op_end(const at::RecordFunction& fn, at::ObserverContext* base) {
  Probe* probe = active_probe;
  if (probe == nullptr || base == nullptr) return;
  auto& context = static_cast<OpContext&>(*base);
  --probe->depth;
  Observed& observed = context.observed;
  if (!context.outermost || observed.parameter == nullptr) return;
  // Boxed calls leave the whole stack here too; the single result is on top.
  const std::vector<c10::IValue>& outputs = fn.outputs();
  if (outputs.empty() || !outputs.back().isTensor()) return;
  const at::Tensor& output = outputs.back().toTensor();
  if (context.transpose) {
    probe->aliases[output.unsafeGetTensorImpl()] = {observed.parameter, observed.weight, output};
    return;
  }
  if (output.dim() == 0) return;
  if (observed.linear) {
    // [..., out features]: each weight is used once per row.
    observed.channels = output.size(-1);
  } else {
    // [N, C, spatial...] for a batch, [C, spatial...] for one unbatched example.
    observed.channels = output.size(output.dim() == observed.weight.dim() ? 1 : 0);
  }
  if (observed.uses == 0 && observed.channels > 0) {
    observed.uses = output.numel() / observed.channels;
  }
  probe->observed.push_back(std::move(observed));
}

// Installs the observer for this thread; removes it however the forward pass ends.
class ProbeScope {
 public:
  explicit ProbeScope(Probe& probe)
      : handle_(at::addThreadLocalCallback(at::RecordFunctionCallback(on_op_start, on_op_end)
                                               .needsInputs(true)
                                               .needsOutputs(true)
                                               .scopes({at::RecordScope::FUNCTION}))) {
    active_probe = &probe;
  }
  ~ProbeScope() {
    active_probe = nullptr;
    at::removeCallback(handle_);
  }
  ProbeScope(const ProbeScope&) = delete;
  ProbeScope& operator=(const ProbeScope&) = delete;

 private:
  at::CallbackHandle handle_;
};

// Every module's own train/eval flag, so that a mixed state (frozen batch norm in a
// training model) comes back as it was: the root first (train() recurses), then the
// descendants in pre-order. The root is taken by reference: modules(true) would need it
// to be owned by a shared_ptr.
class ModeRestorer {
 public:
  explicit ModeRestorer(torch::nn::Module& root) : root_(root), root_training_(root.is_training()) {
    for (const auto& module : root.modules(/*include_self=*/false)) {
      modes_.emplace_back(module, module->is_training());
    }
  }
  ~ModeRestorer() {
    root_.train(root_training_);
    for (const auto& [module, training] : modes_) module->train(training);
  }
  ModeRestorer(const ModeRestorer&) = delete;
  ModeRestorer& operator=(const ModeRestorer&) = delete;

 private:
  torch::nn::Module& root_;
  bool root_training_;
  std::vector<std::pair<std::shared_ptr<torch::nn::Module>, bool>> modes_;
};

}  // namespace

ModelSummary summarize_model(Model& model, const DataShape& shape) {
  torch::nn::Module& module = model.module();
  ModelSummary summary;
  std::unordered_map<const c10::TensorImpl*, std::string> parameters;
  const at::NoGradGuard no_grad;
  for (const auto& item : module.named_parameters()) {
    const at::Tensor& tensor = item.value();
    if (!parameters.emplace(tensor.unsafeGetTensorImpl(), item.key()).second) continue;
    summary.parameters += tensor.numel();
    summary.nonzero_parameters += tensor.count_nonzero().item<std::int64_t>();
  }

  Probe probe;
  probe.parameters = &parameters;
  {
    const ModeRestorer restore_modes(module);
    module.eval();
    std::vector<std::int64_t> batch_shape{1};
    batch_shape.insert(batch_shape.end(), shape.input_shape.begin(), shape.input_shape.end());
    const at::Tensor example = at::zeros(batch_shape);
    const ProbeScope observe(probe);
    model.forward(example);
  }
  if (probe.ops_seen == 0) {
    throw Error(
        "summarize_model: the forward pass dispatched no operator that RecordFunction could "
        "observe, so its MACs cannot be measured (is LibTorch built with "
        "PYTORCH_DISABLE_PER_OP_PROFILING?)");
  }

  std::unordered_set<const c10::TensorImpl*> used;
  std::size_t output_layer = probe.observed.size();
  for (std::size_t i = 0; i < probe.observed.size(); ++i) {
    const Observed& op = probe.observed[i];
    WeightedLayer layer;
    layer.parameter = *op.parameter;
    layer.op = op.linear ? "linear" : "conv";
    layer.weight_shape = op.weight.sizes().vec();
    layer.nonzero_weights = op.weight.count_nonzero().item<std::int64_t>();
    layer.uses_per_weight = op.uses;
    layer.dense_macs = op.weight.numel() * op.uses;
    layer.effective_macs = layer.nonzero_weights * op.uses;
    summary.dense_macs += layer.dense_macs;
    summary.effective_macs += layer.effective_macs;
    if (op.channels == shape.num_classes) output_layer = i;
    used.insert(op.weight.unsafeGetTensorImpl());
    summary.layers.push_back(std::move(layer));
  }
  if (output_layer < summary.layers.size()) summary.layers[output_layer].is_output = true;
  for (const auto& item : module.named_parameters()) {
    // insert() also skips the second name of a shared parameter.
    if (item.value().dim() >= 2 && used.insert(item.value().unsafeGetTensorImpl()).second) {
      summary.unmeasured.push_back(item.key());
    }
  }
  return summary;
}

std::string format_model_summary(const ModelSummary& summary) {
  char line[256];
  const auto percent = [](std::int64_t part, std::int64_t whole) {
    return whole > 0 ? 100.0 * static_cast<double>(part) / static_cast<double>(whole) : 0.0;
  };
  std::snprintf(line, sizeof line,
                "parameters: %lld (%lld nonzero, %.2f%%)\nMACs per example: %lld dense, %lld "
                "effective (%.2f%%)\n",
                static_cast<long long>(summary.parameters),
                static_cast<long long>(summary.nonzero_parameters),
                percent(summary.nonzero_parameters, summary.parameters),
                static_cast<long long>(summary.dense_macs),
                static_cast<long long>(summary.effective_macs),
                percent(summary.effective_macs, summary.dense_macs));
  std::string text = line;
  for (const WeightedLayer& layer : summary.layers) {
    std::snprintf(
        line, sizeof line, "  %-32s %-6s %-20s x%-6lld %12lld MACs %7.2f%% kept%s\n",
        layer.parameter.c_str(), layer.op.c_str(),
        c10::str(at::IntArrayRef(layer.weight_shape)).c_str(),
        static_cast<long long>(layer.uses_per_weight), static_cast<long long>(layer.dense_macs),
        percent(layer.effective_macs, layer.dense_macs), layer.is_output ? "  (output)" : "");
    text += line;
  }
  for (const std::string& name : summary.unmeasured) {
    text += "  " + name + ": used outside a linear or conv op, not in the MACs\n";
  }
  return text;
}

}  // namespace secateurs::host
