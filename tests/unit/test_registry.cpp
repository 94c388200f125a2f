#include <dlfcn.h>

#include "support/doctest_torch.h"

#include "host/loader.h"
#include "host/params_builder.h"
#include "secateurs/attack.h"
#include "support/messages.h"

using namespace secateurs;
using namespace secateurs::host;
using secateurs::testing::contains;
using secateurs::testing::message_of;

namespace {

const std::string kGood = std::string(SECATEURS_FIXTURE_DIR) + "/libfixture_good.so";

class TestContext final : public Context {
 public:
  std::uint64_t seed() const override { return 7; }
  void log(LogLevel, std::string_view) override {}
  void progress(std::int64_t, std::int64_t) override {}
};

Params good_params(double offset) {
  return Params({{"offset", offset},
                 {"mode", std::string("fast")},
                 {"rounds", std::int64_t{3}},
                 {"threshold", 0.5}});
}

int live_objects(const RegisteredComponent& component) {
  using Counter = int (*)();
  auto counter =
      reinterpret_cast<Counter>(dlsym(component.library->handle, "fixture_good_live_objects"));
  REQUIRE((counter != nullptr));
  return counter();
}

}  // namespace

TEST_CASE("registry: creates a component whose deleter runs the plugin's destructor") {
  Registry registry;
  PluginLoader loader(registry);
  REQUIRE(loader.load_file(kGood));
  const RegisteredComponent& component = registry.get("attack.good_attack");
  CHECK(component.library->plugin_name == "fixture_good");
  CHECK(component.library->plugin_version == "2.3.1");
  CHECK(component.spec.params.size() == 4);

  const int before = live_objects(component);
  {
    std::shared_ptr<Attack> attack = registry.create<Attack>("good_attack", good_params(1.5));
    CHECK(live_objects(component) == before + 1);
    TestContext context;
    AttackInputs inputs;
    inputs.target_logits = torch::tensor({{1.0f, 0.0f}, {-2.0f, 3.0f}});
    inputs.target.labels = torch::tensor({0, 1});
    const at::Tensor scores = attack->run(inputs, context).scores;
    CHECK((scores.scalar_type() == at::kDouble));
    CHECK(scores[0].item<double>() == doctest::Approx(2.5));
    CHECK(scores[1].item<double>() == doctest::Approx(-0.5));
  }
  CHECK(live_objects(component) == before);
}

TEST_CASE("registry: a factory's non-SDK exception is wrapped with the plugin's name") {
  Registry registry;
  PluginLoader loader(registry);
  REQUIRE(loader.load_file(kGood));
  const std::string message =
      message_of<PluginError>([&] { registry.create<Attack>("throwing_attack", Params{}); });
  CHECK(contains(message, "attack.throwing_attack of plugin 'fixture_good'"));
  CHECK(contains(message, "std::logic_error"));
  CHECK(contains(message, "calibration table empty"));
}

TEST_CASE("registry: a component reading an undeclared parameter is named as the culprit") {
  Registry registry;
  PluginLoader loader(registry);
  REQUIRE(loader.load_file(kGood));
  const std::string message = message_of<PluginError>([&] {
    registry.create<Attack>("misreading_attack", Params({{"temperature", 1.0}}));
  });
  CHECK(contains(message, "attack.misreading_attack of plugin 'fixture_good'"));
  CHECK(contains(message, "parameter 'tempreature', which its schema does not declare"));
}

TEST_CASE("registry: a factory that returns another interface is refused") {
  Registry registry;
  PluginLoader loader(registry);
  REQUIRE(loader.load_file(kGood));
  CHECK(contains(
      message_of<PluginError>([&] { registry.create<Attack>("mislabelled_attack", Params{}); }),
      "which is not a secateurs::Attack"));
}

TEST_CASE("registry: unknown names suggest the nearest ones") {
  Registry registry;
  PluginLoader loader(registry);
  REQUIRE(loader.load_file(kGood));
  CHECK(message_of<NotFoundError>([&] { registry.get("attack.good_atack"); }) ==
        "no component named attack.good_atack; did you mean 'attack.good_attack'?");
  const std::string kind = message_of<NotFoundError>([&] { registry.get("atack.good_attack"); });
  CHECK(contains(kind, "unknown component kind 'atack'"));
  CHECK(contains(kind, "did you mean 'attack'?"));
  CHECK_THROWS_AS(registry.get("good_attack"), NotFoundError);
}

TEST_CASE("registry: components are listed by kind, then name") {
  Registry registry;
  PluginLoader loader(registry);
  REQUIRE(loader.load_file(kGood));
  std::vector<std::string> ids;
  for (const auto* component : registry.components()) ids.push_back(component->id());
  CHECK(ids == std::vector<std::string>{"attack.good_attack", "attack.mislabelled_attack",
                                        "attack.misreading_attack", "attack.throwing_attack"});
}
