#include "secateurs/random.h"

#include <ATen/CPUGeneratorImpl.h>

namespace secateurs {

at::Generator make_generator(std::uint64_t seed) {
  // SplitMix64's finaliser: every input bit affects every output bit.
  std::uint64_t z = seed + 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  z ^= z >> 31;
  return at::detail::createCPUGenerator((z ^ (z >> 32)) & 0xffffffffull);
}

}  // namespace secateurs
