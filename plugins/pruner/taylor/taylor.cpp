// pruner.taylor: first-order Taylor importance (Molchanov et al. 2019): the squared change
// of the loss when a weight is removed, (g * w)^2, averaged over a few mini-batches of
// training data. Gradient-informed "safe" pruning: it removes what the loss needs least.
#include <torch/torch.h>

#include <secateurs/sdk.h>

namespace {

using namespace secateurs;

class Taylor final : public Pruner {
 public:
  explicit Taylor(const Params& params)
      : scope_(prune_scope(params)), batches_(params.get_int("batches")) {}

  PruningDecision prune(Model& model, const PruningRequest& request, Context&) override {
    const std::vector<at::Tensor> scores =
        taylor_scores(model, request.targets,
                      pruning_batches(request, "pruner.taylor", batches_ * request.batch_size));
    return {keep_highest(request.targets, scores, request.sparsity, scope_), {}};
  }

 private:
  PruneScope scope_;
  std::int64_t batches_;
};

void register_components(Registrar& registrar) {
  registrar.add<Taylor>(
      Kind::Pruner, "taylor",
      "Unstructured: first-order Taylor importance (g*w)^2 over a few training batches",
      {param::choice("scope", {"layer", "global"}, "global",
                     "Each layer to the sparsity, or one ranking over all layers"),
       param::integer("batches", 8, "Mini-batches the importance is averaged over")
           .range(1, 100000)});
}

}  // namespace

SECATEURS_PLUGIN("taylor", "1.0.0", register_components)
