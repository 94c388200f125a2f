// Components, their kinds, and the Registrar through which a plugin library adds them.
//
// Ownership: a factory returns a plain `new`ed object; the host, never the plugin, wraps
// it in the shared_ptr that owns it, and that shared_ptr's deleter also keeps the plugin
// library alive (libraries are never unloaded anyway). Plugins hand the host no
// std::function, shared_ptr or exception_ptr of their own.
//
// Threading: registration runs once per library on the loading thread. A component
// object is used by one thread at a time unless its interface says otherwise.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "secateurs/abi.h"
#include "secateurs/error.h"
#include "secateurs/export.h"
#include "secateurs/params.h"

namespace secateurs {

enum class Kind { Pruner, Defense, Attack, Dataset, Model };

inline constexpr Kind kAllKinds[] = {Kind::Pruner, Kind::Defense, Kind::Attack, Kind::Dataset,
                                     Kind::Model};

// "pruner", "defense", "attack", "dataset", "model".
SECATEURS_API std::string_view to_string(Kind kind);
SECATEURS_API std::optional<Kind> kind_from_string(std::string_view text);

// Base of every component. The virtual destructor runs the plugin's own code, so an
// object is always destroyed by the library that allocated it.
class SECATEURS_API Component {
 public:
  virtual ~Component();
};

// Builds a component from validated parameters. May throw a secateurs error (for
// parameter combinations a schema cannot express); must return a non-null object of the
// kind's interface, allocated with `new`.
using Factory = Component* (*)(const Params& params);

struct SECATEURS_API ComponentSpec {
  Kind kind = Kind::Attack;
  std::string name;     // [a-z][a-z0-9_]*; unique per kind across all loaded libraries
  std::string summary;  // one line, shown by `secateurs plugins` and `describe`
  ParamSchema params;
  Factory factory = nullptr;
};

// Implemented by the host. Valid only during the register_components call it is given to.
class SECATEURS_API Registrar {
 public:
  // Adds a component. Throws secateurs::PluginError for an invalid spec (bad name, no
  // factory, a default outside its own bounds, duplicate parameter names).
  virtual void add(ComponentSpec spec) = 0;

  // Convenience: the factory constructs T(params).
  template <class T>
  void add(Kind kind, std::string name, std::string summary, ParamSchema params) {
    add(ComponentSpec{kind, std::move(name), std::move(summary), std::move(params),
                      [](const Params& p) -> Component* { return new T(p); }});
  }

  // Records why registration failed; used by SECATEURS_PLUGIN's wrapper and by plugins
  // that return SECATEURS_REGISTER_FAILED themselves.
  virtual void fail(const char* message) noexcept = 0;

 protected:
  ~Registrar() = default;
};

inline Registrar& registrar_from(secateurs_registrar* handle) noexcept {
  return *reinterpret_cast<Registrar*>(handle);
}

}  // namespace secateurs
