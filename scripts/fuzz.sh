#!/usr/bin/env bash
# Runs a libFuzzer target for a while, then merges what it found that adds coverage
# into the checked-in corpus (tests/fuzz/corpus/NAME), which CTest replays in every build.
#   scripts/fuzz.sh NAME SECONDS        (NAME: frame, manifest)
set -euo pipefail
cd "$(dirname "$0")/.."

name=${1:?usage: $0 NAME SECONDS}
seconds=${2:?usage: $0 NAME SECONDS}
corpus=tests/fuzz/corpus/$name
work=fuzz-work/$name

scripts/install-deps.sh
CC=clang CXX=clang++ cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DRIDE_FUZZ=ON -DRIDE_SANITIZE=ON -DRIDE_CUDA=OFF -DRIDE_BUILD_BENCH=OFF >/dev/null
cmake --build build-fuzz -j"$(nproc)" --target "fuzz_$name"

mkdir -p "$work/queue" "$work/artifacts"
cp -n "$corpus"/* "$work/queue/" 2>/dev/null || true
# -rss_limit_mb bounds what one input may make the decoder allocate.
"build-fuzz/bin/fuzz_$name" -max_total_time="$seconds" -rss_limit_mb=2048 -print_final_stats=1 \
  -artifact_prefix="$work/artifacts/" "$work/queue" 2>&1 | tee "$work/log" | grep -E '^(#[0-9]+ +(DONE|INITED)|Done|stat::|==.*ERROR)' || true

if ls "$work/artifacts"/* >/dev/null 2>&1; then
  echo "fuzz: $name produced crash artifacts in $work/artifacts" >&2
  exit 1
fi
"build-fuzz/bin/fuzz_$name" -merge=1 "$corpus" "$work/queue" >/dev/null 2>&1
echo "fuzz: $name corpus now $(ls "$corpus" | wc -l) inputs"
