#!/usr/bin/env bash
# Installs what is missing, builds secateurs with -Wall -Wextra -Werror, runs every test,
# then builds the core with AddressSanitizer and UndefinedBehaviorSanitizer and runs the
# core's tests (loader, registry, parameters, YAML) under them.
#
# This is the README's test command, and .ci/run runs exactly it.
set -euo pipefail
cd "$(dirname "$0")/.."

# Chromium and its driver for the test that opens the HTML report in a browser.
scripts/setup-debian.sh chromium chromium-driver python3

jobs=$(nproc)
echo "== build (Release, warnings are errors)"
cmake -S . -B build/test -G Ninja -DCMAKE_BUILD_TYPE=Release -DSECATEURS_WERROR=ON
cmake --build build/test -j "$jobs"
echo "== tests"
ctest --test-dir build/test -j "$jobs" --output-on-failure

echo "== core tests under AddressSanitizer and UndefinedBehaviorSanitizer"
cmake -S . -B build/sanitize -G Ninja -DCMAKE_BUILD_TYPE=Debug -DSECATEURS_WERROR=ON \
  -DSECATEURS_SANITIZE=ON -DSECATEURS_CORE_ONLY=ON
# Only what the core's tests need (the training tests are not run under the sanitizers).
cmake --build build/sanitize -j "$jobs" --target secateurs_core_tests
# Leak checking (on by default with ASan) stays on.
export ASAN_OPTIONS="abort_on_error=0:halt_on_error=1:detect_stack_use_after_return=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
ctest --test-dir build/sanitize -L core -j "$jobs" --output-on-failure
