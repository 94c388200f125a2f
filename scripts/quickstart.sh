#!/usr/bin/env bash
# The main job. Installs what is missing (Debian packages only), builds secateurs, then
# runs the quickstart experiment (experiments/quickstart.lua): an MLP on Fashion-MNIST and
# four shadow models, pruned in five iterative rounds to 70 % sparsity with no defense,
# with PPB and with WeMeM's SWMR; every membership attack and FGSM/PGD on each; one report.
# It ends by printing where the report is (index.html opens offline in any browser).
#
# The experiment's nodes go to the artifact store (runs/store): a second run reuses them
# and only rewrites the report.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup-debian.sh

build=build/release
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSECATEURS_BUILD_TESTS=OFF >/dev/null
cmake --build "$build" -j "$(nproc)"

secateurs="$build/bin/secateurs"
echo
# The build fingerprint, and the BLAS LibTorch runs on (OpenBLAS, not the reference BLAS).
"$secateurs" info
echo
start=$(date +%s)
"$secateurs" run experiments/quickstart.lua --output runs/quickstart
echo
# The first table of the report: the strongest attack on each model.
head -1 runs/quickstart/report/summary.txt
echo
sed -n '3,/^$/p' runs/quickstart/report/summary.txt
echo "quickstart experiment: $(( $(date +%s) - start )) s"
echo "report: runs/quickstart/report/index.html (figures in runs/quickstart/report/figures,"
echo "        tables in runs/quickstart/report/*.csv, database runs/quickstart/results.sqlite)"
