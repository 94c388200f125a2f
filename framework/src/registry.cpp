#include "host/registry.h"

#include <cxxabi.h>

#include <algorithm>
#include <cstdlib>
#include <regex>
#include <typeinfo>

#include "host/nearest.h"
#include "secateurs/sdk.h"

namespace secateurs::host {

namespace {

std::string demangled(const char* name) {
  int status = 0;
  char* readable = abi::__cxa_demangle(name, nullptr, nullptr, &status);
  std::string text = status == 0 && readable ? readable : name;
  std::free(readable);
  return text;
}

bool implements_kind(Kind kind, Component* object) {
  switch (kind) {
    case Kind::Pruner: return dynamic_cast<Pruner*>(object) != nullptr;
    case Kind::Defense: return dynamic_cast<Defense*>(object) != nullptr;
    case Kind::Attack: return dynamic_cast<Attack*>(object) != nullptr;
    case Kind::Dataset: return dynamic_cast<Dataset*>(object) != nullptr;
    case Kind::Model: return dynamic_cast<Model*>(object) != nullptr;
  }
  return false;
}

const char* interface_name(Kind kind) {
  switch (kind) {
    case Kind::Pruner: return "secateurs::Pruner";
    case Kind::Defense: return "secateurs::Defense";
    case Kind::Attack: return "secateurs::Attack";
    case Kind::Dataset: return "secateurs::Dataset";
    case Kind::Model: return "secateurs::Model";
  }
  return "?";
}

std::string describe_library(const PluginLibrary& library) {
  return "plugin '" + library.plugin_name + "' (" + library.file + ")";
}

// The component's destructor runs the plugin's code, so the deleter holds the library.
struct LibraryKeepingDeleter {
  std::shared_ptr<const PluginLibrary> library;
  void operator()(Component* object) const { delete object; }
};

}  // namespace

std::string qualified_name(Kind kind, std::string_view name) {
  return std::string(to_string(kind)) + "." + std::string(name);
}

bool is_identifier(const std::string& name) {
  static const std::regex pattern("[a-z][a-z0-9_]*");
  return std::regex_match(name, pattern);
}

Kind kind_named(const std::string& text, const std::string& context) {
  if (const auto kind = kind_from_string(text)) return *kind;
  std::vector<std::string> kinds;
  for (Kind k : kAllKinds) kinds.emplace_back(to_string(k));
  std::string hint = did_you_mean(text, kinds);
  if (hint.empty()) hint = "; kinds are pruner, defense, attack, dataset and model";
  throw NotFoundError("unknown component kind '" + text + "'" + context + hint);
}

std::string RegisteredComponent::id() const {
  return qualified_name(spec.kind, spec.name);
}

void Registry::add_library(const std::shared_ptr<const PluginLibrary>& library,
                           std::vector<ComponentSpec> specs) {
  for (const auto& other : libraries_) {
    if (other->plugin_name == library->plugin_name) {
      throw PluginError("plugin '" + library->plugin_name + "' in '" + library->file +
                        "' has the name of the plugin already loaded from '" + other->file +
                        "'; plugin names must be unique");
    }
  }
  for (std::size_t i = 0; i < specs.size(); ++i) {
    const ComponentSpec& spec = specs[i];
    if (const RegisteredComponent* existing = find(spec.kind, spec.name)) {
      throw PluginError("plugin '" + library->plugin_name + "' in '" + library->file +
                        "' registers " + existing->id() + ", which " +
                        describe_library(*existing->library) + " already registered");
    }
    for (std::size_t j = 0; j < i; ++j) {
      if (specs[j].kind == spec.kind && specs[j].name == spec.name) {
        throw PluginError("plugin '" + library->plugin_name + "' in '" + library->file +
                          "' registers " + qualified_name(spec.kind, spec.name) + " twice");
      }
    }
  }
  libraries_.push_back(library);
  for (ComponentSpec& spec : specs) components_.push_back({std::move(spec), library});
}

void Registry::add_failure(LoadFailure failure) {
  failures_.push_back(std::move(failure));
}

const RegisteredComponent* Registry::find(Kind kind, std::string_view name) const {
  for (const RegisteredComponent& component : components_) {
    if (component.spec.kind == kind && component.spec.name == name) return &component;
  }
  return nullptr;
}

const RegisteredComponent& Registry::get(Kind kind, std::string_view name) const {
  if (const RegisteredComponent* component = find(kind, name)) return *component;
  const std::string wanted = qualified_name(kind, name);
  std::vector<std::string> known;
  for (const RegisteredComponent& component : components_) known.push_back(component.id());
  std::string message = "no component named " + wanted + did_you_mean(wanted, known);
  // A library that failed may be the one that would have provided it: say why it failed.
  for (const LoadFailure& failure : failures_) {
    const bool named = failure.plugin_name == name ||
                       std::find(failure.components.begin(), failure.components.end(), wanted) !=
                           failure.components.end();
    if (named) {
      throw NotFoundError(message +
                          "; the library that provides it failed to load: " + failure.reason);
    }
  }
  if (!failures_.empty()) {
    message += " (" + std::to_string(failures_.size()) + " plugin librar" +
               (failures_.size() == 1 ? "y" : "ies") +
               " failed to load; `secateurs plugins` says why)";
  }
  throw NotFoundError(message);
}

const RegisteredComponent& Registry::get(std::string_view qualified_name) const {
  const auto [kind, name] = split_qualified_name(qualified_name);
  return get(kind, name);
}

std::shared_ptr<Component> Registry::create(const RegisteredComponent& component,
                                            const Params& params) const {
  const std::string where = component.id() + " of " + describe_library(*component.library);
  Component* object = nullptr;
  try {
    object = component.spec.factory(params);
  } catch (const ConfigError&) {
    throw;
  } catch (const DataError&) {
    throw;
  } catch (const NotFoundError&) {
    throw;
  } catch (const std::exception& e) {
    throw PluginError(where + " threw " + demangled(typeid(e).name()) +
                      " while being created: " + e.what());
  } catch (...) {
    throw PluginError(where + " threw an exception of unknown type while being created");
  }
  if (object == nullptr) throw PluginError(where + ": its factory returned no object");
  std::shared_ptr<Component> owned(object, LibraryKeepingDeleter{component.library});
  if (!implements_kind(component.spec.kind, object)) {
    throw PluginError(where + ": its factory returned a " + demangled(typeid(*object).name()) +
                      ", which is not a " + interface_name(component.spec.kind));
  }
  return owned;
}

std::vector<const RegisteredComponent*> Registry::components() const {
  std::vector<const RegisteredComponent*> sorted;
  for (const RegisteredComponent& component : components_) sorted.push_back(&component);
  std::sort(sorted.begin(), sorted.end(), [](const auto* a, const auto* b) {
    return std::pair(a->spec.kind, a->spec.name) < std::pair(b->spec.kind, b->spec.name);
  });
  return sorted;
}

std::pair<Kind, std::string> split_qualified_name(std::string_view qualified_name) {
  const std::size_t dot = qualified_name.find('.');
  if (dot == std::string_view::npos) {
    throw NotFoundError("'" + std::string(qualified_name) +
                        "' is not a component name: write KIND.NAME, e.g. pruner.magnitude");
  }
  const Kind kind = kind_named(std::string(qualified_name.substr(0, dot)),
                               " in '" + std::string(qualified_name) + "'");
  return {kind, std::string(qualified_name.substr(dot + 1))};
}

}  // namespace secateurs::host
