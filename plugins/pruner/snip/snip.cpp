// pruner.snip: connection sensitivity (Lee et al. 2019, SNIP): |dL/dc * c| for a gate c on
// each weight, which is |g * w|, computed on the gradient of one large batch (the
// gradient of the summed loss, not averaged per batch as pruner.taylor squares it). On a
// trained model it is the gradient-informed saliency; before training it is SNIP itself.
#include <torch/torch.h>

#include <secateurs/sdk.h>

namespace {

using namespace secateurs;

class Snip final : public Pruner {
 public:
  explicit Snip(const Params& params)
      : scope_(prune_scope(params)), examples_(params.get_int("examples")) {}

  PruningDecision prune(Model& model, const PruningRequest& request, Context&) override {
    std::vector<at::Tensor> weights;
    for (const PruneTarget& target : request.targets) weights.push_back(target.weight);
    std::vector<at::Tensor> gradient;
    for (const PruneTarget& target : request.targets) {
      gradient.push_back(torch::zeros(target.weight.sizes(), torch::kFloat64));
    }
    const std::vector<LabeledData> batches = pruning_batches(request, "pruner.snip", examples_);
    for (const LabeledData& batch : batches) {
      const std::vector<at::Tensor> g = loss_gradients(model, batch, weights);
      torch::NoGradGuard no_grad;
      const double share = static_cast<double>(batch.labels.size(0));
      for (std::size_t i = 0; i < weights.size(); ++i)
        gradient[i] += g[i].to(torch::kFloat64).cpu() * share;
    }
    std::vector<at::Tensor> scores;
    torch::NoGradGuard no_grad;
    for (std::size_t i = 0; i < weights.size(); ++i) {
      scores.push_back((gradient[i] * weights[i].detach().to(torch::kFloat64).cpu()).abs());
    }
    return {keep_highest(request.targets, scores, request.sparsity, scope_), {}};
  }

 private:
  PruneScope scope_;
  std::int64_t examples_;
};

void register_components(Registrar& registrar) {
  registrar.add<Snip>(
      Kind::Pruner, "snip", "Unstructured: SNIP connection sensitivity |g*w| on one large batch",
      {param::choice("scope", {"layer", "global"}, "global",
                     "Each layer to the sparsity, or one ranking over all layers (SNIP: global)"),
       param::integer("examples", 1024, "Training examples in the batch").range(1, 10000000)});
}

}  // namespace

SECATEURS_PLUGIN("snip", "1.0.0", register_components)
