// The SDK's building blocks for pruners (secateurs/pruner.h).
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "secateurs/error.h"
#include "secateurs/gradients.h"
#include "secateurs/pruner.h"

namespace secateurs {

namespace {

void check_sparsity(double sparsity) {
  if (!(sparsity >= 0.0 && sparsity < 1.0)) {
    throw ConfigError("sparsity must be in [0, 1), got " + std::to_string(sparsity));
  }
}

// Scores as float64, already-pruned weights at -inf so that they go first.
at::Tensor ranked_scores(const PruneTarget& target, const at::Tensor& score) {
  if (!score.sizes().equals(target.weight.sizes())) {
    throw Error("pruner scores for '" + target.name + "' have shape " + c10::str(score.sizes()) +
                ", its weight " + c10::str(target.weight.sizes()));
  }
  at::Tensor flat = score.detach().to(torch::kFloat64).flatten();
  if (flat.isnan().any().item<bool>()) {
    throw Error("pruner scores for '" + target.name + "' contain NaN");
  }
  const at::Tensor pruned = target.mask.detach().flatten().eq(0);
  return flat.masked_fill(pruned, -std::numeric_limits<double>::infinity());
}

// Keep-mask (float 0/1, flat) that removes the `count` lowest of `scores`, ties by position.
at::Tensor remove_lowest(const at::Tensor& scores, std::int64_t count) {
  at::Tensor keep = torch::ones({scores.numel()}, torch::kFloat32);
  if (count <= 0) return keep;
  const at::Tensor order = std::get<1>(at::sort(scores, /*stable=*/true, 0, false));
  keep.index_fill_(0, order.slice(0, 0, count), 0.0);
  return keep;
}

std::int64_t target_count(double sparsity, std::int64_t total, std::int64_t already) {
  const auto wanted =
      static_cast<std::int64_t>(std::llround(sparsity * static_cast<double>(total)));
  return std::max(wanted, already);  // never fewer zeros than there are
}

}  // namespace

PruneScope prune_scope(const Params& params) {
  return params.get_string("scope") == "global" ? PruneScope::Global : PruneScope::Layer;
}

std::vector<at::Tensor> keep_highest(const std::vector<PruneTarget>& targets,
                                     const std::vector<at::Tensor>& scores, double sparsity,
                                     PruneScope scope) {
  check_sparsity(sparsity);
  if (scores.size() != targets.size()) {
    throw Error("pruner gave " + std::to_string(scores.size()) + " score tensors for " +
                std::to_string(targets.size()) + " targets");
  }
  torch::NoGradGuard no_grad;
  std::vector<at::Tensor> ranked;
  std::vector<std::int64_t> already;
  for (std::size_t i = 0; i < targets.size(); ++i) {
    ranked.push_back(ranked_scores(targets[i], scores[i]));
    already.push_back(targets[i].mask.numel() -
                      targets[i].mask.count_nonzero().item<std::int64_t>());
  }
  std::vector<at::Tensor> masks;
  if (scope == PruneScope::Layer) {
    for (std::size_t i = 0; i < targets.size(); ++i) {
      const std::int64_t count = target_count(sparsity, ranked[i].numel(), already[i]);
      masks.push_back(remove_lowest(ranked[i], count).view(targets[i].weight.sizes()));
    }
    return masks;
  }
  if (targets.empty()) return masks;
  const at::Tensor all = torch::cat(ranked);
  std::int64_t total_already = 0;
  for (std::int64_t a : already) total_already += a;
  const at::Tensor keep = remove_lowest(all, target_count(sparsity, all.numel(), total_already));
  std::int64_t offset = 0;
  for (const PruneTarget& target : targets) {
    const std::int64_t n = target.weight.numel();
    masks.push_back(keep.slice(0, offset, offset + n).view(target.weight.sizes()).clone());
    offset += n;
  }
  return masks;
}

namespace {

// The target weights that one channel of a group covers: producer rows and consumer
// column blocks, as views into working keep-masks.
struct ChannelSlices {
  std::vector<std::pair<std::size_t, std::int64_t>> producer_rows;  // (target, dim-0 index)
  struct Block {
    std::size_t target;
    std::int64_t start, length;
  };
  std::vector<Block> consumer_blocks;
};

// The kept weights that removing the channel would zero; with `apply`, zeroes them.
std::int64_t channel_weights(std::vector<at::Tensor>& working, const ChannelSlices& slices,
                             bool apply) {
  std::int64_t count = 0;
  const auto visit = [&](at::Tensor view) {
    count += view.count_nonzero().item<std::int64_t>();
    if (apply) view.zero_();
  };
  for (const auto& [target, row] : slices.producer_rows) visit(working[target].select(0, row));
  for (const ChannelSlices::Block& block : slices.consumer_blocks) {
    visit(working[block.target].narrow(1, block.start, block.length));
  }
  return count;
}

}  // namespace

std::vector<at::Tensor> keep_channels(const PruningRequest& request,
                                      const std::vector<at::Tensor>& scores, PruneScope scope) {
  check_sparsity(request.sparsity);
  const std::vector<ChannelGroup>& groups = request.groups;
  if (scores.size() != groups.size()) {
    throw Error("pruner gave " + std::to_string(scores.size()) + " channel score tensors for " +
                std::to_string(groups.size()) + " channel groups");
  }
  torch::NoGradGuard no_grad;
  std::map<std::string, std::size_t> target_of;
  std::vector<at::Tensor> working;
  std::int64_t total = 0, zeros = 0;
  for (std::size_t t = 0; t < request.targets.size(); ++t) {
    const PruneTarget& target = request.targets[t];
    target_of[target.name] = t;
    working.push_back(target.mask.detach().to(torch::kFloat32).clone());
    total += target.weight.numel();
    zeros += target.weight.numel() - working.back().count_nonzero().item<std::int64_t>();
  }

  // Per group: each channel's slices, its score, and whether it is already dead.
  std::vector<std::vector<ChannelSlices>> slices(groups.size());
  std::vector<std::vector<double>> score(groups.size());
  for (std::size_t g = 0; g < groups.size(); ++g) {
    const ChannelGroup& group = groups[g];
    if (scores[g].numel() != group.size) {
      throw Error("pruner scores for channel group '" + group.name + "' have " +
                  std::to_string(scores[g].numel()) + " entries, the group " +
                  std::to_string(group.size) + " channels");
    }
    const at::Tensor s = scores[g].detach().to(torch::kFloat64).contiguous();
    if (s.isnan().any().item<bool>()) {
      throw Error("pruner scores for channel group '" + group.name + "' contain NaN");
    }
    slices[g].resize(static_cast<std::size_t>(group.size));
    score[g].assign(s.data_ptr<double>(), s.data_ptr<double>() + group.size);
    for (std::int64_t c = 0; c < group.size; ++c) {
      ChannelSlices& channel = slices[g][static_cast<std::size_t>(c)];
      bool dead = true;
      for (const std::string& producer : group.producers) {
        const auto found = target_of.find(producer + ".weight");
        if (found == target_of.end()) continue;
        channel.producer_rows.emplace_back(found->second, c);
        dead =
            dead && working[found->second].select(0, c).count_nonzero().item<std::int64_t>() == 0;
      }
      for (const ChannelConsumer& consumer : group.consumers) {
        const auto found = target_of.find(consumer.module + ".weight");
        if (found == target_of.end()) continue;
        channel.consumer_blocks.push_back(
            {found->second, c * consumer.inputs_per_channel, consumer.inputs_per_channel});
      }
      if (dead && !channel.producer_rows.empty()) {
        score[g][static_cast<std::size_t>(c)] = -std::numeric_limits<double>::infinity();
      }
    }
  }

  std::vector<at::Tensor> keep;
  std::vector<std::int64_t> removed(groups.size(), 0);
  for (const ChannelGroup& group : groups)
    keep.push_back(torch::ones({group.size}, torch::kFloat32));
  const auto goal =
      static_cast<std::int64_t>(std::llround(request.sparsity * static_cast<double>(total)));

  // Each group's channels from lowest score to highest, ties by index.
  std::vector<std::vector<std::int64_t>> order(groups.size());
  for (std::size_t g = 0; g < groups.size(); ++g) {
    order[g].resize(static_cast<std::size_t>(groups[g].size));
    for (std::int64_t c = 0; c < groups[g].size; ++c) order[g][static_cast<std::size_t>(c)] = c;
    std::stable_sort(order[g].begin(), order[g].end(), [&](std::int64_t a, std::int64_t b) {
      return score[g][static_cast<std::size_t>(a)] < score[g][static_cast<std::size_t>(b)];
    });
  }
  const auto next_slices = [&](std::size_t g) -> const ChannelSlices& {
    return slices[g][static_cast<std::size_t>(order[g][static_cast<std::size_t>(removed[g])])];
  };
  const auto remove = [&](std::size_t g) {
    const std::int64_t c = order[g][static_cast<std::size_t>(removed[g])];
    zeros += channel_weights(working, next_slices(g), /*apply=*/true);
    keep[g][c] = 0.0f;
    ++removed[g];
  };
  // The removal that would reach the goal is made only when it lands closer to it than
  // stopping short does: the error is at most half a channel's weights.
  const auto closer_after = [&](std::size_t g) {
    const std::int64_t after = zeros + channel_weights(working, next_slices(g), false);
    return after <= goal || after - goal <= goal - zeros;
  };
  const auto removable = [&](std::size_t g) { return removed[g] + 1 < groups[g].size; };

  // Dead channels go first in any scope: removing them costs nothing.
  for (std::size_t g = 0; g < groups.size(); ++g) {
    while (
        removable(g) &&
        std::isinf(
            score[g][static_cast<std::size_t>(order[g][static_cast<std::size_t>(removed[g])])])) {
      remove(g);
    }
  }
  if (scope == PruneScope::Layer) {
    while (zeros < goal) {
      std::size_t best = groups.size();
      double best_fraction = 2.0;
      for (std::size_t g = 0; g < groups.size(); ++g) {
        if (!removable(g)) continue;
        const double fraction =
            static_cast<double>(removed[g]) / static_cast<double>(groups[g].size);
        if (fraction < best_fraction) {
          best_fraction = fraction;
          best = g;
        }
      }
      if (best == groups.size() || !closer_after(best)) break;
      remove(best);
    }
  } else {
    // One ranking: score over its group's mean score (of the finite ones).
    struct Candidate {
      double normalized;
      std::size_t group;
      std::int64_t rank;  // position in order[group]
    };
    std::vector<Candidate> candidates;
    for (std::size_t g = 0; g < groups.size(); ++g) {
      double sum = 0;
      std::int64_t finite = 0;
      for (double v : score[g]) {
        if (std::isfinite(v)) {
          sum += std::abs(v);
          ++finite;
        }
      }
      const double mean = finite > 0 && sum > 0 ? sum / static_cast<double>(finite) : 1.0;
      for (std::int64_t r = removed[g]; r < groups[g].size; ++r) {
        candidates.push_back(
            {score[g][static_cast<std::size_t>(order[g][static_cast<std::size_t>(r)])] / mean, g,
             r});
      }
    }
    std::stable_sort(
        candidates.begin(), candidates.end(),
        [](const Candidate& a, const Candidate& b) { return a.normalized < b.normalized; });
    // Within a group, candidates come in rank order, so removing in this order always
    // takes the group's next-lowest channel.
    for (const Candidate& candidate : candidates) {
      if (zeros >= goal) break;
      if (!removable(candidate.group)) continue;
      if (!closer_after(candidate.group)) break;
      remove(candidate.group);
    }
  }
  return keep;
}

std::vector<at::Tensor> channel_weight_masks(const PruningRequest& request,
                                             const std::vector<at::Tensor>& channels) {
  if (channels.size() != request.groups.size()) {
    throw Error(std::to_string(channels.size()) + " channel masks for " +
                std::to_string(request.groups.size()) + " channel groups");
  }
  torch::NoGradGuard no_grad;
  std::map<std::string, std::size_t> target_of;
  std::vector<at::Tensor> masks;
  for (std::size_t t = 0; t < request.targets.size(); ++t) {
    target_of[request.targets[t].name] = t;
    masks.push_back(request.targets[t].mask.detach().to(torch::kFloat32).clone());
  }
  for (std::size_t g = 0; g < channels.size(); ++g) {
    const ChannelGroup& group = request.groups[g];
    const at::Tensor removed = channels[g].detach().flatten().eq(0).nonzero().flatten();
    for (std::int64_t i = 0; i < removed.numel(); ++i) {
      const std::int64_t c = removed[i].item<std::int64_t>();
      for (const std::string& producer : group.producers) {
        const auto found = target_of.find(producer + ".weight");
        if (found != target_of.end()) masks[found->second].select(0, c).zero_();
      }
      for (const ChannelConsumer& consumer : group.consumers) {
        const auto found = target_of.find(consumer.module + ".weight");
        if (found == target_of.end()) continue;
        masks[found->second]
            .narrow(1, c * consumer.inputs_per_channel, consumer.inputs_per_channel)
            .zero_();
      }
    }
  }
  return masks;
}

double mask_sparsity(const std::vector<at::Tensor>& masks) {
  std::int64_t total = 0, kept = 0;
  for (const at::Tensor& mask : masks) {
    total += mask.numel();
    kept += mask.count_nonzero().item<std::int64_t>();
  }
  return total == 0 ? 0.0 : static_cast<double>(total - kept) / static_cast<double>(total);
}

std::vector<LabeledData> pruning_batches(const PruningRequest& request, const std::string& pruner,
                                         std::int64_t max_examples) {
  if (request.data == nullptr || !request.data->labels.defined() ||
      request.data->labels.size(0) == 0) {
    throw ConfigError(pruner + " computes importance from training data, and the request has none");
  }
  const LabeledData& data = *request.data;
  std::int64_t count = data.labels.size(0);
  if (max_examples > 0) count = std::min(count, max_examples);
  const std::int64_t batch = std::max<std::int64_t>(1, request.batch_size);
  std::vector<LabeledData> batches;
  for (std::int64_t start = 0; start < count; start += batch) {
    const std::int64_t end = std::min(count, start + batch);
    batches.push_back(
        {data.inputs.slice(0, start, end), data.labels.slice(0, start, end), data.num_classes});
  }
  return batches;
}

std::vector<at::Tensor> taylor_scores(Model& model, const std::vector<PruneTarget>& targets,
                                      const std::vector<LabeledData>& batches) {
  std::vector<at::Tensor> weights;
  std::vector<at::Tensor> scores;
  for (const PruneTarget& target : targets) {
    weights.push_back(target.weight);
    scores.push_back(torch::zeros(target.weight.sizes(), torch::kFloat64));
  }
  for (const LabeledData& batch : batches) {
    const std::vector<at::Tensor> gradients = loss_gradients(model, batch, weights);
    torch::NoGradGuard no_grad;
    for (std::size_t i = 0; i < weights.size(); ++i) {
      scores[i] += (gradients[i] * weights[i]).to(torch::kFloat64).cpu().square();
    }
  }
  return scores;
}

}  // namespace secateurs
