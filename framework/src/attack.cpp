#include "secateurs/attack.h"

#include <torch/torch.h>

#include <algorithm>
#include <limits>
#include <string>

#include "secateurs/error.h"
#include "secateurs/random.h"

namespace secateurs {
namespace {

void check_logits(const at::Tensor& logits, const char* what) {
  if (!logits.defined() || logits.dim() != 2 || logits.size(1) < 2) {
    throw Error(std::string(what) + ": logits must be [N, C] with C >= 2");
  }
}

void check_labels(const at::Tensor& logits, const at::Tensor& labels, const char* what) {
  check_logits(logits, what);
  if (!labels.defined() || labels.dim() != 1 || labels.size(0) != logits.size(0)) {
    throw Error(std::string(what) + ": labels must be [N] for logits [N, C]");
  }
}

at::Tensor label_column(const at::Tensor& labels) {
  return labels.to(torch::kLong).view({-1, 1});
}

// log(1 - p_i) for every class, [N, C]. Only the most probable class can have p_i > 1/2;
// for the others log(-expm1(log p_i)) is accurate, and for it the log-sum-exp of the other
// logits minus that of all is exact where 1 - p_i underflows in float64.
at::Tensor log_complements(const at::Tensor& logits64) {
  const at::Tensor all = torch::logsumexp(logits64, 1, /*keepdim=*/true);
  const at::Tensor log_p = logits64 - all;
  const at::Tensor top = logits64.argmax(1, /*keepdim=*/true);
  const at::Tensor others = logits64.scatter(1, top, -std::numeric_limits<double>::infinity());
  const at::Tensor top_complement = torch::logsumexp(others, 1, /*keepdim=*/true) - all;
  return torch::log(-torch::expm1(log_p)).scatter(1, top, top_complement);
}

}  // namespace

Attack::~Attack() = default;
bool Attack::needs_online_shadows() const {
  return false;
}
int Attack::minimum_shadows() const {
  return 1;
}
int Attack::minimum_online_shadows() const {
  return needs_online_shadows() ? 2 : 0;
}

at::Tensor log_posteriors(const at::Tensor& logits) {
  check_logits(logits, "log_posteriors");
  const at::Tensor logits64 = logits.to(torch::kFloat64);
  // log_softmax computes z_i - logsumexp(z), which rounds to exactly 0 for the most
  // probable class once its margin passes ~37 (1 - p below float64's resolution near the
  // logsumexp): the float ties PROTOCOL.md warns of, one level down. For that class,
  // log p = -log(1 + exp(t)) with t = logsumexp of the others minus its logit, computed
  // with log1p, stays exact.
  const at::Tensor top = logits64.argmax(1, /*keepdim=*/true);
  const at::Tensor t =
      torch::logsumexp(logits64.scatter(1, top, -std::numeric_limits<double>::infinity()), 1,
                       /*keepdim=*/true) -
      logits64.gather(1, top);
  const at::Tensor top_log_p =
      -torch::where(t > 0, t + torch::log1p(torch::exp(-t)), torch::log1p(torch::exp(t)));
  return torch::log_softmax(logits64, 1).scatter(1, top, top_log_p);
}

at::Tensor true_class_log_probability(const at::Tensor& logits, const at::Tensor& labels) {
  check_labels(logits, labels, "true_class_log_probability");
  return log_posteriors(logits).gather(1, label_column(labels)).squeeze(1);
}

at::Tensor true_class_probability(const at::Tensor& logits, const at::Tensor& labels) {
  return true_class_log_probability(logits, labels).exp();
}

at::Tensor prediction_entropy(const at::Tensor& logits) {
  const at::Tensor log_p = log_posteriors(logits);
  // 0 * log 0 is 0: exp(-inf) * -inf would be NaN.
  return -(log_p.exp() * log_p).nan_to_num(0.0).sum(1);
}

at::Tensor modified_entropy(const at::Tensor& logits, const at::Tensor& labels) {
  check_labels(logits, labels, "modified_entropy");
  const at::Tensor logits64 = logits.to(torch::kFloat64);
  const at::Tensor log_p = log_posteriors(logits64);
  const at::Tensor log_q = log_complements(logits64);  // log(1 - p_i)
  const at::Tensor column = label_column(labels);
  const at::Tensor log_p_y = log_p.gather(1, column).squeeze(1);
  const at::Tensor log_q_y = log_q.gather(1, column).squeeze(1);
  // -(1 - p_y) log p_y, with 1 - p_y = exp(log(1 - p_y)).
  const at::Tensor own = -(log_q_y.exp() * log_p_y).nan_to_num(0.0);
  at::Tensor terms = -(log_p.exp() * log_q).nan_to_num(0.0);
  terms = terms.scatter(1, column, 0.0);
  return own + terms.sum(1);
}

at::Tensor sample_loss(const at::Tensor& logits, const at::Tensor& labels) {
  return -true_class_log_probability(logits, labels);
}

at::Tensor scaled_confidence(const at::Tensor& logits, const at::Tensor& labels) {
  check_labels(logits, labels, "scaled_confidence");
  const at::Tensor logits64 = logits.to(torch::kFloat64);
  const at::Tensor column = label_column(labels);
  const at::Tensor own = logits64.gather(1, column).squeeze(1);
  const at::Tensor others = logits64.scatter(1, column, -std::numeric_limits<double>::infinity());
  return own - torch::logsumexp(others, 1);
}

at::Tensor query_logits(Model& model, const at::Tensor& inputs, std::int64_t batch_size) {
  if (batch_size < 1) throw Error("query_logits: batch_size must be at least 1");
  torch::NoGradGuard no_grad;
  torch::nn::Module& module = model.module();
  const bool was_training = module.is_training();
  module.eval();
  std::vector<at::Tensor> chunks;
  try {
    for (std::int64_t start = 0; start < inputs.size(0); start += batch_size) {
      const std::int64_t end = std::min(start + batch_size, inputs.size(0));
      chunks.push_back(model.forward(inputs.slice(0, start, end)).to(torch::kFloat32));
    }
  } catch (...) {
    module.train(was_training);
    throw;
  }
  module.train(was_training);
  if (chunks.empty()) return torch::empty({0, 0});
  return torch::cat(chunks);
}

double best_threshold(const at::Tensor& scores, const at::Tensor& is_member) {
  if (!scores.defined() || scores.dim() != 1 || scores.numel() == 0 || !is_member.defined() ||
      is_member.sizes() != scores.sizes()) {
    throw Error("best_threshold: scores and is_member must be [N] with N > 0");
  }
  const at::Tensor s = scores.to(torch::kFloat64).contiguous();
  const at::Tensor m = is_member.to(torch::kBool).contiguous();
  const std::int64_t n = s.numel();
  const auto members = m.sum().item<std::int64_t>();
  const std::int64_t non_members = n - members;
  if (members == 0) return std::numeric_limits<double>::infinity();  // call nothing a member
  if (non_members == 0) return -std::numeric_limits<double>::infinity();

  const at::Tensor order = s.argsort(/*stable=*/true, /*dim=*/0, /*descending=*/true);
  const at::Tensor sorted = s.index_select(0, order);
  const at::Tensor sorted_member = m.index_select(0, order);
  const double* value = sorted.data_ptr<double>();
  const bool* member = sorted_member.data_ptr<bool>();
  // Walk thresholds from the top: at each distinct value t, "score >= t" calls every
  // sample so far a member. Balanced accuracy = (TPR + TNR) / 2.
  double best = -1, best_t = std::numeric_limits<double>::infinity();
  std::int64_t tp = 0, fp = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    (member[i] ? tp : fp) += 1;
    if (i + 1 < n && value[i + 1] == value[i]) continue;
    const double accuracy = 0.5 * (static_cast<double>(tp) / static_cast<double>(members) + 1.0 -
                                   static_cast<double>(fp) / static_cast<double>(non_members));
    if (accuracy > best) {
      best = accuracy;
      best_t = value[i];
    }
  }
  // Calling nobody a member scores 0.5; a threshold must beat it.
  return best > 0.5 ? best_t : std::numeric_limits<double>::infinity();
}

at::Tensor best_class_thresholds(const at::Tensor& scores, const at::Tensor& is_member,
                                 const at::Tensor& labels, std::int64_t classes) {
  if (classes < 1) throw Error("best_class_thresholds: classes must be at least 1");
  const double overall = best_threshold(scores, is_member);
  at::Tensor thresholds = torch::full({classes}, overall, torch::kFloat64);
  const at::Tensor m = is_member.to(torch::kBool);
  for (std::int64_t c = 0; c < classes; ++c) {
    const at::Tensor rows = labels.eq(c).nonzero().squeeze(1);
    if (rows.numel() == 0) continue;
    const at::Tensor class_members = m.index_select(0, rows);
    const auto in = class_members.sum().item<std::int64_t>();
    if (in == 0 || in == rows.numel()) continue;
    thresholds[c] = best_threshold(scores.index_select(0, rows), class_members);
  }
  return thresholds;
}

StackedShadows stack_shadows(const ShadowSet& set) {
  if (set.models.empty()) throw Error("stack_shadows: the shadow set is empty");
  StackedShadows out;
  std::vector<at::Tensor> logits, members;
  for (const ShadowModel& shadow : set.models) {
    logits.push_back(shadow.logits);
    members.push_back(shadow.is_member.to(torch::kBool));
  }
  out.logits = torch::cat(logits);
  out.is_member = torch::cat(members);
  out.labels = set.samples.labels.repeat({static_cast<std::int64_t>(set.models.size())});
  return out;
}

MembershipClassifier::MembershipClassifier(torch::nn::AnyModule network)
    : network_(std::move(network)) {}

void MembershipClassifier::fit(const at::Tensor& features, const at::Tensor& is_member,
                               const ClassifierSettings& settings, std::uint64_t seed) {
  const std::int64_t n = features.size(0);
  if (n == 0 || is_member.numel() != n) {
    throw Error("MembershipClassifier::fit: features [N, ...] and is_member [N] with N > 0");
  }
  const at::Tensor x = features.to(torch::kFloat32);
  mean_ = x.mean(0);
  // A feature constant in training (say the one-hot column of a class no shadow sample
  // has) is only centred: dividing by a floor would blow it up on the target.
  const at::Tensor spread = x.std(0, /*unbiased=*/false);
  deviation_ = torch::where(spread.gt(1e-6), spread, torch::ones_like(spread));
  const at::Tensor inputs = (x - mean_) / deviation_;
  const at::Tensor targets = is_member.to(torch::kFloat32);

  torch::nn::Module& module = *network_.ptr();
  {
    // Initialisation from the seed, so the same seed gives the same classifier: Glorot
    // uniform for weight matrices, zero biases, unit gains (layer norms: a zero gain
    // would silence the layer and stall its gradients).
    torch::NoGradGuard no_grad;
    at::Generator generator = make_generator(derive_seed(seed, "init"));
    for (auto& item : module.named_parameters()) {
      at::Tensor& p = item.value();
      const std::string& name = item.key();
      if (p.dim() >= 2) {
        const double fan_in = static_cast<double>(p.numel() / p.size(0));
        const double bound = std::sqrt(6.0 / (fan_in + static_cast<double>(p.size(0))));
        p.copy_(torch::rand(p.sizes(), generator, torch::kFloat64) * (2 * bound) - bound);
      } else if (name.size() >= 4 && name.compare(name.size() - 4, 4, "bias") == 0) {
        p.zero_();
      } else {
        p.fill_(1.0);
      }
    }
  }
  torch::optim::Adam optimizer(
      module.parameters(),
      torch::optim::AdamOptions(settings.learning_rate).weight_decay(settings.weight_decay));
  at::Generator shuffle = make_generator(derive_seed(seed, "shuffle"));
  module.train();
  for (int epoch = 0; epoch < settings.epochs; ++epoch) {
    const at::Tensor order = torch::randperm(n, shuffle, torch::kLong);
    for (std::int64_t start = 0; start < n; start += settings.batch_size) {
      const at::Tensor rows = order.slice(0, start, std::min(start + settings.batch_size, n));
      const at::Tensor out = network_.forward(inputs.index_select(0, rows)).reshape({-1});
      const at::Tensor loss =
          torch::binary_cross_entropy_with_logits(out, targets.index_select(0, rows));
      optimizer.zero_grad();
      loss.backward();
      optimizer.step();
    }
  }
  module.eval();
}

at::Tensor MembershipClassifier::score(const at::Tensor& features) {
  if (!mean_.defined()) throw Error("MembershipClassifier::score: fit() first");
  torch::NoGradGuard no_grad;
  const at::Tensor inputs = (features.to(torch::kFloat32) - mean_) / deviation_;
  std::vector<at::Tensor> chunks;
  for (std::int64_t start = 0; start < inputs.size(0); start += 1024) {
    chunks.push_back(
        network_.forward(inputs.slice(0, start, std::min(start + 1024, inputs.size(0))))
            .reshape({-1}));
  }
  if (chunks.empty()) return torch::empty({0}, torch::kFloat64);
  return torch::cat(chunks).to(torch::kFloat64);
}

namespace {

void require_shadows(const AttackInputs& inputs, std::string_view attack) {
  if (inputs.shadows.empty()) {
    throw ConfigError(std::string(attack) + " needs shadow models (shadows.count >= 1)");
  }
}

// AnyModule cannot hold nn::Sequential, whose forward is a template; this one is not.
struct LearnedNetworkImpl : torch::nn::SequentialImpl {
  LearnedNetworkImpl(std::int64_t features, std::int64_t hidden)
      : SequentialImpl(torch::nn::Linear(features, hidden), torch::nn::ReLU(),
                       torch::nn::Linear(hidden, hidden), torch::nn::ReLU(),
                       torch::nn::Linear(hidden, 1)) {}
  at::Tensor forward(const at::Tensor& x) { return SequentialImpl::forward(x); }
};

}  // namespace

AttackResult threshold_attack(const AttackInputs& inputs, SampleStatistic statistic, bool per_class,
                              std::string_view attack) {
  require_shadows(inputs, attack);
  const StackedShadows shadows = stack_shadows(inputs.shadows);
  const at::Tensor shadow_scores = statistic(shadows.logits, shadows.labels);
  const at::Tensor& labels = inputs.target.labels;
  const at::Tensor scores = statistic(inputs.target_logits, labels);
  if (!per_class) return {scores, scores.ge(best_threshold(shadow_scores, shadows.is_member))};
  const at::Tensor thresholds = best_class_thresholds(shadow_scores, shadows.is_member,
                                                      shadows.labels, inputs.target_logits.size(1));
  return {scores, scores.ge(thresholds.index_select(0, labels.to(torch::kLong)))};
}

std::vector<ParamSpec> learned_attack_schema() {
  const LearnedAttackSettings d;
  return {
      param::integer("hidden", d.hidden, "Units in each of the two hidden layers").range(4, 4096),
      param::integer("epochs", d.classifier.epochs, "Training epochs of the attack model")
          .range(1, 1000),
      param::real("learning_rate", d.classifier.learning_rate, "Adam learning rate").range(1e-6, 1),
      param::integer("batch_size", d.classifier.batch_size, "Minibatch size").range(1, 65536),
  };
}

LearnedAttackSettings learned_attack_settings(const Params& params) {
  LearnedAttackSettings settings;
  settings.hidden = params.get_int("hidden");
  settings.classifier.epochs = static_cast<int>(params.get_int("epochs"));
  settings.classifier.learning_rate = params.get_float("learning_rate");
  settings.classifier.batch_size = params.get_int("batch_size");
  return settings;
}

AttackResult learned_attack(const AttackInputs& inputs, SampleStatistic features,
                            const LearnedAttackSettings& settings, std::uint64_t seed,
                            std::string_view attack) {
  require_shadows(inputs, attack);
  const StackedShadows shadows = stack_shadows(inputs.shadows);
  const at::Tensor train = features(shadows.logits, shadows.labels);
  MembershipClassifier classifier(
      torch::nn::AnyModule(std::make_shared<LearnedNetworkImpl>(train.size(1), settings.hidden)));
  classifier.fit(train, shadows.is_member, settings.classifier, seed);
  const at::Tensor scores = classifier.score(features(inputs.target_logits, inputs.target.labels));
  return {scores, scores.ge(0.0)};
}

}  // namespace secateurs
