// pruner.hybrid: structured, then unstructured on what remains. A share of the requested
// sparsity comes from removing whole channels (filter L1 norm), the rest from removing the
// smallest remaining weights (magnitude), so the model both shrinks and thins.
#include <torch/torch.h>

#include <secateurs/sdk.h>

namespace {

using namespace secateurs;

class Hybrid final : public Pruner {
 public:
  explicit Hybrid(const Params& params)
      : share_(params.get_float("channel_share")), scope_(prune_scope(params)) {}

  PruningDecision prune(Model&, const PruningRequest& request, Context&) override {
    if (request.groups.empty()) {
      throw ConfigError(
          "pruner.hybrid removes channels first, and the model declares no channel groups "
          "among the pruned layers");
    }
    std::map<std::string, const PruneTarget*> targets;
    for (const PruneTarget& target : request.targets) targets[target.name] = &target;
    torch::NoGradGuard no_grad;
    std::vector<at::Tensor> scores;
    for (const ChannelGroup& group : request.groups) {
      at::Tensor score = torch::zeros({group.size}, torch::kFloat64);
      for (const std::string& producer : group.producers) {
        const PruneTarget& target = *targets.at(producer + ".weight");
        score += (target.weight.detach() * target.mask.to(target.weight.options()))
                     .to(torch::kFloat64)
                     .cpu()
                     .reshape({group.size, -1})
                     .abs()
                     .sum(1);
      }
      scores.push_back(score);
    }
    // Channels up to their share of the sparsity; never less than what is pruned already.
    PruningRequest structured = request;
    const double already = mask_sparsity([&] {
      std::vector<at::Tensor> masks;
      for (const PruneTarget& target : request.targets) masks.push_back(target.mask);
      return masks;
    }());
    structured.sparsity = std::max(0.0, std::min(request.sparsity * share_, request.sparsity));
    const std::vector<at::Tensor> channels = already >= structured.sparsity && share_ == 0
                                                 ? std::vector<at::Tensor>{}
                                                 : keep_channels(structured, scores, scope_);
    PruningRequest rest = request;
    if (!channels.empty()) {
      const std::vector<at::Tensor> masks = channel_weight_masks(request, channels);
      for (std::size_t i = 0; i < rest.targets.size(); ++i) rest.targets[i].mask = masks[i];
    }
    std::vector<at::Tensor> magnitude;
    for (const PruneTarget& target : rest.targets)
      magnitude.push_back(target.weight.detach().abs());
    return {keep_highest(rest.targets, magnitude, request.sparsity, scope_), channels};
  }

 private:
  double share_;
  PruneScope scope_;
};

void register_components(Registrar& registrar) {
  registrar.add<Hybrid>(
      Kind::Pruner, "hybrid",
      "Hybrid: remove channels by L1 norm, then the smallest remaining weights",
      {param::real("channel_share", 0.5, "Share of the sparsity reached by removing channels")
           .range(0, 1),
       param::choice("scope", {"layer", "global"}, "layer",
                     "Scope of both steps: per layer, or one ranking")});
}

}  // namespace

SECATEURS_PLUGIN("hybrid", "1.0.0", register_components)
