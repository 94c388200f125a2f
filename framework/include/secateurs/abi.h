// The plugin ABI, version 1: what a plugin library exports and what the host checks.
//
// A plugin library exports exactly one C symbol, `secateurs_plugin_v1` (the name carries
// the ABI major, so a library built for another major is recognised as such, not
// mistaken for a broken one). It returns a pointer to a descriptor that lives as long as
// the library, which is forever: the host never unloads a plugin library.
//
// The host reads `abi_major` and `struct_size` first, then the build fingerprint, and
// calls `register_components` only when all three agree with its own. The C++ types the
// register function sees (Registrar, ComponentSpec, torch::Tensor) are safe to share only
// because the fingerprint matched.
//
// Write plugins with SECATEURS_PLUGIN (plugin.h); this header is what the loader and the
// fixture libraries of the tests need.
#pragma once

#include <cstddef>
#include <cstdint>

#include <torch/version.h>

#include "secateurs/export.h"
#include "secateurs/version.h"

#define SECATEURS_ABI_MAJOR 1
#define SECATEURS_ABI_MINOR 0

// The entry point's name for this ABI major, and its spelling for any major (the loader
// probes other majors to say which one a foreign library was built for).
#define SECATEURS_PLUGIN_ENTRY secateurs_plugin_v1
#define SECATEURS_PLUGIN_ENTRY_NAME "secateurs_plugin_v1"
#define SECATEURS_PLUGIN_ENTRY_PREFIX "secateurs_plugin_v"

// Return codes of register_components.
#define SECATEURS_REGISTER_OK 0
#define SECATEURS_REGISTER_FAILED 1  // the plugin reported an error (Registrar::fail)
#define SECATEURS_REGISTER_THREW 2   // user code threw; the SDK wrapper caught it

// ---- the build fingerprint -------------------------------------------------------------
// "compiler=gcc-12.2.0;cxx11abi=1;libtorch=1.13.0;secateurs=0.1.0", computed where this
// header is compiled. The host compares it field by field (see framework/src/fingerprint.cpp
// for the rule) and shows both strings when they disagree.
#define SECATEURS_STRINGIFY_(x) #x
#define SECATEURS_STRINGIFY(x) SECATEURS_STRINGIFY_(x)

#if defined(__clang__)
#define SECATEURS_COMPILER_ID                                            \
  "clang-" SECATEURS_STRINGIFY(__clang_major__) "." SECATEURS_STRINGIFY( \
      __clang_minor__) "." SECATEURS_STRINGIFY(__clang_patchlevel__)
#elif defined(__GNUC__)
#define SECATEURS_COMPILER_ID                                   \
  "gcc-" SECATEURS_STRINGIFY(__GNUC__) "." SECATEURS_STRINGIFY( \
      __GNUC_MINOR__) "." SECATEURS_STRINGIFY(__GNUC_PATCHLEVEL__)
#else
#define SECATEURS_COMPILER_ID "unknown"
#endif

// _GLIBCXX_USE_CXX11_ABI is defined by any libstdc++ header; <cstdint> above included one.
#if defined(_GLIBCXX_USE_CXX11_ABI)
#define SECATEURS_CXX11_ABI SECATEURS_STRINGIFY(_GLIBCXX_USE_CXX11_ABI)
#else
#define SECATEURS_CXX11_ABI "none"
#endif

// The LibTorch version comes in from <torch/version.h> wherever this macro is expanded.
#define SECATEURS_BUILD_FINGERPRINT \
  "compiler=" SECATEURS_COMPILER_ID ";cxx11abi=" SECATEURS_CXX11_ABI                          \
  ";libtorch=" SECATEURS_STRINGIFY(TORCH_VERSION_MAJOR) "." SECATEURS_STRINGIFY(              \
      TORCH_VERSION_MINOR) "." SECATEURS_STRINGIFY(TORCH_VERSION_PATCH)                       \
      ";secateurs=" SECATEURS_VERSION_STRING

extern "C" {

// Opaque to C; it is a secateurs::Registrar owned by the host for the duration of the
// register_components call only.
typedef struct secateurs_registrar secateurs_registrar;

// Fields are only ever appended (a minor bump); abi_major and struct_size come first so
// that a host can read them from a descriptor of any version.
typedef struct secateurs_plugin_descriptor {
  uint32_t abi_major;             // SECATEURS_ABI_MAJOR of the plugin's SDK
  uint32_t struct_size;           // sizeof(secateurs_plugin_descriptor) in the plugin's SDK
  uint32_t abi_minor;             // SECATEURS_ABI_MINOR of the plugin's SDK
  const char* build_fingerprint;  // SECATEURS_BUILD_FINGERPRINT as the plugin was compiled
  const char* plugin_name;        // [a-z][a-z0-9_]*, unique among loaded libraries
  const char* plugin_version;     // free text, recorded with every result
  // Adds the library's components. Called once, on the loading thread; must not throw
  // (SECATEURS_PLUGIN's wrapper catches); returns one of SECATEURS_REGISTER_*.
  int (*register_components)(secateurs_registrar* registrar) noexcept;
} secateurs_plugin_descriptor;

// The smallest descriptor an ABI 1 host accepts: the v1.0 layout, which ends with
// register_components. Later minors append fields after it.
#define SECATEURS_DESCRIPTOR_V1_0_SIZE \
  ((uint32_t)(offsetof(secateurs_plugin_descriptor, register_components) + sizeof(void (*)(void))))

typedef const secateurs_plugin_descriptor* (*secateurs_plugin_entry_fn)(void);

}  // extern "C"
