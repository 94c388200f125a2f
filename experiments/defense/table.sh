#!/usr/bin/env bash
# The defense table of docs/defenses.md: experiments/defense/mlp_fashion_mnist.yaml (the
# MLP victim pruned iteratively to 70 % sparsity in 5 rounds, 4 shadows and 4 online
# shadows defended alike) once per defense, then one row per defense: the victim's test
# accuracy and sparsity, the strongest attack (highest AUC) with its TPR at 1 % FPR, the
# highest TPR at 1 % FPR of any attack, the victim's training time against the
# undefended run's, the memorization scores' and the defense search's wall time (each for
# the whole run: every model's training set, every candidate), and the run's wall time.
#
#   experiments/defense/table.sh [BUILD_DIR] [OUTPUT_DIR] [DEFENSE...]
#
# BUILD_DIR defaults to build, OUTPUT_DIR to runs/defense-table; with no DEFENSE every
# row runs. A run whose attacks.csv exists is not run again. Each run trains its models
# in parallel on every core (THREADS to change). Prints the table and writes it to
# OUTPUT_DIR/table.md.
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build}
out=${2:-runs/defense-table}
shift $(($# < 2 ? $# : 2))
threads=${THREADS:-$(nproc)}
exe=$build/bin/secateurs
run_file=experiments/defense/mlp_fashion_mnist.yaml
mkdir -p "$out"

# name|settings (each a --set of the run file)
rows=(
  "none|"
  "rsw|pruning.defense={component: defense.rsw, params: {order: high_to_low, width: 0.4, stride: 0.15}}"
  "rmr|pruning.defense={component: defense.rmr, params: {threshold: 0.8, risky_weight_decay: 0.1}}"
  "swmr|pruning.defense={component: defense.swmr, params: {order: high_to_low, width: 0.4, stride: 0.15, threshold: 0.8, risky_weight_decay: 0.1}}"
  "swmr_auto|pruning.defense={component: defense.swmr, params: {order: high_to_low, risky_weight_decay: 0.1}};defense_search={grid: {width: [0.3, 0.5], stride: [0.1, 0.2], threshold: [0.7, 0.9]}, auc_target: 0.55, shadows: 2}"
  "ppb|pruning.defense={component: defense.ppb}"
  "adversarial_regularization|pruning.defense={component: defense.adversarial_regularization}"
  "dp_sgd|pruning.defense={component: defense.dp_sgd, params: {noise_multiplier: 1.0, max_grad_norm: 1.0}}"
  "relaxloss|pruning.defense={component: defense.relaxloss}"
  "label_smoothing|pruning.defense={component: defense.label_smoothing, params: {smoothing: 0.1}}"
  "mixup_mmd|pruning.defense={component: defense.mixup_mmd}"
  "early_stopping|trainer.patience=5;trainer.restore_best=true;trainer.monitor=dev_loss;pruning.finetune.patience=1;pruning.finetune.restore_best=true;pruning.finetune.monitor=dev_loss"
)

wanted=("$@")
selected() {
  [ ${#wanted[@]} -eq 0 ] && return 0
  local w
  for w in "${wanted[@]}"; do [ "$w" = "$1" ] && return 0; done
  return 1
}

for row in "${rows[@]}"; do
  name=${row%%|*}
  settings=${row#*|}
  selected "$name" || continue
  dir=$out/$name
  [ -f "$dir/attacks.csv" ] && continue
  args=()
  if [ -n "$settings" ]; then
    IFS=';' read -ra sets <<<"$settings"
    for s in "${sets[@]}"; do args+=(--set "$s"); done
  fi
  echo "== $name"
  start=$(date +%s)
  "$exe" attack "$run_file" --threads "$threads" --output "$dir" "${args[@]}" >"$dir.log" 2>&1
  echo "$(($(date +%s) - start))" >"$dir/wall_seconds"
  tail -n 3 "$dir.log"
done

# One row per finished run.
victim_field() {  # victim_field DIR COLUMN
  awk -F, -v col="$2" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == col) c = i }
                       $1 == "victim" { print $c }' "$1/models.csv"
}
none_seconds=""
[ -f "$out/none/models.csv" ] && none_seconds=$(victim_field "$out/none" seconds)
{
  echo "| defense | test acc. % | sparsity | strongest attack | AUC | TPR@1% FPR | best TPR@1% (attack) | victim training s (extra) | memorization s | search s | run wall s |"
  echo "|---|---|---|---|---|---|---|---|---|---|---|"
  for row in "${rows[@]}"; do
    name=${row%%|*}
    dir=$out/$name
    [ -f "$dir/attacks.csv" ] || continue
    acc=$(victim_field "$dir" test_accuracy)
    sparsity=$(victim_field "$dir" sparsity)
    seconds=$(victim_field "$dir" seconds)
    # attacks.csv: "attack",balanced_accuracy,auc,...,tpr_at_1pct (column 6)
    strongest=$(awk -F'",' 'NR > 1 { split($2, f, ","); if (f[2] > best) { best = f[2]; line = $1 "\"" "|" f[2] "|" f[5] } }
                            END { print line }' "$dir/attacks.csv")
    best_tpr=$(awk -F'",' 'NR > 1 { split($2, f, ","); if (f[5] > best || n == 0) { best = f[5]; a = $1 "\""; n = 1 } }
                           END { printf "%.4f (%s)", best, a }' "$dir/attacks.csv")
    IFS='|' read -r attack auc tpr <<<"$strongest"
    extra=""
    [ -n "$none_seconds" ] && extra=$(awk -v a="$seconds" -v b="$none_seconds" 'BEGIN { printf " (%+.1f)", a - b }')
    wall=$(cat "$dir/wall_seconds" 2>/dev/null || echo "?")
    # summary.txt: "memorization scores: 9 training sets, 3 folds, 0 from the cache, 151.2 s"
    # and "defense search (123.4 s): ..."
    memorization=$(sed -n 's/^memorization scores: .*, \([0-9.]*\) s$/\1/p' "$dir/summary.txt")
    search=$(sed -n 's/^defense search (\([0-9.]*\) s).*/\1/p' "$dir/summary.txt")
    printf '| %s | %.2f | %.3f | %s | %.4f | %.4f | %s | %.1f%s | %s | %s | %s |\n' "$name" \
      "$(awk -v a="$acc" 'BEGIN { print a * 100 }')" "$sparsity" "${attack//\"/}" "$auc" "$tpr" \
      "${best_tpr//\"/}" "$seconds" "$extra" "${memorization:--}" "${search:--}" "$wall"
  done
} | tee "$out/table.md"
