// What an attack sees, assembled from trained models: every model's logits on the
// samples it is asked about (host side of secateurs/attack.h).
#pragma once

#include <memory>
#include <vector>

#include "secateurs/attack.h"
#include "secateurs/export.h"

namespace secateurs::host {

// One trained shadow and the samples of its set it trained on ([P] bool).
struct TrainedShadow {
  std::shared_ptr<Model> model;
  at::Tensor is_member;
};

// A shadow set: each model's logits on the set's samples, on the target's samples and on
// the population. The models must outlive the returned set (it holds raw pointers).
SECATEURS_API ShadowSet observe_shadows(const Samples& samples,
                                        const std::vector<TrainedShadow>& shadows,
                                        const Samples& target, const Samples& population);

// The target's side: its logits on the target samples and the population; `shadows` and
// `online` as observe_shadows made them (online may be empty).
SECATEURS_API AttackInputs observe_target(Model& target, const Samples& target_samples,
                                          const Samples& population, ShadowSet shadows,
                                          ShadowSet online);

}  // namespace secateurs::host
