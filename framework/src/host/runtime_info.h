// Facts about the running process that decide speed, and the process-wide settings that
// the `secateurs` executables make before any work: allocator behaviour, compute threads.
#pragma once

#include "secateurs/export.h"

#include <string>

namespace secateurs::host {

struct BlasInfo {
  std::string library;  // real path of the loaded BLAS, empty when none is loaded
  bool is_openblas = false;
  std::string config;  // OpenBLAS's build configuration; empty for other BLAS
  std::string core;    // OpenBLAS's kernel family, e.g. "Cooperlake"; OPENBLAS_CORETYPE forces one
  int threads = 0;     // OpenBLAS's own pool; 0 when unknown
  std::string advice;  // what to do when the BLAS is the slow reference one
};

// Debian selects libblas.so.3 through update-alternatives; the reference BLAS is about
// ten times slower than OpenBLAS for the GEMMs of training.
SECATEURS_API BlasInfo loaded_blas();

// Process-wide set-up, first thing in main(), before any other thread exists: keeps
// freed memory in the process (see runtime_info.cpp for the measurement behind it).
SECATEURS_API void prepare_process();

// LibTorch's intra-op threads and OpenBLAS's own pool, which at::set_num_threads does not
// reach (blas_threads 0: as many as LibTorch's; values below 1 change nothing).
// Process-wide: call it from the main thread, not from a worker.
SECATEURS_API void set_compute_threads(int threads, int blas_threads = 0);

}  // namespace secateurs::host
