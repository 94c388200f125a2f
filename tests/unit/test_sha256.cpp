// SHA-256 against the FIPS 180-2 / NIST example vectors, and incremental use. Every case
// runs on both engines: the processor's SHA extensions (where it has them) and the
// portable code.
#include <doctest/doctest.h>

#include <string>

#include "host/sha256.h"

using secateurs::host::Sha256;
using secateurs::host::to_hex;

namespace {

constexpr Sha256::Engine kEngines[] = {Sha256::Engine::Auto, Sha256::Engine::Portable};

std::string hex(Sha256::Engine engine, std::string_view text) {
  Sha256 hasher(engine);
  hasher.update(text);
  return to_hex(hasher.finish());
}

}  // namespace

TEST_CASE("sha256: the standard test vectors") {
  for (const Sha256::Engine engine : kEngines) {
    CAPTURE(static_cast<int>(engine));
    CHECK(hex(engine, "") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    CHECK(hex(engine, "abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    CHECK(hex(engine, "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
          "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    CHECK(hex(engine,
              "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopq"
              "klmnopqrlmnopqrsmnopqrstnopqrstu") ==
          "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
  }
  CHECK(secateurs::host::sha256_hex("abc") ==
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST_CASE("sha256: one million 'a', fed in pieces that straddle block boundaries") {
  const std::string piece(1000, 'a');
  for (const Sha256::Engine engine : kEngines) {
    Sha256 hasher(engine);
    for (int i = 0; i < 1000; ++i) hasher.update(piece);
    CHECK(to_hex(hasher.finish()) ==
          "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  }
}

TEST_CASE("sha256: padding at the lengths around one block") {
  // The length field needs 8 bytes after the 0x80 marker: 55 bytes fit one block, 56 do not.
  for (const Sha256::Engine engine : kEngines) {
    CHECK(hex(engine, std::string(55, 'a')) ==
          "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318");
    CHECK(hex(engine, std::string(56, 'a')) ==
          "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a");
    CHECK(hex(engine, std::string(63, 'a')) ==
          "7d3e74a05d7db15bce4ad9ec0658ea98e3f06eeecf16b4c6fff2da457ddc2f34");
    CHECK(hex(engine, std::string(64, 'a')) ==
          "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb");
    CHECK(hex(engine, std::string(65, 'a')) ==
          "635361c48bb9eab14198e76ea8ab7f1a41685d6ad62aa9146d301d4f17eb0ae0");
  }
}

TEST_CASE("sha256: any split of the input gives the one-shot digest, and finish() starts over") {
  std::string message;
  for (int i = 0; i < 1000; ++i) message += static_cast<char>((i * 37 + 11) & 0xff);
  const std::string expected = hex(Sha256::Engine::Portable, message);
  for (const Sha256::Engine engine : kEngines) {
    Sha256 hasher(engine);
    for (std::size_t chunk = 1; chunk <= 130; ++chunk) {
      for (std::size_t at = 0; at < message.size(); at += chunk) {
        hasher.update(std::string_view(message).substr(at, chunk));
      }
      hasher.update(nullptr, 0);
      REQUIRE(to_hex(hasher.finish()) == expected);
    }
    CHECK(to_hex(hasher.finish()) == hex(Sha256::Engine::Portable, ""));
  }
}
