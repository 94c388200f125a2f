// SECATEURS_PLUGIN: the one line that makes a shared library a secateurs plugin.
//
//   static void register_my_attack(secateurs::Registrar& r) {
//     r.add<MyAttack>(secateurs::Kind::Attack, "my_attack", "one line", {...});
//   }
//   SECATEURS_PLUGIN("my_attack", "0.1.0", register_my_attack)
//
// It defines the exported entry point `secateurs_plugin_v1` and a noexcept wrapper that
// turns an exception thrown by the register function into SECATEURS_REGISTER_THREW with
// its message recorded, so nothing ever unwinds into the host's loader. Use it once per
// library, at namespace scope.
#pragma once

#include <exception>
#include <string>
#include <typeinfo>

#include "secateurs/abi.h"
#include "secateurs/component.h"

namespace secateurs::detail {

template <void (*RegisterFn)(Registrar&)>
int register_guarded(secateurs_registrar* handle) noexcept {
  Registrar& registrar = registrar_from(handle);
  try {
    RegisterFn(registrar);
    return SECATEURS_REGISTER_OK;
  } catch (const std::exception& e) {
    registrar.fail(e.what());
  } catch (...) {
    registrar.fail("an exception of unknown type");
  }
  return SECATEURS_REGISTER_THREW;
}

}  // namespace secateurs::detail

#define SECATEURS_PLUGIN(NAME, VERSION, REGISTER_FN)                                         \
  extern "C" SECATEURS_API const secateurs_plugin_descriptor* SECATEURS_PLUGIN_ENTRY(void) { \
    static const secateurs_plugin_descriptor descriptor = {                                  \
        SECATEURS_ABI_MAJOR,                                                                 \
        static_cast<uint32_t>(sizeof(secateurs_plugin_descriptor)),                          \
        SECATEURS_ABI_MINOR,                                                                 \
        SECATEURS_BUILD_FINGERPRINT,                                                         \
        NAME,                                                                                \
        VERSION,                                                                             \
        &::secateurs::detail::register_guarded<REGISTER_FN>};                                \
    return &descriptor;                                                                      \
  }
