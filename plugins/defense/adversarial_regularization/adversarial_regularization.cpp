// defense.adversarial_regularization: the min-max game of Nasr, Shokri and Houmansadr,
// "Machine Learning with Membership Privacy using Adversarial Regularization" (CCS 2018).
// An inference model h(f(x), y) learns to tell the classifier's outputs on its training
// batch from its outputs on the defender's non-member reference data; the classifier
// minimises its cross-entropy plus lambda times h's gain on the members, so it learns to
// answer on members as it does on non-members.
#include <torch/torch.h>

#include <secateurs/sdk.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace {

using namespace secateurs;

constexpr char kComponent[] = "defense.adversarial_regularization";

// Widths of the paper's inference model (its appendix): the prediction vector through
// 1024, 512 and 64 units, the one-hot label through 512 and 64, both concatenated into
// 256, 64 and the one membership output. `hidden` scales every width but the output.
constexpr std::int64_t kPredictionWidths[] = {1024, 512, 64};
constexpr std::int64_t kLabelWidths[] = {512, 64};
constexpr std::int64_t kCombinedWidths[] = {256, 64};

std::int64_t scaled_width(std::int64_t width, double scale) {
  return std::max<std::int64_t>(1, std::llround(static_cast<double>(width) * scale));
}

// h: softmax posteriors [B, C] and one-hot labels [B, C] -> membership logit [B]. The
// sigmoid of the logit is the probability of membership; the logit itself is kept for a
// numerically stable binary cross-entropy.
class InferenceModel final : public torch::nn::Module {
 public:
  InferenceModel(std::int64_t classes, double scale) {
    std::int64_t in = classes;
    for (std::int64_t width : kPredictionWidths) {
      in = add_layer(prediction_, "prediction", in, scaled_width(width, scale));
    }
    const std::int64_t prediction_out = in;
    in = classes;
    for (std::int64_t width : kLabelWidths) {
      in = add_layer(label_, "label", in, scaled_width(width, scale));
    }
    in += prediction_out;
    for (std::int64_t width : kCombinedWidths) {
      in = add_layer(combined_, "combined", in, scaled_width(width, scale));
    }
    add_layer(combined_, "combined", in, 1);
  }

  // With `frozen`, h's parameters enter the graph detached: the classifier's backward
  // then reaches the posteriors through h but leaves h's parameters without gradients.
  at::Tensor logit(const at::Tensor& posteriors, const at::Tensor& one_hot, bool frozen) {
    const at::Tensor joined = torch::cat(
        {run(prediction_, posteriors, frozen, true), run(label_, one_hot, frozen, true)}, 1);
    return run(combined_, joined, frozen, false).squeeze(1);
  }

 private:
  using Layers = std::vector<torch::nn::Linear>;

  std::int64_t add_layer(Layers& layers, const std::string& branch, std::int64_t in,
                         std::int64_t out) {
    layers.push_back(
        register_module(branch + std::to_string(layers.size()), torch::nn::Linear(in, out)));
    return out;
  }

  // ReLU after every layer, except after the output layer of the combined branch.
  static at::Tensor run(const Layers& layers, at::Tensor x, bool frozen, bool relu_last) {
    for (std::size_t i = 0; i < layers.size(); ++i) {
      const at::Tensor& weight = layers[i]->weight;
      const at::Tensor& bias = layers[i]->bias;
      x = torch::linear(x, frozen ? weight.detach() : weight, frozen ? bias.detach() : bias);
      if (relu_last || i + 1 < layers.size()) x = torch::relu(x);
    }
    return x;
  }

  Layers prediction_, label_, combined_;
};

class ModelMode {
 public:
  ModelMode(torch::nn::Module& module, bool training)
      : module_(module), was_training_(module.is_training()) {
    module_.train(training);
  }
  ~ModelMode() { module_.train(was_training_); }
  ModelMode(const ModelMode&) = delete;
  ModelMode& operator=(const ModelMode&) = delete;

 private:
  torch::nn::Module& module_;
  bool was_training_;
};

class AdversarialRegularization final : public Defense {
 public:
  explicit AdversarialRegularization(const Params& p)
      : lambda_(p.get_float("lambda")),
        inference_steps_(p.get_int("inference_steps")),
        inference_lr_(p.get_float("inference_lr")),
        warmup_steps_(p.get_int("warmup_steps")),
        hidden_scale_(p.get_float("hidden")) {}

  void begin_round(const TrainingSet& training, const RoundInfo& round, Context& context) override {
    check_reference(training);
    if (inference_ == nullptr) {
      // Built once and kept: the adversary keeps what it learnt about this model across
      // the pruning rounds, as the attacker would.
      classes_ = training.num_classes;
      inference_ = std::make_shared<InferenceModel>(classes_, hidden_scale_);
      initialize_parameters(*inference_,
                            derive_seed(context.seed(), "adversarial_regularization.inference"));
      optimizer_ = std::make_unique<torch::optim::Adam>(inference_->parameters(),
                                                        torch::optim::AdamOptions(inference_lr_));
    } else if (training.num_classes != classes_) {
      throw ConfigError(std::string(kComponent) + ": the inference model was built for " +
                        std::to_string(classes_) + " classes, and this round's data has " +
                        std::to_string(training.num_classes));
    }
    reference_inputs_ = training.reference_inputs;
    reference_labels_ = training.reference_labels;
    // One stream per round, so that the rounds of one seed draw different batches.
    sampler_ =
        make_generator(derive_seed(context.seed(), "adversarial_regularization.reference.round." +
                                                       std::to_string(round.round)));
    reference_order_ = at::Tensor();
    cursor_ = 0;
  }

  // The gain form of the authors' code (SPIN-UMass/ML-Privacy-Regulization,
  // PPN_Purchase_GIT.py, train_privatly: CE + alpha * (mean(h) - 0.5)): lambda * mean(h)
  // over the members of the batch. Its constant -0.5 changes no gradient and is left out,
  // so the regularizer is the mean membership probability itself, in [0, lambda]. The
  // paper's lambda * mean(log h) (Algorithm 1) is unbounded below: a classifier that
  // drives h to 0 on one member could push the loss to minus infinity.
  at::Tensor loss(Model&, const Batch& batch, const at::Tensor& logits, const at::Tensor& base_loss,
                  Context&) override {
    if (lambda_ == 0 || classifier_steps_ < warmup_steps_) return base_loss;
    require_begun("loss");
    const at::Tensor posteriors = torch::softmax(logits.to(torch::kFloat32), 1);
    const at::Tensor membership =
        torch::sigmoid(inference_->logit(posteriors, one_hot(batch.labels), /*frozen=*/true));
    return base_loss + lambda_ * membership.mean();
  }

  // The maximisation of the game: `inference_steps` Adam steps of h on the batch just
  // trained (members) against as many reference samples, after the classifier's step,
  // which stands in for the paper's k steps of h before each step of f.
  void after_step(Model& model, const Batch& batch, Context&) override {
    require_begun("after_step");
    ++classifier_steps_;
    const std::int64_t count = batch.inputs.size(0);
    torch::nn::Module& module = model.module();
    // Evaluation mode, as the attacker queries the model (and as the authors' code trains
    // h): no dropout draws from the global generator, and these extra batches, reference
    // data among them, leave the batch-norm running statistics alone.
    const ModelMode eval(module, false);
    const at::Tensor targets = torch::cat({torch::ones({count}), torch::zeros({count})});
    const at::Tensor member_posteriors = posteriors_of(model, batch.inputs);
    const at::Tensor member_labels = one_hot(batch.labels);
    for (std::int64_t step = 0; step < inference_steps_; ++step) {
      const at::Tensor rows = next_reference_rows(count);
      const at::Tensor posteriors = torch::cat(
          {member_posteriors, posteriors_of(model, reference_inputs_.index_select(0, rows))});
      const at::Tensor labels =
          torch::cat({member_labels, one_hot(reference_labels_.index_select(0, rows))});
      const at::Tensor logits = inference_->logit(posteriors, labels, /*frozen=*/false);
      const at::Tensor loss = torch::binary_cross_entropy_with_logits(logits, targets);
      optimizer_->zero_grad();
      loss.backward();
      optimizer_->step();
      // Of the batch as h saw it before this step, like the trainer's training accuracy.
      last_accuracy_ =
          logits.detach().gt(0).eq(targets.gt(0.5)).to(torch::kFloat64).mean().item<double>();
    }
  }

  std::vector<std::pair<std::string, double>> measurements() const override {
    if (!last_accuracy_) return {};
    return {{"inference_accuracy", *last_accuracy_}};
  }

 private:
  void check_reference(const TrainingSet& training) const {
    if (!training.reference_inputs.defined() || !training.reference_labels.defined() ||
        training.reference_labels.numel() == 0) {
      throw ConfigError(std::string(kComponent) +
                        ": needs the defender's own non-member reference data to train its "
                        "inference model, and none was given; set split.reference in the run "
                        "file");
    }
    const at::Tensor& labels = training.reference_labels;
    if (labels.dim() != 1 || training.reference_inputs.size(0) != labels.size(0)) {
      throw DataError(std::string(kComponent) +
                      ": the reference data needs one label per example, found " +
                      std::to_string(training.reference_inputs.size(0)) + " examples and " +
                      std::to_string(labels.numel()) + " labels");
    }
    if (labels.min().item<std::int64_t>() < 0 ||
        labels.max().item<std::int64_t>() >= training.num_classes) {
      throw DataError(std::string(kComponent) + ": a reference label is outside [0, " +
                      std::to_string(training.num_classes) + ")");
    }
  }

  void require_begun(const char* hook) const {
    if (inference_ == nullptr) {
      throw Error(std::string(kComponent) + ": " + hook + " called before begin_round");
    }
  }

  at::Tensor one_hot(const at::Tensor& labels) const {
    return torch::one_hot(labels, classes_).to(torch::kFloat32);
  }

  static at::Tensor posteriors_of(Model& model, const at::Tensor& inputs) {
    const torch::NoGradGuard no_grad;
    return torch::softmax(model.forward(inputs).to(torch::kFloat32), 1);
  }

  // Reference rows in the order of a seeded permutation, reshuffled when used up, so
  // every reference sample is drawn once per pass (and a reference set smaller than the
  // batch still gives an equally sized batch).
  at::Tensor next_reference_rows(std::int64_t count) {
    const std::int64_t size = reference_labels_.size(0);
    std::vector<at::Tensor> parts;
    while (count > 0) {
      if (!reference_order_.defined() || cursor_ == size) {
        reference_order_ = torch::randperm(size, *sampler_, torch::kInt64);
        cursor_ = 0;
      }
      const std::int64_t take = std::min(count, size - cursor_);
      parts.push_back(reference_order_.slice(0, cursor_, cursor_ + take));
      cursor_ += take;
      count -= take;
    }
    return parts.size() == 1 ? parts.front() : torch::cat(parts);
  }

  double lambda_;
  std::int64_t inference_steps_;
  double inference_lr_;
  std::int64_t warmup_steps_;
  double hidden_scale_;

  std::int64_t classes_ = 0;
  std::shared_ptr<InferenceModel> inference_;
  std::unique_ptr<torch::optim::Adam> optimizer_;
  std::int64_t classifier_steps_ = 0;  // over all rounds: the warm-up happens once
  std::optional<double> last_accuracy_;

  at::Tensor reference_inputs_, reference_labels_;
  std::optional<at::Generator> sampler_;
  at::Tensor reference_order_;
  std::int64_t cursor_ = 0;
};

void register_components(Registrar& registrar) {
  registrar.add<AdversarialRegularization>(
      Kind::Defense, "adversarial_regularization",
      "Adversarial regularization: min-max game with a membership inference model trained on "
      "reference data (Nasr et al., CCS 2018)",
      // lambda 3: the value of the authors' Purchase100 script (PPN_Purchase_GIT.py:
      // find_alpha returns 3.0, and train_privatly runs with 3.0), the run that uses the
      // gain form implemented here.
      {param::real("lambda", 3.0,
                   "Weight of the inference model's gain (mean membership probability of the "
                   "batch's members) in the classifier's loss")
           .range(0, 1000),
       param::integer("inference_steps", 1,
                      "Adam steps of the inference model after each classifier step (k)")
           .range(1, 1000),
       param::real("inference_lr", 1e-3, "Adam learning rate of the inference model")
           .range(1e-8, 1),
       param::integer("warmup_steps", 0,
                      "Classifier steps, counted over all rounds, before the regularizer "
                      "switches on (the inference model trains during them)")
           .range(0, 1LL << 40),
       // A quarter of the paper's widths by default: at full width the inference model
       // made a step of a 784-256-10 MLP (batch 128, one thread) 11 times as slow as
       // without the defense, at a quarter 2.8 times (README.md).
       param::real("hidden", 0.25,
                   "Scale of the inference model's widths; 1 is the paper's (1024-512-64 "
                   "prediction, 512-64 label, 256-64-1 combined)")
           .range(0.001, 4)});
}

}  // namespace

SECATEURS_PLUGIN("adversarial_regularization", "1.0.0", register_components)
