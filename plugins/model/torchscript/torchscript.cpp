// model.torchscript: any network saved as TorchScript (torch.jit.save in Python, or
// torch::jit::Module::save in C++), trained and pruned like the built-in models.
#include <torch/script.h>
#include <torch/torch.h>

#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include <secateurs/sdk.h>

namespace {

constexpr const char* kId = "model.torchscript";

// The last line of a LibTorch error without its C++ backtrace: for a TorchScript failure
// (a JITException, not a c10::Error) the lines before it are the script's call stack, and
// the last says what went wrong.
std::string reason(const std::exception& error) {
  const auto* c10_error = dynamic_cast<const c10::Error*>(&error);
  std::string text = c10_error != nullptr ? c10_error->what_without_backtrace() : error.what();
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  const std::size_t newline = text.rfind('\n');
  return newline == std::string::npos ? text : text.substr(newline + 1);
}

torch::jit::Module load_script(const std::string& path) {
  std::error_code error;
  if (!std::filesystem::is_regular_file(path, error)) {
    throw secateurs::ConfigError(std::string(kId) + ": path '" + path +
                                 "' is not a file (expected a TorchScript file from "
                                 "torch.jit.save)");
  }
  try {
    return torch::jit::load(path, torch::kCPU);
  } catch (const std::exception& e) {
    throw secateurs::DataError(std::string(kId) + ": '" + path +
                               "' is not a readable TorchScript file: " + reason(e));
  }
}

// A torch::nn::Module view of one scripted module: it registers the script's own tensors
// (not copies) as its parameters and buffers and mirrors each submodule, so that
// named_parameters() reads "fc1.weight" as in Python, and whatever the trainer or a
// pruner does to module() happens to the tensors the script computes with.
class ScriptMirror final : public torch::nn::Module {
 public:
  explicit ScriptMirror(const torch::jit::Module& script)
      : torch::nn::Module(script.type()->name()->qualifiedName()),
        script_(script),
        kind_(script.type()->name()->name()) {
    // Trainable whatever the file says: the trainer optimises every parameter.
    for (const auto& p : script_.named_parameters(/*recurse=*/false)) {
      register_parameter(p.name, p.value, /*requires_grad=*/true);
    }
    for (const auto& b : script_.named_buffers(/*recurse=*/false)) {
      register_buffer(b.name, b.value);
    }
    for (const auto& child : script_.named_children()) {
      register_module(child.name, std::make_shared<ScriptMirror>(child.value));
    }
    torch::nn::Module::train(script_.is_training());
  }

  // The script reads its own `training` attributes (dropout, batch norm), so train/eval
  // must reach them.
  void train(bool on = true) override {
    // Not script_.train(): it asserts on a module without the attribute, which modules
    // built with the C++ API may lack.
    for (torch::jit::Module module : script_.modules()) {
      if (module.type()->hasAttribute("training")) module.setattr("training", on);
    }
    torch::nn::Module::train(on);
  }

  // The unqualified class name: "Linear" for torch.nn.Linear scripted in Python.
  const std::string& kind() const { return kind_; }

 private:
  torch::jit::Module script_;
  std::string kind_;
};

at::Tensor own(torch::nn::Module& module, const char* name, bool parameter) {
  const auto& items = parameter ? module.named_parameters(false) : module.named_buffers(false);
  const at::Tensor* found = items.find(name);
  return found != nullptr ? *found : at::Tensor();
}

// The built-in models' initialisation for the scripted layers whose class it recognises
// (torch.nn's names), in named_parameters() order. Returns the parameters it left as the
// file had them.
std::vector<std::string> initialize_from_seed(ScriptMirror& root, std::uint64_t seed) {
  static const std::set<std::string> kFanIn = {
      "Linear",          "Conv1d",          "Conv2d",         "Conv3d",
      "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d"};
  static const std::set<std::string> kNorm = {"BatchNorm1d",    "BatchNorm2d",    "BatchNorm3d",
                                              "InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d",
                                              "LayerNorm",      "GroupNorm"};
  at::Generator generator = secateurs::make_generator(seed);
  std::vector<std::string> kept;
  const auto visit = [&](ScriptMirror& layer, const std::string& prefix) {
    if (kFanIn.contains(layer.kind())) {
      secateurs::initialize_fan_in_uniform(own(layer, "weight", true), own(layer, "bias", true),
                                           generator);
    } else if (kNorm.contains(layer.kind())) {
      secateurs::initialize_normalization(
          own(layer, "weight", true), own(layer, "bias", true), own(layer, "running_mean", false),
          own(layer, "running_var", false), own(layer, "num_batches_tracked", false));
    } else {
      for (const auto& p : layer.named_parameters(false)) kept.push_back(prefix + p.key());
    }
  };
  visit(root, "");
  for (const auto& item : root.named_modules("", /*include_self=*/false)) {
    visit(dynamic_cast<ScriptMirror&>(*item.value()), item.key() + ".");
  }
  return kept;
}

class TorchScriptModel final : public secateurs::Model {
 public:
  explicit TorchScriptModel(const secateurs::Params& params)
      : path_(params.get_string("path")),
        from_seed_(params.get_string("weights") == "seed"),
        script_(load_script(path_)) {}

  void build(const secateurs::DataShape& shape, secateurs::Context& context) override {
    secateurs::check_data_shape(kId, shape, 0, "[...] (what the script takes)");
    // A second build starts again from the file, as a built-in model starts from new layers.
    if (built_) script_ = load_script(path_);
    built_ = true;
    mirror_ = std::make_shared<ScriptMirror>(script_);
    check_output(shape);
    if (from_seed_) {
      const std::vector<std::string> kept = initialize_from_seed(*mirror_, context.seed());
      if (!kept.empty()) {
        context.log(secateurs::LogLevel::Warning,
                    std::string(kId) + ": " + std::to_string(kept.size()) +
                        " parameters belong to layers of classes it has no initialisation rule "
                        "for and keep the values in '" +
                        path_ + "', e.g. " + kept.front());
      }
    }
    shape_ = shape;
  }

  torch::nn::Module& module() override { return *mirror_; }

  at::Tensor forward(const at::Tensor& inputs) override {
    secateurs::check_model_inputs(kId, shape_, inputs);
    const c10::IValue output = script_.forward({inputs});
    if (!output.isTensor()) {
      throw secateurs::DataError(std::string(kId) + ": '" + path_ + "' returned a " +
                                 output.tagKind() + " instead of a tensor of logits");
    }
    return output.toTensor();
  }

 private:
  // One zero example through the script in eval mode: the output must be [1, num_classes].
  void check_output(const secateurs::DataShape& shape) {
    std::vector<std::int64_t> batch{1};
    batch.insert(batch.end(), shape.input_shape.begin(), shape.input_shape.end());
    const std::vector<std::int64_t> expected{1, shape.num_classes};
    const bool training = script_.is_training();
    mirror_->train(false);
    c10::IValue output;
    try {
      const at::NoGradGuard no_grad;
      output = script_.forward({at::zeros(batch)});
    } catch (const std::exception& e) {
      mirror_->train(training);
      throw secateurs::ConfigError(std::string(kId) + ": '" + path_ +
                                   "' failed on one example of shape " +
                                   c10::str(at::IntArrayRef(batch)) + ": " + reason(e));
    }
    mirror_->train(training);
    const std::string found =
        output.isTensor() ? c10::str(output.toTensor().sizes()) : "a " + output.tagKind();
    if (!output.isTensor() || output.toTensor().sizes() != at::IntArrayRef(expected)) {
      throw secateurs::ConfigError(std::string(kId) + ": '" + path_ + "' returns " + found +
                                   " for one example of shape " + c10::str(at::IntArrayRef(batch)) +
                                   "; expected logits " + c10::str(at::IntArrayRef(expected)));
    }
  }

  std::string path_;
  bool from_seed_;
  torch::jit::Module script_;
  bool built_ = false;
  secateurs::DataShape shape_;
  std::shared_ptr<ScriptMirror> mirror_ = std::make_shared<ScriptMirror>(script_);
};

void register_components(secateurs::Registrar& registrar) {
  using namespace secateurs;
  registrar.add<TorchScriptModel>(
      Kind::Model, "torchscript", "A network loaded from a TorchScript file (torch.jit.save)",
      {param::string("path", "", "The TorchScript file (torch.jit.save / Module::save)")
           .make_required(),
       param::choice("weights", {"seed", "file"}, "seed",
                     "seed: re-initialise torch.nn layers from the seed; file: keep the saved "
                     "weights")});
}

}  // namespace

SECATEURS_PLUGIN("torchscript", "1.0.0", register_components)
