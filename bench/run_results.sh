#!/bin/bash
# Runs the measurements behind bench/RESULTS.md; each command's output, preceded by the
# date, `uptime` and the command line, goes to bench/results/<section>.log.
#
#   bench/run_results.sh [BUILD_DIR] [SECTION...]
#
# Sections: main (C++ and Python, both models, 1 thread, all 60000 images), tuned (the
# same with channels-last CNN weights and jemalloc), threads2 (2 threads, 20000 images),
# alloc (allocator comparison on the CNN), blas (OpenBLAS core type: GEMM peak and MLP),
# eval (evaluation batch size). No section names: all of them. Run it on a quiet machine
# (load below ~0.5). BENCH_REPEATS (default 1): C++/Python pairs of main and tuned;
# BENCH_NICE (default -20): the priority the commands run at.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../build-bench}
shift || true
sections=("$@")
[ ${#sections[@]} -eq 0 ] && sections=(main tuned threads2 alloc blas eval)

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
  case $section in
    main)
      # C++ and Python in turn, so that each pair shares the machine's state.
      for ((i = 0; i < repeats; ++i)); do
        log main -- "$bench" --threads 1 --eval-batch 0 --json "$out/main.jsonl"
        log main -- "${py[@]}" --threads 1 --eval-batch 0 --json "$out/main.jsonl"
      done
      ;;
    tuned)
      # The recommended process setup for both: jemalloc that keeps freed pages, and
      # channels-last CNN weights.
      for ((i = 0; i < repeats; ++i)); do
        log tuned LD_PRELOAD=$jemalloc MALLOC_CONF=$jemalloc_conf -- "$bench" --threads 1 \
          --channels-last --eval-batch 0 --json "$out/tuned.jsonl"
        log tuned LD_PRELOAD=$jemalloc MALLOC_CONF=$jemalloc_conf -- "${py[@]}" --threads 1 \
          --channels-last --eval-batch 0 --json "$out/tuned.jsonl"
      done
      ;;
    threads2)
      # Both cores; shorter (20000 images, 2 timed epochs). OpenMP's default active
      # waiting against passive waiting, as shipped and tuned.
      two=(--threads 2 --samples 20000 --epochs 2 --eval-batch 0 --json "$out/threads2.jsonl")
      tuned_env=(LD_PRELOAD=$jemalloc MALLOC_CONF=$jemalloc_conf)
      for wait in active passive; do
        log threads2 OMP_WAIT_POLICY=$wait -- "$bench" "${two[@]}"
        log threads2 OMP_WAIT_POLICY=$wait -- "${py[@]}" "${two[@]}"
        log threads2 OMP_WAIT_POLICY=$wait "${tuned_env[@]}" -- "$bench" "${two[@]}" --channels-last
        log threads2 OMP_WAIT_POLICY=$wait "${tuned_env[@]}" -- "${py[@]}" "${two[@]}" --channels-last
      done
      ;;
    alloc)
      for threads in 1; do
        common=(--model small_cnn --samples 10000 --epochs 2 --threads $threads --gemm-size 0
                --eval-batch 1024 --json "$out/alloc.jsonl")
        log alloc -- "$bench" "${common[@]}"
        log alloc -- "$bench" "${common[@]}" --mmap-threshold 33554432 --trim-threshold 268435456
        log alloc MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TRIM_THRESHOLD_=268435456 -- "$bench" "${common[@]}"
        log alloc LD_PRELOAD=$jemalloc -- "$bench" "${common[@]}"
        log alloc LD_PRELOAD=$jemalloc MALLOC_CONF=$jemalloc_conf -- "$bench" "${common[@]}"
        log alloc LD_PRELOAD=$mimalloc -- "$bench" "${common[@]}"
        log alloc LD_PRELOAD=$mimalloc "${mimalloc_env[@]}" -- "$bench" "${common[@]}"
        log alloc -- "$bench" "${common[@]}" --channels-last
        log alloc LD_PRELOAD=$mimalloc "${mimalloc_env[@]}" -- "$bench" "${common[@]}" --channels-last
        log alloc LD_PRELOAD=$jemalloc MALLOC_CONF=$jemalloc_conf -- "$bench" "${common[@]}" --channels-last
      done
      ;;
    blas)
      for core in Haswell SkylakeX Cooperlake; do
        log blas OPENBLAS_CORETYPE=$core -- "$bench" --model mlp --threads 1 --eval-batch 0 \
          --samples 20000 --gemm-size 4096 --gemm-reps 3 --json "$out/blas.jsonl"
      done
      ;;
    eval)
      for batch in 128 256 512 1024; do
        log eval -- "$bench" --model small_cnn --samples 10000 --warmup 0 --epochs 1 \
          --gemm-size 0 --eval-batch $batch
      done
      ;;
    *)
      echo "unknown section $section" >&2
      exit 2
      ;;
  esac
done
