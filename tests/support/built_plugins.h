// The in-tree plugins as the host loads them, for the plugins' tests.
#pragma once

#include <string>

// doctest after LibTorch (glog's CHECK), before the uses of FAIL below.
#include "support/doctest_torch.h"

#include "host/data_checks.h"
#include "host/loader.h"
#include "host/yaml_params.h"
#include "secateurs/dataset.h"
#include "support/test_context.h"

namespace secateurs::testing {

// Every library of the build's plugins folder, loaded once; any load failure fails the test.
inline const host::Registry& built_plugins() {
  static const host::Registry registry = [] {
    host::Registry loaded;
    host::PluginLoader loader(loaded);
    loader.load(host::PluginSearchEntry{SECATEURS_PLUGIN_DIR, "--plugin-path"});
    for (const host::LoadFailure& failure : loaded.failures()) FAIL(failure.reason);
    return loaded;
  }();
  return registry;
}

// Creates `component` with parameters written as YAML, as a user would.
template <class Interface>
std::shared_ptr<Interface> make_component(const std::string& component, const std::string& yaml) {
  const host::RegisteredComponent& c = built_plugins().get(component);
  const Params params = host::params_from_yaml(c.spec.params, c.id(), YAML::Load(yaml), "test");
  return std::static_pointer_cast<Interface>(built_plugins().create(c, params));
}

// Loads a dataset and checks the host's contract on what it returned.
inline LabeledData load_dataset(const std::string& component, const std::string& yaml,
                                std::uint64_t seed = 7) {
  TestContext context(seed);
  LabeledData data = make_component<Dataset>(component, yaml)->load(context);
  host::check_labeled_data(data, component);
  return data;
}

}  // namespace secateurs::testing
