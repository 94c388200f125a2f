#include <doctest/doctest.h>

#include "host/fingerprint.h"

using namespace secateurs::host;

namespace {
const std::string kHost = "compiler=gcc-12.2.0;cxx11abi=1;libtorch=1.13.0;secateurs=0.1.0";
}

TEST_CASE("fingerprint: the host's own is complete") {
  const std::string own = host_fingerprint();
  CHECK(own.find("compiler=") == 0);
  CHECK(own.find(";cxx11abi=1;") != std::string::npos);
  CHECK(own.find(";libtorch=") != std::string::npos);
  CHECK(own.find(";secateurs=") != std::string::npos);
  CHECK_FALSE(fingerprint_difference(own, own));
}

TEST_CASE("fingerprint: the compatibility rule, field by field") {
  // Compatible: another patch of the compiler, another patch of secateurs.
  CHECK_FALSE(fingerprint_difference(
      kHost, "compiler=gcc-12.3.1;cxx11abi=1;libtorch=1.13.0;secateurs=0.1.4"));
  CHECK(fingerprint_difference(kHost,
                               "compiler=gcc-13.1.0;cxx11abi=1;libtorch=1.13.0;secateurs=0.1.0") ==
        "compiler differs: gcc-13.1.0 against gcc-12.2.0");
  CHECK(fingerprint_difference(
            kHost, "compiler=clang-12.0.0;cxx11abi=1;libtorch=1.13.0;secateurs=0.1.0") ==
        "compiler differs: clang-12.0.0 against gcc-12.2.0");
  CHECK(fingerprint_difference(kHost,
                               "compiler=gcc-12.2.0;cxx11abi=0;libtorch=1.13.0;secateurs=0.1.0") ==
        "cxx11abi differs: 0 against 1");
  CHECK(fingerprint_difference(kHost,
                               "compiler=gcc-12.2.0;cxx11abi=1;libtorch=1.13.1;secateurs=0.1.0") ==
        "libtorch differs: 1.13.1 against 1.13.0");
  CHECK(fingerprint_difference(kHost,
                               "compiler=gcc-12.2.0;cxx11abi=1;libtorch=1.13.0;secateurs=0.2.0") ==
        "secateurs differs: 0.2.0 against 0.1.0");
  CHECK(fingerprint_difference(kHost, "compiler=gcc-12.2.0;cxx11abi=1;libtorch=1.13.0") ==
        "secateurs is missing from the plugin's");
  CHECK(fingerprint_difference(kHost, "") == "compiler is missing from the plugin's");
  CHECK(fingerprint_difference(kHost, kHost + ";junk") ==
        "the plugin's has a malformed field 'junk'");
  CHECK(fingerprint_difference(kHost, kHost + ";") == "the plugin's has a malformed field ''");
  CHECK(fingerprint_difference(kHost, "compiler=clang-15.0.0;" + kHost) ==
        "the plugin's has the field compiler twice");
  CHECK(fingerprint_difference(kHost, kHost + ";blas=mkl") ==
        "the plugin's has the field blas, the host's has not");
}
