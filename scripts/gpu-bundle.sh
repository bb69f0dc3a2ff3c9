#!/usr/bin/env bash
# Packs RIDE's GPU tests and the kernel bench of a release build, with every shared
# library they load except the C library and CUDA's own, into gpu-bundle/: for a GPU
# host that has the NVIDIA driver and CUDA 13's libraries (cudart, cuBLAS, cuFFT) but
# not RIDE's Debian dependencies. The libraries travel as xz parts of at most 48 MiB.
#
#   scripts/build.sh release && scripts/gpu-bundle.sh
#
# On the GPU host, next to gpu-bundle/ (docs/gpu.md, "Running them on a GPU machine"):
#
#   gpu-bundle/run.sh tests          # every GPU test; exit 1 if one fails or skips
#   gpu-bundle/run.sh bench [ARGS]   # ride-bench-kernels ARGS (e.g. --huge)
set -euo pipefail
cd "$(dirname "$0")/.."

build=${BUILD_DIR:-build}
out=gpu-bundle
programs=(test_cuda_device test_cuda_runner test_cuda_kernels test_cuda_filters
  test_cuda_linalg test_cuda_surf test_gpu_device test_task_device ride-bench-kernels)

for p in "${programs[@]}"; do
  [ -x "$build/bin/$p" ] || { echo "gpu-bundle: $build/bin/$p missing: build first" >&2; exit 2; }
done
[ -f "$build/kernels/libride_cuda.a" ] ||
  { echo "gpu-bundle: $build was built without CUDA (nvcc not found?)" >&2; exit 2; }

rm -rf "$out"
mkdir -p "$out/bin" "$out/stage/lib"
cp "${programs[@]/#/$build/bin/}" "$out/bin/"

# Every library the programs resolve here, but the C library, the loader and CUDA's
# (the GPU host brings the ones that match its driver).
for p in "${programs[@]}"; do ldd "$build/bin/$p"; done |
  awk '$2 == "=>" && $3 ~ /^\// { print $3 }' | sort -u |
  grep -Ev '/(libc|libm|libpthread|libdl|librt|ld-linux[^/]*)\.so|/libcuda\.so|/libcudart\.so|/libcublas(Lt)?\.so|/libcufft\.so' |
  xargs cp -L -t "$out/stage/lib"

tar -C "$out/stage" -cf - lib | xz -T0 -6 | split -b 48M -d - "$out/lib.tar.xz.part-"
rm -rf "$out/stage"

cat > "$out/run.sh" <<'EOF'
#!/usr/bin/env bash
# Runs the bundled GPU tests or bench (see scripts/gpu-bundle.sh).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
if [ ! -d "$here/lib" ]; then
  cat "$here"/lib.tar.xz.part-* | xz -d | tar -C "$here" -xf - || exit 2
fi
cuda_dirs=$(find / -xdev \( -name 'libcublas.so.13' -o -name 'libcufft.so.12' -o -name 'libcudart.so.13' \) \
  -printf '%h\n' 2>/dev/null | sort -u | paste -sd:)
export LD_LIBRARY_PATH="$here/lib${cuda_dirs:+:$cuda_dirs}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
case "${1:-tests}" in
  tests)
    failed=0
    for t in "$here"/bin/test_*; do
      "$t"
      rc=$?
      echo "== $(basename "$t"): exit $rc"
      [ "$rc" -eq 0 ] || failed=1
    done
    exit "$failed"
    ;;
  bench)
    shift
    exec "$here/bin/ride-bench-kernels" "$@"
    ;;
  *)
    echo "usage: $0 tests | bench [ride-bench-kernels options]" >&2
    exit 2
    ;;
esac
EOF
chmod +x "$out/run.sh"
du -sh "$out"/lib.tar.xz.part-* "$out/bin" | sed 's/^/gpu-bundle: /'
