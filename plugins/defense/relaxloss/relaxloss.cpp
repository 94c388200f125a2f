// defense.relaxloss: RelaxLoss, from Chen, Yu and Fritz, "RelaxLoss: Defending Membership
// Inference Attacks without Losing Utility" (ICLR 2022). Members leak because training
// drives their loss far below that of unseen samples; RelaxLoss holds the mean training
// loss near a target level alpha instead of zero, and flattens the posteriors of the
// samples that are already fit, so that members' losses and confidences look like those
// of non-members.
//
// The schedule follows the authors' code (DingfanChen/RelaxLoss,
// source/cifar/defense/relaxloss.py), with `epoch` counted from 0 in each round:
//   even epoch:  loss = |CE - alpha|: descent above alpha, ascent below it;
//   odd epoch:   CE > alpha: loss = CE (normal descent);
//                otherwise posterior flattening, below.
#include <torch/torch.h>

#include <secateurs/sdk.h>

#include <cstdint>
#include <vector>

namespace {

using namespace secateurs;

// Posterior flattening for logits [B, C] and labels [B], as in the authors' CIFAR code:
// each sample's soft target keeps its true-class probability p_y (clamped to [0, upper])
// and spreads the rest, (1 - p_y) / (C - 1), evenly over the other classes; then
//   loss = mean_i[(1 - correct_i) * CE(logits_i, t_i) - CE(logits_i, y_i)],
// correct_i meaning the top-1 prediction is the label. Misclassified samples are pulled
// toward a flat posterior around their current true-class probability, and every sample's
// cross-entropy is pushed up (the "- CE" term), so the loss rises back toward alpha. As
// in that code, the soft targets are not detached: their dependence on the logits is part
// of the gradient.
at::Tensor flattening_loss(const at::Tensor& logits, const at::Tensor& labels, double upper) {
  const std::int64_t classes = logits.size(1);
  const at::Tensor log_probs = torch::log_softmax(logits, 1);
  const at::Tensor label_column = labels.unsqueeze(1);
  const at::Tensor sample_ce = -log_probs.gather(1, label_column).squeeze(1);
  const at::Tensor correct = logits.detach().argmax(1).eq(labels).to(logits.scalar_type());
  const at::Tensor confidence =
      log_probs.exp().gather(1, label_column).squeeze(1).clamp(0.0, upper);
  const at::Tensor rest = (1.0 - confidence) / static_cast<double>(classes - 1);
  const at::Tensor one_hot = torch::one_hot(labels, classes).to(logits.scalar_type());
  const at::Tensor soft_targets =
      one_hot * confidence.unsqueeze(1) + (1.0 - one_hot) * rest.unsqueeze(1);
  const at::Tensor soft_ce = -(soft_targets * log_probs).sum(1);
  return ((1.0 - correct) * soft_ce - sample_ce).mean();
}

class RelaxLoss final : public Defense {
 public:
  explicit RelaxLoss(const Params& params)
      : alpha_(params.get_float("alpha")), upper_(params.get_float("upper")) {}

  void begin_round(const TrainingSet&, const RoundInfo&, Context&) override { epoch_ = 0; }

  std::vector<std::int64_t> epoch_samples(const TrainingSet&, const RoundInfo&, int epoch,
                                          Context&) override {
    epoch_ = epoch;
    return {};
  }

  at::Tensor loss(Model&, const Batch& batch, const at::Tensor& logits, const at::Tensor& base_loss,
                  Context&) override {
    if (epoch_ % 2 == 0) return (base_loss - alpha_).abs();
    if (base_loss.item<double>() > alpha_) return base_loss;
    return flattening_loss(logits, batch.labels, upper_);
  }

 private:
  double alpha_;
  double upper_;
  int epoch_ = 0;
};

void register_components(Registrar& registrar) {
  registrar.add<RelaxLoss>(
      Kind::Defense, "relaxloss",
      "RelaxLoss: holds the training loss near alpha (ascent below it) and flattens the "
      "posteriors of fit samples on alternate epochs (Chen, Yu and Fritz, ICLR 2022)",
      {param::real("alpha", 1.0,
                   "Target mean cross-entropy (authors' CIFAR-10 ResNet20 setting: 1)")
           .range(0, 100),
       param::real("upper", 1.0,
                   "Upper clamp of the true-class probability kept in the flattened targets")
           .range(0, 1)});
}

}  // namespace

SECATEURS_PLUGIN("relaxloss", "1.0.0", register_components)
