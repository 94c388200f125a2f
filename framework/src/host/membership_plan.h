// The membership plan: which samples of the data pool each model trains on, which it
// never sees, and which it uses for early stopping. Everything a membership-inference
// experiment measures depends on these sets being right, so they are decided once, from
// one seed, checked, and saved next to the results.
//
// Layout (PROTOCOL.md sections 2 and 4). The pool is split into a victim part and a
// disjoint attacker part, because the attacker's shadow models train on data disjoint
// from the victim's. The victim gets members (M, trained on), non-members (M, never
// trained on; with the members they form the attack's evaluation set), dev samples (D,
// early stopping) and reference samples (R, the defender's own non-member data for
// defenses such as adversarial regularization; 0 by default), all pairwise disjoint.
// The victim part is exactly these 2M + D + R samples; the rest of the pool belongs to the
// attacker. Shadows come from the attacker's part in one of two modes:
//   disjoint: each shadow gets its own members, non-members, dev and reference samples,
//             like the victim, disjoint from every other shadow's;
//   halves:   (LiRA / RMIA) a shared population P of 2M samples; each shadow trains on
//             a half of P and its non-members are the other half; one dev set and one
//             reference set, disjoint from P, serve all shadows. Shadows are assigned in
//             pairs: a random permutation of P gives shadow 2k the first half and shadow
//             2k+1 the second, so each shadow trains on exactly M samples and, for an
//             even S, each sample of P is IN for exactly S/2 shadows (one of each pair).
//             With an odd S the last shadow gets a random half alone, so a sample is IN
//             for (S-1)/2 or (S+1)/2 shadows. Pairs are independent of each other.
// Stratified plans draw every set with equal counts per class (n/C each, the n mod C
// extra samples to the same randomly chosen classes for every set of size n), so members
// and non-members have the same class counts; in halves mode each shadow's half of P is
// balanced per class too. A pool without enough samples of a class is an error.
//
// Determinism: a std::mt19937_64 seeded with `seed`, our own unbiased bounded draws and
// Fisher-Yates shuffles (std::uniform_int_distribution and torch::randperm differ between
// standard libraries and LibTorch versions), so the same settings and pool give the same
// plan on every machine. The draws are ordered so that the victim's sets depend only on
// the seed, M, D, R, stratification and the pool: adding shadows never changes the victim.
//
// Index lists are int64 positions into the pool, sorted ascending.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "secateurs/export.h"

namespace secateurs::host {

enum class ShadowMode { Disjoint, Halves };

struct PlanSettings {
  std::int64_t members = 0;    // M, per model
  std::int64_t dev = 0;        // D, per model (one shared set for all shadows in halves mode)
  std::int64_t reference = 0;  // R, per model (shared like dev in halves mode)
  std::int64_t shadows = 0;    // S
  ShadowMode shadow_mode = ShadowMode::Disjoint;
  bool stratified = false;
  std::uint64_t seed = 0;

  bool operator==(const PlanSettings&) const = default;
};

// One model's data, each list sorted ascending.
struct ModelData {
  std::vector<std::int64_t> members;
  std::vector<std::int64_t> non_members;
  std::vector<std::int64_t> dev;
  std::vector<std::int64_t> reference;

  bool operator==(const ModelData&) const = default;
};

struct MembershipPlan {
  PlanSettings settings;
  std::int64_t pool_size = 0;
  std::int64_t num_classes = 0;  // of a stratified plan; 0 otherwise
  ModelData victim;
  // S entries in either mode. In halves mode members/non-members are the IN/OUT halves
  // of `population`, and dev/reference are the shared sets (copies).
  std::vector<ModelData> shadows;
  // Halves mode only: P, sorted, and shadow_in[s][j] == 1 when shadow s trains on
  // population[j] (0 or 1).
  std::vector<std::int64_t> population;
  std::vector<std::vector<std::uint8_t>> shadow_in;

  bool operator==(const MembershipPlan&) const = default;
};

// A plan for a pool of `pool_size` samples; settings.stratified must be false. Throws
// ConfigError for invalid settings and when the pool is too small (saying how many
// samples the settings need, with the arithmetic, and how many there are).
SECATEURS_API MembershipPlan make_membership_plan(const PlanSettings& settings,
                                                  std::int64_t pool_size);

// A plan for a pool with these labels (each in [0, num_classes)), stratified or not.
// A stratified plan needs enough samples of every class; the error names the class.
SECATEURS_API MembershipPlan make_membership_plan(const PlanSettings& settings,
                                                  std::span<const std::int64_t> labels,
                                                  std::int64_t num_classes);
// The same for labels as an int64 tensor [N] (e.g. LabeledData::labels).
SECATEURS_API MembershipPlan make_membership_plan(const PlanSettings& settings,
                                                  const at::Tensor& labels,
                                                  std::int64_t num_classes);

// The victim's part of the pool (every index of plan.victim) and the attacker's part
// (every other index), sorted; disjoint, and together the whole pool.
SECATEURS_API std::vector<std::int64_t> victim_pool(const MembershipPlan& plan);
SECATEURS_API std::vector<std::int64_t> shadow_pool(const MembershipPlan& plan);

// Text format, version 1: one item a line, in this order, numbers in decimal, lists as
// "<name>" followed by " <index>" for each element (an empty list is the name alone).
//   secateurs-membership-plan 1
//   seed <u64>
//   pool <N>
//   classes <C>                    0 when not stratified
//   members <M>
//   dev <D>
//   reference <R>
//   shadows <S>
//   shadow-mode disjoint|halves
//   stratified 0|1
//   victim.members ...   victim.non_members ...   victim.dev ...   victim.reference ...
//   disjoint mode, for s = 0..S-1:
//     shadow.<s>.members ...   shadow.<s>.non_members ...   shadow.<s>.dev ...
//     shadow.<s>.reference ...
//   halves mode:
//     shadow.population ...   shadow.dev ...   shadow.reference ...
//     shadow.<s>.in <|P| characters 0 or 1, the s-th row of shadow_in>   for s = 0..S-1
//   end
SECATEURS_API std::string format_plan(const MembershipPlan& plan);

// Parses format_plan's text and checks that it is a consistent plan: sizes as the header
// says, indices in [0, pool), each list strictly ascending, all lists pairwise disjoint,
// each shadow's half of P of size M. (Class balance is not checked: the labels are not in
// the file.) Throws DataError naming `source` and the line.
SECATEURS_API MembershipPlan parse_plan(std::string_view text, const std::string& source);

// format_plan written with write_file_atomically; parse_plan of the file's content.
SECATEURS_API void save_plan(const std::filesystem::path& path, const MembershipPlan& plan);
SECATEURS_API MembershipPlan load_plan(const std::filesystem::path& path);

// The samples an attack is scored on and the truth about them.
struct AttackEvaluationSet {
  at::Tensor indices;    // int64 [2M]: the members (ascending), then the non-members
  at::Tensor is_member;  // bool [2M]
};

SECATEURS_API AttackEvaluationSet evaluation_set(const ModelData& data);
SECATEURS_API AttackEvaluationSet victim_evaluation_set(const MembershipPlan& plan);

// An int64 tensor [n] holding `indices`, for index_select on the pool's tensors.
SECATEURS_API at::Tensor index_tensor(std::span<const std::int64_t> indices);

// Random halves of a population for `shadows` models, paired as in halves mode: position
// j of the population belongs to group groups[j] (its class, or 0 for all); each pair
// draws a random order of every group, its first model takes the first floor(n_g / 2)
// and its second model the rest, so each model's half has every group's share. Row s,
// column j is 1 when model s trains on position j. Deterministic in `seed`. Used for
// shadows that train on halves of the target's own samples (LiRA and RMIA online).
SECATEURS_API std::vector<std::vector<std::uint8_t>> paired_halves(
    std::span<const std::int64_t> groups, std::int64_t shadows, std::uint64_t seed);

// shadow_in as a bool tensor [S, |P|] (halves mode; [S, 0] in disjoint mode).
SECATEURS_API at::Tensor shadow_in_matrix(const MembershipPlan& plan);

}  // namespace secateurs::host
