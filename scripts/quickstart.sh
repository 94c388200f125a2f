#!/usr/bin/env bash
# The main job. Installs what is missing, builds secateurs and shows what this build can
# do: the build fingerprint and BLAS in use, every loaded component and its parameters,
# Fashion-MNIST loaded, checked and summarised, the victim model of the membership
# experiments trained and evaluated, pruned in five iterative rounds, then attacked by
# membership-inference attacks with shadow models (the report ends the run).
# It becomes the Fashion-MNIST quickstart experiment (experiments/quickstart.lua) next.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup-debian.sh

build=build/release
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSECATEURS_BUILD_TESTS=OFF >/dev/null
cmake --build "$build" -j "$(nproc)"

secateurs="$build/bin/secateurs"
echo
"$secateurs" info
echo
"$secateurs" plugins
"$secateurs" plugins 2>/dev/null | awk 'NR > 1 { print $1 "." $2 }' | while read -r component; do
  echo
  "$secateurs" describe "$component"
done
echo
"$secateurs" dataset dataset.fashion_mnist
echo
# The membership experiments' victim: an MLP overfit on 5,000 members drawn by the
# membership plan; the report ends with train/test accuracy and the generalization gap.
"$secateurs" train experiments/train/mlp_fashion_mnist_5000.yaml --output runs/quickstart
echo
# The victim pruned: five rounds of magnitude pruning to 70 %, each measured (sparsity,
# size, cost, train/dev/test accuracy).
"$secateurs" prune experiments/prune/mlp_fashion_mnist_5000.yaml \
  --set pruning.start.checkpoint=runs/quickstart/model.ckpt --output runs/quickstart/pruned
echo
# Membership inference on the dense victim: shadow models trained exactly as the victim,
# then attacks of each family (thresholds, learned, LiRA, RMIA, label-only), with their
# balanced accuracy, AUC and TPR at low FPR; and its FGSM/PGD robust accuracy.
# It runs as an experiment graph over the artifact store (runs/store): a second run of the
# main job reuses every stored node.
"$secateurs" run experiments/attack/mlp_fashion_mnist_quick.yaml --output runs/quickstart/attack
echo
cat runs/quickstart/attack/report/summary.txt
