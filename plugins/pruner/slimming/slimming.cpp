// pruner.slimming: network slimming (Liu et al. 2017): channels ranked by the magnitude of
// their batch-norm scale |gamma|, globally by default. Only channel groups with a batch
// norm take part; train with an L1 penalty on gamma for the method's full effect.
#include <torch/torch.h>

#include <secateurs/sdk.h>

namespace {

using namespace secateurs;

class Slimming final : public Pruner {
 public:
  explicit Slimming(const Params& params) : scope_(prune_scope(params)) {}

  PruningDecision prune(Model& model, const PruningRequest& request, Context&) override {
    std::map<std::string, at::Tensor> params;
    for (const auto& item : model.module().named_parameters(true))
      params[item.key()] = item.value();
    PruningRequest normed = request;
    normed.groups.clear();
    std::vector<std::size_t> positions;
    std::vector<at::Tensor> scores;
    torch::NoGradGuard no_grad;
    for (std::size_t g = 0; g < request.groups.size(); ++g) {
      const ChannelGroup& group = request.groups[g];
      at::Tensor score = torch::zeros({group.size}, torch::kFloat64);
      bool found = false;
      for (const std::string& norm : group.norms) {
        const auto gamma = params.find(norm + ".weight");
        if (gamma == params.end()) continue;
        score += gamma->second.detach().to(torch::kFloat64).cpu().abs();
        found = true;
      }
      if (!found) continue;
      normed.groups.push_back(group);
      positions.push_back(g);
      scores.push_back(score);
    }
    if (normed.groups.empty()) {
      throw ConfigError(
          "pruner.slimming ranks channels by their batch-norm scale, and no channel group of "
          "the pruned layers has a batch norm (use pruner.filter_norm for such models)");
    }
    const std::vector<at::Tensor> kept = keep_channels(normed, scores, scope_);
    std::vector<at::Tensor> channels;
    for (const ChannelGroup& group : request.groups) channels.push_back(torch::ones({group.size}));
    for (std::size_t i = 0; i < positions.size(); ++i) channels[positions[i]] = kept[i];
    return {{}, channels};
  }

 private:
  PruneScope scope_;
};

void register_components(Registrar& registrar) {
  registrar.add<Slimming>(
      Kind::Pruner, "slimming", "Structured: network slimming by batch-norm scale |gamma|",
      {param::choice("scope", {"layer", "global"}, "global",
                     "One ranking over all layers (as published), or each layer alike")});
}

}  // namespace

SECATEURS_PLUGIN("slimming", "1.0.0", register_components)
