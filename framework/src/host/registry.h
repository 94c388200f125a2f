// The registry of components, filled by the plugin loader; the one place that creates
// component objects.
//
// Threading: loading and registration happen on one thread before any work starts;
// afterwards the registry is read-only and find/create may be called from any thread.
#pragma once

#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "secateurs/component.h"
#include "secateurs/error.h"

namespace secateurs {
// The interfaces, declared only: registry users include the one they create.
class Pruner;
class Defense;
class Attack;
class Dataset;
class Model;
}  // namespace secateurs

namespace secateurs::host {

// A loaded plugin library. Never unloaded: it lives as long as the process.
struct PluginLibrary {
  std::string file;  // the path it was loaded from
  std::string plugin_name;
  std::string plugin_version;
  std::uint32_t abi_minor = 0;
  void* handle = nullptr;  // dlopen handle, opened with RTLD_NODELETE
};

struct SECATEURS_API RegisteredComponent {
  ComponentSpec spec;
  std::shared_ptr<const PluginLibrary> library;

  // "attack.loss_threshold"
  std::string id() const;
};

// A library that did not load, and why (one sentence naming the file).
struct LoadFailure {
  std::string file;
  std::string plugin_name;              // from the descriptor, or guessed from the file name
  std::vector<std::string> components;  // ids it tried to register, when it got that far
  std::string reason;
};

template <class Interface>
struct KindOf;
template <>
struct KindOf<Pruner> {
  static constexpr Kind value = Kind::Pruner;
};
template <>
struct KindOf<Defense> {
  static constexpr Kind value = Kind::Defense;
};
template <>
struct KindOf<Attack> {
  static constexpr Kind value = Kind::Attack;
};
template <>
struct KindOf<Dataset> {
  static constexpr Kind value = Kind::Dataset;
};
template <>
struct KindOf<Model> {
  static constexpr Kind value = Kind::Model;
};

class SECATEURS_API Registry {
 public:
  // Adds all of one library's components, or none: throws PluginError naming both files
  // when a kind.name, or the plugin's name, is already registered.
  void add_library(const std::shared_ptr<const PluginLibrary>& library,
                   std::vector<ComponentSpec> specs);
  void add_failure(LoadFailure failure);

  // Null when there is no such component. Pointers and references into the registry stay
  // valid as more libraries are added.
  const RegisteredComponent* find(Kind kind, std::string_view name) const;
  // Throws NotFoundError: the nearest known names, and why a library that would have
  // provided it failed to load, if one did.
  const RegisteredComponent& get(Kind kind, std::string_view name) const;
  // "kind.name" in one string; an unknown kind is a NotFoundError too.
  const RegisteredComponent& get(std::string_view qualified_name) const;

  // Builds the component with validated parameters. The returned pointer owns the object;
  // its deleter keeps the plugin library alive. ConfigError, DataError and NotFoundError
  // from the factory pass through as they are (they speak to the user); anything else,
  // a plain secateurs::Error included, is a bug in the plugin and is rethrown as
  // PluginError naming the plugin and the component.
  std::shared_ptr<Component> create(const RegisteredComponent& component,
                                    const Params& params) const;
  template <class Interface>
  std::shared_ptr<Interface> create(std::string_view name, const Params& params) const {
    const RegisteredComponent& component = get(KindOf<Interface>::value, name);
    // The kind was checked against the interface when the object was made.
    return std::static_pointer_cast<Interface>(create(component, params));
  }

  // Sorted by kind, then name.
  std::vector<const RegisteredComponent*> components() const;
  const std::vector<LoadFailure>& failures() const { return failures_; }

 private:
  std::deque<RegisteredComponent> components_;  // a deque: adding never moves an entry
  std::vector<std::shared_ptr<const PluginLibrary>> libraries_;
  std::vector<LoadFailure> failures_;
};

// "attack" + "loss_threshold" -> "attack.loss_threshold": how components are named to users.
SECATEURS_API std::string qualified_name(Kind kind, std::string_view name);

// Whether `name` may name a plugin, a component or a parameter: [a-z][a-z0-9_]*.
SECATEURS_API bool is_identifier(const std::string& name);

// The kind called `text`; otherwise NotFoundError "unknown component kind 'text'" followed by
// `context` and the nearest kind (or the list of kinds).
SECATEURS_API Kind kind_named(const std::string& text, const std::string& context = "");

// "pruner.magnitude" -> (Kind::Pruner, "magnitude"); throws NotFoundError for an unknown
// kind (with the nearest kind) or a name without a dot.
SECATEURS_API std::pair<Kind, std::string> split_qualified_name(std::string_view qualified_name);

}  // namespace secateurs::host
