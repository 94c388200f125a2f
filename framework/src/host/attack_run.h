// One membership-inference experiment from a run file: the victim trained (and pruned, and
// defended) as the run file says, shadow models trained exactly the same way on the
// attacker's data (the adaptive attacker), every attack scored on the victim's members
// and non-members, and the victim's robustness to FGSM and PGD. It is what `secateurs
// attack` runs, and the measured table of docs/attacks.md.
//
// Run file: a training run (host/training_run.h; split.mode membership), optionally a
// `pruning` section as in host/pruning_run.h (victim and shadows are pruned alike), and:
//
//   shadows:
//     count: 8              # trained on random halves of the attacker's population
//     online: 8             # trained on random halves of the victim's members and
//                           #   non-members, only when an attack needs them (LiRA online)
//     population: 2000      # attacker samples no model trained on (RMIA's z)
//   attacks:
//     - {component: attack.confidence}
//     - {component: attack.lira, params: {mode: online}}
//   metrics: {bootstrap: 200, confidence: 0.95}
//   robustness:             # optional
//     epsilons: [0.01, 0.05, 0.1]
//     samples: 1000         # the first n of the victim's non-members
//     pgd_steps: 10
//   memorization: {folds: 5, cache: runs/cache}   # when the defense needs the scores
//   defense_search: {...}   # optional, see DefenseSearch
//
// A defense acts in every pruning round's fine-tuning of the victim and of every shadow.
// When it needs memorization scores, each model's training set gets its own
// (host/memorization.h); its reference data is the victim's split.reference samples, and
// the attacker's shared reference set for the shadows.
//
// Shadows: the membership plan gets `shadows` shadows in halves mode (its population P of
// 2M attacker samples, each shadow training on M of them with the victim's split, dev
// and trainer settings); online shadows split the victim's 2M evaluation samples into
// halves the same way (host::paired_halves). Each model trains in its own TBB task with one
// LibTorch and BLAS thread, from seeds derived from the run's seed and the model's role
// ("shadow/3"), so every result is the same for any number of parallel tasks. The victim
// trains with the run's own seeds, as `secateurs train` / `secateurs prune` would train
// it with --threads 1.
#pragma once

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "host/pruning_run.h"
#include "host/training_run.h"
#include "secateurs/attack.h"
#include "secateurs/export.h"
#include "secateurs/gradients.h"
#include "secateurs/metrics.h"

namespace secateurs::host {

struct AttackSettings {
  std::int64_t shadows = 8;
  std::int64_t online_shadows = 8;
  std::int64_t population = 2000;
  int bootstrap = 200;
  double confidence = 0.95;
};

struct RobustnessSettings {
  std::vector<double> epsilons;  // empty: robustness is not measured
  std::int64_t samples = 1000;
  int pgd_steps = 10;
  double pgd_step_size = 0;  // 0: 2.5 * epsilon / steps
  bool random_start = true;
  double lower = 0.0, upper = 1.0;  // the valid input range
};

// The automatic variant of a defense: its parameters searched on the defender's own
// shadow models before the victim trains (WeMeM's automatic SWMR, or any defense's). Each
// candidate of the grid trains `shadows` search models, on complementary halves of the
// victim's members (the other half is their non-members; seeds and memorization scores
// of their own), with the whole recipe: dense training, pruning schedule and the
// candidate defense. The attacker's data never informs the choice. Each is scored by its accuracy
// on its non-members and by the AUC of the confidence attack (true-class log-probability) on its
// members against its non-members, averaged over the search models. Objective "constrained": the
// most accurate candidate whose AUC is at most `auc_target` (none: the lowest AUC); "weighted": the
// largest accuracy - weight * max(0, AUC - 0.5). The choice then defends the victim and every
// shadow.
//
//   defense_search:
//     grid: {width: [0.3, 0.5], stride: [0.1, 0.2], threshold: [0.7, 0.9]}
//     auc_target: 0.55
//     shadows: 2
struct DefenseSearch {
  std::vector<Params> candidates;   // full parameter sets of the defense
  std::vector<std::string> labels;  // the grid values of each, "{width: 0.3, stride: 0.1}"
  std::string objective = "constrained";
  double auc_target = 0.55;
  double weight = 1.0;
  std::int64_t shadows = 2;
};

struct AttackRunConfig {
  TrainingRunConfig run;
  std::optional<PruningRunConfig> pruning;  // pruning->run is `run`
  AttackSettings attack;
  std::vector<ComponentChoice> attacks;
  RobustnessSettings robustness;
  MemorizationSettings memorization;  // used when the defense needs the scores
  std::optional<DefenseSearch> search;
};

// The whole run file's sections, read from `file` (problems collected there and thrown
// together). `attacks_required`: false for a recipe (the experiment graph's), whose
// attacks are nodes of their own.
SECATEURS_API AttackRunConfig read_attack_sections(RunFile& file, const Registry& registry,
                                                   bool attacks_required);

SECATEURS_API ParamSchema shadows_schema();
SECATEURS_API ParamSchema attack_metrics_schema();
SECATEURS_API ParamSchema robustness_schema();
SECATEURS_API ParamSchema defense_search_schema();

// Reads and validates an attack run file after `overrides`; throws ConfigError listing
// every problem with its file, line and key.
SECATEURS_API AttackRunConfig read_attack_run(const std::filesystem::path& path,
                                              const Registry& registry,
                                              const std::vector<std::string>& overrides = {});

// A model trained as the run file says: dense training, then the pruning schedule when
// the run has one. `seed` replaces the run's seed for every derived seed (model
// initialisation, trainer, pruner, fine-tuning), so a shadow differs from the victim in
// its data and its randomness only.
struct TrainedModel {
  std::shared_ptr<Model> model;
  FitReport fit;
  std::optional<ScheduleResult> schedule;
  NamedState dense;  // the weights before pruning (empty without pruning)
  // What the defense reported about itself after the last round (Defense::measurements).
  std::vector<std::pair<std::string, double>> defense_measurements;
  double seconds = 0;
};
// What a defense may need besides the training set: the memorization scores of exactly
// that set (when Defense::needs_memorization) and the model owner's reference data.
struct DefenseData {
  at::Tensor memorization;
  const LabeledData* reference = nullptr;
};
// train_like_victim in its two phases, for callers that keep the dense model (the
// experiment graph's train and prune nodes). `rewind` is the state a rewinding schedule
// goes back to, captured during the dense training (empty when the recipe does not rewind).
struct DenseModel {
  std::shared_ptr<Model> model;
  FitReport fit;
  std::optional<NamedState> rewind;
  double seconds = 0;
};
SECATEURS_API DenseModel train_dense(const AttackRunConfig& config, const Registry& registry,
                                     const DataShape& shape, const LabeledData& training,
                                     const LabeledData* dev, std::uint64_t seed);
// Runs the recipe's pruning schedule (and defense) on `dense.model` in place.
SECATEURS_API TrainedModel prune_dense(const AttackRunConfig& config, const Registry& registry,
                                       const DataShape& shape, DenseModel dense,
                                       const LabeledData& training, const LabeledData* dev,
                                       std::uint64_t seed, const DefenseData& defense_data = {});
SECATEURS_API TrainedModel train_like_victim(const AttackRunConfig& config,
                                             const Registry& registry, const DataShape& shape,
                                             const LabeledData& training, const LabeledData* dev,
                                             std::uint64_t seed,
                                             const DefenseData& defense_data = {});

// Accuracy of `model` on PGD examples of `data` (FGSM: one step, step size epsilon, no
// random start), batch by batch with one generator seeded from `seed`.
SECATEURS_API double robust_accuracy(Model& model, const LabeledData& data,
                                     const PgdSettings& settings, std::uint64_t seed,
                                     std::int64_t batch_size = 256);

struct AttackMetrics {
  std::string attack;            // as the run file names it, e.g. "attack.lira {mode: online}"
  double balanced_accuracy = 0;  // of the attack's own decisions
  Interval auc;
  Interval tpr_at_1pct;
  double tpr_at_01pct = 0, tpr_at_001pct = 0;
  RocCurve roc;
  AttackResult result;
  double seconds = 0;
};

struct ModelRecord {
  std::string role;  // "victim", "shadow 3", "online 1"
  std::int64_t members = 0;
  double train_accuracy = 0, test_accuracy = 0;
  double sparsity = 0;
  double seconds = 0;
  std::vector<std::pair<std::string, double>> defense_measurements;
};

// One candidate of a defense search, averaged over its search models.
struct SearchRecord {
  std::string candidate;  // the grid values
  double test_accuracy = 0;
  double auc = 0;
  double seconds = 0;  // training time of its search models, summed
  bool chosen = false;
};

struct RobustnessRecord {
  std::string model;   // "dense" or "pruned" (a run without pruning: "dense")
  std::string method;  // "fgsm", "pgd"
  double epsilon = 0;
  double accuracy = 0;
};

struct AttackRunResult {
  DataShape shape;
  at::Tensor sample_indices;  // [2M] pool positions of the victim's evaluation samples
  at::Tensor sample_labels, is_member;
  std::vector<ModelRecord> models;
  std::vector<AttackMetrics> attacks;
  std::vector<RobustnessRecord> robustness;
  // online_in[s][i] == 1 when online shadow s trained on evaluation sample i (the order
  // of sample_indices); empty without online shadows.
  std::vector<std::vector<std::uint8_t>> online_in;
  double training_seconds = 0;  // wall time of all model trainings, in parallel
  // Memorization scores: wall time (hashing the training sets for the cache keys, reading
  // the cache, training the missing folds), and how many sets were read from the cache.
  double memorization_seconds = 0;
  std::int64_t memorization_cached = 0, memorization_sets = 0;
  std::vector<SearchRecord> search;  // the defense search, when the run has one
  std::string chosen_defense;        // its choice: "defense.swmr {width: 0.3, ...}"
  double search_seconds = 0;
};

// The models of an attack run and the samples each sees. A model's role: the victim, a
// shadow (trained on a random half of the attacker's population) or an online shadow
// (trained on a random half of the victim's evaluation samples).
enum class ModelRole { Victim, Shadow, Online };
SECATEURS_API std::string role_name(ModelRole role, std::int64_t index);  // "shadow 3"

struct AttackerView {
  AttackEvaluationSet evaluation;  // the victim's members, then as many non-members
  LabeledData target;              // their examples, in that order
  // The seeded order attacks see the evaluation samples in: members first would tell a
  // careless (or dishonest) attack who is who. Results are put back in order.
  at::Tensor shuffle;
  LabeledData shadow_samples;    // the attacker's halves population
  LabeledData shadow_dev;        // the attacker's shared dev set (may be empty)
  LabeledData shadow_reference;  // the attacker's shared reference set (may be empty)
  LabeledData population;        // samples no model trained on (RMIA's z)
  // online_in[s][i] == 1 when online shadow s trains on evaluation sample i.
  std::vector<std::vector<std::uint8_t>> online_in;
};
// `online_count` online shadows' halves are drawn (0: none). Throws ConfigError when the
// attacker's data is too small for the population asked for.
SECATEURS_API AttackerView attacker_view(const AttackRunConfig& config, const RunData& run,
                                         std::int64_t online_count);

// What one model trains on, is measured on, and the seed its randomness comes from. The
// pointers point into `run` or `view`, which must outlive it.
struct RoleData {
  std::string role;
  LabeledData training;
  const LabeledData* dev = nullptr;
  LabeledData test;  // its non-members
  const LabeledData* reference = nullptr;
  std::uint64_t seed = 0;
};
SECATEURS_API RoleData role_data(const AttackRunConfig& config, const RunData& run,
                                 const AttackerView& view, ModelRole role, std::int64_t index);

// The attacks' inputs: every model's outputs on the shuffled evaluation samples and the
// population. `shadows[s]` is shadow s, `online[s]` online shadow s.
SECATEURS_API AttackInputs observe_models(Model& victim,
                                          const std::vector<std::shared_ptr<Model>>& shadows,
                                          const std::vector<std::shared_ptr<Model>>& online,
                                          const RunData& run, const AttackerView& view);

// "attack.lira {mode: online}": the component and the parameters that differ from their
// defaults. An attack's seed comes from it (attack_seed), not from its place in a list.
SECATEURS_API std::string attack_label(const ComponentChoice& choice, const Registry& registry);
SECATEURS_API std::uint64_t attack_seed(std::uint64_t run_seed, const std::string& label,
                                        std::int64_t twin = 0);
// Runs `attack` on the shuffled samples, checks its result, puts it back in order and
// measures it (with bootstrap intervals seeded from `seed`).
SECATEURS_API AttackMetrics run_one_attack(Attack& attack, const std::string& label,
                                           const AttackInputs& inputs, const AttackerView& view,
                                           const AttackSettings& settings, std::uint64_t seed);

// FGSM and PGD accuracy of `model` at every epsilon, on the first `settings.samples` of
// `test`; `label` names the model in the records ("dense", "pruned").
SECATEURS_API std::vector<RobustnessRecord> measure_robustness(
    Model& model, const std::string& label, const RobustnessSettings& settings,
    const LabeledData& test, std::uint64_t run_seed,
    const std::function<void(const std::string&)>& status = {});

SECATEURS_API double final_sparsity(const TrainedModel& trained);

struct AttackRunHooks {
  std::function<void(const std::string&)> status;
};

// Runs it; `threads` parallel trainings (0: one per core). When `output` is not empty,
// writes there (atomically each): attacks.csv, scores.csv (every sample's score and
// decision for every attack, with its membership), roc/<n>.csv per attack, models.csv,
// robustness.csv, defense.csv (each model's defense measurements), search.csv (the
// defense search), plan.txt (with the shadows' IN matrix), online.txt (the online
// shadows' IN matrix over the evaluation samples, when there are any) and summary.txt.
SECATEURS_API AttackRunResult run_attack(const AttackRunConfig& config, const Registry& registry,
                                         const std::filesystem::path& output, int threads,
                                         const AttackRunHooks& hooks = {});

SECATEURS_API std::string format_attack_summary(const AttackRunConfig& config,
                                                const AttackRunResult& result);

}  // namespace secateurs::host
