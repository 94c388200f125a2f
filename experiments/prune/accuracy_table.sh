#!/usr/bin/env bash
# The accuracy-against-sparsity table of docs/pruning.md: the MLP of mlp_fashion_mnist.yaml
# pruned by magnitude (global), random, Taylor, structured L1 and hybrid to 50, 70 and 90%
# sparsity, one-shot (then 5 fine-tuning epochs) against iterative (5 rounds of 1 epoch).
# The dense model is trained once, by the first run; the others start from its
# checkpoint. Runs go in parallel, one LibTorch thread each.
#
#   experiments/prune/accuracy_table.sh [BUILD_DIR] [OUTPUT_DIR]
#
# BUILD_DIR defaults to build, OUTPUT_DIR to runs/pruning-table; JOBS (default: the
# number of cores) runs at once. Prints the table and writes it to OUTPUT_DIR/table.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
out=${2:-runs/pruning-table}
jobs=${JOBS:-$(nproc)}
exe=$build/bin/secateurs
run_file=experiments/prune/mlp_fashion_mnist.yaml
mkdir -p "$out"

pruners=("magnitude:pruner.magnitude:{scope: global}" "random:pruner.random:{}"
         "taylor:pruner.taylor:{}" "structured_l1:pruner.filter_norm:{norm: l1}"
         "hybrid:pruner.hybrid:{}")
sparsities=(0.5 0.7 0.9)
schedules=(one_shot iterative)

prune() {  # prune NAME COMPONENT PARAMS SCHEDULE SPARSITY [--set ...]
  local name=$1 component=$2 params=$3 schedule=$4 sparsity=$5
  shift 5
  local dir=$out/$name-$schedule-$sparsity epochs=1
  [ "$schedule" = one_shot ] && epochs=5
  [ -f "$dir/rounds.csv" ] && return 0
  "$exe" prune "$run_file" --threads 1 --output "$dir" \
    --set "pruning.pruner.component=$component" --set "pruning.pruner.params=$params" \
    --set "pruning.schedule.schedule=$schedule" --set "pruning.schedule.sparsity=$sparsity" \
    --set "pruning.finetune.epochs=$epochs" "$@" >"$dir.log" 2>&1
}

# The first run trains the dense model and saves it as dense.ckpt.
first=${pruners[0]}
IFS=: read -r name component params <<<"$first"
start=$(date +%s)
prune "$name" "$component" "$params" one_shot 0.5
dense=$out/$name-one_shot-0.5/dense.ckpt

for entry in "${pruners[@]}"; do
  IFS=: read -r name component params <<<"$entry"
  for schedule in "${schedules[@]}"; do
    for sparsity in "${sparsities[@]}"; do
      while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n; done
      prune "$name" "$component" "$params" "$schedule" "$sparsity" \
        --set "pruning.start.checkpoint=$dense" &
    done
  done
done
wait
elapsed=$(($(date +%s) - start))

# The last kept round of each run (after channel removal, when there was one).
final() {  # final DIR COLUMN
  awk -F, -v column="$2" 'NR == 1 { for (i = 1; i <= NF; ++i) index_of[$i] = i; next }
    $2 == 1 { value = $index_of[column] } END { print value }' "$1/rounds.csv"
}
dense_accuracy=$(awk -F, 'NR == 2 { print $12 }' "$out/$name-one_shot-0.5/rounds.csv")
{
  awk -v a="$dense_accuracy" 'BEGIN { printf "Dense MLP: %.2f %% test accuracy. ", a * 100 }'
  printf 'Cells: test accuracy %% (sparsity reached %%).\n\n'
  printf '| pruner | schedule |'
  for s in "${sparsities[@]}"; do printf ' %s |' "$s"; done
  printf '\n|---|---|'
  for s in "${sparsities[@]}"; do printf -- '---|'; done
  printf '\n'
  for entry in "${pruners[@]}"; do
    IFS=: read -r name component params <<<"$entry"
    for schedule in "${schedules[@]}"; do
      printf '| %s | %s |' "$name" "${schedule/_/-}"
      for sparsity in "${sparsities[@]}"; do
        dir=$out/$name-$schedule-$sparsity
        awk -v a="$(final "$dir" test_accuracy)" -v s="$(final "$dir" sparsity)" \
          'BEGIN { printf " %.2f (%.1f) |", a * 100, s * 100 }'
      done
      printf '\n'
    done
  done
  printf '\n%d runs in %d s with %d jobs.\n' $((${#pruners[@]} * 6)) "$elapsed" "$jobs"
} | tee "$out/table.md"
