#!/usr/bin/env bash
# Configures and builds RIDE into a build directory.
#   scripts/build.sh [release|asan]   (default: release, in build/; asan in build-asan/)
set -euo pipefail
cd "$(dirname "$0")/.."

kind=${1:-release}
jobs=$(nproc)
case "$kind" in
  release)
    cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DRIDE_WERROR=ON >/dev/null
    cmake --build build -j"$jobs"
    ;;
  asan)
    # CUDA stays out of the sanitizer build: nvcc objects are not instrumented and
    # the GPU tests need a device anyway.
    cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DRIDE_WERROR=ON \
      -DRIDE_SANITIZE=ON -DRIDE_CUDA=OFF -DRIDE_BUILD_BENCH=OFF >/dev/null
    cmake --build build-asan -j"$jobs"
    ;;
  *)
    echo "usage: $0 [release|asan]" >&2
    exit 2
    ;;
esac
