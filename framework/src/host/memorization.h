// Memorization scores of a training set (PROTOCOL.md, section 2): a Feldman-style
// estimate from K models trained on K-fold splits. Each sample is held out of exactly one
// fold's model; its score is the mean true-class probability given by the K-1 models
// that trained on it minus the probability given by the one that did not. The estimate
// lies in [-1, 1]; defenses see it min-max normalised to [0, 1] over the training set.
//
// Fold models train in parallel TBB tasks with one LibTorch/BLAS thread each, all folds of
// all requested training sets together (the victim's and every shadow's). A result is
// stored in a cache folder under a key that hashes everything it depends on (the
// training set's bytes, the fold count, the seed and the caller's description of the
// recipe), written atomically, so a rerun or another run with the same model reads it back.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "secateurs/dataset.h"
#include "secateurs/export.h"
#include "secateurs/model.h"
#include "secateurs/params.h"

namespace secateurs::host {

struct MemorizationSettings {
  int folds = 5;
  // Where results are kept between runs; empty: no cache.
  std::filesystem::path cache = "runs/cache";
};

SECATEURS_API ParamSchema memorization_schema();
SECATEURS_API MemorizationSettings memorization_settings(const Params& params);

// Fold of every sample: stratified by label (each class dealt round-robin over the folds
// after a seeded shuffle), so every fold model sees every class in proportion.
SECATEURS_API std::vector<int> memorization_folds(const at::Tensor& labels, int folds,
                                                  std::uint64_t seed);

struct MemorizationScores {
  at::Tensor estimate;    // [N] float64 in [-1, 1]: p_y(trained on i) - p_y(held out)
  at::Tensor normalized;  // [N] float64 in [0, 1], min-max over the set (all 0 if constant)
};

// The scores from the fold models' true-class probabilities: `probabilities[k]` is the [N]
// true-class probability of fold k's model on every sample, `fold[i]` the fold that held
// sample i out.
SECATEURS_API MemorizationScores
memorization_from_folds(const std::vector<at::Tensor>& probabilities, const std::vector<int>& fold);

// One training set whose scores are wanted.
struct MemorizationRequest {
  std::string role;  // "victim", "shadow 3": for messages
  const LabeledData* training = nullptr;
  std::uint64_t seed = 0;  // folds and fold models derive their seeds from it
};

// Trains a fresh model on `training` from `seed` (the run's dense recipe) and returns it.
// Called from several threads at once.
using FoldTrainer =
    std::function<std::shared_ptr<Model>(const LabeledData& training, std::uint64_t seed)>;

struct MemorizationResult {
  MemorizationScores scores;
  bool from_cache = false;
  std::string key;     // the cache key (hexadecimal SHA-256)
  double seconds = 0;  // training and scoring of its folds (0 from the cache)
};

// Scores of every request. `recipe` describes everything the fold trainer does besides
// the data and seed (model, parameters, trainer settings); it enters the cache key.
// `threads` parallel fold trainings (0: one per core).
SECATEURS_API std::vector<MemorizationResult> compute_memorization(
    const std::vector<MemorizationRequest>& requests, const FoldTrainer& train,
    const std::string& recipe, const MemorizationSettings& settings, int threads,
    const std::function<void(const std::string&)>& status = {});

}  // namespace secateurs::host
