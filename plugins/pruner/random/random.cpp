// pruner.random: removes weights at random, the control every importance criterion must
// beat. The draw comes from the context's seed: same seed, same mask.
#include <torch/torch.h>

#include <secateurs/sdk.h>

namespace {

using namespace secateurs;

class RandomPruner final : public Pruner {
 public:
  explicit RandomPruner(const Params& params) : scope_(prune_scope(params)) {}

  PruningDecision prune(Model&, const PruningRequest& request, Context& context) override {
    at::Generator generator = make_generator(derive_seed(context.seed(), "pruner.random"));
    std::vector<at::Tensor> scores;
    for (const PruneTarget& target : request.targets) {
      scores.push_back(torch::rand(target.weight.sizes(), generator, torch::kFloat64));
    }
    return {keep_highest(request.targets, scores, request.sparsity, scope_), {}};
  }

 private:
  PruneScope scope_;
};

void register_components(Registrar& registrar) {
  registrar.add<RandomPruner>(
      Kind::Pruner, "random", "Unstructured control: remove weights uniformly at random",
      {param::choice("scope", {"layer", "global"}, "layer",
                     "Each layer to the sparsity, or one draw over all layers")});
}

}  // namespace

SECATEURS_PLUGIN("random", "1.0.0", register_components)
