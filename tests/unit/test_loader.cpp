// One test per loader failure mode, each asserting the message names the file and, where
// it applies, what was expected against what was found.
#include <dlfcn.h>
#include <doctest/doctest.h>

#include <filesystem>
#include <string>

#include "host/loader.h"
#include "support/messages.h"

using namespace secateurs;
using namespace secateurs::host;
using secateurs::testing::contains;
using secateurs::testing::message_of;

namespace {

std::string fixture(const std::string& name) {
  return std::string(SECATEURS_FIXTURE_DIR) + "/libfixture_" + name + ".so";
}

// Loads one fixture into a fresh registry and returns the single failure it must cause.
LoadFailure load_failing(Registry& registry, const std::string& name) {
  PluginLoader loader(registry);
  CHECK_FALSE(loader.load_file(fixture(name)));
  REQUIRE(registry.failures().size() == 1);
  const LoadFailure& failure = registry.failures().front();
  CHECK(failure.file == fixture(name));
  CHECK(failure.reason.find("'" + fixture(name) + "'") != std::string::npos);
  return failure;
}

}  // namespace

TEST_CASE("loader: a file that is not a loadable library") {
  Registry registry;
  const LoadFailure failure = load_failing(registry, "not_a_library");
  INFO(failure.reason);
  CHECK(contains(failure.reason, "could not be loaded"));
  // dlerror's own words: the file is too short or has no ELF header.
  CHECK((contains(failure.reason, "ELF") || contains(failure.reason, "too short")));
  CHECK(registry.components().empty());
}

TEST_CASE("loader: a library that does not exist") {
  Registry registry;
  PluginLoader loader(registry);
  CHECK_FALSE(loader.load_file(fixture("nowhere")));
  REQUIRE(registry.failures().size() == 1);
  CHECK(contains(registry.failures()[0].reason, "does not exist"));
}

TEST_CASE("loader: a library without the entry point") {
  Registry registry;
  const LoadFailure failure = load_failing(registry, "no_entry_point");
  INFO(failure.reason);
  CHECK(contains(failure.reason, "not a secateurs plugin"));
  CHECK(contains(failure.reason, "'secateurs_plugin_v1'"));
}

TEST_CASE("loader: an entry point of another ABI major") {
  Registry registry;
  const LoadFailure failure = load_failing(registry, "wrong_abi_major");
  INFO(failure.reason);
  CHECK(contains(failure.reason, "built for plugin ABI v2"));
  CHECK(contains(failure.reason, "supports ABI v1"));
  CHECK(contains(failure.reason,
                 "expected the entry point 'secateurs_plugin_v1', found 'secateurs_plugin_v2'"));
}

TEST_CASE("loader: a descriptor whose abi_major disagrees") {
  Registry registry;
  const LoadFailure failure = load_failing(registry, "descriptor_major_mismatch");
  INFO(failure.reason);
  CHECK(contains(failure.reason, "expected abi_major 1, found 3"));
}

TEST_CASE("loader: a descriptor larger than the host knows") {
  Registry registry;
  const LoadFailure failure = load_failing(registry, "descriptor_too_large");
  INFO(failure.reason);
  const std::size_t host_size = sizeof(secateurs_plugin_descriptor);
  const std::size_t plugin_size = host_size + sizeof(const char*);
  CHECK(contains(failure.reason, "descriptor of " + std::to_string(plugin_size) + " bytes"));
  CHECK(contains(failure.reason, "larger than the " + std::to_string(host_size) + " bytes"));
  CHECK(failure.plugin_name == "fixture_descriptor_too_large");
}

TEST_CASE("loader: a build fingerprint that does not match") {
  Registry registry;
  const LoadFailure failure = load_failing(registry, "fingerprint_mismatch");
  INFO(failure.reason);
  CHECK(contains(failure.reason, "libtorch differs: 9.9.9 against"));
  CHECK(contains(failure.reason,
                 std::string("expected fingerprint '") + SECATEURS_BUILD_FINGERPRINT + "'"));
  CHECK(contains(failure.reason, "found 'compiler="));
  CHECK(contains(failure.reason, ";libtorch=9.9.9;"));
}

TEST_CASE("loader: registration that throws") {
  Registry registry;
  const LoadFailure failure = load_failing(registry, "register_throws");
  INFO(failure.reason);
  CHECK(contains(failure.reason, "plugin 'fixture_register_throws'"));
  CHECK(contains(failure.reason, "threw while registering"));
  CHECK(contains(failure.reason, "the weights table 'tables.bin' is missing"));
  // Registration is all or nothing: the component added before the throw is not there.
  CHECK(registry.find(Kind::Attack, "half_registered") == nullptr);
  // Asking for it says why it is missing.
  const std::string missing =
      message_of<NotFoundError>([&] { registry.get(Kind::Attack, "half_registered"); });
  CHECK(contains(missing, "failed to load"));
  CHECK(contains(missing, "tables.bin"));
}

TEST_CASE("loader: registration that returns an error") {
  Registry registry;
  const LoadFailure failure = load_failing(registry, "register_fails");
  INFO(failure.reason);
  CHECK(contains(failure.reason, "failed to register its components"));
  CHECK(contains(failure.reason, "licence key not found in SECATEURS_LICENCE"));
  CHECK(contains(
      message_of<NotFoundError>([&] { registry.get(Kind::Attack, "fixture_register_fails"); }),
      "licence key"));
}

TEST_CASE("loader: a plugin that swallows the rejection of a component still fails") {
  Registry registry;
  const LoadFailure failure = load_failing(registry, "register_swallows");
  INFO(failure.reason);
  CHECK(contains(failure.reason, "registered an invalid component"));
  CHECK(contains(failure.reason, "'Not-A-Name'"));
  CHECK(registry.find(Kind::Attack, "valid_but_doomed") == nullptr);
}

TEST_CASE("loader: a list of an unsupported element type is an invalid schema") {
  ParamSpec flags = param::string_list("flags", {}, "");
  flags.element_type = ParamType::Bool;
  flags.make_required();
  const ComponentSpec spec{
      Kind::Attack, "listy", "", {flags}, [](const Params&) -> Component* { return nullptr; }};
  CHECK(component_spec_problem(spec) ==
        "component attack.listy: parameter 'flags' is a list of bool; lists hold int, float or "
        "string");
  flags.element_type = ParamType::Float;
  CHECK_FALSE(
      component_spec_problem(ComponentSpec{Kind::Attack, "listy", "", {flags}, spec.factory}));
}

TEST_CASE("loader: a schema that contradicts itself") {
  Registry registry;
  const LoadFailure failure = load_failing(registry, "invalid_schema");
  INFO(failure.reason);
  CHECK(contains(failure.reason, "registered an invalid component"));
  CHECK(contains(failure.reason, "attack.bad_defaults: parameter 'sparsity'"));
  CHECK(contains(failure.reason, "must be in [0, 1], got 1.5"));
}

TEST_CASE("loader: the same component from two libraries") {
  Registry registry;
  PluginLoader loader(registry);
  CHECK(loader.load_file(fixture("duplicate_first")));
  CHECK_FALSE(loader.load_file(fixture("duplicate_second")));
  REQUIRE(registry.failures().size() == 1);
  const std::string& reason = registry.failures()[0].reason;
  INFO(reason);
  CHECK(contains(reason, "attack.duplicate_attack"));
  CHECK(contains(reason, fixture("duplicate_first")));
  CHECK(contains(reason, fixture("duplicate_second")));
  // The first library's component stays, and is the one you get.
  const RegisteredComponent& kept = registry.get(Kind::Attack, "duplicate_attack");
  CHECK(kept.library->file == fixture("duplicate_first"));
}

TEST_CASE("loader: one bad library does not stop the others") {
  Registry registry;
  PluginLoader loader(registry);
  loader.load(PluginSearchEntry{SECATEURS_FIXTURE_DIR, "--plugin-path"});
  // Every fixture but the good one and the first duplicate fails, each with its reason.
  CHECK(registry.failures().size() == 11);
  CHECK(registry.find(Kind::Attack, "good_attack") != nullptr);
  CHECK(registry.find(Kind::Attack, "duplicate_attack") != nullptr);
  // Loading the same folder again is a no-op: a library is tried once.
  loader.load(PluginSearchEntry{SECATEURS_FIXTURE_DIR, "--plugin-path"});
  CHECK(registry.failures().size() == 11);
}

TEST_CASE("loader: a bare file name is the file in the current directory") {
  const std::filesystem::path before = std::filesystem::current_path();
  std::filesystem::current_path(SECATEURS_FIXTURE_DIR);
  Registry registry;
  PluginLoader loader(registry);
  const bool loaded = loader.load_file("libfixture_good.so");
  std::filesystem::current_path(before);
  CHECK(loaded);
  CHECK(registry.find(Kind::Attack, "good_attack") != nullptr);
}

TEST_CASE("loader: two libraries may not share a plugin name") {
  const std::filesystem::path copy =
      std::filesystem::temp_directory_path() / "secateurs-loader-test" / "libgood_copy.so";
  std::filesystem::create_directories(copy.parent_path());
  std::filesystem::copy_file(fixture("good"), copy,
                             std::filesystem::copy_options::overwrite_existing);
  Registry registry;
  PluginLoader loader(registry);
  CHECK(loader.load_file(fixture("good")));
  CHECK_FALSE(loader.load_file(copy));
  std::filesystem::remove_all(copy.parent_path());
  REQUIRE(registry.failures().size() == 1);
  const std::string& reason = registry.failures()[0].reason;
  INFO(reason);
  CHECK(contains(reason, "plugin 'fixture_good' in '" + copy.string() +
                             "' has the name of the plugin already loaded from '" +
                             fixture("good") + "'"));
}

TEST_CASE("loader: a missing search path is an error unless it is the build's own") {
  Registry registry;
  PluginLoader loader(registry);
  loader.load(PluginSearchEntry{"/nonexistent/secateurs-plugins", "build"});
  CHECK(registry.failures().empty());
  loader.load(PluginSearchEntry{"/nonexistent/secateurs-plugins", "--plugin-path"});
  REQUIRE(registry.failures().size() == 1);
  CHECK(contains(registry.failures()[0].reason,
                 "--plugin-path names '/nonexistent/secateurs-plugins'"));
}

TEST_CASE("loader: SECATEURS_PLUGIN_PATH and --plugin-path join the search path in order") {
  setenv("SECATEURS_PLUGIN_PATH", "/a/one:/a/two", 1);
  const auto entries = plugin_search_path({"/b/three"});
  unsetenv("SECATEURS_PLUGIN_PATH");
  std::vector<std::string> paths;
  for (const auto& e : entries) {
    if (e.origin != "build") paths.push_back(e.path.string() + "@" + e.origin);
  }
  CHECK(paths == std::vector<std::string>{"/a/one@SECATEURS_PLUGIN_PATH",
                                          "/a/two@SECATEURS_PLUGIN_PATH",
                                          "/b/three@--plugin-path"});
}
