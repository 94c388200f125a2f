#include "secateurs/random.h"

#include <ATen/CPUGeneratorImpl.h>

namespace secateurs {

namespace {

// SplitMix64's finaliser: every input bit affects every output bit.
std::uint64_t mix(std::uint64_t seed) {
  std::uint64_t z = seed + 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

}  // namespace

at::Generator make_generator(std::uint64_t seed) {
  const std::uint64_t z = mix(seed);
  return at::detail::createCPUGenerator((z ^ (z >> 32)) & 0xffffffffull);
}

std::uint64_t derive_seed(std::uint64_t seed, std::string_view purpose) {
  std::uint64_t hash = 0xcbf29ce484222325ull;  // FNV-1a, 64 bits
  for (const char c : purpose) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 0x100000001b3ull;
  }
  return mix(mix(seed) ^ hash);
}

}  // namespace secateurs
