// Random generators from the host's 64-bit seeds.
#pragma once

#include <ATen/core/Generator.h>

#include <cstdint>
#include <string_view>

#include "secateurs/export.h"

namespace secateurs {

// A new CPU generator for `seed` (usually context.seed()); the caller owns it and uses it
// from one thread. LibTorch's CPU generator (mt19937) keeps only 32 bits of its seed, so
// seeds that differ only in their high half would give the same stream: all 64 bits are
// mixed (SplitMix64) before they are folded to 32.
//
// For results that are the same on every machine, draw floating-point samples in double
// and convert: LibTorch 1.13 draws float32 normals through CPU-specific vector code.
SECATEURS_API at::Generator make_generator(std::uint64_t seed);

// An independent seed for one purpose ("model", "trainer", "shadow.3", ...) of a run
// seeded with `seed`, so that the parts of one run never share a random stream and adding
// a part never shifts another's. Stable across machines and versions (FNV-1a of the
// purpose, mixed with the seed by SplitMix64).
SECATEURS_API std::uint64_t derive_seed(std::uint64_t seed, std::string_view purpose);

}  // namespace secateurs
