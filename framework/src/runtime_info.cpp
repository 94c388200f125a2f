#include "host/runtime_info.h"

#include <link.h>

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
  return blas;
}

}  // namespace secateurs::host
