#include "host/pruning.h"

#include <fnmatch.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <set>
#include <sstream>

#include "host/model_summary.h"
#include "host/run_text.h"
#include "secateurs/error.h"
#include "secateurs/random.h"

namespace secateurs::host {

namespace {

std::string module_of(const std::string& parameter) {
  const std::size_t dot = parameter.rfind('.');
  return dot == std::string::npos ? std::string() : parameter.substr(0, dot);
}

bool matches(const std::vector<std::string>& patterns, const std::string& parameter) {
  const std::string module = module_of(parameter);
  return std::any_of(patterns.begin(), patterns.end(), [&](const std::string& pattern) {
    return fnmatch(pattern.c_str(), parameter.c_str(), 0) == 0 ||
           (!module.empty() && fnmatch(pattern.c_str(), module.c_str(), 0) == 0);
  });
}

std::map<std::string, at::Tensor> parameters_by_name(const Model& model) {
  std::map<std::string, at::Tensor> found;
  // named_parameters is not const in LibTorch; reading names changes nothing.
  auto& module = const_cast<Model&>(model).module();
  for (const auto& item : module.named_parameters(true)) found[item.key()] = item.value();
  return found;
}

std::map<std::string, at::Tensor> buffers_by_name(Model& model) {
  std::map<std::string, at::Tensor> found;
  for (const auto& item : model.module().named_buffers(true)) found[item.key()] = item.value();
  return found;
}

// `keep` [size] as a shape that broadcasts along `dim` of a tensor of rank `rank`.
at::Tensor along(const at::Tensor& keep, std::int64_t dim, std::int64_t rank) {
  std::vector<std::int64_t> shape(static_cast<std::size_t>(rank), 1);
  shape[static_cast<std::size_t>(dim)] = keep.numel();
  return keep.view(shape);
}

// Multiplies a consumer's mask by `keep` over its input blocks (dim 1: size x block).
at::Tensor mask_inputs(const at::Tensor& mask, const at::Tensor& keep, std::int64_t block) {
  std::vector<std::int64_t> shape(mask.sizes().begin(), mask.sizes().end());
  std::vector<std::int64_t> split = {shape[0], keep.numel(), block};
  split.insert(split.end(), shape.begin() + 2, shape.end());
  const at::Tensor blocks =
      mask.reshape(split) * along(keep, 1, static_cast<std::int64_t>(split.size()));
  return blocks.reshape(shape);
}

void check_group(const ChannelGroup& group, const std::map<std::string, at::Tensor>& params) {
  const auto fail = [&](const std::string& what) {
    throw Error("channel group '" + group.name + "' of the model: " + what);
  };
  for (const std::string& producer : group.producers) {
    const auto weight = params.find(producer + ".weight");
    if (weight == params.end()) fail("producer '" + producer + "' has no weight");
    if (weight->second.size(0) != group.size) {
      fail("producer '" + producer + "' has " + std::to_string(weight->second.size(0)) +
           " output channels, the group " + std::to_string(group.size));
    }
  }
  for (const ChannelConsumer& consumer : group.consumers) {
    const auto weight = params.find(consumer.module + ".weight");
    if (weight == params.end()) fail("consumer '" + consumer.module + "' has no weight");
    if (weight->second.dim() < 2 ||
        weight->second.size(1) != group.size * consumer.inputs_per_channel) {
      fail("consumer '" + consumer.module + "' does not take " + std::to_string(group.size) +
           " x " + std::to_string(consumer.inputs_per_channel) + " inputs");
    }
  }
}

// Keeps the channels `keep` (int64 indices) of `group`: its producers' rows, its batch
// norms' entries and its consumers' input blocks, in the tensors and in `masks`.
void keep_group_channels(const ChannelGroup& group, const at::Tensor& keep,
                         std::map<std::string, at::Tensor>& params,
                         std::map<std::string, at::Tensor>& buffers, MaskSet& masks) {
  const auto shrink_dim0 = [&](std::map<std::string, at::Tensor>& tensors,
                               const std::string& name) {
    const auto found = tensors.find(name);
    if (found == tensors.end() || found->second.dim() == 0) return;
    at::Tensor& live = found->second;
    live.set_data(live.detach().index_select(0, keep.to(live.device())).contiguous());
    // A gradient of the old shape would break the next backward pass.
    if (live.requires_grad()) live.mutable_grad().reset();
    const auto mask = masks.find(name);
    if (mask != masks.end()) mask->second = mask->second.index_select(0, keep).contiguous();
  };
  for (const std::string& producer : group.producers) {
    shrink_dim0(params, producer + ".weight");
    shrink_dim0(params, producer + ".bias");
  }
  for (const std::string& norm : group.norms) {
    for (const char* part : {".weight", ".bias"}) shrink_dim0(params, norm + part);
    for (const char* part : {".running_mean", ".running_var"}) shrink_dim0(buffers, norm + part);
  }
  for (const ChannelConsumer& consumer : group.consumers) {
    const std::string name = consumer.module + ".weight";
    at::Tensor& live = params.at(name);
    const auto shrink_inputs = [&](const at::Tensor& t) {
      std::vector<std::int64_t> shape(t.sizes().begin(), t.sizes().end());
      std::vector<std::int64_t> split = {shape[0], group.size, consumer.inputs_per_channel};
      split.insert(split.end(), shape.begin() + 2, shape.end());
      at::Tensor kept = t.reshape(split).index_select(1, keep.to(t.device()));
      shape[1] = keep.numel() * consumer.inputs_per_channel;
      return kept.reshape(shape).contiguous();
    };
    live.set_data(shrink_inputs(live.detach()));
    const auto mask = masks.find(name);
    if (mask != masks.end()) mask->second = shrink_inputs(mask->second);
  }
}

}  // namespace

std::vector<std::string> select_targets(Model& model, const DataShape& shape,
                                        const TargetSelection& selection) {
  const ModelSummary summary = summarize_model(model, shape);
  std::set<std::string> weighted;
  for (const WeightedLayer& layer : summary.layers) {
    if (layer.is_output && !selection.include_output) continue;
    weighted.insert(layer.parameter);
  }
  // An output layer used twice would be listed once as output and once not.
  if (!selection.include_output) {
    for (const WeightedLayer& layer : summary.layers) {
      if (layer.is_output) weighted.erase(layer.parameter);
    }
  }
  std::vector<std::string> targets;
  for (const auto& item : model.module().named_parameters(true)) {
    const std::string& name = item.key();
    if (weighted.count(name) == 0) continue;
    if (!selection.include.empty() && !matches(selection.include, name)) continue;
    if (matches(selection.exclude, name)) continue;
    targets.push_back(name);
  }
  if (targets.empty()) {
    throw ConfigError(
        "no layer is left to prune: the model has no convolution or linear weight besides "
        "the output layer, or the include/exclude patterns removed them all");
  }
  return targets;
}

MaskSet prune_masks(Model& model, Pruner& pruner, const std::string& pruner_name,
                    const std::vector<std::string>& targets, const MaskSet& current,
                    double sparsity, const LabeledData* data, std::int64_t batch_size,
                    Context& context) {
  const std::map<std::string, at::Tensor> params = parameters_by_name(model);
  const std::set<std::string> target_set(targets.begin(), targets.end());
  const auto mask_of = [&](const std::string& name) {
    const auto found = current.find(name);
    return found != current.end() ? found->second.detach().to(torch::kFloat32)
                                  : torch::ones(params.at(name).sizes(), torch::kFloat32);
  };

  PruningRequest request;
  request.sparsity = sparsity;
  request.data = data;
  request.batch_size = batch_size;
  for (const std::string& name : targets) {
    const auto found = params.find(name);
    if (found == params.end()) throw Error("pruning target '" + name + "' is not a parameter");
    request.targets.push_back({name, found->second, mask_of(name)});
  }
  for (const ChannelGroup& group : model.channel_groups()) {
    check_group(group, params);
    const bool all_targets =
        std::all_of(group.producers.begin(), group.producers.end(),
                    [&](const std::string& p) { return target_set.count(p + ".weight") > 0; });
    if (all_targets && !group.producers.empty()) request.groups.push_back(group);
  }

  PruningDecision decision;
  {
    const bool was_training = model.module().is_training();
    try {
      decision = pruner.prune(model, request, context);
    } catch (const Error&) {
      model.module().train(was_training);
      throw;
    } catch (const std::exception& e) {
      model.module().train(was_training);
      throw Error(pruner_name + ": " + e.what());
    }
    model.module().train(was_training);
  }
  if (!decision.masks.empty() && decision.masks.size() != targets.size()) {
    throw Error(pruner_name + " returned " + std::to_string(decision.masks.size()) + " masks for " +
                std::to_string(targets.size()) + " targets");
  }
  if (!decision.channels.empty() && decision.channels.size() != request.groups.size()) {
    throw Error(pruner_name + " returned " + std::to_string(decision.channels.size()) +
                " channel masks for " + std::to_string(request.groups.size()) + " channel groups");
  }
  if (decision.masks.empty() && decision.channels.empty()) {
    throw Error(pruner_name + " returned neither weight masks nor channel masks");
  }

  torch::NoGradGuard no_grad;
  MaskSet next = current;
  for (std::size_t i = 0; i < targets.size(); ++i) {
    at::Tensor mask = request.targets[i].mask;
    if (!decision.masks.empty()) {
      const at::Tensor& given = decision.masks[i];
      if (!given.sizes().equals(mask.sizes())) {
        throw Error(pruner_name + " returned a mask of shape " + c10::str(given.sizes()) +
                    " for '" + targets[i] + "' of shape " + c10::str(mask.sizes()));
      }
      mask = mask * given.detach().ne(0).to(torch::kFloat32).cpu();
    }
    next[targets[i]] = mask;
  }
  for (std::size_t g = 0; g < decision.channels.size(); ++g) {
    const ChannelGroup& group = request.groups[g];
    const at::Tensor keep = decision.channels[g].detach().ne(0).to(torch::kFloat32).cpu().flatten();
    if (keep.numel() != group.size) {
      throw Error(pruner_name + " returned " + std::to_string(keep.numel()) +
                  " channel entries for group '" + group.name + "' of " +
                  std::to_string(group.size));
    }
    const auto mask_dim0 = [&](const std::string& name) {
      if (params.count(name) == 0) return;
      const at::Tensor base = next.count(name) ? next.at(name) : mask_of(name);
      next[name] = base * along(keep, 0, base.dim());
    };
    for (const std::string& producer : group.producers) {
      mask_dim0(producer + ".weight");
      mask_dim0(producer + ".bias");
    }
    for (const std::string& norm : group.norms) {
      mask_dim0(norm + ".weight");
      mask_dim0(norm + ".bias");
    }
    for (const ChannelConsumer& consumer : group.consumers) {
      const std::string name = consumer.module + ".weight";
      if (target_set.count(name) == 0) continue;  // e.g. the output layer: left as it is
      next[name] = mask_inputs(next.at(name), keep, consumer.inputs_per_channel);
    }
  }
  return next;
}

double target_sparsity(const Model& model, const std::vector<std::string>& targets,
                       const MaskSet& masks) {
  const std::map<std::string, at::Tensor> params = parameters_by_name(model);
  std::int64_t total = 0, kept = 0;
  for (const std::string& name : targets) {
    const std::int64_t n = params.at(name).numel();
    total += n;
    const auto found = masks.find(name);
    kept += found == masks.end() ? n : found->second.count_nonzero().item<std::int64_t>();
  }
  return total == 0 ? 0.0 : static_cast<double>(total - kept) / static_cast<double>(total);
}

std::vector<RemovedChannels> remove_dead_channels(Model& model, MaskSet& masks) {
  torch::NoGradGuard no_grad;
  const std::vector<ChannelGroup> groups = model.channel_groups();
  std::map<std::string, at::Tensor> params = parameters_by_name(model);
  std::map<std::string, at::Tensor> buffers = buffers_by_name(model);
  for (const ChannelGroup& group : groups) check_group(group, params);

  std::vector<RemovedChannels> removed;
  for (const ChannelGroup& group : groups) {
    // Dead: every condition that makes the channel's output exactly zero holds.
    at::Tensor dead = torch::ones({group.size}, torch::kBool);
    bool known = !group.producers.empty();
    const auto require_zero_rows = [&](const std::string& name) {
      if (params.count(name) == 0) return;  // no such tensor (a layer without bias)
      const auto mask = masks.find(name);
      if (mask == masks.end()) {
        known = false;
        return;
      }
      dead &= mask->second.reshape({group.size, -1}).ne(0).sum(1).eq(0);
    };
    for (const std::string& producer : group.producers) {
      require_zero_rows(producer + ".weight");
      require_zero_rows(producer + ".bias");
    }
    for (const std::string& norm : group.norms) {
      require_zero_rows(norm + ".weight");
      require_zero_rows(norm + ".bias");
    }
    if (!known) continue;
    at::Tensor keep = dead.logical_not().nonzero().flatten();
    if (keep.numel() == 0) keep = torch::zeros({1}, torch::kInt64);
    if (keep.numel() == group.size) continue;
    keep_group_channels(group, keep, params, buffers, masks);
    removed.push_back({group.name, group.size, keep.numel()});
  }
  return removed;
}

std::string channel_sizes_text(const Model& model) {
  std::string text;
  for (const ChannelGroup& group : model.channel_groups()) {
    text += (text.empty() ? "" : ",") + group.name + "=" + std::to_string(group.size);
  }
  return text;
}

void resize_channel_groups(Model& model, const std::string& sizes) {
  torch::NoGradGuard no_grad;
  std::map<std::string, std::int64_t> wanted;
  std::size_t begin = 0;
  while (begin < sizes.size()) {
    const std::size_t end = std::min(sizes.find(',', begin), sizes.size());
    const std::string item = sizes.substr(begin, end - begin);
    const std::size_t equals = item.rfind('=');
    std::int64_t size = 0;
    try {
      size = equals == std::string::npos ? 0 : std::stoll(item.substr(equals + 1));
    } catch (const std::exception&) {
      size = 0;
    }
    if (size < 1)
      throw DataError("channel sizes: malformed entry '" + item + "' in '" + sizes + "'");
    wanted[item.substr(0, equals)] = size;
    begin = end + 1;
  }
  std::map<std::string, at::Tensor> params = parameters_by_name(model);
  std::map<std::string, at::Tensor> buffers = buffers_by_name(model);
  MaskSet no_masks;
  const std::vector<ChannelGroup> groups = model.channel_groups();
  for (const ChannelGroup& group : groups) {
    const auto found = wanted.find(group.name);
    if (found == wanted.end()) {
      throw DataError("channel sizes: the model's group '" + group.name + "' is not listed in '" +
                      sizes + "'");
    }
    if (found->second > group.size) {
      throw DataError("channel sizes: group '" + group.name + "' has " +
                      std::to_string(group.size) + " channels, " + std::to_string(found->second) +
                      " asked for");
    }
    if (found->second < group.size) {
      keep_group_channels(group, torch::arange(found->second, torch::kInt64), params, buffers,
                          no_masks);
    }
    wanted.erase(found);
  }
  if (!wanted.empty()) {
    throw DataError("channel sizes: the model has no channel group '" + wanted.begin()->first +
                    "'");
  }
}

LoadedCheckpoint load_pruned_checkpoint(const std::filesystem::path& path, Model& model) {
  const CheckpointMetadata metadata = read_checkpoint_metadata(path);
  const auto channels = metadata.find("channels");
  if (channels != metadata.end() && channels->second != channel_sizes_text(model)) {
    try {
      resize_channel_groups(model, channels->second);
    } catch (const DataError& e) {
      throw DataError(path.string() + ": " + e.what());
    }
  }
  return load_checkpoint(path, model);
}

NamedState capture_state(Model& model) {
  torch::NoGradGuard no_grad;
  NamedState state;
  for (const auto& item : model.module().named_parameters(true)) {
    state[item.key()] = item.value().detach().clone();
  }
  for (const auto& item : model.module().named_buffers(true)) {
    state[item.key()] = item.value().detach().clone();
  }
  return state;
}

void restore_state(Model& model, const NamedState& state) {
  torch::NoGradGuard no_grad;
  const auto copy = [&](const std::string& name, at::Tensor live) {
    const auto found = state.find(name);
    if (found == state.end() || !found->second.sizes().equals(live.sizes())) return;
    live.copy_(found->second);
  };
  for (const auto& item : model.module().named_parameters(true)) copy(item.key(), item.value());
  for (const auto& item : model.module().named_buffers(true)) copy(item.key(), item.value());
}

std::int64_t sparse_size_bytes(Model& model) {
  std::int64_t bytes = 0;
  const auto add = [&](const at::Tensor& t) {
    const std::int64_t n = t.numel();
    const std::int64_t element = static_cast<std::int64_t>(t.element_size());
    const std::int64_t nonzero = t.count_nonzero().item<std::int64_t>();
    bytes += std::min(n * element, (n + 7) / 8 + nonzero * element);
  };
  for (const at::Tensor& p : model.module().parameters()) add(p.detach());
  for (const at::Tensor& b : model.module().buffers()) add(b.detach());
  return bytes;
}

ParamSchema schedule_schema() {
  const ScheduleSettings d;
  return {
      param::choice("schedule", {"one_shot", "iterative", "gradual", "adaptive"}, "iterative",
                    "How the sparsity grows over the rounds"),
      param::real("sparsity", d.sparsity, "Final fraction of zero weights over the pruned layers")
          .range(0, 0.999),
      param::integer("rounds", d.rounds, "Iterative and gradual: pruning rounds").range(1, 1000),
      param::boolean("dense_round", d.dense_round,
                     "Round 0 fine-tunes the dense model before any pruning (WeMeM)"),
      param::real("initial_sparsity", d.initial_sparsity, "Gradual (AGP): starting sparsity")
          .range(0, 0.999),
      param::real("budget", d.budget, "Adaptive: largest dev-accuracy drop a round may cause")
          .range(0, 1),
      param::real("step", d.step, "Adaptive: first sparsity increment").range(1e-6, 1),
      param::real("min_step", d.min_step, "Adaptive: stop when the step falls below this")
          .range(1e-6, 1),
      param::real("growth", d.growth, "Adaptive: step factor after a round well inside budget")
          .range(1, 10),
      param::integer("max_rounds", d.max_rounds, "Adaptive: most rounds, undone ones included")
          .range(1, 1000),
      param::boolean("rewind", d.rewind,
                     "Lottery tickets: reset kept weights to an early epoch's before fine-tuning"),
      param::boolean("remove_channels", d.remove_channels,
                     "Physically remove dead channels after the last round"),
      param::integer("importance_examples", d.importance_examples,
                     "Training examples data-driven pruners score each round")
          .range(1, 1 << 24),
  };
}

ScheduleSettings schedule_settings(const Params& p) {
  ScheduleSettings s;
  const std::string& kind = p.get_string("schedule");
  s.kind = kind == "one_shot"   ? ScheduleKind::OneShot
           : kind == "gradual"  ? ScheduleKind::Gradual
           : kind == "adaptive" ? ScheduleKind::Adaptive
                                : ScheduleKind::Iterative;
  s.sparsity = p.get_float("sparsity");
  s.rounds = static_cast<int>(p.get_int("rounds"));
  s.dense_round = p.get_bool("dense_round");
  s.initial_sparsity = p.get_float("initial_sparsity");
  s.budget = p.get_float("budget");
  s.step = p.get_float("step");
  s.min_step = p.get_float("min_step");
  s.growth = p.get_float("growth");
  s.max_rounds = static_cast<int>(p.get_int("max_rounds"));
  s.rewind = p.get_bool("rewind");
  s.remove_channels = p.get_bool("remove_channels");
  s.importance_examples = p.get_int("importance_examples");
  return s;
}

double scheduled_sparsity(const ScheduleSettings& s, int round) {
  if (s.kind == ScheduleKind::OneShot) return s.sparsity;
  const double progress = std::clamp(static_cast<double>(round) / s.rounds, 0.0, 1.0);
  if (s.kind == ScheduleKind::Gradual) {
    return s.sparsity + (s.initial_sparsity - s.sparsity) * std::pow(1.0 - progress, 3.0);
  }
  return 1.0 - std::pow(1.0 - s.sparsity, progress);
}

namespace {

// NaN without a data set, so that a missing set reads as "not measured".
double accuracy_on(Model& model, const LabeledData* data, std::int64_t batch_size) {
  return data == nullptr ? std::nan("") : evaluate(model, *data, batch_size).accuracy;
}

LabeledData first_rows(const LabeledData& data, std::int64_t count) {
  const std::int64_t n = std::min(count, data.labels.size(0));
  return {data.inputs.slice(0, 0, n), data.labels.slice(0, 0, n), data.num_classes};
}

}  // namespace

RoundRecord measure_round(Model& model, const ScheduleInputs& inputs, const MaskSet& masks,
                          int round, double requested, std::int64_t dense_weights) {
  const Clock::time_point start = Clock::now();
  RoundRecord r;
  r.round = round;
  r.requested_sparsity = requested;
  const std::map<std::string, at::Tensor> params = parameters_by_name(model);
  std::int64_t weights = 0, nonzero = 0;
  for (const std::string& name : inputs.targets) {
    const auto mask = masks.find(name);
    const std::int64_t n = params.at(name).numel();
    const std::int64_t kept =
        mask == masks.end() ? n : mask->second.count_nonzero().item<std::int64_t>();
    r.layers.push_back({name, n, kept});
    weights += n;
    nonzero += kept;
  }
  // Against the dense count, so that removed channels count as pruned.
  const std::int64_t reference = dense_weights > 0 ? dense_weights : weights;
  r.sparsity =
      reference == 0 ? 0.0 : 1.0 - static_cast<double>(nonzero) / static_cast<double>(reference);
  const ModelSummary summary = summarize_model(model, inputs.shape);
  r.parameters = summary.parameters;
  r.nonzero_parameters = summary.nonzero_parameters;
  r.dense_macs = summary.dense_macs;
  r.effective_macs = summary.effective_macs;
  r.size_bytes = sparse_size_bytes(model);
  const auto accuracy = [&](const LabeledData* data) {
    return accuracy_on(model, data, inputs.finetune.eval_batch_size);
  };
  r.train_accuracy = inputs.measure_training ? accuracy(inputs.training) : std::nan("");
  r.dev_accuracy = accuracy(inputs.dev);
  r.test_accuracy = accuracy(inputs.test);
  r.eval_seconds = seconds_since(start);
  return r;
}

namespace {

class ScheduleRunner {
 public:
  ScheduleRunner(Model& model, Pruner& pruner, const ScheduleSettings& settings,
                 const ScheduleInputs& inputs, Context& context)
      : model_(model), pruner_(pruner), settings_(settings), inputs_(inputs), context_(context) {
    if (inputs.training == nullptr) throw ConfigError("pruning schedule: no training set");
    if (settings.rewind && inputs.rewind == nullptr) {
      throw ConfigError("pruning schedule: rewind is on, and no rewind state was given");
    }
    if (settings.kind == ScheduleKind::Adaptive && inputs.dev == nullptr) {
      throw ConfigError("pruning schedule: the adaptive schedule needs a dev set");
    }
    importance_ = first_rows(*inputs.training, settings.importance_examples);
  }

  ScheduleResult run() {
    if (settings_.dense_round) add(round(0, 0.0, /*prune=*/false));
    switch (settings_.kind) {
      case ScheduleKind::OneShot: add(round(1, settings_.sparsity, true)); break;
      case ScheduleKind::Iterative:
      case ScheduleKind::Gradual:
        for (int k = 1; k <= settings_.rounds; ++k) {
          add(round(k, scheduled_sparsity(settings_, k), true));
        }
        break;
      case ScheduleKind::Adaptive: adaptive(); break;
    }
    if (settings_.remove_channels) {
      const std::map<std::string, at::Tensor> params = parameters_by_name(model_);
      std::int64_t dense_weights = 0;
      for (const std::string& name : inputs_.targets) dense_weights += params.at(name).numel();
      result_.removed = remove_dead_channels(model_, result_.masks);
      std::int64_t gone = 0;
      for (const RemovedChannels& r : result_.removed) gone += r.before - r.after;
      const RoundRecord* last = result_.final_round();
      if (gone > 0 && last != nullptr) {
        RoundRecord after = measure_round(model_, inputs_, result_.masks, last->round,
                                          last->requested_sparsity, dense_weights);
        after.note = "after removing " + std::to_string(gone) + " dead channels";
        add(std::move(after));
      }
    }
    return std::move(result_);
  }

 private:
  void add(RoundRecord record) {
    if (inputs_.on_round) inputs_.on_round(record);
    result_.rounds.push_back(std::move(record));
  }

  double accuracy(const LabeledData* data) {
    return accuracy_on(model_, data, inputs_.finetune.eval_batch_size);
  }

  RoundRecord record(int number, double requested) {
    return measure_round(model_, inputs_, result_.masks, number, requested);
  }

  RoundRecord round(int number, double requested, bool prune) {
    Clock::time_point start = Clock::now();
    if (prune) {
      result_.masks =
          prune_masks(model_, pruner_, inputs_.pruner_name, inputs_.targets, result_.masks,
                      requested, &importance_, inputs_.finetune.batch_size, context_);
      if (settings_.rewind) restore_state(model_, *inputs_.rewind);
      apply_masks(model_, result_.masks);
    }
    const double prune_seconds = seconds_since(start);

    start = Clock::now();
    FitOptions options;
    options.masks = &result_.masks;
    options.defense = inputs_.defense;
    options.round.round = number;
    options.memorization = inputs_.memorization;
    options.reference = inputs_.reference;
    const bool wants_dev = inputs_.finetune.patience > 0 || inputs_.finetune.restore_best;
    if (wants_dev) options.dev = inputs_.dev;
    fit(model_, *inputs_.training, inputs_.finetune, options, context_);
    const double finetune_seconds = seconds_since(start);

    RoundRecord r = record(number, requested);
    r.prune_seconds = prune_seconds;
    r.finetune_seconds = finetune_seconds;
    return r;
  }

  void adaptive() {
    const double baseline = accuracy(inputs_.dev);
    double reached = target_sparsity(model_, inputs_.targets, result_.masks);
    double step = settings_.step;
    for (int attempt = 1; attempt <= settings_.max_rounds; ++attempt) {
      if (reached >= settings_.sparsity - 1e-9) return;
      const double next = std::min(settings_.sparsity, reached + step);
      const NamedState before = capture_state(model_);
      const MaskSet masks_before = result_.masks;
      RoundRecord r = round(attempt, next, true);
      const double drop = baseline - r.dev_accuracy;
      std::ostringstream note;
      note << "dev drop " << drop << " (budget " << settings_.budget << ")";
      if (drop > settings_.budget) {
        restore_state(model_, before);
        result_.masks = masks_before;
        r.kept = false;
        step /= 2;
        note << ": undone, step halved to " << step;
        r.note = note.str();
        add(std::move(r));
        if (step < settings_.min_step) return;
        continue;
      }
      reached = r.sparsity;
      if (drop <= settings_.budget / 2) {
        step *= settings_.growth;
        note << ": step grows to " << step;
      }
      r.note = note.str();
      add(std::move(r));
    }
  }

  Model& model_;
  Pruner& pruner_;
  const ScheduleSettings& settings_;
  const ScheduleInputs& inputs_;
  Context& context_;
  LabeledData importance_;
  ScheduleResult result_;
};

}  // namespace

const RoundRecord* ScheduleResult::final_round() const {
  for (auto r = rounds.rbegin(); r != rounds.rend(); ++r) {
    if (r->kept) return &*r;
  }
  return nullptr;
}

ScheduleResult run_schedule(Model& model, Pruner& pruner, const ScheduleSettings& settings,
                            const ScheduleInputs& inputs, Context& context) {
  return ScheduleRunner(model, pruner, settings, inputs, context).run();
}

}  // namespace secateurs::host
