// Build fingerprints: whether a plugin's build can share C++ and LibTorch types with
// the host's.
#pragma once

#include "secateurs/export.h"

#include <optional>
#include <string>

namespace secateurs::host {

// The host's own fingerprint (SECATEURS_BUILD_FINGERPRINT as the core was compiled).
SECATEURS_API const char* host_fingerprint();

// Nothing when `plugin` is compatible with `host`; otherwise which field differs and how,
// e.g. "libtorch differs: 2.1.0 against 1.13.0". The rule, field by field:
//   compiler   same family and major version (the C++ ABI of libstdc++ is stable within
//              a major; mixing families or majors is refused rather than trusted)
//   cxx11abi   equal (std::string and std::list change layout with it)
//   libtorch   equal (torch::Tensor and nn::Module layouts are not stable across releases)
//   secateurs  same major.minor (the SDK's class layouts may change with any minor)
// A missing, extra or malformed field is a difference too.
SECATEURS_API std::optional<std::string> fingerprint_difference(const std::string& host,
                                                                const std::string& plugin);

}  // namespace secateurs::host
