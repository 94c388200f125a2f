#include "host/memorization.h"

#include <ATen/Parallel.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>
#include <torch/torch.h>
#include <torch/version.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>

#include "host/atomic_file.h"
#include "host/data_checks.h"
#include "host/run_text.h"
#include "host/runtime_info.h"
#include "host/sha256.h"
#include "host/trainer.h"
#include "secateurs/error.h"
#include "secateurs/random.h"
#include "secateurs/version.h"

namespace secateurs::host {
namespace {

constexpr const char* kCacheHeader = "secateurs-memorization 1";

std::string cache_key(const LabeledData& training, int folds, std::uint64_t seed,
                      const std::string& recipe) {
  Sha256 hash;
  // The framework's and LibTorch's versions: a fix to the trainer or a new LibTorch may
  // change the fold models, so their scores are not reused across versions.
  const std::string head = std::string(kCacheHeader) + "\nsecateurs " + SECATEURS_VERSION_STRING +
                           " libtorch " + TORCH_VERSION + "\nfolds " + std::to_string(folds) +
                           "\nseed " + std::to_string(seed) + "\nrecipe " + recipe + "\n";
  hash.update(head);
  hash_labeled_data(hash, training);
  const Sha256::Digest digest = hash.finish();
  return to_hex(digest);
}

std::filesystem::path cache_file(const MemorizationSettings& settings, const std::string& key) {
  return settings.cache / "memorization" / (key + ".txt");
}

std::string format_scores(const std::string& key, const MemorizationScores& scores) {
  const at::Tensor estimate = scores.estimate.contiguous();
  const at::Tensor normalized = scores.normalized.contiguous();
  const std::int64_t n = estimate.numel();
  std::string out =
      std::string(kCacheHeader) + "\nkey " + key + "\nsamples " + std::to_string(n) + "\n";
  char line[64];
  for (std::int64_t i = 0; i < n; ++i) {
    // %.17g round-trips a double exactly.
    std::snprintf(line, sizeof line, "%.17g %.17g\n", estimate.data_ptr<double>()[i],
                  normalized.data_ptr<double>()[i]);
    out += line;
  }
  return out + "end\n";
}

// The cached scores, or nothing when the file is missing, of another key or size, or
// damaged in any way (the caller then recomputes and overwrites it).
std::optional<MemorizationScores> read_cached(const std::filesystem::path& path,
                                              const std::string& key, std::int64_t samples) {
  std::error_code error;
  if (!std::filesystem::is_regular_file(path, error)) return std::nullopt;
  std::istringstream in(read_file(path));
  std::string line;
  if (!std::getline(in, line) || line != kCacheHeader) return std::nullopt;
  if (!std::getline(in, line) || line != "key " + key) return std::nullopt;
  if (!std::getline(in, line) || line != "samples " + std::to_string(samples)) return std::nullopt;
  at::Tensor estimate = torch::empty({samples}, torch::kFloat64);
  at::Tensor normalized = torch::empty({samples}, torch::kFloat64);
  for (std::int64_t i = 0; i < samples; ++i) {
    double e = 0, m = 0;
    if (!(in >> e >> m) || !(m >= 0.0 && m <= 1.0) || !(e >= -1.0 && e <= 1.0)) {
      return std::nullopt;
    }
    estimate.data_ptr<double>()[i] = e;
    normalized.data_ptr<double>()[i] = m;
  }
  if (!(in >> line) || line != "end") return std::nullopt;
  return MemorizationScores{estimate, normalized};
}

at::Tensor true_class_probabilities(Model& model, const LabeledData& data) {
  const at::Tensor logits = predict(model, data.inputs).logits.to(torch::kFloat64);
  return torch::log_softmax(logits, 1).gather(1, data.labels.unsqueeze(1)).squeeze(1).exp();
}

}  // namespace

ParamSchema memorization_schema() {
  const MemorizationSettings d;
  return {
      param::integer("folds", d.folds,
                     "K: models trained per training set, each holding out one fold")
          .range(2, 100),
      param::string("cache", d.cache.string(),
                    "Folder where scores are kept between runs (empty: no cache)"),
  };
}

MemorizationSettings memorization_settings(const Params& params) {
  MemorizationSettings settings;
  settings.folds = static_cast<int>(params.get_int("folds"));
  settings.cache = params.get_string("cache");
  return settings;
}

std::vector<int> memorization_folds(const at::Tensor& labels, int folds, std::uint64_t seed) {
  if (folds < 2) throw ConfigError("memorization: folds must be at least 2");
  const std::int64_t n = labels.numel();
  if (n < folds) {
    throw ConfigError("memorization: " + std::to_string(n) + " training samples cannot fill " +
                      std::to_string(folds) + " folds");
  }
  // A seeded shuffle, then each class dealt round-robin: classes keep their proportions in
  // every fold, and the fold sizes differ by at most one per class.
  const at::Tensor order = torch::randperm(n, make_generator(seed), torch::kInt64);
  const at::Tensor shuffled_labels = labels.to(torch::kInt64).index_select(0, order).contiguous();
  std::vector<int> fold(static_cast<std::size_t>(n), 0);
  std::map<std::int64_t, int> next;  // per class, the fold its next sample goes to
  int offset = 0;                    // classes start at different folds to even sizes out
  for (std::int64_t k = 0; k < n; ++k) {
    const std::int64_t label = shuffled_labels.data_ptr<std::int64_t>()[k];
    auto [it, inserted] = next.try_emplace(label, offset);
    if (inserted) offset = (offset + 1) % folds;
    fold[static_cast<std::size_t>(order[k].item<std::int64_t>())] = it->second;
    it->second = (it->second + 1) % folds;
  }
  return fold;
}

MemorizationScores memorization_from_folds(const std::vector<at::Tensor>& probabilities,
                                           const std::vector<int>& fold) {
  const auto folds = static_cast<int>(probabilities.size());
  if (folds < 2) throw Error("memorization: at least two fold models are needed");
  const auto n = static_cast<std::int64_t>(fold.size());
  at::Tensor p = torch::stack(probabilities).to(torch::kFloat64);  // [K, N]
  if (p.size(1) != n) throw Error("memorization: probabilities and folds disagree in size");
  const at::Tensor held_out =
      torch::tensor(std::vector<std::int64_t>(fold.begin(), fold.end()), torch::kInt64);
  if (held_out.min().item<std::int64_t>() < 0 || held_out.max().item<std::int64_t>() >= folds) {
    throw Error("memorization: a fold index is outside [0, K)");
  }
  const at::Tensor out = p.gather(0, held_out.unsqueeze(0)).squeeze(0);
  const at::Tensor in = (p.sum(0) - out) / static_cast<double>(folds - 1);
  MemorizationScores scores;
  scores.estimate = in - out;
  const double low = scores.estimate.min().item<double>();
  const double high = scores.estimate.max().item<double>();
  scores.normalized =
      high > low ? (scores.estimate - low) / (high - low) : torch::zeros_like(scores.estimate);
  return scores;
}

std::vector<MemorizationResult> compute_memorization(
    const std::vector<MemorizationRequest>& requests, const FoldTrainer& train,
    const std::string& recipe, const MemorizationSettings& settings, int threads,
    const std::function<void(const std::string&)>& status) {
  const auto say = [&](const std::string& line) {
    if (status) status(line);
  };
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const int folds = settings.folds;
  std::vector<MemorizationResult> results(requests.size());
  std::vector<std::vector<int>> fold_of(requests.size());
  std::vector<std::size_t> missing;  // requests not in the cache
  for (std::size_t r = 0; r < requests.size(); ++r) {
    const MemorizationRequest& request = requests[r];
    if (request.training == nullptr) throw Error("memorization: " + request.role + " has no data");
    results[r].key = cache_key(*request.training, folds, request.seed, recipe);
    if (!settings.cache.empty()) {
      if (auto cached = read_cached(cache_file(settings, results[r].key), results[r].key,
                                    request.training->labels.size(0))) {
        results[r].scores = std::move(*cached);
        results[r].from_cache = true;
        say(request.role + ": memorization scores from the cache (" + results[r].key.substr(0, 12) +
            ")");
        continue;
      }
    }
    fold_of[r] = memorization_folds(request.training->labels, folds,
                                    derive_seed(request.seed, "memorization/folds"));
    missing.push_back(r);
  }
  if (missing.empty()) return results;

  // Every fold of every missing request is one task.
  struct FoldTask {
    std::size_t request;
    int fold;
  };
  std::vector<FoldTask> tasks;
  for (const std::size_t r : missing) {
    for (int k = 0; k < folds; ++k) tasks.push_back({r, k});
  }
  std::vector<std::vector<at::Tensor>> probabilities(requests.size(),
                                                     std::vector<at::Tensor>(folds));
  std::vector<double> task_seconds(tasks.size(), 0.0);
  say("memorization: training " + std::to_string(tasks.size()) + " fold models (" +
      std::to_string(missing.size()) + " training sets x " + std::to_string(folds) + " folds) on " +
      std::to_string(threads) + " threads");
  struct ThreadsRestored {
    int previous = at::get_num_threads();
    ~ThreadsRestored() { set_compute_threads(previous); }
  } threads_restored;
  set_compute_threads(1);
  std::mutex status_mutex;
  tbb::task_arena arena(threads);
  arena.execute([&] {
    tbb::parallel_for(std::size_t{0}, tasks.size(), [&](std::size_t t) {
      const Clock::time_point start = Clock::now();
      const FoldTask& task = tasks[t];
      const MemorizationRequest& request = requests[task.request];
      const std::vector<int>& fold = fold_of[task.request];
      std::vector<std::int64_t> kept;
      for (std::size_t i = 0; i < fold.size(); ++i) {
        if (fold[i] != task.fold) kept.push_back(static_cast<std::int64_t>(i));
      }
      const at::Tensor rows = torch::tensor(kept, torch::kInt64);
      const LabeledData fold_training{request.training->inputs.index_select(0, rows),
                                      request.training->labels.index_select(0, rows),
                                      request.training->num_classes};
      const std::shared_ptr<Model> model =
          train(fold_training,
                derive_seed(request.seed, "memorization/fold/" + std::to_string(task.fold)));
      probabilities[task.request][static_cast<std::size_t>(task.fold)] =
          true_class_probabilities(*model, *request.training);
      task_seconds[t] = seconds_since(start);
      if (status) {
        const std::lock_guard lock(status_mutex);
        status(request.role + ": memorization fold " + std::to_string(task.fold + 1) + "/" +
               std::to_string(folds) + " in " + fixed(task_seconds[t], 1) + " s");
      }
    });
  });

  for (std::size_t t = 0; t < tasks.size(); ++t)
    results[tasks[t].request].seconds += task_seconds[t];
  for (const std::size_t r : missing) {
    results[r].scores = memorization_from_folds(probabilities[r], fold_of[r]);
    if (!settings.cache.empty()) {
      // A cache that cannot be written (full disk, read-only folder) costs the next run
      // the fold models again, not this run its scores.
      try {
        std::filesystem::create_directories(cache_file(settings, results[r].key).parent_path());
        write_file_atomically(cache_file(settings, results[r].key),
                              format_scores(results[r].key, results[r].scores));
      } catch (const std::exception& e) {
        say("memorization: the cache was not written (" + std::string(e.what()) + ")");
      }
    }
  }
  return results;
}

}  // namespace secateurs::host
