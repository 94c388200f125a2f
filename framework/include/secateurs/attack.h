// Attack components: membership inference against a target model, by an adaptive attacker
// whose shadow models were trained exactly as the target (PROTOCOL.md section 2).
//
// Ownership: every tensor and model an attack receives belongs to the host and lives for
// the duration of Attack::run(); an attack must not keep references beyond it. Models
// are for queries (query_logits), never for training or changing.
//
// Threading: the host calls run() on one thread at a time for a given Attack object; the
// call may use LibTorch's intra-op threads. Randomness comes from context.seed() only.
#pragma once

#include <ATen/core/Tensor.h>
#include <torch/nn/modules/container/any.h>

#include <cstdint>
#include <string_view>
#include <vector>

#include "secateurs/component.h"
#include "secateurs/context.h"
#include "secateurs/model.h"
#include "secateurs/params.h"

namespace secateurs {

// Samples as the attacker holds them.
struct Samples {
  at::Tensor inputs;  // [N, ...] float32
  at::Tensor labels;  // [N] int64, the true labels
};

// One shadow model of a set. All shadows of a set answer on the same samples, in the same
// order, so their logits can be stacked.
struct ShadowModel {
  Model* model = nullptr;        // query access (query_logits)
  at::Tensor logits;             // [P, C] float32 on ShadowSet::samples
  at::Tensor is_member;          // [P] bool: this shadow trained on ShadowSet::samples[i]
  at::Tensor target_logits;      // [N, C] float32 on AttackInputs::target
  at::Tensor population_logits;  // [Z, C] float32 on AttackInputs::population
};

struct ShadowSet {
  Samples samples;  // P samples
  std::vector<ShadowModel> models;
  bool empty() const { return models.empty(); }
};

struct AttackInputs {
  Model* target_model = nullptr;  // query access (query_logits)
  // The samples to score, in an order that says nothing of their membership (the host
  // shuffles them).
  Samples target;
  at::Tensor target_logits;  // [N, C] float32: the target's logits on them
  // Samples from the attacker's data that neither the target nor any shadow trained on
  // (RMIA's population z), and the target's logits on them.
  Samples population;
  at::Tensor population_logits;  // [Z, C]
  // Shadows trained on the attacker's data, disjoint from the target's: each trains on a
  // random half of `shadows.samples` (is_member says which), in pairs: shadows 2k and
  // 2k+1 train on complementary halves, so every sample is IN for one of each pair (an
  // odd last shadow has a random half alone). A shadow playing the target should leave
  // its partner out of its references, or each of its members has one OUT reference more
  // than each of its non-members.
  ShadowSet shadows;
  // Shadows trained on random halves of the target's own samples (samples == target,
  // logits == target_logits), for attacks that need models IN and OUT of each target
  // sample (LiRA and RMIA online). Empty unless Attack::needs_online_shadows().
  ShadowSet online;
};

struct AttackResult {
  // [N] float64, higher meaning "more likely a member". Metrics (AUC, TPR at low FPR)
  // rank samples by this continuous score, so it must not be rounded to a decision.
  at::Tensor scores;
  // [N] bool: the attack's own member / non-member call (balanced accuracy), from a
  // threshold or rule the attack chose without the target's membership.
  at::Tensor decisions;
};

class SECATEURS_API Attack : public Component {
 public:
  ~Attack() override;
  // True when run() needs AttackInputs::online; the host then trains those shadows.
  virtual bool needs_online_shadows() const;
  // The fewest shadows (and online shadows) run() can work with; the host checks them
  // before it trains anything. Defaults: 1, and 2 online shadows when it needs them.
  virtual int minimum_shadows() const;
  virtual int minimum_online_shadows() const;
  virtual AttackResult run(const AttackInputs& inputs, Context& context) = 0;
};

// ---- Helpers for attacks ---------------------------------------------------------------
// Features are computed from logits in float64 and in the log domain (log-softmax,
// log-sum-exp): in float32 a well-fit model gives many members a true-class probability
// of exactly 1, and the ties distort AUC and every low-FPR figure.

// Log-softmax of `logits` [N, C] in float64, exact for the most probable class even when
// 1 - p underflows (a margin beyond ~37).
SECATEURS_API at::Tensor log_posteriors(const at::Tensor& logits);
// log p_y [N] float64.
SECATEURS_API at::Tensor true_class_log_probability(const at::Tensor& logits,
                                                    const at::Tensor& labels);
// p_y [N] float64.
SECATEURS_API at::Tensor true_class_probability(const at::Tensor& logits, const at::Tensor& labels);
// -sum_i p_i log p_i [N] float64.
SECATEURS_API at::Tensor prediction_entropy(const at::Tensor& logits);
// Song & Mittal's modified entropy -(1-p_y) log p_y - sum_{i!=y} p_i log(1-p_i) [N]
// float64, with log(1-p_i) taken as the log-sum-exp of the other logits minus that of all.
SECATEURS_API at::Tensor modified_entropy(const at::Tensor& logits, const at::Tensor& labels);
// Each sample's cross-entropy -log p_y [N] float64 (not averaged).
SECATEURS_API at::Tensor sample_loss(const at::Tensor& logits, const at::Tensor& labels);
// LiRA's logit-scaled confidence log(p_y / (1 - p_y)) = z_y - logsumexp_{j!=y} z_j [N]
// float64; finite wherever the logits are.
SECATEURS_API at::Tensor scaled_confidence(const at::Tensor& logits, const at::Tensor& labels);

// The model's logits [N, C] float32 on `inputs`, in eval mode and without gradients,
// `batch_size` samples at a time; the model's train/eval mode is restored afterwards.
SECATEURS_API at::Tensor query_logits(Model& model, const at::Tensor& inputs,
                                      std::int64_t batch_size = 256);

// The threshold t that maximises the accuracy of "member when score >= t" on these
// labelled scores (ties at t count as members); members and non-members are weighted
// equally (balanced accuracy). Scores [N] float64, is_member [N] bool, N > 0.
SECATEURS_API double best_threshold(const at::Tensor& scores, const at::Tensor& is_member);

// One threshold per class (best_threshold on the samples of each class; a class without
// both members and non-members gets the threshold of all samples together). [C] float64.
SECATEURS_API at::Tensor best_class_thresholds(const at::Tensor& scores,
                                               const at::Tensor& is_member,
                                               const at::Tensor& labels, std::int64_t classes);

// Every shadow of `set` stacked: logits [S*P, C], labels [S*P], is_member [S*P], shadow
// after shadow. For attacks that learn from shadow data as one pool.
struct StackedShadows {
  at::Tensor logits, labels, is_member;
};
SECATEURS_API StackedShadows stack_shadows(const ShadowSet& set);

// A binary member/non-member classifier trained on features: Adam on the mean binary
// cross-entropy of the logit `network` returns ([N, 1] or [N]); features are standardised
// with the training mean and deviation. Shuffling and initialisation come from `seed`.
struct ClassifierSettings {
  int epochs = 40;
  std::int64_t batch_size = 128;
  double learning_rate = 1e-3;
  double weight_decay = 1e-4;
};
class SECATEURS_API MembershipClassifier {
 public:
  // `network` maps features [N, F] (after standardisation) to logits.
  explicit MembershipClassifier(torch::nn::AnyModule network);
  void fit(const at::Tensor& features, const at::Tensor& is_member,
           const ClassifierSettings& settings, std::uint64_t seed);
  // The member logit [N] float64 for features [N, F].
  at::Tensor score(const at::Tensor& features);
  torch::nn::AnyModule& network() { return network_; }

 private:
  torch::nn::AnyModule network_;
  at::Tensor mean_, deviation_;
};

// A per-sample statistic of a model's answer, higher meaning "more likely a member":
// [N] float64 from logits [N, C] and labels [N]. A plain function, so that it may live in
// a plugin and be called from here.
using SampleStatistic = at::Tensor (*)(const at::Tensor& logits, const at::Tensor& labels);

// The metric-threshold attack: `statistic` of the target's answers is the score; the
// decision compares it with thresholds chosen on the stacked shadow data, one per class
// (per_class) or one for all. Throws ConfigError naming `attack` without shadows.
SECATEURS_API AttackResult threshold_attack(const AttackInputs& inputs, SampleStatistic statistic,
                                            bool per_class, std::string_view attack);

// The learned attack: an MLP (features -> hidden -> hidden -> 1, ReLU) trained with
// MembershipClassifier on `features` of the stacked shadow data; the score is its logit
// on the target's features, the decision logit >= 0 (the shadows' members and
// non-members are balanced, so 0 is the classifier's own boundary).
struct LearnedAttackSettings {
  std::int64_t hidden = 64;
  ClassifierSettings classifier;
};
// The parameters every learned attack declares (hidden, epochs, learning_rate,
// batch_size), and the settings read back from them.
SECATEURS_API std::vector<ParamSpec> learned_attack_schema();
SECATEURS_API LearnedAttackSettings learned_attack_settings(const Params& params);
SECATEURS_API AttackResult learned_attack(const AttackInputs& inputs, SampleStatistic features,
                                          const LearnedAttackSettings& settings, std::uint64_t seed,
                                          std::string_view attack);

}  // namespace secateurs
