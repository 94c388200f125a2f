// The membership plan: exact sizes, the disjointness the threat model needs, balance
// (per class, and IN/OUT per sample in halves mode), determinism, the text format and
// its checks.
#include "support/doctest_torch.h"

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "host/atomic_file.h"
#include "host/membership_plan.h"
#include "secateurs/error.h"
#include "support/messages.h"
#include "support/temp_dir.h"

using namespace secateurs;
using namespace secateurs::host;
using secateurs::testing::message_of;
using secateurs::testing::TempDir;

namespace {

using Indices = std::vector<std::int64_t>;

PlanSettings settings(std::int64_t members, std::int64_t dev, std::int64_t shadows,
                      ShadowMode mode = ShadowMode::Disjoint, std::uint64_t seed = 7) {
  PlanSettings s;
  s.members = members;
  s.dev = dev;
  s.shadows = shadows;
  s.shadow_mode = mode;
  s.seed = seed;
  return s;
}

// Labels 0..9 with uneven class sizes (class c has 60 + 10 c samples), interleaved.
std::vector<std::int64_t> uneven_labels() {
  std::vector<std::int64_t> labels;
  for (std::int64_t c = 0; c < 10; ++c) labels.insert(labels.end(), 60 + 10 * c, c);
  std::vector<std::int64_t> interleaved(labels.size());
  for (std::size_t i = 0; i < labels.size(); ++i)
    interleaved[(i * 7919) % labels.size()] = labels[i];
  return interleaved;
}

bool sorted_unique(const Indices& list) {
  return std::adjacent_find(list.begin(), list.end(), std::greater_equal<>()) == list.end();
}

// Every list of `lists` sorted, within [0, pool), and no index in two of them.
void check_disjoint(const std::vector<const Indices*>& lists, std::int64_t pool) {
  std::set<std::int64_t> seen;
  std::size_t total = 0;
  for (const Indices* list : lists) {
    CHECK(sorted_unique(*list));
    for (const std::int64_t i : *list) {
      CHECK(i >= 0);
      CHECK(i < pool);
    }
    seen.insert(list->begin(), list->end());
    total += list->size();
  }
  CHECK(seen.size() == total);
}

std::vector<const Indices*> lists_of(const ModelData& data) {
  return {&data.members, &data.non_members, &data.dev, &data.reference};
}

std::vector<std::int64_t> class_counts(const Indices& list,
                                       const std::vector<std::int64_t>& labels) {
  std::vector<std::int64_t> counts(10, 0);
  for (const std::int64_t i : list)
    ++counts[static_cast<std::size_t>(labels[static_cast<std::size_t>(i)])];
  return counts;
}

}  // namespace

TEST_CASE("membership plan: disjoint shadows have exact sizes and share nothing") {
  PlanSettings s = settings(50, 10, 3);
  s.reference = 5;
  const MembershipPlan plan = make_membership_plan(s, 1000);
  REQUIRE(plan.shadows.size() == 3);
  std::vector<const Indices*> all;
  for (const ModelData* model :
       {&plan.victim, &plan.shadows[0], &plan.shadows[1], &plan.shadows[2]}) {
    CHECK(model->members.size() == 50);
    CHECK(model->non_members.size() == 50);
    CHECK(model->dev.size() == 10);
    CHECK(model->reference.size() == 5);
    for (const Indices* list : lists_of(*model)) all.push_back(list);
  }
  check_disjoint(all, 1000);
  CHECK(plan.population.empty());
  CHECK(plan.shadow_in.empty());

  // The victim's part is exactly its sets; everything the shadows use is the attacker's.
  const Indices victim = victim_pool(plan), attacker = shadow_pool(plan);
  CHECK(victim.size() == 115);
  CHECK(attacker.size() == 885);
  check_disjoint({&victim, &attacker}, 1000);
  for (const ModelData& shadow : plan.shadows) {
    for (const Indices* list : lists_of(shadow)) {
      CHECK(std::includes(attacker.begin(), attacker.end(), list->begin(), list->end()));
    }
  }
}

TEST_CASE(
    "membership plan: determined by the seed, and the victim does not depend on the shadows") {
  const PlanSettings s = settings(40, 8, 2);
  const MembershipPlan a = make_membership_plan(s, 500);
  CHECK(a == make_membership_plan(s, 500));
  PlanSettings other_seed = s;
  other_seed.seed = 8;
  const MembershipPlan b = make_membership_plan(other_seed, 500);
  CHECK(a.victim.members != b.victim.members);
  CHECK(a.shadows[1].members != b.shadows[1].members);

  CHECK(make_membership_plan(settings(40, 8, 4), 500).victim == a.victim);
  CHECK(make_membership_plan(settings(40, 8, 4, ShadowMode::Halves), 500).victim == a.victim);

  // Pinned: the same on every machine and in every later version, or saved campaigns would
  // no longer match the plans their seeds describe.
  const MembershipPlan small = make_membership_plan(settings(3, 1, 2, ShadowMode::Halves), 20);
  CHECK(format_plan(small) ==
        "secateurs-membership-plan 1\nseed 7\npool 20\nclasses 0\nmembers 3\ndev 1\n"
        "reference 0\nshadows 2\nshadow-mode halves\nstratified 0\n"
        "victim.members 2 4 14\nvictim.non_members 12 16 18\nvictim.dev 0\nvictim.reference\n"
        "shadow.population 1 5 9 11 17 19\nshadow.dev 7\nshadow.reference\n"
        "shadow.0.in 010101\nshadow.1.in 101010\nend\n");
}

TEST_CASE("membership plan: stratified sets have equal class counts") {
  const std::vector<std::int64_t> labels = uneven_labels();
  PlanSettings s = settings(45, 13, 2);
  s.stratified = true;
  const MembershipPlan plan = make_membership_plan(s, labels, 10);
  CHECK(plan.num_classes == 10);
  for (const ModelData* model : {&plan.victim, &plan.shadows[0], &plan.shadows[1]}) {
    const auto members = class_counts(model->members, labels);
    CHECK(members == class_counts(model->non_members, labels));
    CHECK(*std::max_element(members.begin(), members.end()) == 5);
    CHECK(*std::min_element(members.begin(), members.end()) == 4);
    const auto dev = class_counts(model->dev, labels);
    CHECK(*std::max_element(dev.begin(), dev.end()) == 2);
    CHECK(*std::min_element(dev.begin(), dev.end()) == 1);
  }

  // Class 0 has 60 samples; 3 models x (2 x 20 + 1) = 123 of each class are needed.
  s.members = 200;
  s.dev = 10;
  CHECK(message_of<ConfigError>([&] { make_membership_plan(s, labels, 10); }) ==
        "the stratified membership plan needs 3 x (2 x 20 + 1) = 123 samples of class 0 (the "
        "victim and 2 disjoint shadows, each with 20 members, 20 non-members and 1 dev sample), "
        "but the pool has 60 of that class; lower members, dev, reference or shadows, or use a "
        "larger pool");

  const std::vector<std::int64_t> bad = {0, 1, 2, 10};
  CHECK(message_of<ConfigError>([&] { make_membership_plan(s, bad, 10); }) ==
        "membership plan: label 10 of sample 3 is outside [0, 10)");
  CHECK(message_of<ConfigError>([&] { make_membership_plan(s, 100); }) ==
        "membership plan: a stratified plan needs the pool's labels");
}

TEST_CASE("membership plan: halves mode balances IN and OUT for every sample") {
  PlanSettings s = settings(30, 7, 6, ShadowMode::Halves);
  s.reference = 3;
  const MembershipPlan plan = make_membership_plan(s, 300);
  REQUIRE(plan.shadows.size() == 6);
  REQUIRE(plan.population.size() == 60);
  REQUIRE(plan.shadow_in.size() == 6);
  const Indices& dev = plan.shadows[0].dev;
  const Indices& reference = plan.shadows[0].reference;
  CHECK(dev.size() == 7);
  CHECK(reference.size() == 3);
  std::vector<const Indices*> all = lists_of(plan.victim);
  for (const Indices* list : {&plan.population, &dev, &reference}) all.push_back(list);
  check_disjoint(all, 300);

  std::vector<int> in_count(plan.population.size(), 0);
  for (std::size_t k = 0; k < plan.shadows.size(); ++k) {
    const ModelData& shadow = plan.shadows[k];
    CHECK(shadow.members.size() == 30);
    CHECK(shadow.non_members.size() == 30);
    CHECK(shadow.dev == dev);
    CHECK(shadow.reference == reference);
    Indices both;
    std::merge(shadow.members.begin(), shadow.members.end(), shadow.non_members.begin(),
               shadow.non_members.end(), std::back_inserter(both));
    CHECK(both == plan.population);
    for (std::size_t j = 0; j < plan.population.size(); ++j) {
      const bool in = plan.shadow_in[k][j] == 1;
      in_count[j] += in;
      CHECK(in ==
            std::binary_search(shadow.members.begin(), shadow.members.end(), plan.population[j]));
    }
  }
  CHECK(std::all_of(in_count.begin(), in_count.end(), [](int n) { return n == 3; }));
  // Different pairs draw different halves.
  CHECK(plan.shadows[0].members != plan.shadows[2].members);

  const at::Tensor matrix = shadow_in_matrix(plan);
  CHECK(matrix.sizes().vec() == std::vector<std::int64_t>{6, 60});
  CHECK(matrix.sum(0).eq(3).all().item<bool>());
  CHECK(matrix.sum(1).eq(30).all().item<bool>());
}

TEST_CASE("membership plan: halves mode with an odd count and with stratification") {
  const MembershipPlan odd = make_membership_plan(settings(20, 0, 3, ShadowMode::Halves), 200);
  for (std::size_t j = 0; j < odd.population.size(); ++j) {
    const int in = odd.shadow_in[0][j] + odd.shadow_in[1][j] + odd.shadow_in[2][j];
    CHECK((in == 1 || in == 2));
  }
  for (const ModelData& shadow : odd.shadows) CHECK(shadow.members.size() == 20);

  const std::vector<std::int64_t> labels = uneven_labels();
  PlanSettings s = settings(25, 10, 4, ShadowMode::Halves);
  s.stratified = true;
  const MembershipPlan plan = make_membership_plan(s, labels, 10);
  const auto victim_counts = class_counts(plan.victim.members, labels);
  for (const ModelData& shadow : plan.shadows) {
    CHECK(class_counts(shadow.members, labels) == victim_counts);
    CHECK(class_counts(shadow.non_members, labels) == victim_counts);
  }
}

TEST_CASE("membership plan: a pool too small says what is needed and what there is") {
  CHECK(message_of<ConfigError>([] { make_membership_plan(settings(1000, 200, 2), 5000); }) ==
        "the membership plan needs 3 x (2 x 1000 + 200) = 6600 samples (the victim and 2 "
        "disjoint shadows, each with 1000 members, 1000 non-members and 200 dev samples), but the "
        "pool has 5000; lower members, dev, reference or shadows, or use a larger pool");
  PlanSettings s = settings(1000, 200, 4, ShadowMode::Halves);
  s.reference = 50;
  CHECK(message_of<ConfigError>([&] { make_membership_plan(s, 4000); }) ==
        "the membership plan needs 2 x (2 x 1000 + 200 + 50) = 4500 samples (the victim's 1000 "
        "members, 1000 non-members, 200 dev samples and 50 reference samples, and as many for 4 "
        "shadows "
        "in halves mode: a population of 2 x 1000 that each shadow trains half of, a shared dev "
        "set of 200 and a shared reference set of 50), but the pool has 4000; lower members, "
        "dev, reference or shadows, or use a larger pool");
  CHECK(message_of<ConfigError>([] { make_membership_plan(settings(10, 0, 0), 15); }) ==
        "the membership plan needs 1 x (2 x 10 + 0) = 20 samples (the victim's 10 members, 10 "
        "non-members and 0 dev samples), but the pool has 15; lower members, dev, reference or "
        "shadows, or use a larger pool");
  CHECK(message_of<ConfigError>([] { make_membership_plan(settings(0, 0, 0), 15); }) ==
        "membership plan: members must be in [1, 1099511627776], got 0");
  CHECK(message_of<ConfigError>([] { make_membership_plan(settings(1, -1, 0), 15); }) ==
        "membership plan: dev must be in [0, 1099511627776], got -1");
}

TEST_CASE("membership plan: the attack's evaluation set is members then non-members") {
  const MembershipPlan plan = make_membership_plan(settings(4, 2, 0), 30);
  const AttackEvaluationSet set = victim_evaluation_set(plan);
  REQUIRE(set.indices.sizes().vec() == std::vector<std::int64_t>{8});
  CHECK((set.indices.scalar_type() == at::kLong));
  CHECK((set.is_member.scalar_type() == at::kBool));
  Indices expected = plan.victim.members;
  expected.insert(expected.end(), plan.victim.non_members.begin(), plan.victim.non_members.end());
  for (std::size_t i = 0; i < 8; ++i) {
    CHECK(set.indices[static_cast<std::int64_t>(i)].item<std::int64_t>() == expected[i]);
    CHECK(set.is_member[static_cast<std::int64_t>(i)].item<bool>() == (i < 4));
  }
  CHECK(index_tensor(plan.victim.dev).sizes().vec() == std::vector<std::int64_t>{2});
}

TEST_CASE("membership plan: save and load give the same plan, in both modes") {
  TempDir dir;
  const std::vector<std::int64_t> labels = uneven_labels();
  PlanSettings halves = settings(25, 10, 4, ShadowMode::Halves, 123456789012345ull);
  halves.stratified = true;
  halves.reference = 2;
  for (const MembershipPlan& plan :
       {make_membership_plan(settings(30, 5, 2), 400), make_membership_plan(settings(30, 0, 0), 60),
        make_membership_plan(halves, labels, 10)}) {
    save_plan(dir / "plan.txt", plan);
    CHECK(load_plan(dir / "plan.txt") == plan);
  }
  const std::string text = read_file(dir / "plan.txt");
  CHECK(text.starts_with(
      "secateurs-membership-plan 1\nseed 123456789012345\npool 1050\nclasses 10\nmembers 25\n"
      "dev 10\nreference 2\nshadows 4\nshadow-mode halves\nstratified 1\nvictim.members "));
  CHECK(text.ends_with("\nend\n"));
}

TEST_CASE("membership plan: a damaged plan file is refused with file and line") {
  TempDir dir;
  const auto path = dir / "plan.txt";
  const MembershipPlan plan = make_membership_plan(settings(3, 1, 2), 30);
  const std::string good = format_plan(plan);
  // The line of the file that starts with `key`, and the text with that line replaced.
  auto with_line = [&](const std::string& key, const std::string& line) {
    const std::size_t start = good.find("\n" + key + " ") + 1;
    const std::size_t end = good.find('\n', start);
    return good.substr(0, start) + line + good.substr(end);
  };
  auto error = [&](const std::string& text) {
    write_file_atomically(path, text);
    return message_of<DataError>([&] { load_plan(path); });
  };
  const std::string where = path.string() + ", line ";
  const auto& v = plan.victim;
  const std::string members = std::to_string(v.members[0]) + " " + std::to_string(v.members[1]);

  CHECK(error("hello\n") == where +
                                "1: expected 'secateurs-membership-plan 1', found 'hello'; "
                                "this is not a membership plan");
  CHECK(error("secateurs-membership-plan 2\n") ==
        where +
            "1: expected 'secateurs-membership-plan 1', found 'secateurs-membership-plan 2'; "
            "this build reads version 1");
  CHECK(error(good.substr(0, good.size() - 4)) ==
        path.string() + ": truncated: the file ends before line 23 is complete");
  CHECK(error(good + "more\n") == path.string() + ": unexpected text after the 'end' line 23");
  CHECK(error(with_line("members", "members x")) ==
        where + "5: expected 'members <number>', found 'members x'");
  CHECK(error(with_line("shadow-mode", "shadow-mode pairs")) ==
        where + "9: shadow-mode must be 'disjoint' or 'halves', found 'pairs'");
  CHECK(error(with_line("victim.members", "victim.members " + members)) ==
        where + "11: victim.members has 2 indices, expected 3");
  CHECK(error(with_line("victim.members", "victim.members " + members + " 30")) ==
        where + "11: victim.members: index 30 is outside the pool [0, 30)");
  CHECK(error(with_line("victim.members", "victim.members " + members + " 0x")) ==
        where + "11: victim.members: '0x' is not an index");
  CHECK(error(with_line("victim.members", "victim.members " + std::to_string(v.members[1]) + " " +
                                              std::to_string(v.members[0]) + " " +
                                              std::to_string(v.members[2]))) ==
        where + "11: victim.members: index " + std::to_string(v.members[0]) + " after " +
            std::to_string(v.members[1]) + "; indices must be strictly ascending");

  // A shadow's dev sample that is also the victim's.
  CHECK(error(with_line("shadow.1.dev", "shadow.1.dev " + std::to_string(v.dev[0]))) ==
        where + "21: shadow.1.dev shares index " + std::to_string(v.dev[0]) +
            " with victim.dev (line 13); the plan's sets must be disjoint");
}

TEST_CASE("membership plan: a damaged IN matrix is refused") {
  TempDir dir;
  const auto path = dir / "plan.txt";
  const MembershipPlan plan = make_membership_plan(settings(2, 0, 2, ShadowMode::Halves), 20);
  std::string text = format_plan(plan);
  const std::size_t row = text.find("shadow.0.in ") + 12;
  text.replace(row, 4, text[row] == '1' ? "0000" : "1111");
  write_file_atomically(path, text);
  CHECK(message_of<DataError>([&] { load_plan(path); }) ==
        path.string() + ", line 18: shadow.0.in puts " + (text[row] == '1' ? "4" : "0") +
            " samples IN, expected 2 (members)");
  text.replace(row, 4, "01x1");
  write_file_atomically(path, text);
  CHECK(message_of<DataError>([&] { load_plan(path); }) ==
        path.string() +
            ", line 18: shadow.0.in must be 4 characters 0 or 1 (one per population sample), "
            "found '01x1'");
}

TEST_CASE("paired halves: each pair splits every group in complementary halves") {
  // 3 groups of 6, 4 and 8 positions, interleaved.
  std::vector<std::int64_t> groups;
  for (int i = 0; i < 18; ++i) groups.push_back(i < 6 ? 0 : (i < 10 ? 1 : 2));
  std::reverse(groups.begin(), groups.end());
  const auto in = paired_halves(groups, 5, 11);
  REQUIRE(in.size() == 5);
  for (std::size_t s = 0; s < in.size(); ++s) {
    REQUIRE(in[s].size() == groups.size());
    std::vector<int> per_group(3, 0);
    for (std::size_t j = 0; j < groups.size(); ++j) per_group[groups[j]] += in[s][j];
    CHECK(per_group == std::vector<int>{3, 2, 4});  // half of each group
  }
  for (std::size_t j = 0; j < groups.size(); ++j) {
    CHECK(in[0][j] + in[1][j] == 1);  // a pair: complementary
    CHECK(in[2][j] + in[3][j] == 1);
  }
  CHECK(in[0] != in[2]);  // pairs are drawn independently
  CHECK(paired_halves(groups, 5, 11) == in);
  CHECK(paired_halves(groups, 5, 12) != in);
  CHECK(message_of<ConfigError>([&] { paired_halves(groups, -1, 1); }).find("shadows") !=
        std::string::npos);
}
