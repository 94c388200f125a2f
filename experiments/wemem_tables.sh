#!/usr/bin/env bash
# The tables of docs/RESULTS.md from the results database of the reproduction study:
#
#   secateurs run experiments/wemem_reproduction.lua --output runs/wemem_reproduction
#   experiments/wemem_tables.sh runs/wemem_reproduction/results.sqlite
#
# For every condition (dense; one-shot or iterative pruning to a sparsity; a defense; the
# models after k of the five rounds), over the three seeds: the victim's test accuracy and
# generalization gap, the AUC of the strongest of the nine attacks on it (the highest AUC
# per seed, then the mean), the best TPR at 1 % FPR, and 95 % intervals (Student's t over
# the seeds). Needs the sqlite3 command (Debian package sqlite3).
set -euo pipefail
database=${1:-runs/wemem_reproduction/results.sqlite}
[[ -f "$database" ]] || { echo "wemem_tables: no database at $database" >&2; exit 1; }

# One row per attack of the latest run: attack node, seed, AUC, TPR at 1 % FPR, and its
# target's train and test accuracy.
sqlite3 -separator '|' "$database" "
  SELECT a.node, a.seed, a.auc, a.tpr_at_1pct, m.train_accuracy, m.test_accuracy, a.attack
  FROM attack_results a JOIN model_results m ON m.run = a.run AND m.node = a.target
  WHERE a.run = (SELECT MAX(run) FROM runs)" |
awk -F'|' '
  # Student t, 97.5 % quantile, by degrees of freedom.
  function t975(df) { return df == 1 ? 12.706 : df == 2 ? 4.303 : df == 3 ? 3.182 : df == 4 ? 2.776 : 1.96 }
  function half(sum, sq, n,   var) {
    if (n < 2) return 0
    var = (sq - sum * sum / n) / (n - 1); if (var < 0) var = 0
    return t975(n - 1) * sqrt(var / n)
  }
  {
    # "seed 2 iterative 0.7 swmr attack.rmia" -> condition "iterative 0.7 swmr"
    n = split($1, w, " "); cond = w[3]; for (i = 4; i < n; ++i) cond = cond " " w[i]
    key = cond SUBSEP $2
    if (!(key in auc) || $3 > auc[key]) auc[key] = $3
    if (!(key in tpr) || $4 > tpr[key]) tpr[key] = $4
    train[key] = $5; test[key] = $6; seeds[cond] = seeds[cond] " " $2
    per_attack[cond SUBSEP $7] += $3; per_attack_n[cond SUBSEP $7]++
    attacks[$7] = 1; conds[cond] = 1
  }
  function row(cond,   k, s, n, a1, a2, t1, t2, e1, e2, g1, seedlist, m, seen) {
    if (!(cond in conds)) return
    n = split(seeds[cond], seedlist, " "); m = 0
    for (k = 1; k <= n; ++k) {
      s = seedlist[k]; if (s in seen) continue; seen[s] = 1; ++m
      key = cond SUBSEP s
      a1 += auc[key]; a2 += auc[key] ^ 2; t1 += tpr[key]; t2 += tpr[key] ^ 2
      e1 += test[key]; e2 += test[key] ^ 2; g1 += train[key] - test[key]
    }
    printf "| %s | %d | %.2f ± %.2f | %.2f | %.4f ± %.4f | %.2f ± %.2f |\n", cond, m, \
      100 * e1 / m, 100 * half(e1, e2, m), 100 * g1 / m, a1 / m, half(a1, a2, m), \
      100 * t1 / m, 100 * half(t1, t2, m)
  }
  function paired(a, b,   s, d, d1, d2, m, line) {
    if (!(a in conds) || !(b in conds)) return
    line = "| " a " − " b
    for (s = 1; s <= 3; ++s) {
      if (!((a SUBSEP s) in auc) || !((b SUBSEP s) in auc)) { line = line " | -"; continue }
      d = auc[a SUBSEP s] - auc[b SUBSEP s]; d1 += d; d2 += d * d; ++m
      line = line sprintf(" | %+.4f", d)
    }
    if (m > 0) printf "%s | %+.4f ± %.4f |\n", line, d1 / m, half(d1, d2, m)
  }
  function header(title) {
    printf "\n%s\n\n| condition | seeds | test acc. %% | gap (points) | strongest AUC | best TPR at 1%% FPR (%%) |\n", title
    printf "| --- | --- | --- | --- | --- | --- |\n"
  }
  END {
    header("Dense, one-shot and iterative pruning (no defense)")
    row("dense")
    for (s = 1; s <= 3; ++s) { sp = s == 1 ? "0.5" : s == 2 ? "0.7" : "0.9"
      row("one-shot " sp); row("iterative " sp " none") }
    split("none rsw rmr swmr ppb relaxloss label_smoothing early_stopping", defenses, " ")
    for (s = 1; s <= 3; ++s) { sp = s == 1 ? "0.5" : s == 2 ? "0.7" : "0.9"
      header("Defenses, iterative pruning to " sp)
      for (d = 1; d <= 8; ++d) row("iterative " sp " " defenses[d]) }
    header("Rounds of the five-round schedule to 0.9 (sparsity after round k: 1 - 0.1^(k/5))")
    row("dense")
    for (k = 1; k <= 4; ++k) { row("round " k " of 0.9 none"); row("round " k " of 0.9 swmr") }
    row("iterative 0.9 none"); row("iterative 0.9 swmr")
    printf "\nPaired by seed (the same members and shadow data): the difference in the strongest AUC\n\n| difference | seed 1 | seed 2 | seed 3 | mean ± 95%% interval |\n| --- | --- | --- | --- | --- |\n"
    for (s = 1; s <= 3; ++s) { sp = s == 1 ? "0.5" : s == 2 ? "0.7" : "0.9"
      paired("iterative " sp " none", "dense"); paired("iterative " sp " none", "one-shot " sp)
      paired("one-shot " sp, "dense"); paired("iterative " sp " swmr", "iterative " sp " none")
      paired("iterative " sp " rsw", "iterative " sp " none")
      paired("iterative " sp " rmr", "iterative " sp " none") }
    printf "\nEach attack: AUC, mean over the seeds\n\n| attack | dense | iterative 0.9 none | iterative 0.9 swmr | iterative 0.9 ppb |\n| --- | --- | --- | --- | --- |\n"
    for (a in attacks) {
      printf "| %s", a
      split("dense|iterative 0.9 none|iterative 0.9 swmr|iterative 0.9 ppb", cs, "|")
      for (c = 1; c <= 4; ++c) { k = cs[c] SUBSEP a
        if (k in per_attack) printf " | %.4f", per_attack[k] / per_attack_n[k]; else printf " | -" }
      printf " |\n"
    }
  }'
