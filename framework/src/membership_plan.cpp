#include "host/membership_plan.h"

#include <ATen/ops/empty.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <limits>
#include <random>

#include "host/atomic_file.h"
#include "host/line_reader.h"
#include "secateurs/error.h"

namespace secateurs::host {
namespace {

constexpr std::string_view kMagic = "secateurs-membership-plan 1";

// Bounds that keep every count of the arithmetic below far from int64 overflow.
constexpr std::int64_t kMaxSetSize = std::int64_t{1} << 40;
constexpr std::int64_t kMaxShadows = 1'000'000;

using Indices = std::vector<std::int64_t>;

// The plan's only source of randomness; see the header for why not the standard
// distributions or torch::randperm.
class Draws {
 public:
  explicit Draws(std::uint64_t seed) : engine_(seed) {}

  // Uniform in [0, n) for n > 0: draws below 2^64 mod n are rejected, which leaves a
  // range whose length is a multiple of n, so the remainder has no bias.
  std::uint64_t below(std::uint64_t n) {
    const std::uint64_t threshold = (0 - n) % n;
    for (;;) {
      const std::uint64_t x = engine_();
      if (x >= threshold) return x % n;
    }
  }

  // Fisher-Yates.
  template <class T>
  void shuffle(std::vector<T>& items) {
    for (std::size_t i = items.size(); i > 1; --i) std::swap(items[i - 1], items[below(i)]);
  }

 private:
  std::mt19937_64 engine_;
};

// The pool as groups (one per class when stratified, else one), each shuffled once and
// then dealt out from the front, so every set drawn is a uniform sample of what is left.
class Dealer {
 public:
  Dealer(std::vector<Indices> groups, std::vector<std::size_t> extra_rank)
      : groups_(std::move(groups)), extra_rank_(std::move(extra_rank)), next_(groups_.size()) {}

  std::size_t group_count() const { return groups_.size(); }
  std::int64_t group_size(std::size_t g) const {
    return static_cast<std::int64_t>(groups_[g].size());
  }

  // How many of a set of n come from each group: n / G each, plus one for the n mod G
  // groups ranked first.
  std::vector<std::int64_t> quota(std::int64_t n) const {
    const auto count = static_cast<std::int64_t>(groups_.size());
    std::vector<std::int64_t> result(groups_.size(), n / count);
    for (std::size_t g = 0; g < groups_.size(); ++g) {
      if (static_cast<std::int64_t>(extra_rank_[g]) < n % count) ++result[g];
    }
    return result;
  }

  std::vector<Indices> deal_per_group(const std::vector<std::int64_t>& counts) {
    std::vector<Indices> dealt(groups_.size());
    for (std::size_t g = 0; g < groups_.size(); ++g) {
      const auto first = groups_[g].begin() + static_cast<std::ptrdiff_t>(next_[g]);
      dealt[g].assign(first, first + counts[g]);
      next_[g] += static_cast<std::size_t>(counts[g]);
    }
    return dealt;
  }

  Indices deal(std::int64_t n) { return flatten(deal_per_group(quota(n))); }

  static Indices flatten(const std::vector<Indices>& parts) {
    Indices all;
    for (const Indices& part : parts) all.insert(all.end(), part.begin(), part.end());
    std::sort(all.begin(), all.end());
    return all;
  }

 private:
  std::vector<Indices> groups_;
  std::vector<std::size_t> extra_rank_;
  std::vector<std::size_t> next_;
};

void check_settings(const PlanSettings& settings) {
  auto check = [](std::int64_t value, std::int64_t low, std::int64_t high, const char* name) {
    if (value < low || value > high) {
      throw ConfigError("membership plan: " + std::string(name) + " must be in [" +
                        std::to_string(low) + ", " + std::to_string(high) + "], got " +
                        std::to_string(value));
    }
  };
  check(settings.members, 1, kMaxSetSize, "members");
  check(settings.dev, 0, kMaxSetSize, "dev");
  check(settings.reference, 0, kMaxSetSize, "reference");
  check(settings.shadows, 0, kMaxShadows, "shadows");
}

// Throws ConfigError when a group cannot supply the plan: says what the settings need,
// with the arithmetic, and what there is.
void check_supply(const PlanSettings& settings, const Dealer& dealer, bool stratified) {
  const std::vector<std::int64_t> m = dealer.quota(settings.members);
  const std::vector<std::int64_t> d = dealer.quota(settings.dev);
  const std::vector<std::int64_t> r = dealer.quota(settings.reference);
  const bool halves = settings.shadow_mode == ShadowMode::Halves;
  const std::int64_t s = settings.shadows;
  // Either mode takes the victim's 2M + D + R once more for each disjoint shadow, or once
  // for all the shadows of halves mode (P = 2M, a shared dev and reference set).
  const std::int64_t copies = halves ? (s > 0 ? 2 : 1) : 1 + s;
  for (std::size_t g = 0; g < dealer.group_count(); ++g) {
    const std::int64_t per_copy = 2 * m[g] + d[g] + r[g];
    const std::int64_t needed = copies * per_copy;
    if (needed <= dealer.group_size(g)) continue;

    auto counted = [](std::int64_t n, const std::string& noun) {
      return std::to_string(n) + " " + noun + (n == 1 ? "" : "s");
    };
    const bool reference = settings.reference > 0;
    const std::string sets = counted(m[g], "member") + ", " + counted(m[g], "non-member") +
                             (reference ? ", " : " and ") + counted(d[g], "dev sample") +
                             (reference ? " and " + counted(r[g], "reference sample") : "");
    const std::string sum = "2 x " + std::to_string(m[g]) + " + " + std::to_string(d[g]) +
                            (reference ? " + " + std::to_string(r[g]) : "");
    std::string why;
    if (s == 0) {
      why = "the victim's " + sets;
    } else if (!halves) {
      why = "the victim and " + std::to_string(s) + " disjoint shadow" + (s == 1 ? "" : "s") +
            ", each with " + sets;
    } else {
      why = "the victim's " + sets + ", and as many for " + counted(s, "shadow") +
            " in halves mode: a population of 2 x " + std::to_string(m[g]) +
            " that each shadow trains half of, a shared dev set of " + std::to_string(d[g]) +
            (reference ? " and a shared reference set of " + std::to_string(r[g]) : "");
    }
    const std::string what = std::to_string(copies) + " x (" + sum +
                             ") = " + std::to_string(needed) + " samples" +
                             (stratified ? " of class " + std::to_string(g) : std::string());
    throw ConfigError("the " + std::string(stratified ? "stratified " : "") +
                      "membership plan needs " + what + " (" + why + "), but the pool has " +
                      std::to_string(dealer.group_size(g)) +
                      (stratified ? " of that class" : std::string()) +
                      "; lower members, dev, reference or shadows, or use a larger pool");
  }
}

ModelData deal_model(Dealer& dealer, const PlanSettings& settings) {
  ModelData data;
  data.members = dealer.deal(settings.members);
  data.non_members = dealer.deal(settings.members);
  data.dev = dealer.deal(settings.dev);
  data.reference = dealer.deal(settings.reference);
  return data;
}

// The IN matrix of paired shadows: for each pair, every group's columns in a random order,
// the first half[g] to the pair's first shadow and the rest to the second (when there is
// one).
std::vector<std::vector<std::uint8_t>> split_in_pairs(const std::vector<Indices>& columns,
                                                      const std::vector<std::int64_t>& half,
                                                      std::size_t shadows, std::size_t width,
                                                      Draws& draws) {
  std::vector<std::vector<std::uint8_t>> in(shadows, std::vector<std::uint8_t>(width, 0));
  for (std::size_t first = 0; first < shadows; first += 2) {
    for (std::size_t g = 0; g < columns.size(); ++g) {
      Indices order = columns[g];
      draws.shuffle(order);
      for (std::size_t k = 0; k < order.size(); ++k) {
        if (static_cast<std::int64_t>(k) < half[g]) {
          in[first][static_cast<std::size_t>(order[k])] = 1;
        } else if (first + 1 < shadows) {
          in[first + 1][static_cast<std::size_t>(order[k])] = 1;
        }
      }
    }
  }
  return in;
}

// Halves mode: see the header. The IN/OUT split of each pair is drawn per group, so each
// half of a stratified population has every class's quota.
void deal_halves(Dealer& dealer, Draws& draws, MembershipPlan& plan) {
  const PlanSettings& settings = plan.settings;
  std::vector<std::int64_t> m = dealer.quota(settings.members);
  std::vector<std::int64_t> doubled(m.size());
  for (std::size_t g = 0; g < m.size(); ++g) doubled[g] = 2 * m[g];
  const std::vector<Indices> population = dealer.deal_per_group(doubled);
  plan.population = Dealer::flatten(population);
  const Indices dev = dealer.deal(settings.dev);
  const Indices reference = dealer.deal(settings.reference);

  // Each group's columns of the IN matrix: positions in the sorted population.
  std::vector<Indices> columns(population.size());
  for (std::size_t g = 0; g < population.size(); ++g) {
    for (const std::int64_t index : population[g]) {
      columns[g].push_back(std::lower_bound(plan.population.begin(), plan.population.end(), index) -
                           plan.population.begin());
    }
    std::sort(columns[g].begin(), columns[g].end());
  }

  const auto shadows = static_cast<std::size_t>(settings.shadows);
  plan.shadow_in = split_in_pairs(columns, m, shadows, plan.population.size(), draws);

  for (std::size_t s = 0; s < shadows; ++s) {
    ModelData data;
    for (std::size_t j = 0; j < plan.population.size(); ++j) {
      (plan.shadow_in[s][j] ? data.members : data.non_members).push_back(plan.population[j]);
    }
    data.dev = dev;
    data.reference = reference;
    plan.shadows.push_back(std::move(data));
  }
}

MembershipPlan build_plan(const PlanSettings& settings, std::int64_t pool_size,
                          std::span<const std::int64_t> labels, std::int64_t num_classes) {
  check_settings(settings);
  if (pool_size < 0) {
    throw ConfigError("membership plan: the pool size must not be negative, got " +
                      std::to_string(pool_size));
  }
  Draws draws(settings.seed);

  std::vector<Indices> groups;
  std::vector<std::size_t> extra_rank;
  if (settings.stratified) {
    groups.resize(static_cast<std::size_t>(num_classes));
    for (std::int64_t i = 0; i < pool_size; ++i) {
      groups[static_cast<std::size_t>(labels[static_cast<std::size_t>(i)])].push_back(i);
    }
    // Which classes get the extra sample when a set's size is not a multiple of C: the
    // first n mod C of a random order of the classes.
    Indices order(groups.size());
    for (std::size_t c = 0; c < order.size(); ++c) order[c] = static_cast<std::int64_t>(c);
    draws.shuffle(order);
    extra_rank.resize(groups.size());
    for (std::size_t rank = 0; rank < order.size(); ++rank) {
      extra_rank[static_cast<std::size_t>(order[rank])] = rank;
    }
  } else {
    groups.emplace_back(static_cast<std::size_t>(pool_size));
    for (std::int64_t i = 0; i < pool_size; ++i) groups[0][static_cast<std::size_t>(i)] = i;
    extra_rank = {0};
  }
  for (Indices& group : groups) draws.shuffle(group);

  Dealer dealer(std::move(groups), std::move(extra_rank));
  check_supply(settings, dealer, settings.stratified);

  MembershipPlan plan;
  plan.settings = settings;
  plan.pool_size = pool_size;
  plan.num_classes = settings.stratified ? num_classes : 0;
  plan.victim = deal_model(dealer, settings);
  if (settings.shadow_mode == ShadowMode::Disjoint) {
    for (std::int64_t s = 0; s < settings.shadows; ++s) {
      plan.shadows.push_back(deal_model(dealer, settings));
    }
  } else if (settings.shadows > 0) {
    deal_halves(dealer, draws, plan);
  }
  return plan;
}

// ---- text format ----

void append_list(std::string& out, std::string_view name, const Indices& indices) {
  out += name;
  char buffer[24];
  for (const std::int64_t index : indices) {
    const auto end = std::to_chars(buffer, buffer + sizeof buffer, index).ptr;
    out += ' ';
    out.append(buffer, end);
  }
  out += '\n';
}

// One parsed list, remembered for the disjointness check.
struct ListOrigin {
  std::string name;
  int line;
};

class PlanParser {
 public:
  PlanParser(std::string_view text, const std::string& source) : reader_(text, source) {}

  MembershipPlan parse() {
    const std::string_view first = reader_.next();
    if (first != kMagic) {
      reader_.fail("expected '" + std::string(kMagic) + "', found " + quoted_excerpt(first) +
                   (first.starts_with("secateurs-membership-plan ")
                        ? "; this build reads version 1"
                        : "; this is not a membership plan"));
    }
    MembershipPlan plan;
    PlanSettings& settings = plan.settings;
    settings.seed = reader_.number("seed");
    plan.pool_size = count("pool", 0, std::numeric_limits<std::int64_t>::max());
    plan.num_classes = count("classes", 0, std::numeric_limits<std::int64_t>::max());
    settings.members = count("members", 1, kMaxSetSize);
    settings.dev = count("dev", 0, kMaxSetSize);
    settings.reference = count("reference", 0, kMaxSetSize);
    settings.shadows = count("shadows", 0, kMaxShadows);
    const std::string_view mode = reader_.keyed("shadow-mode");
    if (mode == "disjoint") {
      settings.shadow_mode = ShadowMode::Disjoint;
    } else if (mode == "halves") {
      settings.shadow_mode = ShadowMode::Halves;
    } else {
      reader_.fail("shadow-mode must be 'disjoint' or 'halves', found " + quoted_excerpt(mode));
    }
    settings.stratified = count("stratified", 0, 1) == 1;
    if (settings.stratified != (plan.num_classes > 0)) {
      reader_.fail(settings.stratified ? "a stratified plan needs classes > 0"
                                       : "classes must be 0 when the plan is not stratified");
    }

    const std::int64_t m = settings.members;
    plan.victim = model("victim", m, settings.dev, settings.reference, plan.pool_size);
    if (settings.shadow_mode == ShadowMode::Disjoint) {
      for (std::int64_t s = 0; s < settings.shadows; ++s) {
        plan.shadows.push_back(model("shadow." + std::to_string(s), m, settings.dev,
                                     settings.reference, plan.pool_size));
      }
    } else if (settings.shadows > 0) {
      plan.population = list("shadow.population", 2 * m, plan.pool_size);
      const Indices dev = list("shadow.dev", settings.dev, plan.pool_size);
      const Indices reference = list("shadow.reference", settings.reference, plan.pool_size);
      for (std::int64_t s = 0; s < settings.shadows; ++s) {
        plan.shadow_in.push_back(in_row(s, plan.population.size(), m));
        ModelData data;
        for (std::size_t j = 0; j < plan.population.size(); ++j) {
          (plan.shadow_in.back()[j] ? data.members : data.non_members)
              .push_back(plan.population[j]);
        }
        data.dev = dev;
        data.reference = reference;
        plan.shadows.push_back(std::move(data));
      }
    }
    if (reader_.next() != "end") reader_.fail("expected 'end'");
    if (!reader_.at_end()) {
      throw DataError(reader_.source() + ": unexpected text after the 'end' line " +
                      std::to_string(reader_.line_number()));
    }
    check_disjoint();
    return plan;
  }

 private:
  std::int64_t count(std::string_view key, std::int64_t low, std::int64_t high) {
    const std::uint64_t value = reader_.number(key);
    if (value < static_cast<std::uint64_t>(low) || value > static_cast<std::uint64_t>(high)) {
      reader_.fail(std::string(key) + " must be in [" + std::to_string(low) + ", " +
                   std::to_string(high) + "], found " + std::to_string(value));
    }
    return static_cast<std::int64_t>(value);
  }

  ModelData model(const std::string& prefix, std::int64_t members, std::int64_t dev,
                  std::int64_t reference, std::int64_t pool) {
    ModelData data;
    data.members = list(prefix + ".members", members, pool);
    data.non_members = list(prefix + ".non_members", members, pool);
    data.dev = list(prefix + ".dev", dev, pool);
    data.reference = list(prefix + ".reference", reference, pool);
    return data;
  }

  // "<name> i j k ...": `size` indices, strictly ascending, each in [0, pool).
  Indices list(const std::string& name, std::int64_t size, std::int64_t pool) {
    const std::string_view text = reader_.keyed(name, /*allow_empty=*/true);
    Indices indices;
    std::size_t position = 0;
    while (position < text.size()) {
      const std::size_t end = std::min(text.find(' ', position), text.size());
      const std::string_view item = text.substr(position, end - position);
      std::int64_t index = -1;
      const auto [stop, error] = std::from_chars(item.data(), item.data() + item.size(), index);
      if (item.empty() || error != std::errc() || stop != item.data() + item.size()) {
        reader_.fail(name + ": " + quoted_excerpt(item) + " is not an index");
      }
      if (index < 0 || index >= pool) {
        reader_.fail(name + ": index " + std::to_string(index) + " is outside the pool [0, " +
                     std::to_string(pool) + ")");
      }
      if (!indices.empty() && index <= indices.back()) {
        reader_.fail(name + ": index " + std::to_string(index) + " after " +
                     std::to_string(indices.back()) + "; indices must be strictly ascending");
      }
      indices.push_back(index);
      position = end + 1;
    }
    if (static_cast<std::int64_t>(indices.size()) != size) {
      reader_.fail(name + " has " + std::to_string(indices.size()) + " indices, expected " +
                   std::to_string(size));
    }
    const auto id = static_cast<std::int64_t>(origins_.size());
    origins_.push_back({name, reader_.line_number()});
    for (const std::int64_t index : indices) owners_.emplace_back(index, id);
    return indices;
  }

  std::vector<std::uint8_t> in_row(std::int64_t shadow, std::size_t width, std::int64_t m) {
    const std::string name = "shadow." + std::to_string(shadow) + ".in";
    const std::string_view text = reader_.keyed(name);
    if (text.size() != width || text.find_first_not_of("01") != std::string_view::npos) {
      reader_.fail(name + " must be " + std::to_string(width) +
                   " characters 0 or 1 (one per population sample), found " + quoted_excerpt(text));
    }
    std::vector<std::uint8_t> row(width);
    for (std::size_t j = 0; j < width; ++j) row[j] = text[j] == '1';
    const auto in = std::count(row.begin(), row.end(), 1);
    if (in != m) {
      reader_.fail(name + " puts " + std::to_string(in) + " samples IN, expected " +
                   std::to_string(m) + " (members)");
    }
    return row;
  }

  // Every list of the file is disjoint from every other; sorting (index, list) pairs
  // needs memory for what the file holds only, whatever pool size it claims.
  void check_disjoint() {
    std::sort(owners_.begin(), owners_.end());
    for (std::size_t i = 1; i < owners_.size(); ++i) {
      if (owners_[i].first != owners_[i - 1].first) continue;
      const ListOrigin& a = origins_[static_cast<std::size_t>(owners_[i - 1].second)];
      const ListOrigin& b = origins_[static_cast<std::size_t>(owners_[i].second)];
      throw DataError(reader_.source() + ", line " + std::to_string(b.line) + ": " + b.name +
                      " shares index " + std::to_string(owners_[i].first) + " with " + a.name +
                      " (line " + std::to_string(a.line) + "); the plan's sets must be disjoint");
    }
  }

  LineReader reader_;
  std::vector<ListOrigin> origins_;
  std::vector<std::pair<std::int64_t, std::int64_t>> owners_;  // (index, list id)
};

}  // namespace

MembershipPlan make_membership_plan(const PlanSettings& settings, std::int64_t pool_size) {
  if (settings.stratified) {
    throw ConfigError("membership plan: a stratified plan needs the pool's labels");
  }
  return build_plan(settings, pool_size, {}, 0);
}

MembershipPlan make_membership_plan(const PlanSettings& settings,
                                    std::span<const std::int64_t> labels,
                                    std::int64_t num_classes) {
  if (settings.stratified) {
    if (num_classes < 1) {
      throw ConfigError("membership plan: a stratified plan needs num_classes >= 1, got " +
                        std::to_string(num_classes));
    }
    for (std::size_t i = 0; i < labels.size(); ++i) {
      if (labels[i] < 0 || labels[i] >= num_classes) {
        throw ConfigError("membership plan: label " + std::to_string(labels[i]) + " of sample " +
                          std::to_string(i) + " is outside [0, " + std::to_string(num_classes) +
                          ")");
      }
    }
  }
  return build_plan(settings, static_cast<std::int64_t>(labels.size()), labels, num_classes);
}

MembershipPlan make_membership_plan(const PlanSettings& settings, const at::Tensor& labels,
                                    std::int64_t num_classes) {
  if (!labels.defined() || labels.dim() != 1 || labels.scalar_type() != at::kLong) {
    throw ConfigError("membership plan: the labels must be an int64 tensor [N]");
  }
  const at::Tensor dense = labels.cpu().contiguous();
  return make_membership_plan(
      settings,
      std::span<const std::int64_t>(dense.data_ptr<std::int64_t>(),
                                    static_cast<std::size_t>(dense.numel())),
      num_classes);
}

std::vector<std::int64_t> victim_pool(const MembershipPlan& plan) {
  const ModelData& v = plan.victim;
  Indices all;
  for (const Indices* list : {&v.members, &v.non_members, &v.dev, &v.reference}) {
    all.insert(all.end(), list->begin(), list->end());
  }
  std::sort(all.begin(), all.end());
  return all;
}

std::vector<std::int64_t> shadow_pool(const MembershipPlan& plan) {
  const Indices victim = victim_pool(plan);
  Indices rest;
  rest.reserve(static_cast<std::size_t>(plan.pool_size) - victim.size());
  auto next_victim = victim.begin();
  for (std::int64_t i = 0; i < plan.pool_size; ++i) {
    if (next_victim != victim.end() && *next_victim == i) {
      ++next_victim;
    } else {
      rest.push_back(i);
    }
  }
  return rest;
}

std::string format_plan(const MembershipPlan& plan) {
  const PlanSettings& settings = plan.settings;
  std::string out = std::string(kMagic) + "\n";
  out += "seed " + std::to_string(settings.seed) + "\n";
  out += "pool " + std::to_string(plan.pool_size) + "\n";
  out += "classes " + std::to_string(plan.num_classes) + "\n";
  out += "members " + std::to_string(settings.members) + "\n";
  out += "dev " + std::to_string(settings.dev) + "\n";
  out += "reference " + std::to_string(settings.reference) + "\n";
  out += "shadows " + std::to_string(settings.shadows) + "\n";
  const bool halves = settings.shadow_mode == ShadowMode::Halves;
  out += std::string("shadow-mode ") + (halves ? "halves" : "disjoint") + "\n";
  out += std::string("stratified ") + (settings.stratified ? "1" : "0") + "\n";
  auto append_model = [&](const std::string& prefix, const ModelData& data) {
    append_list(out, prefix + ".members", data.members);
    append_list(out, prefix + ".non_members", data.non_members);
    append_list(out, prefix + ".dev", data.dev);
    append_list(out, prefix + ".reference", data.reference);
  };
  append_model("victim", plan.victim);
  if (!halves) {
    for (std::size_t s = 0; s < plan.shadows.size(); ++s) {
      append_model("shadow." + std::to_string(s), plan.shadows[s]);
    }
  } else if (!plan.shadows.empty()) {
    append_list(out, "shadow.population", plan.population);
    append_list(out, "shadow.dev", plan.shadows.front().dev);
    append_list(out, "shadow.reference", plan.shadows.front().reference);
    for (std::size_t s = 0; s < plan.shadow_in.size(); ++s) {
      out += "shadow." + std::to_string(s) + ".in ";
      for (const std::uint8_t in : plan.shadow_in[s]) out += in ? '1' : '0';
      out += '\n';
    }
  }
  out += "end\n";
  return out;
}

MembershipPlan parse_plan(std::string_view text, const std::string& source) {
  return PlanParser(text, source).parse();
}

void save_plan(const std::filesystem::path& path, const MembershipPlan& plan) {
  write_file_atomically(path, format_plan(plan));
}

MembershipPlan load_plan(const std::filesystem::path& path) {
  return parse_plan(read_file(path), path.string());
}

at::Tensor index_tensor(std::span<const std::int64_t> indices) {
  at::Tensor tensor = at::empty({static_cast<std::int64_t>(indices.size())}, at::kLong);
  if (!indices.empty()) {
    std::memcpy(tensor.data_ptr<std::int64_t>(), indices.data(), indices.size_bytes());
  }
  return tensor;
}

AttackEvaluationSet evaluation_set(const ModelData& data) {
  Indices indices = data.members;
  indices.insert(indices.end(), data.non_members.begin(), data.non_members.end());
  AttackEvaluationSet set;
  set.indices = index_tensor(indices);
  set.is_member = at::empty({static_cast<std::int64_t>(indices.size())}, at::kBool);
  bool* truth = set.is_member.data_ptr<bool>();
  for (std::size_t i = 0; i < indices.size(); ++i) truth[i] = i < data.members.size();
  return set;
}

AttackEvaluationSet victim_evaluation_set(const MembershipPlan& plan) {
  return evaluation_set(plan.victim);
}

at::Tensor shadow_in_matrix(const MembershipPlan& plan) {
  const auto rows = static_cast<std::int64_t>(plan.shadows.size());
  const auto width = static_cast<std::int64_t>(plan.population.size());
  at::Tensor matrix = at::empty({rows, width}, at::kBool);
  bool* out = matrix.data_ptr<bool>();
  for (std::size_t s = 0; s < plan.shadow_in.size(); ++s) {
    for (std::size_t j = 0; j < plan.population.size(); ++j) {
      *out++ = plan.shadow_in[s][j] != 0;
    }
  }
  return matrix;
}

std::vector<std::vector<std::uint8_t>> paired_halves(std::span<const std::int64_t> groups,
                                                     std::int64_t shadows, std::uint64_t seed) {
  if (shadows < 0 || shadows > kMaxShadows) {
    throw ConfigError("paired_halves: shadows must be in [0, " + std::to_string(kMaxShadows) +
                      "], got " + std::to_string(shadows));
  }
  std::vector<Indices> columns;
  for (std::size_t j = 0; j < groups.size(); ++j) {
    if (groups[j] < 0) throw ConfigError("paired_halves: negative group");
    const auto g = static_cast<std::size_t>(groups[j]);
    if (g >= columns.size()) columns.resize(g + 1);
    columns[g].push_back(static_cast<std::int64_t>(j));
  }
  std::vector<std::int64_t> half(columns.size());
  for (std::size_t g = 0; g < columns.size(); ++g) {
    half[g] = static_cast<std::int64_t>(columns[g].size()) / 2;
  }
  Draws draws(seed);
  return split_in_pairs(columns, half, static_cast<std::size_t>(shadows), groups.size(), draws);
}

}  // namespace secateurs::host
