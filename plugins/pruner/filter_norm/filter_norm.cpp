// pruner.filter_norm: structured pruning by the L1 (Li et al. 2017) or L2 norm of each
// channel's filter (conv) or incoming weights (linear unit). Channels of a group fed by
// several producers (a residual sum) are scored by the sum of their norms.
#include <torch/torch.h>

#include <secateurs/sdk.h>

namespace {

using namespace secateurs;

class FilterNorm final : public Pruner {
 public:
  explicit FilterNorm(const Params& params)
      : p_(params.get_string("norm") == "l2" ? 2.0 : 1.0), scope_(prune_scope(params)) {}

  PruningDecision prune(Model&, const PruningRequest& request, Context&) override {
    if (request.groups.empty()) {
      throw ConfigError(
          "pruner.filter_norm removes channels, and the model declares no channel groups among "
          "the pruned layers (use an unstructured pruner, or include the layers)");
    }
    std::map<std::string, const PruneTarget*> targets;
    for (const PruneTarget& target : request.targets) targets[target.name] = &target;
    std::vector<at::Tensor> scores;
    torch::NoGradGuard no_grad;
    for (const ChannelGroup& group : request.groups) {
      at::Tensor score = torch::zeros({group.size}, torch::kFloat64);
      for (const std::string& producer : group.producers) {
        const PruneTarget& target = *targets.at(producer + ".weight");
        // Already-pruned weights count as zero.
        const at::Tensor rows = (target.weight.detach() * target.mask.to(target.weight.options()))
                                    .to(torch::kFloat64)
                                    .cpu()
                                    .reshape({group.size, -1});
        score += rows.norm(p_, {1});
      }
      scores.push_back(score);
    }
    return {{}, keep_channels(request, scores, scope_)};
  }

 private:
  double p_;
  PruneScope scope_;
};

void register_components(Registrar& registrar) {
  registrar.add<FilterNorm>(
      Kind::Pruner, "filter_norm",
      "Structured: remove the filters/neurons of smallest L1 or L2 norm",
      {param::choice("norm", {"l1", "l2"}, "l1", "Norm of each channel's weights"),
       param::choice("scope", {"layer", "global"}, "layer",
                     "Each layer by the same share of channels, or one ranking (norms divided "
                     "by their layer's mean)")});
}

}  // namespace

SECATEURS_PLUGIN("filter_norm", "1.0.0", register_components)
