#!/bin/bash
# Runs the measurements behind bench/RESULTS.md; each command's output, preceded by the
# date, the load average and the command line, goes to bench/results/<section>.log.
#
#   bench/run_results.sh [BUILD_DIR] [SECTION...]
#
# Sections (1 thread, the first 20000 Fashion-MNIST training images, 1 warm-up and 3
# timed epochs, unless said otherwise):
#   main     C++ as shipped (the `secateurs` process set-up, channels-last convolutions)
#            against Python PyTorch as commonly written, in the environment as it is
#   same     both sides in the same configuration: C++ as a plain LibTorch process with
#            contiguous weights against default Python; C++ as shipped against Python
#            with jemalloc (no decay) and channels-last weights
#   kernels  the MLP of main with OpenBLAS's own kernel choice (OPENBLAS_CORETYPE unset)
#   threads2 2 threads
#   alloc    allocators on the CNN trained after the MLP in one process
#   eval     evaluation batch size
# No section names: all of them. Run it on a quiet machine (load below ~0.5).
# BENCH_REPEATS (default 1): C++/Python pairs of main and same; BENCH_NICE (default -20):
# the priority the commands run at.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# Python PyTorch from Debian (the LibTorch the C++ build links) and the allocators compared.
"$here/../scripts/setup-debian.sh" python3-torch python3-numpy libjemalloc2 libmimalloc2.0
build=${1:-$here/../build-bench}
shift || true
sections=("$@")
[ ${#sections[@]} -eq 0 ] && sections=(main same kernels threads2 alloc eval)

bench=$build/bin/secateurs_bench_train
py=(/usr/bin/python3 "$here/train_throughput.py")
out=$here/results
mkdir -p "$out"
priority=${BENCH_NICE:--20}
repeats=${BENCH_REPEATS:-1}
jemalloc=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2
mimalloc=/usr/lib/x86_64-linux-gnu/libmimalloc.so.2
# jemalloc: no purging of freed pages, and no separate always-purging arena for large
# (over 8 MiB) allocations; mimalloc: freed memory stays committed.
jemalloc_conf=oversize_threshold:0,dirty_decay_ms:-1,muzzy_decay_ms:-1
mimalloc_env=(MIMALLOC_ALLOW_DECOMMIT=0 MIMALLOC_PAGE_RESET=0)
common=(--threads 1 --samples 20000 --warmup 1 --epochs 3 --eval-batch 0)

# Paths in the logs are relative to the repository, whatever the checkout's location.
cd "$here/.."
bench=$(realpath --relative-to=. "$bench")
py=(/usr/bin/python3 bench/train_throughput.py)
out=bench/results

log() {  # log SECTION [NAME=VALUE...] -- COMMAND...
  local section=$1
  shift
  local vars=()
  while [ "$1" != -- ]; do
    vars+=("$1")
    shift
  done
  shift
  {
    echo "=== $(date -u +%FT%TZ) load $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "\$ ${vars[*]} $*"
  } >>"$out/$section.log"
  # Raised priority, as the machine is shared (a no-op without the right to do so).
  nice -n "$priority" env "${vars[@]}" "$@" >>"$out/$section.log" 2>&1
  echo >>"$out/$section.log"
}

for section in "${sections[@]}"; do
  json=(--json "$out/$section.jsonl")
  case $section in
    main)
      # C++ and Python in turn, so that each pair shares the machine's state.
      for ((i = 0; i < repeats; ++i)); do
        log main -- "$bench" "${common[@]}" "${json[@]}"
        log main -- "${py[@]}" "${common[@]}" "${json[@]}"
      done
      ;;
    same)
      for ((i = 0; i < repeats; ++i)); do
        log same -- "$bench" "${common[@]}" --plain-process --contiguous "${json[@]}"
        log same -- "${py[@]}" "${common[@]}" "${json[@]}"
        log same LD_PRELOAD=$jemalloc MALLOC_CONF=$jemalloc_conf -- "$bench" "${common[@]}" \
          "${json[@]}"
        log same LD_PRELOAD=$jemalloc MALLOC_CONF=$jemalloc_conf -- "${py[@]}" "${common[@]}" \
          --channels-last "${json[@]}"
      done
      ;;
    kernels)
      # The MLP is the GEMM-bound one; the CNN's convolutions are oneDNN's, not OpenBLAS's.
      log kernels -u OPENBLAS_CORETYPE -- "$bench" "${common[@]}" --model mlp "${json[@]}"
      log kernels -u OPENBLAS_CORETYPE -- "${py[@]}" "${common[@]}" --model mlp "${json[@]}"
      ;;
    threads2)
      two=(--threads 2 --samples 20000 --warmup 1 --epochs 2 --eval-batch 0 "${json[@]}")
      log threads2 -- "$bench" "${two[@]}"
      log threads2 -- "${py[@]}" "${two[@]}"
      ;;
    alloc)
      # The CNN after the MLP: glibc's adaptive threshold has then seen the MLP's frees.
      small=(--model mlp,small_cnn --threads 1 --samples 10000 --warmup 1 --epochs 2
             --gemm-size 0 --eval-batch 0 --contiguous "${json[@]}")
      log alloc -- "$bench" "${small[@]}" --plain-process
      log alloc -- "$bench" "${small[@]}"
      log alloc LD_PRELOAD=$jemalloc -- "$bench" "${small[@]}" --plain-process
      log alloc LD_PRELOAD=$jemalloc MALLOC_CONF=$jemalloc_conf -- "$bench" "${small[@]}" \
        --plain-process
      log alloc LD_PRELOAD=$mimalloc "${mimalloc_env[@]}" -- "$bench" "${small[@]}" \
        --plain-process
      ;;
    eval)
      for batch in 128 256 512 1024; do
        log eval -- "$bench" --model small_cnn --samples 10000 --warmup 0 --epochs 1 \
          --gemm-size 0 --eval-batch $batch "${json[@]}"
      done
      ;;
    *)
      echo "unknown section $section" >&2
      exit 2
      ;;
  esac
done
