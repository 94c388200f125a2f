// pruner.adversarial: importance computed on adversarial examples (as in HYDRA and
// adversarial pruning of Sehwag et al.): first-order Taylor importance (g * w)^2 where g
// is the gradient of the loss on PGD examples of the training data, so that the weights
// robustness relies on are kept. Pair it with adversarial fine-tuning to keep the pruned
// model robust.
#include <torch/torch.h>

#include <secateurs/sdk.h>

namespace {

using namespace secateurs;

class Adversarial final : public Pruner {
 public:
  explicit Adversarial(const Params& params)
      : scope_(prune_scope(params)), batches_(params.get_int("batches")) {
    pgd_.epsilon = params.get_float("epsilon");
    pgd_.steps = static_cast<int>(params.get_int("steps"));
    pgd_.lower = params.get_float("input_min");
    pgd_.upper = params.get_float("input_max");
    if (pgd_.upper <= pgd_.lower) {
      throw ConfigError("pruner.adversarial: input_max must be above input_min");
    }
  }

  PruningDecision prune(Model& model, const PruningRequest& request, Context& context) override {
    at::Generator generator = make_generator(derive_seed(context.seed(), "pruner.adversarial"));
    std::vector<LabeledData> attacked;
    for (const LabeledData& batch :
         pruning_batches(request, "pruner.adversarial", batches_ * request.batch_size)) {
      attacked.push_back(
          {pgd_examples(model, batch, pgd_, generator), batch.labels, batch.num_classes});
    }
    const std::vector<at::Tensor> scores = taylor_scores(model, request.targets, attacked);
    return {keep_highest(request.targets, scores, request.sparsity, scope_), {}};
  }

 private:
  PruneScope scope_;
  std::int64_t batches_;
  PgdSettings pgd_;
};

void register_components(Registrar& registrar) {
  registrar.add<Adversarial>(
      Kind::Pruner, "adversarial",
      "Unstructured: Taylor importance on PGD adversarial examples (robustness-aware)",
      {param::choice("scope", {"layer", "global"}, "global",
                     "Each layer to the sparsity, or one ranking over all layers"),
       param::real("epsilon", 0.1, "PGD L-infinity radius, in input units").range(0, 1e6),
       param::integer("steps", 5, "PGD steps (1: FGSM from a random start)").range(1, 1000),
       param::integer("batches", 4, "Mini-batches of PGD examples").range(1, 100000),
       param::real("input_min", 0.0, "Smallest valid input value").range(-1e9, 1e9),
       param::real("input_max", 1.0, "Largest valid input value").range(-1e9, 1e9)});
}

}  // namespace

SECATEURS_PLUGIN("adversarial", "1.0.0", register_components)
