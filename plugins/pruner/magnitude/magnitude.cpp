// pruner.magnitude: removes the weights of smallest |w| (Han et al. 2015), per layer or by
// one global ranking.
#include <torch/torch.h>

#include <secateurs/sdk.h>

namespace {

using namespace secateurs;

class Magnitude final : public Pruner {
 public:
  explicit Magnitude(const Params& params) : scope_(prune_scope(params)) {}

  PruningDecision prune(Model&, const PruningRequest& request, Context&) override {
    std::vector<at::Tensor> scores;
    for (const PruneTarget& target : request.targets)
      scores.push_back(target.weight.detach().abs());
    return {keep_highest(request.targets, scores, request.sparsity, scope_), {}};
  }

 private:
  PruneScope scope_;
};

void register_components(Registrar& registrar) {
  registrar.add<Magnitude>(
      Kind::Pruner, "magnitude", "Unstructured: remove the weights of smallest magnitude",
      {param::choice("scope", {"layer", "global"}, "layer",
                     "Each layer to the sparsity, or one ranking over all layers")});
}

}  // namespace

SECATEURS_PLUGIN("magnitude", "1.0.0", register_components)
