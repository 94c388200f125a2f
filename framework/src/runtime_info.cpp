#include "host/runtime_info.h"

#include <ATen/Parallel.h>
#include <dlfcn.h>
#include <link.h>
#include <malloc.h>

#include <filesystem>

namespace secateurs::host {

namespace {

int collect_blas(dl_phdr_info* info, size_t, void* data) {
  auto* found = static_cast<std::string*>(data);
  const std::string name = info->dlpi_name ? info->dlpi_name : "";
  if (name.find("libblas.so") != std::string::npos ||
      name.find("libopenblas") != std::string::npos) {
    std::error_code error;
    const auto real = std::filesystem::canonical(name, error);
    *found = error ? name : real.string();
    return 1;
  }
  return 0;
}

// OpenBLAS's extensions, looked up at run time: LibTorch links the generic libblas.so.3,
// which may resolve to another BLAS that lacks them.
template <typename Function>
Function* openblas_function(const char* name) {
  return reinterpret_cast<Function*>(dlsym(RTLD_DEFAULT, name));
}

std::string call_text(const char* name) {
  auto* function = openblas_function<char*()>(name);
  const char* text = function != nullptr ? function() : nullptr;
  return text != nullptr ? text : "";
}

}  // namespace

BlasInfo loaded_blas() {
  BlasInfo blas;
  dl_iterate_phdr(collect_blas, &blas.library);
  blas.is_openblas = blas.library.find("openblas") != std::string::npos;
  if (!blas.library.empty() && !blas.is_openblas) {
    blas.advice =
        "this is not OpenBLAS; training will be about ten times slower. Install "
        "libopenblas0-pthread (scripts/setup-debian.sh does) or select it with "
        "update-alternatives --config libblas.so.3-x86_64-linux-gnu";
  }
  blas.config = call_text("openblas_get_config");
  blas.core = call_text("openblas_get_corename");
  if (auto* threads = openblas_function<int()>("openblas_get_num_threads")) {
    blas.threads = threads();
  }
  return blas;
}

void prepare_process() {
  // glibc maps large blocks (above a threshold it adjusts on the fly, depending on what
  // was freed before) and gives freed memory back to the kernel; a training step
  // allocates and frees the same buffers on every batch, and each batch can then pay
  // page faults. How much depends on what ran earlier in the process: the small CNN,
  // trained after the MLP with contiguous weights, ran at 518 samples/s in one run and
  // 2,963 in another, the slow one spending 0.38 s per second in the kernel
  // (bench/RESULTS.md). Fixed thresholds keep freed memory in the process and make the
  // speed independent of the history.
  mallopt(M_MMAP_THRESHOLD, 1 << 30);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  mallopt(M_TOP_PAD, 64 << 20);
}

void set_compute_threads(int threads, int blas_threads) {
  if (threads < 1) return;
  at::set_num_threads(threads);
  if (auto* set = openblas_function<void(int)>("openblas_set_num_threads")) {
    set(blas_threads > 0 ? blas_threads : threads);
  }
}

}  // namespace secateurs::host
