#include "host/attack_inputs.h"

#include <torch/torch.h>

#include "secateurs/error.h"

namespace secateurs::host {
namespace {

at::Tensor logits_on(Model& model, const Samples& samples) {
  if (!samples.inputs.defined() || samples.inputs.size(0) == 0) return {};
  return query_logits(model, samples.inputs);
}

}  // namespace

ShadowSet observe_shadows(const Samples& samples, const std::vector<TrainedShadow>& shadows,
                          const Samples& target, const Samples& population) {
  ShadowSet set;
  set.samples = samples;
  const std::int64_t count = samples.labels.defined() ? samples.labels.size(0) : 0;
  for (const TrainedShadow& shadow : shadows) {
    if (!shadow.model) throw Error("observe_shadows: a shadow without a model");
    if (!shadow.is_member.defined() || shadow.is_member.numel() != count) {
      throw Error("observe_shadows: is_member must have one entry per sample of the set");
    }
    ShadowModel model;
    model.model = shadow.model.get();
    model.logits = logits_on(*shadow.model, samples);
    model.is_member = shadow.is_member.to(torch::kBool);
    // Online shadows answer on the target's own samples: one forward pass serves both.
    const bool same_samples = samples.inputs.defined() && target.inputs.defined() &&
                              samples.inputs.is_same(target.inputs);
    model.target_logits = same_samples ? model.logits : logits_on(*shadow.model, target);
    model.population_logits = logits_on(*shadow.model, population);
    set.models.push_back(std::move(model));
  }
  return set;
}

AttackInputs observe_target(Model& target, const Samples& target_samples, const Samples& population,
                            ShadowSet shadows, ShadowSet online) {
  AttackInputs inputs;
  inputs.target_model = &target;
  inputs.target = target_samples;
  inputs.target_logits = logits_on(target, target_samples);
  inputs.population = population;
  inputs.population_logits = logits_on(target, population);
  inputs.shadows = std::move(shadows);
  inputs.online = std::move(online);
  return inputs;
}

}  // namespace secateurs::host
