// defense.ppb: pair-based posterior balancing, from Yuan and Zhang, "Membership Inference
// Attacks and Defenses in Neural Network Pruning" (USENIX Security 2022). A pruned model
// that is fine-tuned on its training set again grows sharper, more sample-specific
// posteriors; PPB adds a KL term that pulls the descending-sorted posteriors of samples of
// the same minibatch toward each other, so the shape of a posterior (its confidence profile,
// whatever the class) says less about whether the sample was trained on.
#include <torch/torch.h>

#include <secateurs/sdk.h>

#include <cstdint>
#include <tuple>

namespace {

using namespace secateurs;

// The balancing term for logits [B, C]. The first half of the batch is paired with the
// second half row by row (row i with row h + i, h = B / 2); an odd last row has no partner
// and is left out. For pair i, with p_i the sorted posterior of row i and q_i that of row
// h + i:
//   KL(q_i || p_i) = sum_c q_ic (log q_ic - log p_ic),
// and the term is the mean over the h pairs. This is the direction and reduction of the
// authors' code, F.kl_div(log_softmax(first half), softmax(second half), "batchmean").
// Both halves keep their gradients (the authors' target is not detached either), so each
// posterior is pulled toward its partner's.
at::Tensor pair_balance(const at::Tensor& logits) {
  const std::int64_t pairs = logits.size(0) / 2;
  // Softmax keeps the order within a row: sorting the logits sorts the posteriors, and
  // log_softmax of sorted logits is the stable way to the sorted log-posteriors.
  const at::Tensor sorted = std::get<0>(logits.sort(/*dim=*/1, /*descending=*/true));
  const at::Tensor log_p = torch::log_softmax(sorted.slice(0, 0, pairs), 1);
  const at::Tensor log_q = torch::log_softmax(sorted.slice(0, pairs, 2 * pairs), 1);
  return (log_q.exp() * (log_q - log_p)).sum(1).mean();
}

class PosteriorBalancing final : public Defense {
 public:
  explicit PosteriorBalancing(const Params& params) : lambda_(params.get_float("lambda")) {}

  at::Tensor loss(Model&, const Batch&, const at::Tensor& logits, const at::Tensor& base_loss,
                  Context&) override {
    if (logits.size(0) < 2 || lambda_ == 0.0) return base_loss;
    return base_loss + lambda_ * pair_balance(logits);
  }

 private:
  double lambda_;
};

void register_components(Registrar& registrar) {
  registrar.add<PosteriorBalancing>(
      Kind::Defense, "ppb",
      "Pair-based posterior balancing: CE + lambda * KL between the sorted posteriors of the "
      "two halves of each minibatch (Yuan and Zhang, USENIX Security 2022)",
      {param::real("lambda", 4.0,
                   "Weight of the KL term between paired sorted posteriors (authors' default 4)")
           .at_least(0)});
}

}  // namespace

SECATEURS_PLUGIN("ppb", "1.0.0", register_components)
