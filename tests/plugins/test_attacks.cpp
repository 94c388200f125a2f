// The attack plugins and the host's attack pieces: one body of checks run against every
// membership attack (a victim that memorised random labels is caught; samples the victim
// never saw are not told apart), and FGSM/PGD robust accuracy on a small trained model.
#include <algorithm>
#include <cmath>
#include <fstream>
#include <set>

#include "host/attack_inputs.h"
#include "host/attack_run.h"
#include "host/membership_plan.h"
#include "host/trainer.h"
#include "support/built_plugins.h"
#include "support/messages.h"
#include "support/temp_dir.h"
#include "support/tiny_model.h"

using namespace secateurs;
using testing::make_component;
using testing::TestContext;

namespace {

constexpr std::int64_t kFeatures = 20;
constexpr std::int64_t kClasses = 10;
constexpr std::int64_t kMembers = 200;  // per model, as the victim
constexpr std::int64_t kShadows = 8;
// The no-leak case scores 2 x 1000 unseen samples: the AUC of a score unrelated to
// membership then has a standard deviation of about 0.013, so 0.5 +- 0.05 is ~4 sigma.
constexpr std::int64_t kUnseen = 1000;

// Gaussian inputs with labels drawn independently of them: only memorisation fits them.
LabeledData random_labels(std::int64_t count, std::uint64_t seed) {
  at::Generator generator = make_generator(seed);
  return {torch::randn({count, kFeatures}, generator, torch::kFloat32),
          torch::randint(kClasses, {count}, generator, torch::kInt64), kClasses};
}

LabeledData rows(const LabeledData& data, const at::Tensor& indices) {
  return host::select_examples(data, indices);
}

LabeledData concat(const LabeledData& a, const LabeledData& b) {
  return {torch::cat({a.inputs, b.inputs}), torch::cat({a.labels, b.labels}), a.num_classes};
}

// Every model is trained the same way (the adaptive attacker's premise), long enough to
// memorise its members.
std::shared_ptr<Model> memorize(const LabeledData& members, std::uint64_t seed) {
  auto model = make_component<Model>("model.mlp", "hidden: [256]");
  TestContext context(seed);
  model->build({{kFeatures}, kClasses}, context);
  host::TrainerSettings settings;
  settings.epochs = 120;
  settings.batch_size = 32;
  settings.learning_rate = 0.05;
  settings.weight_decay = 2e-3;
  settings.seed = derive_seed(seed, "trainer");
  host::fit(*model, members, settings, {}, context);
  return model;
}

at::Tensor as_bool(const std::vector<std::uint8_t>& row) {
  return torch::tensor(std::vector<std::int64_t>(row.begin(), row.end())).to(torch::kBool);
}

std::vector<std::int64_t> all_zero(std::int64_t n) {
  return std::vector<std::int64_t>(n, 0);
}

// Shadows trained on paired halves of `samples` (2 x kMembers of them).
std::vector<host::TrainedShadow> train_halves(const LabeledData& samples, std::uint64_t seed) {
  const auto in = host::paired_halves(all_zero(samples.labels.size(0)), kShadows, seed);
  std::vector<host::TrainedShadow> shadows;
  for (std::int64_t s = 0; s < kShadows; ++s) {
    const at::Tensor is_member = as_bool(in[static_cast<std::size_t>(s)]);
    const at::Tensor members = is_member.nonzero().squeeze(1);
    shadows.push_back(
        {memorize(rows(samples, members), derive_seed(seed, std::to_string(s))), is_member});
  }
  return shadows;
}

struct Scenario {
  std::shared_ptr<Model> victim;
  LabeledData attacker_samples, population;
  std::vector<host::TrainedShadow> shadows;
  // Leaky: the victim's members then as many non-members. No leak: 2 x kUnseen samples
  // the victim never saw, "members" the first half.
  LabeledData leaky_targets, unseen_targets;
  std::vector<host::TrainedShadow> leaky_online, unseen_online;
};

const Scenario& scenario() {
  static const Scenario built = [] {
    Scenario s;
    const LabeledData members = random_labels(kMembers, 1);
    s.victim = memorize(members, 100);
    s.leaky_targets = concat(members, random_labels(kMembers, 2));
    s.unseen_targets = random_labels(2 * kUnseen, 3);
    s.attacker_samples = random_labels(2 * kMembers, 4);
    s.population = random_labels(500, 5);
    s.shadows = train_halves(s.attacker_samples, 200);
    s.leaky_online = train_halves(s.leaky_targets, 300);
    s.unseen_online = train_halves(s.unseen_targets, 400);
    return s;
  }();
  return built;
}

AttackInputs inputs_for(const LabeledData& targets,
                        const std::vector<host::TrainedShadow>& online) {
  const Scenario& s = scenario();
  const Samples target{targets.inputs, targets.labels};
  const Samples population{s.population.inputs, s.population.labels};
  return host::observe_target(
      *s.victim, target, population,
      host::observe_shadows({s.attacker_samples.inputs, s.attacker_samples.labels}, s.shadows,
                            target, population),
      host::observe_shadows(target, online, target, population));
}

at::Tensor first_half_members(std::int64_t n) {
  return torch::arange(n).lt(n / 2);
}

struct AttackCase {
  const char* component;
  const char* yaml;
};

const AttackCase kAttacks[] = {
    {"attack.confidence", "{}"},
    {"attack.entropy", "{}"},
    {"attack.modified_entropy", "{}"},
    {"attack.loss", "{}"},
    {"attack.global_confidence", "{}"},
    {"attack.mlp_posterior", "{}"},
    {"attack.mlp_top3", "{}"},
    {"attack.mlp_label", "{}"},
    {"attack.samia", "{epochs: 10}"},
    {"attack.lira", "{mode: offline}"},
    {"attack.lira", "{mode: offline, fixed_variance: true}"},
    {"attack.lira", "{mode: online}"},
    {"attack.lira", "{mode: online, fixed_variance: true}"},
    {"attack.rmia", "{mode: offline}"},
    {"attack.rmia", "{mode: online}"},
    {"attack.gap", "{}"},
    {"attack.label_only_noise", "{}"},
};

AttackResult run_attack(const AttackCase& c, const AttackInputs& inputs) {
  const auto attack = make_component<Attack>(c.component, c.yaml);
  TestContext context(17);
  AttackResult result = attack->run(inputs, context);
  const std::int64_t n = inputs.target.labels.size(0);
  REQUIRE(result.scores.defined());
  REQUIRE(result.scores.sizes() == at::IntArrayRef{n});
  CHECK((result.scores.scalar_type() == torch::kFloat64));
  CHECK(torch::isfinite(result.scores).all().item<bool>());
  REQUIRE(result.decisions.sizes() == at::IntArrayRef{n});
  CHECK((result.decisions.scalar_type() == torch::kBool));
  return result;
}

}  // namespace

TEST_CASE("every attack component is in the attacks' test table") {
  std::set<std::string> tested;
  for (const AttackCase& c : kAttacks) tested.insert(c.component);
  for (const host::RegisteredComponent* c : testing::built_plugins().components()) {
    if (c->spec.kind != Kind::Attack) continue;
    INFO(c->id());
    CHECK(tested.count(c->id()) == 1);
  }
  CHECK(tested.size() >= 12);
}

TEST_CASE("every attack catches a victim that memorised random labels (AUC >= 0.9)") {
  const AttackInputs inputs = inputs_for(scenario().leaky_targets, scenario().leaky_online);
  const at::Tensor is_member = first_half_members(2 * kMembers);
  for (const AttackCase& c : kAttacks) {
    const std::string name = std::string(c.component) + " " + c.yaml;
    INFO(name);
    const AttackResult result = run_attack(c, inputs);
    CHECK(roc_auc(result.scores, is_member) >= 0.9);
    // The attack's own decisions beat a coin on this easy case.
    CHECK(balanced_accuracy(result.decisions, is_member) > 0.7);
  }
}

TEST_CASE("no attack tells apart samples the victim never saw (AUC 0.5 +- 0.05)") {
  const AttackInputs inputs = inputs_for(scenario().unseen_targets, scenario().unseen_online);
  const at::Tensor is_member = first_half_members(2 * kUnseen);
  for (const AttackCase& c : kAttacks) {
    const std::string name = std::string(c.component) + " " + c.yaml;
    INFO(name);
    const AttackResult result = run_attack(c, inputs);
    CHECK(std::abs(roc_auc(result.scores, is_member) - 0.5) <= 0.05);
  }
}

TEST_CASE("attacks are deterministic in their seed") {
  const AttackInputs inputs = inputs_for(scenario().leaky_targets, scenario().leaky_online);
  for (const AttackCase& c : kAttacks) {
    const std::string name = std::string(c.component) + " " + c.yaml;
    INFO(name);
    const AttackResult first = run_attack(c, inputs);
    const AttackResult second = run_attack(c, inputs);
    CHECK(torch::equal(first.scores, second.scores));
    CHECK(torch::equal(first.decisions, second.decisions));
  }
}

TEST_CASE("attacks that need shadows say so when they have none") {
  AttackInputs inputs = inputs_for(scenario().leaky_targets, scenario().leaky_online);
  inputs.shadows = {};
  inputs.online = {};
  for (const AttackCase& c : kAttacks) {
    if (std::string(c.component) == "attack.gap") continue;  // label-only, needs no shadows
    const std::string name = std::string(c.component) + " " + c.yaml;
    INFO(name);
    const auto attack = make_component<Attack>(c.component, c.yaml);
    TestContext context(17);
    CHECK_THROWS_AS(attack->run(inputs, context), Error);
  }
}

TEST_CASE("robust accuracy falls as epsilon grows, and PGD is no weaker than FGSM") {
  const LabeledData data = testing::blobs(400, 10, 4, 21);
  auto model = std::make_shared<testing::TinyMlp>(32);
  TestContext context(5);
  model->build({{10}, 4}, context);
  host::TrainerSettings settings;
  settings.epochs = 30;
  settings.seed = 6;
  host::fit(*model, data, settings, {}, context);

  const std::vector<double> epsilons = {0.0, 0.25, 0.5, 1.0, 2.0};
  std::vector<double> fgsm, pgd;
  for (const double epsilon : epsilons) {
    PgdSettings attack;
    attack.epsilon = epsilon;
    attack.lower = -100;  // the blobs are not images: no pixel range to clamp to
    attack.upper = 100;
    attack.steps = 1;
    attack.step_size = epsilon;
    attack.random_start = false;
    fgsm.push_back(host::robust_accuracy(*model, data, attack, 9));
    attack.steps = 10;
    attack.step_size = 0;
    attack.random_start = true;
    pgd.push_back(host::robust_accuracy(*model, data, attack, 9));
  }
  CHECK(fgsm[0] > 0.9);  // the clean accuracy
  CHECK(pgd[0] == fgsm[0]);
  for (std::size_t k = 1; k < epsilons.size(); ++k) {
    INFO("epsilon " << epsilons[k]);
    CHECK(fgsm[k] <= fgsm[k - 1]);
    CHECK(pgd[k] <= pgd[k - 1]);
    CHECK(pgd[k] <= fgsm[k]);
  }
  CHECK(pgd.back() < fgsm[0] - 0.3);  // a large radius does real damage
}

namespace {

// A small attack run on synthetic blobs, pruned, with every kind of shadow.
std::filesystem::path write_attack_run(const testing::TempDir& dir) {
  const std::filesystem::path path = dir / "attack.yaml";
  std::ofstream(path) << R"(seed: 3
dataset: {component: dataset.synthetic_blobs, params: {samples: 1400, classes: 3, features: 6}}
model: {component: model.mlp, params: {hidden: [32]}}
split: {mode: membership, members: 120, dev: 30}
trainer: {epochs: 6, batch_size: 32}
pruning:
  pruner: {component: pruner.magnitude}
  schedule: {schedule: iterative, sparsity: 0.5, rounds: 2}
  finetune: {epochs: 1, batch_size: 32}
shadows: {count: 4, online: 4, population: 200}
attacks:
  - {component: attack.confidence}
  - {component: attack.lira, params: {mode: online}}
  - {component: attack.rmia}
metrics: {bootstrap: 20}
robustness: {epsilons: [0.0, 0.5], samples: 60, pgd_steps: 3, lower: -100, upper: 100}
)";
  return path;
}

}  // namespace

TEST_CASE("an attack run: same results on one thread and on two, and every file written") {
  testing::TempDir dir;
  const auto path = write_attack_run(dir);
  const auto& registry = testing::built_plugins();
  const host::AttackRunConfig config = host::read_attack_run(path, registry);
  CHECK(config.attacks.size() == 3);
  CHECK(config.pruning.has_value());
  const host::AttackRunResult one = host::run_attack(config, registry, dir / "one", 1);
  const host::AttackRunResult two = host::run_attack(config, registry, {}, 2);
  REQUIRE(one.attacks.size() == 3);
  REQUIRE(two.attacks.size() == 3);
  for (std::size_t a = 0; a < 3; ++a) {
    INFO(one.attacks[a].attack);
    CHECK(torch::equal(one.attacks[a].result.scores, two.attacks[a].result.scores));
    CHECK(one.attacks[a].auc.estimate == two.attacks[a].auc.estimate);
  }
  // The victim, 4 shadows and 4 online shadows; each pruned to the schedule's sparsity.
  REQUIRE(one.models.size() == 9);
  CHECK(one.models[0].role == "victim");
  CHECK(one.models[0].members == 120);
  for (const host::ModelRecord& m : one.models)
    CHECK(m.sparsity == doctest::Approx(0.5).epsilon(0.02));
  CHECK(one.is_member.sum().item<std::int64_t>() == 120);
  CHECK(one.is_member.size(0) == 240);
  // Robustness of the dense and the pruned victim at two radii, FGSM and PGD each.
  CHECK(one.robustness.size() == 8);
  // Online shadows in complementary pairs over the evaluation samples, half each.
  REQUIRE(one.online_in.size() == 4);
  for (std::size_t j = 0; j < 240; ++j) CHECK(one.online_in[0][j] + one.online_in[1][j] == 1);
  for (const char* file : {"attacks.csv", "scores.csv", "models.csv", "robustness.csv",
                           "summary.txt", "plan.txt", "online.txt", "roc/0.csv"}) {
    INFO(file);
    CHECK(std::filesystem::exists(dir / "one" / file));
  }
  std::ifstream scores(dir / "one" / "scores.csv");
  std::string header;
  std::getline(scores, header);
  CHECK(header ==
        "sample,label,is_member,score_0,decision_0,score_1,decision_1,score_2,decision_2");
  std::int64_t lines = 0;
  for (std::string line; std::getline(scores, line);) ++lines;
  CHECK(lines == 240);
}

TEST_CASE("attack run files: problems are named before any work") {
  testing::TempDir dir;
  const auto path = write_attack_run(dir);
  const auto& registry = testing::built_plugins();
  CHECK(testing::contains(testing::message_of<ConfigError>(
                              [&] { host::read_attack_run(path, registry, {"shadows.cont=3"}); }),
                          "did you mean 'count'"));
  CHECK(testing::contains(testing::message_of<ConfigError>(
                              [&] { host::read_attack_run(path, registry, {"attacks=[]"}); }),
                          "'attacks' is required"));
  CHECK(testing::contains(testing::message_of<ConfigError>([&] {
                            host::read_attack_run(path, registry,
                                                  {"attacks=[{component: attack.lera}]"});
                          }),
                          "attack.lira"));
  const host::AttackRunConfig few = host::read_attack_run(path, registry, {"shadows.online=0"});
  CHECK(testing::contains(
      testing::message_of<ConfigError>([&] { host::run_attack(few, registry, {}, 1); }),
      "shadows.online"));
}

TEST_CASE("attack features: float64 log-domain values match the textbook formulas") {
  at::Generator generator = make_generator(3);
  const at::Tensor logits = torch::randn({50, 7}, generator, torch::kFloat64) * 3;
  const at::Tensor labels = torch::randint(7, {50}, generator, torch::kInt64);
  const at::Tensor p = torch::softmax(logits, 1);
  const at::Tensor p_y = p.gather(1, labels.view({-1, 1})).squeeze(1);
  CHECK(torch::allclose(true_class_probability(logits, labels), p_y));
  CHECK(torch::allclose(sample_loss(logits, labels), -p_y.log()));
  CHECK(torch::allclose(prediction_entropy(logits), -(p * p.log()).sum(1)));
  CHECK(torch::allclose(scaled_confidence(logits, labels), (p_y / (1 - p_y)).log()));
  const at::Tensor own = -(1 - p_y) * p_y.log();
  const at::Tensor others = -(p * (1 - p).log()).scatter(1, labels.view({-1, 1}), 0.0).sum(1);
  CHECK(torch::allclose(modified_entropy(logits, labels), own + others));

  // A model sure of itself: float32 softmax would say p_y = 1 for both rows; the log
  // domain keeps them apart and finite, right or wrong.
  const at::Tensor sure = torch::tensor({{60.0, 0.0, 0.0}, {0.0, 80.0, 0.0}}, torch::kFloat32);
  const at::Tensor truth = torch::tensor({0, 0}, torch::kInt64);
  const at::Tensor confidence = true_class_log_probability(sure, truth);
  CHECK(confidence[0].item<double>() < 0);
  CHECK(confidence[0].item<double>() > -1e-20);
  CHECK(torch::isfinite(modified_entropy(sure, truth)).all().item<bool>());
  CHECK(torch::isfinite(scaled_confidence(sure, truth)).all().item<bool>());
  CHECK(scaled_confidence(sure, truth)[0].item<double>() == doctest::Approx(60.0 - std::log(2.0)));
}
