#include "secateurs/gradients.h"

#include <torch/torch.h>

#include "secateurs/error.h"

namespace secateurs {

namespace {

// Eval mode for the call, the caller's mode afterwards (also on exceptions).
class EvalMode {
 public:
  explicit EvalMode(Model& model) : module_(model.module()), was_(module_.is_training()) {
    module_.train(false);
  }
  ~EvalMode() { module_.train(was_); }
  EvalMode(const EvalMode&) = delete;
  EvalMode& operator=(const EvalMode&) = delete;

 private:
  torch::nn::Module& module_;
  bool was_;
};

}  // namespace

std::vector<at::Tensor> loss_gradients(Model& model, const LabeledData& batch,
                                       const std::vector<at::Tensor>& parameters) {
  EvalMode eval(model);
  torch::AutoGradMode enable(true);
  const at::Tensor loss =
      torch::nn::functional::cross_entropy(model.forward(batch.inputs), batch.labels);
  std::vector<at::Tensor> inputs(parameters.begin(), parameters.end());
  std::vector<at::Tensor> gradients = torch::autograd::grad({loss}, inputs, {}, false, false, true);
  for (std::size_t i = 0; i < gradients.size(); ++i) {
    if (!gradients[i].defined()) gradients[i] = torch::zeros_like(parameters[i]);
  }
  return gradients;
}

at::Tensor pgd_examples(Model& model, const LabeledData& batch, const PgdSettings& settings,
                        at::Generator generator) {
  if (settings.epsilon < 0 || settings.steps < 1 || settings.upper <= settings.lower) {
    throw ConfigError("PGD: epsilon must be >= 0, steps >= 1 and upper > lower");
  }
  EvalMode eval(model);
  torch::AutoGradMode enable(true);
  const double step =
      settings.step_size > 0 ? settings.step_size : 2.5 * settings.epsilon / settings.steps;
  const at::Tensor clean = batch.inputs.detach();
  at::Tensor x = clean.clone();
  if (settings.random_start) {
    x = x + (torch::rand(clean.sizes(), generator, clean.options()) * 2 - 1) * settings.epsilon;
    x = x.clamp(settings.lower, settings.upper);
  }
  for (int i = 0; i < settings.steps; ++i) {
    x = x.detach().requires_grad_(true);
    const at::Tensor loss = torch::nn::functional::cross_entropy(model.forward(x), batch.labels);
    const at::Tensor gradient = torch::autograd::grad({loss}, {x})[0];
    torch::NoGradGuard no_grad;
    x = x + step * gradient.sign();
    x = torch::min(torch::max(x, clean - settings.epsilon), clean + settings.epsilon);
    x = x.clamp(settings.lower, settings.upper);
  }
  return x.detach();
}

}  // namespace secateurs
