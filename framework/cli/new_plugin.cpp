#include "new_plugin.h"

#include "host/registry.h"

#include <filesystem>
#include <fstream>
#include <iostream>

namespace secateurs::cli {

namespace {

namespace fs = std::filesystem;

constexpr const char* kCMakeLists = R"(cmake_minimum_required(VERSION 3.25)
project(@NAME@ LANGUAGES CXX)

# Point CMAKE_PREFIX_PATH at the secateurs installation if it is not in a system prefix.
find_package(Secateurs REQUIRED)

# Builds plugins/lib@NAME@.so in this build directory.
secateurs_add_plugin(@NAME@ SOURCES @NAME@.cpp)
)";

constexpr const char* kReadme = R"(# @NAME@: a secateurs @KIND@ plugin

Written by `secateurs new-plugin @KIND@ @NAME@`. It builds against an installed secateurs
SDK and loads as it is; edit `@NAME@.cpp` to make it yours.

Build (PREFIX is where secateurs was installed with `cmake --install`):

    cmake -S . -B build -DCMAKE_PREFIX_PATH=PREFIX
    cmake --build build

Load and inspect it:

    secateurs plugins --plugin-path build/plugins
    secateurs describe @KIND@.@NAME@ --plugin-path build/plugins

or set `SECATEURS_PLUGIN_PATH=$PWD/build/plugins` once for every command.

Rules of the road (docs/plugin-guide.md in the secateurs tree has the whole story):
- Declare every parameter in the schema passed to `registrar.add`; the host validates user
  input against it before your factory runs, so the constructor can trust `Params`.
- Throw only secateurs errors (`secateurs::Error` and its subclasses) for problems a user
  can fix; anything else is reported as a bug in the plugin.
- Seed every random source from `context.seed()`: same seed, same result, whatever the
  thread count.
- The plugin must be rebuilt when secateurs or LibTorch changes version: the host
  compares build fingerprints and refuses a mismatch with both fingerprints shown.
)";

constexpr const char* kAttack = R"(// @NAME@: a membership-inference attack plugin for secateurs.
#include <torch/torch.h>

#include <secateurs/sdk.h>

namespace {

// Scores each target sample by its temperature-scaled log-probability of the true class
// (an overfit model is more confident on its members than on unseen samples), and calls
// a member every sample at or above the threshold that best separates the shadows'
// members from their non-members.
class @CLASS@ final : public secateurs::Attack {
 public:
  explicit @CLASS@(const secateurs::Params& params)
      : temperature_(params.get_float("temperature")) {}

  secateurs::AttackResult run(const secateurs::AttackInputs& inputs,
                              secateurs::Context&) override {
    // float64 and the log domain (true_class_log_probability): in float32 a confident
    // model rounds the probability of many members to exactly 1, and the ties distort
    // AUC and every low-FPR figure.
    const secateurs::StackedShadows shadows = secateurs::stack_shadows(inputs.shadows);
    const double threshold = secateurs::best_threshold(
        secateurs::true_class_log_probability(shadows.logits / temperature_, shadows.labels),
        shadows.is_member);
    const at::Tensor scores = secateurs::true_class_log_probability(
        inputs.target_logits / temperature_, inputs.target.labels);
    return {scores, scores.ge(threshold)};
  }

 private:
  double temperature_;
};

void register_components(secateurs::Registrar& registrar) {
  registrar.add<@CLASS@>(
      secateurs::Kind::Attack, "@NAME@", "True-class log-confidence score",
      {secateurs::param::real("temperature", 1.0, "Softmax temperature applied to the logits")
           .range(1e-3, 1e3)});
}

}  // namespace

SECATEURS_PLUGIN("@NAME@", "0.1.0", register_components)
)";

constexpr const char* kPruner = R"(// @NAME@: a pruner plugin for secateurs.
#include <torch/torch.h>

#include <secateurs/sdk.h>

namespace {

// Magnitude pruning: removes the weights of smallest |w|, to the same sparsity in each
// layer ("layer") or by one ranking over all of them ("global"). keep_highest does the
// ranking (already-pruned weights first, ties by position); a structured pruner scores
// request.groups and returns keep_channels(...) as the decision's channels instead.
class @CLASS@ final : public secateurs::Pruner {
 public:
  explicit @CLASS@(const secateurs::Params& params)
      : scope_(params.get_string("scope") == "global" ? secateurs::PruneScope::Global
                                                      : secateurs::PruneScope::Layer) {}

  secateurs::PruningDecision prune(secateurs::Model&, const secateurs::PruningRequest& request,
                                   secateurs::Context&) override {
    std::vector<at::Tensor> scores;
    for (const auto& target : request.targets) scores.push_back(target.weight.detach().abs());
    return {secateurs::keep_highest(request.targets, scores, request.sparsity, scope_), {}};
  }

 private:
  secateurs::PruneScope scope_;
};

void register_components(secateurs::Registrar& registrar) {
  registrar.add<@CLASS@>(
      secateurs::Kind::Pruner, "@NAME@", "Magnitude pruning, per layer or global",
      {secateurs::param::choice("scope", {"layer", "global"}, "layer",
                                "Each layer to the sparsity, or one ranking over all layers")});
}

}  // namespace

SECATEURS_PLUGIN("@NAME@", "0.1.0", register_components)
)";

constexpr const char* kDefense = R"(// @NAME@: a defense plugin for secateurs.
#include <torch/torch.h>

#include <secateurs/sdk.h>

namespace {

// Confidence penalty: adds weight * (negative entropy of the posterior) to the loss, so
// the model is discouraged from the over-confident outputs that membership attacks read.
class @CLASS@ final : public secateurs::Defense {
 public:
  explicit @CLASS@(const secateurs::Params& params) : weight_(params.get_float("weight")) {}

  at::Tensor loss(secateurs::Model&, const secateurs::Batch&, const at::Tensor& logits,
                  const at::Tensor& base_loss, secateurs::Context&) override {
    const at::Tensor log_probs = torch::log_softmax(logits, /*dim=*/1);
    const at::Tensor negative_entropy = (log_probs.exp() * log_probs).sum(1).mean();
    return base_loss + weight_ * negative_entropy;
  }

 private:
  double weight_;
};

void register_components(secateurs::Registrar& registrar) {
  registrar.add<@CLASS@>(
      secateurs::Kind::Defense, "@NAME@", "Confidence penalty on the training loss",
      {secateurs::param::real("weight", 0.1, "Weight of the negative-entropy term").range(0, 10)});
}

}  // namespace

SECATEURS_PLUGIN("@NAME@", "0.1.0", register_components)
)";

constexpr const char* kDataset = R"(// @NAME@: a dataset plugin for secateurs.
#include <torch/torch.h>

#include <secateurs/sdk.h>

namespace {

// Gaussian class blobs: class c is centred at separation * e_(c mod dim), unit variance.
class @CLASS@ final : public secateurs::Dataset {
 public:
  explicit @CLASS@(const secateurs::Params& params)
      : samples_(params.get_int("samples")),
        classes_(params.get_int("classes")),
        features_(params.get_int("features")),
        separation_(params.get_float("separation")) {}

  secateurs::LabeledData load(secateurs::Context& context) override {
    at::Generator generator = secateurs::make_generator(context.seed());
    const at::Tensor labels = torch::randint(classes_, {samples_}, generator, torch::kLong);
    const at::Tensor centres =
        separation_ * torch::eye(features_).index({labels.remainder(features_)});
    // Normals in double: LibTorch draws float32 normals with CPU-specific vector code.
    const at::Tensor inputs =
        (centres + torch::randn({samples_, features_}, generator, torch::kDouble)).to(torch::kFloat);
    return {inputs, labels, classes_};
  }

 private:
  std::int64_t samples_, classes_, features_;
  double separation_;
};

void register_components(secateurs::Registrar& registrar) {
  registrar.add<@CLASS@>(
      secateurs::Kind::Dataset, "@NAME@", "Gaussian class blobs",
      {secateurs::param::integer("samples", 1000, "Number of examples").range(1, 10000000),
       secateurs::param::integer("classes", 10, "Number of classes").range(2, 1000),
       secateurs::param::integer("features", 16, "Features per example").range(1, 100000),
       secateurs::param::real("separation", 3.0, "Distance of class centres from the origin").at_least(0)});
}

}  // namespace

SECATEURS_PLUGIN("@NAME@", "0.1.0", register_components)
)";

constexpr const char* kModel = R"(// @NAME@: a model plugin for secateurs.
#include <torch/torch.h>

#include <cmath>

#include <secateurs/sdk.h>

namespace {

// A one-hidden-layer perceptron over the flattened input.
class @CLASS@ final : public secateurs::Model {
 public:
  explicit @CLASS@(const secateurs::Params& params) : hidden_(params.get_int("hidden")) {}

  void build(const secateurs::DataShape& shape, secateurs::Context& context) override {
    std::int64_t inputs = 1;
    for (std::int64_t size : shape.input_shape) inputs *= size;
    hidden_layer_ = net_.register_module("hidden", torch::nn::Linear(inputs, hidden_));
    output_layer_ = net_.register_module("output", torch::nn::Linear(hidden_, shape.num_classes));
    // Re-initialise from the context's seed: LibTorch's default init draws from a global
    // generator, which parallel trainings would share.
    at::Generator generator = secateurs::make_generator(context.seed());
    torch::NoGradGuard no_grad;
    for (torch::nn::Linear layer : {hidden_layer_, output_layer_}) {
      const double bound = 1.0 / std::sqrt(static_cast<double>(layer->options.in_features()));
      layer->weight.uniform_(-bound, bound, generator);
      layer->bias.uniform_(-bound, bound, generator);
    }
  }

  torch::nn::Module& module() override { return net_; }

  at::Tensor forward(const at::Tensor& inputs) override {
    return output_layer_(torch::relu(hidden_layer_(inputs.flatten(1))));
  }

 private:
  std::int64_t hidden_;
  torch::nn::Module net_;
  torch::nn::Linear hidden_layer_{nullptr}, output_layer_{nullptr};
};

void register_components(secateurs::Registrar& registrar) {
  registrar.add<@CLASS@>(
      secateurs::Kind::Model, "@NAME@", "One-hidden-layer perceptron",
      {secateurs::param::integer("hidden", 256, "Width of the hidden layer").range(1, 100000)});
}

}  // namespace

SECATEURS_PLUGIN("@NAME@", "0.1.0", register_components)
)";

const char* source_template(Kind kind) {
  switch (kind) {
    case Kind::Attack: return kAttack;
    case Kind::Pruner: return kPruner;
    case Kind::Defense: return kDefense;
    case Kind::Dataset: return kDataset;
    case Kind::Model: return kModel;
  }
  return kAttack;
}

// my_attack -> MyAttack
std::string class_name(const std::string& name) {
  std::string result;
  bool upper = true;
  for (char c : name) {
    if (c == '_') {
      upper = true;
    } else {
      result += upper ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c;
      upper = false;
    }
  }
  return result;
}

std::string fill(std::string text, Kind kind, const std::string& name) {
  const std::pair<std::string, std::string> substitutions[] = {
      {"@NAME@", name}, {"@CLASS@", class_name(name)}, {"@KIND@", std::string(to_string(kind))}};
  for (const auto& [key, value] : substitutions) {
    for (std::size_t pos = text.find(key); pos != std::string::npos;
         pos = text.find(key, pos + value.size())) {
      text.replace(pos, key.size(), value);
    }
  }
  return text;
}

}  // namespace

int write_plugin_skeleton(Kind kind, const std::string& name, const std::string& directory,
                          std::ostream& out) {
  if (!host::is_identifier(name)) {
    std::cerr << "secateurs: plugin name '" << name
              << "' must be lower case letters, digits and underscores, starting with a letter\n";
    return 2;
  }
  const fs::path dir(directory);
  std::error_code error;
  if (fs::exists(dir, error) && !(fs::is_directory(dir, error) && fs::is_empty(dir, error))) {
    std::cerr << "secateurs: '" << directory << "' already exists and is not an empty directory\n";
    return 1;
  }
  fs::create_directories(dir, error);
  if (error) {
    std::cerr << "secateurs: cannot create '" << directory << "': " << error.message() << "\n";
    return 1;
  }
  const std::pair<std::string, const char*> files[] = {{"CMakeLists.txt", kCMakeLists},
                                                       {"README.md", kReadme},
                                                       {name + ".cpp", source_template(kind)}};
  for (const auto& [file_name, text] : files) {
    std::ofstream file(dir / file_name);
    file << fill(text, kind, name);
    if (!file.flush()) {
      std::cerr << "secateurs: cannot write '" << (dir / file_name).string() << "'\n";
      return 1;
    }
  }
  out << "Wrote a " << to_string(kind) << " plugin skeleton to " << directory << ":\n"
      << "  CMakeLists.txt  README.md  " << name << ".cpp\n"
      << "Build it with:\n"
      << "  cmake -S " << directory << " -B " << directory
      << "/build -DCMAKE_PREFIX_PATH=<secateurs prefix>\n"
      << "  cmake --build " << directory << "/build\n"
      << "then: secateurs describe " << to_string(kind) << "." << name << " --plugin-path "
      << directory << "/build/plugins\n";
  return 0;
}

}  // namespace secateurs::cli
