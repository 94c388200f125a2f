// Facts about the running process that decide speed: which BLAS LibTorch ended up with.
#pragma once

#include "secateurs/export.h"

#include <string>

namespace secateurs::host {

struct BlasInfo {
  std::string library;  // real path of the loaded BLAS, empty when none is loaded
  bool is_openblas = false;
  std::string advice;  // what to do when the BLAS is the slow reference one
};

// Debian selects libblas.so.3 through update-alternatives; the reference BLAS is about
// ten times slower than OpenBLAS for the GEMMs of training.
SECATEURS_API BlasInfo loaded_blas();

}  // namespace secateurs::host
