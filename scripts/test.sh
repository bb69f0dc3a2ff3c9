#!/usr/bin/env bash
# Installs what is missing, builds RIDE with warnings as errors and runs every
# test; then builds again with ASan+UBSan and runs the tests once more.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
jobs=$(nproc)

echo "== release build: all tests"
scripts/build.sh release
ctest --test-dir build --output-on-failure -j"$jobs"

echo "== ASan+UBSan build: all tests"
scripts/build.sh asan
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build-asan --output-on-failure -j"$jobs"
