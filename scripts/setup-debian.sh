#!/usr/bin/env bash
# Installs the Debian 12 packages secateurs needs to build, test and run. Idempotent:
# silent when everything is present; uses sudo when not run as root. Nothing is
# downloaded except Debian packages.
#
#   scripts/setup-debian.sh [PACKAGE...]   extra packages, e.g. the benchmarks' (bench/)
set -euo pipefail

packages=(
  # toolchain
  cmake ninja-build g++ git
  # libraries
  libtorch-dev libyaml-cpp-dev libcli11-dev doctest-dev zlib1g-dev libtbb-dev
  # Lua 5.4 built as C++ (liblua5.4-c++) for experiment scripts; SQLite for each run's
  # results database
  liblua5.4-dev libsqlite3-dev
  # the reports' figures (SVG and PNG)
  gnuplot-nox
  # LibTorch's BLAS: OpenBLAS (pthreads). The reference BLAS is about ten times slower.
  libopenblas0-pthread
  # the default data: Fashion-MNIST in IDX gzip under /usr/share/datasets/fashion-mnist
  dataset-fashion-mnist
  "$@"
)

missing=()
for package in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$package")
done

as_root() {
  if [[ $(id -u) -eq 0 ]]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    echo "setup-debian: need root or sudo to run: $*" >&2
    exit 1
  fi
}

if [[ ${#missing[@]} -gt 0 ]]; then
  echo "setup-debian: installing ${missing[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Debian picks the BLAS through update-alternatives; OpenBLAS wins by priority unless
# someone chose otherwise by hand.
blas_link=libblas.so.3-x86_64-linux-gnu
openblas=/usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3
current=$(update-alternatives --query "$blas_link" 2>/dev/null | sed -n 's/^Value: //p')
if [[ -n "$current" && "$current" != "$openblas" && -e "$openblas" ]]; then
  echo "setup-debian: LibTorch would use $current; selecting OpenBLAS ($openblas)"
  as_root update-alternatives --set "$blas_link" "$openblas"
fi
