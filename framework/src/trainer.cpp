#include "host/trainer.h"
#include "host/run_text.h"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <iomanip>
#include <limits>
#include <numbers>
#include <optional>
#include <sstream>
#include <string>
#include <utility>

#include "secateurs/error.h"
#include "secateurs/gradients.h"
#include "secateurs/random.h"

namespace secateurs::host {
namespace {

double scheduled_learning_rate(const TrainerSettings& s, int epoch) {
  switch (s.schedule) {
    case LrSchedule::Constant: return s.learning_rate;
    case LrSchedule::Step:
      return s.learning_rate * std::pow(s.gamma, static_cast<double>(epoch / s.step_size));
    case LrSchedule::Cosine: {
      // Annealed per epoch so that the last epoch trains at min_learning_rate's side of
      // the curve, as torch.optim.lr_scheduler.CosineAnnealingLR with T_max = epochs.
      const double progress = static_cast<double>(epoch) / static_cast<double>(s.epochs);
      return s.min_learning_rate + (s.learning_rate - s.min_learning_rate) *
                                       (1.0 + std::cos(std::numbers::pi * progress)) / 2.0;
    }
  }
  return s.learning_rate;
}

std::unique_ptr<torch::optim::Optimizer> make_optimizer(const TrainerSettings& s,
                                                        std::vector<at::Tensor> parameters) {
  switch (s.optimizer) {
    case OptimizerKind::Sgd:
      return std::make_unique<torch::optim::SGD>(std::move(parameters),
                                                 torch::optim::SGDOptions(s.learning_rate)
                                                     .momentum(s.momentum)
                                                     .nesterov(s.nesterov)
                                                     .weight_decay(s.weight_decay));
    case OptimizerKind::Adam:
      return std::make_unique<torch::optim::Adam>(std::move(parameters),
                                                  torch::optim::AdamOptions(s.learning_rate)
                                                      .betas({s.beta1, s.beta2})
                                                      .eps(s.epsilon)
                                                      .weight_decay(s.weight_decay));
    case OptimizerKind::AdamW:
      return std::make_unique<torch::optim::AdamW>(std::move(parameters),
                                                   torch::optim::AdamWOptions(s.learning_rate)
                                                       .betas({s.beta1, s.beta2})
                                                       .eps(s.epsilon)
                                                       .weight_decay(s.weight_decay));
  }
  throw Error("unknown optimizer");
}

// Sets learning rate and weight decay of the (single) parameter group before a step, so
// that one optimizer, with one momentum state, serves every sample group.
void set_step_settings(torch::optim::Optimizer& optimizer, OptimizerKind kind, double lr,
                       double weight_decay) {
  torch::optim::OptimizerOptions& options = optimizer.param_groups().front().options();
  switch (kind) {
    case OptimizerKind::Sgd: {
      auto& o = static_cast<torch::optim::SGDOptions&>(options);
      o.lr(lr).weight_decay(weight_decay);
      return;
    }
    case OptimizerKind::Adam: {
      auto& o = static_cast<torch::optim::AdamOptions&>(options);
      o.lr(lr).weight_decay(weight_decay);
      return;
    }
    case OptimizerKind::AdamW: {
      auto& o = static_cast<torch::optim::AdamWOptions&>(options);
      o.lr(lr).weight_decay(weight_decay);
      return;
    }
  }
}

// The model's masked parameters, resolved once per fit.
struct BoundMask {
  at::Tensor parameter;
  at::Tensor keep;  // same dtype as the parameter, so masking is one multiply
};

std::vector<BoundMask> bind_masks(Model& model, const MaskSet& masks) {
  std::vector<BoundMask> bound;
  const auto parameters = model.module().named_parameters(/*recurse=*/true);
  for (const auto& [name, mask] : masks) {
    const at::Tensor* parameter = parameters.find(name);
    if (parameter == nullptr) {
      throw Error("pruning mask for '" + name + "': the model has no such parameter");
    }
    if (!mask.defined() || mask.sizes() != parameter->sizes()) {
      throw Error("pruning mask for '" + name + "': expected shape " +
                  c10::str(parameter->sizes()) + ", found " +
                  (mask.defined() ? c10::str(mask.sizes()) : std::string("no tensor")));
    }
    bound.push_back({*parameter, mask.to(parameter->options()).contiguous()});
  }
  return bound;
}

void zero_masked_weights(const std::vector<BoundMask>& masks) {
  torch::NoGradGuard no_grad;
  for (const BoundMask& m : masks) m.parameter.mul_(m.keep);
}

// Masked gradients make the optimizer's state (momentum, Adam moments) stay zero for
// pruned weights; zeroing the weights again after the step makes them exact whatever
// the optimizer does (decoupled decay, Nesterov, ...).
void zero_masked_gradients(const std::vector<BoundMask>& masks) {
  torch::NoGradGuard no_grad;
  for (const BoundMask& m : masks) {
    at::Tensor grad = m.parameter.mutable_grad();
    if (grad.defined()) grad.mul_(m.keep);
  }
}

struct ModelState {
  std::vector<std::pair<at::Tensor, at::Tensor>> copies;  // (live tensor, saved value)
};

ModelState snapshot(torch::nn::Module& module) {
  torch::NoGradGuard no_grad;
  ModelState state;
  for (const at::Tensor& p : module.parameters()) state.copies.emplace_back(p, p.detach().clone());
  for (const at::Tensor& b : module.buffers()) state.copies.emplace_back(b, b.detach().clone());
  return state;
}

void restore(const ModelState& state) {
  torch::NoGradGuard no_grad;
  for (const auto& [live, saved] : state.copies) live.copy_(saved);
}

class TrainingMode {
 public:
  TrainingMode(torch::nn::Module& module, bool on) : module_(module), was_(module.is_training()) {
    module_.train(on);
  }
  ~TrainingMode() { module_.train(was_); }
  TrainingMode(const TrainingMode&) = delete;
  TrainingMode& operator=(const TrainingMode&) = delete;

 private:
  torch::nn::Module& module_;
  bool was_;
};

void check_positions(const std::vector<std::int64_t>& positions, std::int64_t size,
                     const std::string& what) {
  for (std::int64_t p : positions) {
    if (p < 0 || p >= size) {
      throw Error(what + ": position " + std::to_string(p) + " is outside the training set of " +
                  std::to_string(size) + " samples");
    }
  }
}

at::Tensor soft_cross_entropy(const at::Tensor& logits, const at::Tensor& targets) {
  return -(targets * torch::log_softmax(logits, 1)).sum(1).mean();
}

void check_data(const LabeledData& data, const std::string& what) {
  if (!data.inputs.defined() || !data.labels.defined() || data.labels.dim() != 1 ||
      data.inputs.size(0) != data.labels.size(0)) {
    throw Error(what + ": inputs and labels must be defined with one label per example");
  }
}

}  // namespace

ParamSchema trainer_schema() {
  const TrainerSettings d;
  return {
      param::integer("epochs", d.epochs, "Passes over the training set").range(1, 100000),
      param::integer("batch_size", d.batch_size, "Samples per optimizer step").range(1, 1 << 24),
      param::integer("eval_batch_size", d.eval_batch_size, "Samples per inference batch")
          .range(1, 1 << 24),
      param::choice("optimizer", {"sgd", "adam", "adamw"}, "sgd",
                    "SGD with momentum, Adam (L2 decay) or AdamW (decoupled decay)"),
      param::real("learning_rate", d.learning_rate, "Initial learning rate").range(0, 100),
      param::real("momentum", d.momentum, "SGD momentum").range(0, 1),
      param::boolean("nesterov", d.nesterov, "SGD with Nesterov momentum"),
      param::real("weight_decay", d.weight_decay, "Weight decay (L2 for SGD and Adam)")
          .range(0, 10),
      param::real("beta1", d.beta1, "Adam/AdamW first-moment decay").range(0, 1),
      param::real("beta2", d.beta2, "Adam/AdamW second-moment decay").range(0, 1),
      param::real("epsilon", d.epsilon, "Adam/AdamW denominator term").range(0, 1),
      param::choice("schedule", {"constant", "step", "cosine"}, "cosine",
                    "Learning-rate schedule over the epochs"),
      param::integer("step_size", d.step_size, "Step schedule: epochs between decays")
          .range(1, 100000),
      param::real("gamma", d.gamma, "Step schedule: decay factor").range(0, 1),
      param::real("min_learning_rate", d.min_learning_rate,
                  "Cosine schedule: learning rate approached at the last epoch")
          .range(0, 100),
      param::integer("patience", d.patience,
                     "Stop after this many epochs without dev-set improvement; 0: never")
          .range(0, 100000),
      param::boolean("restore_best", d.restore_best,
                     "Return to the weights of the best dev-set epoch at the end"),
      param::choice("monitor", {"dev_accuracy", "dev_loss"}, "dev_accuracy",
                    "What early stopping watches"),
      param::real("min_delta", d.min_delta, "Smallest change that counts as an improvement")
          .range(0, 1e9),
      param::boolean("channels_last", d.channels_last,
                     "Convolution weights in channels-last layout (faster on CPU)"),
      param::real("adversarial_epsilon", d.adversarial_epsilon,
                  "Adversarial training: L-infinity radius of the PGD examples; 0: off")
          .range(0, 1),
      param::integer("adversarial_steps", d.adversarial_steps,
                     "Adversarial training: PGD steps per batch")
          .range(1, 1000),
      param::real("adversarial_step_size", d.adversarial_step_size,
                  "Adversarial training: PGD step; 0: 2.5 * epsilon / steps")
          .range(0, 1),
      param::real("adversarial_fraction", d.adversarial_fraction,
                  "Adversarial training: share of each batch replaced by PGD examples")
          .range(0, 1),
      param::real("adversarial_input_min", d.adversarial_input_min,
                  "Adversarial training: smallest valid input value")
          .range(-1e9, 1e9),
      param::real("adversarial_input_max", d.adversarial_input_max,
                  "Adversarial training: largest valid input value")
          .range(-1e9, 1e9),
  };
}

TrainerSettings trainer_settings(const Params& p) {
  TrainerSettings s;
  s.epochs = static_cast<int>(p.get_int("epochs"));
  s.batch_size = p.get_int("batch_size");
  s.eval_batch_size = p.get_int("eval_batch_size");
  const std::string& optimizer = p.get_string("optimizer");
  s.optimizer = optimizer == "adam"    ? OptimizerKind::Adam
                : optimizer == "adamw" ? OptimizerKind::AdamW
                                       : OptimizerKind::Sgd;
  s.learning_rate = p.get_float("learning_rate");
  s.momentum = p.get_float("momentum");
  s.nesterov = p.get_bool("nesterov");
  s.weight_decay = p.get_float("weight_decay");
  s.beta1 = p.get_float("beta1");
  s.beta2 = p.get_float("beta2");
  s.epsilon = p.get_float("epsilon");
  const std::string& schedule = p.get_string("schedule");
  s.schedule = schedule == "step"     ? LrSchedule::Step
               : schedule == "cosine" ? LrSchedule::Cosine
                                      : LrSchedule::Constant;
  s.step_size = static_cast<int>(p.get_int("step_size"));
  s.gamma = p.get_float("gamma");
  s.min_learning_rate = p.get_float("min_learning_rate");
  s.patience = static_cast<int>(p.get_int("patience"));
  s.restore_best = p.get_bool("restore_best");
  s.monitor = p.get_string("monitor") == "dev_loss" ? Monitor::DevLoss : Monitor::DevAccuracy;
  s.min_delta = p.get_float("min_delta");
  s.channels_last = p.get_bool("channels_last");
  s.adversarial_epsilon = p.get_float("adversarial_epsilon");
  s.adversarial_steps = static_cast<int>(p.get_int("adversarial_steps"));
  s.adversarial_step_size = p.get_float("adversarial_step_size");
  s.adversarial_fraction = p.get_float("adversarial_fraction");
  s.adversarial_input_min = p.get_float("adversarial_input_min");
  s.adversarial_input_max = p.get_float("adversarial_input_max");
  return s;
}

void apply_masks(Model& model, const MaskSet& masks) {
  zero_masked_weights(bind_masks(model, masks));
}

namespace {

// One optimizer step's samples: positions in the training set and their sample group
// (-1: the trainer's own settings).
struct PlannedBatch {
  std::int64_t group = -1;
  at::Tensor positions;
};

// An epoch's batches. The trainer's own samples and each sample group's are batched
// separately, each in the epoch's shuffled order, so a group takes ceil(n_g / B) steps of
// its own per epoch: its settings (a strong weight decay) act in proportion to its size,
// not once in nearly every batch. The lists' batches are interleaved evenly over the
// epoch (batch j of a list of b batches at (j + 0.5) / b, ties to the lower group), with
// no random draw, so a fit without groups, or with one group holding every sample, steps
// exactly as one without groups.
std::vector<PlannedBatch> plan_batches(const at::Tensor& order, const at::Tensor& group_of,
                                       std::int64_t groups, std::int64_t batch_size) {
  std::vector<at::Tensor> lists;
  if (groups == 0) {
    lists.push_back(order);
  } else {
    const at::Tensor order_groups = group_of.index_select(0, order);
    for (std::int64_t g = -1; g < groups; ++g)
      lists.push_back(order.masked_select(order_groups.eq(g)));
  }
  struct Keyed {
    double key;
    std::int64_t list, start;
  };
  std::vector<Keyed> keyed;
  for (std::size_t k = 0; k < lists.size(); ++k) {
    const std::int64_t n = lists[k].size(0);
    const std::int64_t batches = (n + batch_size - 1) / batch_size;
    for (std::int64_t j = 0; j < batches; ++j) {
      keyed.push_back({(static_cast<double>(j) + 0.5) / static_cast<double>(batches),
                       static_cast<std::int64_t>(k), j * batch_size});
    }
  }
  std::stable_sort(keyed.begin(), keyed.end(), [](const Keyed& a, const Keyed& b) {
    return a.key < b.key || (a.key == b.key && a.list < b.list);
  });
  std::vector<PlannedBatch> plan;
  plan.reserve(keyed.size());
  for (const Keyed& k : keyed) {
    const at::Tensor& list = lists[static_cast<std::size_t>(k.list)];
    plan.push_back({groups == 0 ? -1 : k.list - 1,
                    list.slice(0, k.start, std::min(k.start + batch_size, list.size(0)))});
  }
  return plan;
}

// In place, before the optimizer exists: its state must be created in the same layout.
// A copy into an empty channels-last tensor, because contiguous() keeps the strides of
// tensors that are both NCHW- and NHWC-contiguous (one input channel, 1x1 kernels) and
// oneDNN then takes the slower path.
void use_channels_last(torch::nn::Module& module) {
  torch::NoGradGuard no_grad;
  for (at::Tensor& p : module.parameters()) {
    const bool already = p.is_contiguous(at::MemoryFormat::ChannelsLast) &&
                         !p.is_contiguous(at::MemoryFormat::Contiguous);
    if (p.dim() != 4 || already) continue;
    p.set_data(at::empty_like(p, at::MemoryFormat::ChannelsLast).copy_(p));
  }
}

}  // namespace

std::string trainer_settings_text(const TrainerSettings& s) {
  std::ostringstream out;
  out << std::setprecision(17) << "epochs=" << s.epochs << " batch_size=" << s.batch_size
      << " eval_batch_size=" << s.eval_batch_size << " optimizer=" << static_cast<int>(s.optimizer)
      << " learning_rate=" << s.learning_rate << " momentum=" << s.momentum
      << " nesterov=" << s.nesterov << " weight_decay=" << s.weight_decay << " beta1=" << s.beta1
      << " beta2=" << s.beta2 << " epsilon=" << s.epsilon
      << " schedule=" << static_cast<int>(s.schedule) << " step_size=" << s.step_size
      << " gamma=" << s.gamma << " min_learning_rate=" << s.min_learning_rate
      << " patience=" << s.patience << " restore_best=" << s.restore_best
      << " monitor=" << static_cast<int>(s.monitor) << " min_delta=" << s.min_delta
      << " channels_last=" << s.channels_last << " adversarial_epsilon=" << s.adversarial_epsilon
      << " adversarial_steps=" << s.adversarial_steps
      << " adversarial_step_size=" << s.adversarial_step_size
      << " adversarial_fraction=" << s.adversarial_fraction
      << " adversarial_input_min=" << s.adversarial_input_min
      << " adversarial_input_max=" << s.adversarial_input_max << " seed=" << s.seed;
  return out.str();
}

FitReport fit(Model& model, const LabeledData& training, const TrainerSettings& settings,
              const FitOptions& options, Context& context) {
  check_data(training, "training set");
  const std::int64_t size = training.labels.size(0);
  if (size == 0) throw Error("training set: no examples");
  if (settings.epochs < 1 || settings.batch_size < 1) {
    throw ConfigError("trainer: epochs and batch_size must be at least 1");
  }
  if (settings.schedule == LrSchedule::Step && settings.step_size < 1) {
    throw ConfigError("trainer: step_size must be at least 1");
  }
  const bool wants_dev = settings.patience > 0 || settings.restore_best;
  if (wants_dev && options.dev == nullptr) {
    throw ConfigError(
        "trainer: early stopping (patience > 0 or restore_best) needs a dev set, and none was "
        "given");
  }
  if (options.dev != nullptr) check_data(*options.dev, "dev set");

  torch::nn::Module& module = model.module();
  if (settings.channels_last) use_channels_last(module);
  const std::vector<BoundMask> masks =
      options.masks != nullptr ? bind_masks(model, *options.masks) : std::vector<BoundMask>{};
  zero_masked_weights(masks);

  std::vector<at::Tensor> trainable;
  for (const at::Tensor& p : module.parameters()) {
    if (p.requires_grad()) trainable.push_back(p);
  }
  const std::unique_ptr<torch::optim::Optimizer> optimizer = make_optimizer(settings, trainable);

  Defense* defense = options.defense;
  RoundInfo round = options.round;
  round.epochs = settings.epochs;
  TrainingSet view{
      training.inputs, training.labels, training.num_classes, options.memorization, {}, {}};
  if (options.reference != nullptr) {
    view.reference_inputs = options.reference->inputs;
    view.reference_labels = options.reference->labels;
  }
  if (defense != nullptr && defense->needs_memorization() &&
      (!view.memorization.defined() || view.memorization.numel() != size)) {
    throw ConfigError(
        "the defense needs the memorization scores of the training set, and none were given");
  }

  // Which sample group each position belongs to: -1 for the trainer's own settings.
  std::vector<SampleGroup> groups;
  std::vector<std::int64_t> group_of(static_cast<std::size_t>(size), -1);
  if (defense != nullptr) {
    defense->begin_round(view, round, context);
    groups = defense->sample_groups(view, round, context);
    for (std::size_t g = 0; g < groups.size(); ++g) {
      check_positions(groups[g].positions, size, "sample group '" + groups[g].name + "'");
      for (std::int64_t p : groups[g].positions) {
        std::int64_t& owner = group_of[static_cast<std::size_t>(p)];
        if (owner >= 0 && owner != static_cast<std::int64_t>(g)) {
          throw Error("sample groups '" + groups[static_cast<std::size_t>(owner)].name + "' and '" +
                      groups[g].name + "' both claim position " + std::to_string(p));
        }
        owner = static_cast<std::int64_t>(g);
      }
    }
  }
  const at::Tensor group_tensor = torch::tensor(group_of, torch::kInt64);

  // Distinct rounds of one seed must not replay the same batch order.
  at::Generator shuffle =
      make_generator(derive_seed(settings.seed, "shuffle.round." + std::to_string(round.round)));
  at::Generator adversarial = make_generator(
      derive_seed(settings.seed, "adversarial.round." + std::to_string(round.round)));
  PgdSettings pgd;
  pgd.epsilon = settings.adversarial_epsilon;
  pgd.steps = settings.adversarial_steps;
  pgd.step_size = settings.adversarial_step_size;
  pgd.lower = settings.adversarial_input_min;
  pgd.upper = settings.adversarial_input_max;
  FitReport report;
  std::optional<ModelState> best_state;
  double best_score = -std::numeric_limits<double>::infinity();
  int epochs_without_improvement = 0;

  for (int epoch = 0; epoch < settings.epochs; ++epoch) {
    const Clock::time_point epoch_start = Clock::now();
    EpochRecord record;
    record.epoch = epoch;
    record.learning_rate = scheduled_learning_rate(settings, epoch);

    at::Tensor order;
    if (defense != nullptr) {
      const std::vector<std::int64_t> chosen = defense->epoch_samples(view, round, epoch, context);
      if (!chosen.empty()) {
        check_positions(chosen, size, "the defense's epoch samples");
        const at::Tensor positions = torch::tensor(chosen, torch::kInt64);
        order =
            positions.index_select(0, torch::randperm(positions.size(0), shuffle, torch::kInt64));
      }
    }
    if (!order.defined()) order = torch::randperm(size, shuffle, torch::kInt64);

    module.train(true);
    double loss_sum = 0;
    std::int64_t correct = 0, counted = 0;
    const std::vector<PlannedBatch> plan = plan_batches(
        order, group_tensor, static_cast<std::int64_t>(groups.size()), settings.batch_size);
    for (std::size_t step = 0; step < plan.size(); ++step) {
      {
        const std::int64_t g = plan[step].group;
        const at::Tensor& positions = plan[step].positions;
        Batch batch{training.inputs.index_select(0, positions),
                    training.labels.index_select(0, positions),
                    positions,
                    {}};
        if (pgd.epsilon > 0 && settings.adversarial_fraction > 0) {
          const std::int64_t n = batch.inputs.size(0);
          const auto attacked = std::min<std::int64_t>(
              n, static_cast<std::int64_t>(
                     std::ceil(settings.adversarial_fraction * static_cast<double>(n))));
          const LabeledData clean{batch.inputs.slice(0, 0, attacked),
                                  batch.labels.slice(0, 0, attacked), training.num_classes};
          batch.inputs = torch::cat(
              {pgd_examples(model, clean, pgd, adversarial), batch.inputs.slice(0, attacked)});
        }
        if (defense != nullptr) defense->prepare_batch(batch, context);

        // Gradients dropped rather than zeroed: backward then writes them instead of
        // adding to zeros, one pass over every gradient less per step.
        for (at::Tensor& p : trainable) p.mutable_grad().reset();
        const bool custom_gradients =
            defense != nullptr && defense->compute_gradients(model, batch, context);
        if (!custom_gradients) {
          const at::Tensor logits = model.forward(batch.inputs);
          at::Tensor loss = batch.soft_targets.defined()
                                ? soft_cross_entropy(logits, batch.soft_targets)
                                : torch::nn::functional::cross_entropy(logits, batch.labels);
          if (defense != nullptr) loss = defense->loss(model, batch, logits, loss, context);
          const double value = loss.item<double>();
          if (!std::isfinite(value)) {
            throw DataError("training diverged: the loss is " + std::to_string(value) +
                            " at epoch " + std::to_string(epoch + 1) + ", batch " +
                            std::to_string(step + 1) + "; lower the learning rate");
          }
          loss.backward();
          const std::int64_t n = batch.labels.size(0);
          loss_sum += value * static_cast<double>(n);
          correct += logits.detach().argmax(1).eq(batch.labels).sum().item<std::int64_t>();
          counted += n;
        }
        zero_masked_gradients(masks);
        double lr = record.learning_rate;
        double weight_decay = settings.weight_decay;
        if (g >= 0) {
          const OptimizerOverride& o = groups[static_cast<std::size_t>(g)].settings;
          lr *= o.learning_rate_scale;
          if (o.weight_decay) weight_decay = *o.weight_decay;
        }
        set_step_settings(*optimizer, settings.optimizer, lr, weight_decay);
        optimizer->step();
        zero_masked_weights(masks);
        if (defense != nullptr) defense->after_step(model, batch, context);
        record.samples += positions.numel();
      }
    }
    record.train_loss = counted > 0 ? loss_sum / static_cast<double>(counted) : std::nan("");
    record.train_accuracy =
        counted > 0 ? static_cast<double>(correct) / static_cast<double>(counted) : std::nan("");
    record.train_seconds = seconds_since(epoch_start);
    report.train_seconds += record.train_seconds;

    record.dev_loss = record.dev_accuracy = std::nan("");
    if (options.dev != nullptr) {
      const Clock::time_point dev_start = Clock::now();
      const Evaluation dev = evaluate(model, *options.dev, settings.eval_batch_size);
      record.dev_loss = dev.loss;
      record.dev_accuracy = dev.accuracy;
      record.dev_seconds = seconds_since(dev_start);
      report.dev_seconds += record.dev_seconds;

      const double score = settings.monitor == Monitor::DevAccuracy ? dev.accuracy : -dev.loss;
      if (score > best_score + settings.min_delta || report.best_epoch < 0) {
        best_score = score;
        report.best_epoch = epoch;
        epochs_without_improvement = 0;
        if (settings.restore_best) best_state = snapshot(module);
      } else {
        ++epochs_without_improvement;
      }
    }
    report.epochs.push_back(record);
    if (options.on_epoch) options.on_epoch(record);
    context.progress(epoch + 1, settings.epochs);
    if (settings.patience > 0 && epochs_without_improvement >= settings.patience) {
      report.stopped_early = epoch + 1 < settings.epochs;
      break;
    }
  }

  if (best_state && report.best_epoch + 1 != static_cast<int>(report.epochs.size())) {
    restore(*best_state);
    report.restored_best = true;
  }
  module.train(false);
  if (defense != nullptr) defense->end_round(model, context);
  return report;
}

Predictions predict(Model& model, const at::Tensor& inputs, const at::Tensor& indices,
                    std::int64_t batch_size) {
  if (batch_size < 1) throw Error("predict: batch_size must be at least 1");
  torch::NoGradGuard no_grad;
  TrainingMode eval(model.module(), false);
  const std::int64_t count = indices.defined() ? indices.numel() : inputs.size(0);
  std::vector<at::Tensor> chunks;
  for (std::int64_t start = 0; start < count; start += batch_size) {
    const std::int64_t end = std::min(start + batch_size, count);
    const at::Tensor rows = indices.defined() ? inputs.index_select(0, indices.slice(0, start, end))
                                              : inputs.slice(0, start, end);
    chunks.push_back(model.forward(rows).to(torch::kFloat32));
  }
  Predictions out;
  out.logits = chunks.empty() ? torch::empty({0, 0}) : torch::cat(chunks);
  out.posteriors = torch::softmax(out.logits, 1);
  return out;
}

Evaluation evaluate(Model& model, const LabeledData& data, std::int64_t batch_size) {
  check_data(data, "evaluation set");
  Evaluation result;
  result.samples = data.labels.size(0);
  if (result.samples == 0) return result;
  const at::Tensor logits = predict(model, data.inputs, {}, batch_size).logits;
  torch::NoGradGuard no_grad;
  // Summed in float64: a mean over tens of thousands of float32 losses loses digits.
  result.loss = torch::nn::functional::cross_entropy(
                    logits.to(torch::kFloat64), data.labels,
                    torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kMean))
                    .item<double>();
  result.accuracy = logits.argmax(1).eq(data.labels).to(torch::kFloat64).mean().item<double>();
  return result;
}

}  // namespace secateurs::host
