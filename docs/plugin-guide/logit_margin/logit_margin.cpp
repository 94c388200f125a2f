// logit_margin: a membership-inference attack plugin for secateurs.
//
// Training with cross-entropy keeps pushing a member's true-class logit above its
// strongest rival; on a sample the model never saw, that rival is often close or ahead.
// The score is the margin z_y - max_{j != y} z_j, the multi-class hinge (Carlini and
// Wagner's margin). It looks at the logits, not the softmax, so it does not saturate
// when p_y rounds to 1.
#include <torch/torch.h>

#include <limits>
#include <string>

#include <secateurs/sdk.h>

namespace {

// A free function rather than a lambda or a member: threshold_attack takes a
// SampleStatistic, a plain function pointer, which the core library can call.
at::Tensor logit_margin(const at::Tensor& logits, const at::Tensor& labels) {
  // float64 before subtracting: the difference of two float32 logits is exact there, so
  // rounding merges no distinct margins into ties (ties flatten the ROC at low FPR), and
  // the host expects float64 scores anyway.
  const at::Tensor z = logits.to(torch::kFloat64);
  const at::Tensor y = labels.to(torch::kLong).unsqueeze(1);
  const at::Tensor true_logit = z.gather(1, y).squeeze(1);
  // -inf, not 0, in the true class's place: every rival may have a negative logit.
  const at::Tensor rivals = z.scatter(1, y, -std::numeric_limits<double>::infinity());
  return true_logit - rivals.amax(1);
}

class LogitMargin final : public secateurs::Attack {
 public:
  explicit LogitMargin(const secateurs::Params& params)
      : per_class_(params.get_bool("per_class")) {}

  secateurs::AttackResult run(const secateurs::AttackInputs& inputs, secateurs::Context&) override {
    // With one class there is no rival and every margin would be +inf, which the host
    // rejects with a message about the scores; this one names the cause.
    if (inputs.target_logits.size(1) < 2) {
      throw secateurs::ConfigError("attack.logit_margin needs at least 2 classes, the target has " +
                                   std::to_string(inputs.target_logits.size(1)));
    }
    // threshold_attack fits the thresholds on the shadows' logits on their own samples,
    // whose membership the attacker knows, so the target's membership never reaches the
    // decision; without shadows it throws a ConfigError naming this attack.
    return secateurs::threshold_attack(inputs, logit_margin, per_class_, "attack.logit_margin");
  }

 private:
  bool per_class_;
};

void register_components(secateurs::Registrar& registrar) {
  registrar.add<LogitMargin>(
      secateurs::Kind::Attack, "logit_margin",
      "Metric: true-class logit minus the largest other logit, thresholds from shadow models",
      // Per class by default: a class the model separates easily gives members and
      // non-members alike large margins, and one cut for all classes would call that
      // whole class members.
      {secateurs::param::boolean("per_class", true,
                                 "One threshold per class (true) or one for all classes")});
}

}  // namespace

SECATEURS_PLUGIN("logit_margin", "1.0.0", register_components)
