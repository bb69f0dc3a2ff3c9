#!/usr/bin/env bash
# Installs the Debian 12 packages RIDE builds, tests and runs with, by name.
# Idempotent: when every package is present it changes nothing and needs no network.
set -euo pipefail

packages=(
  build-essential cmake pkg-config  # toolchain
  clang libclang-rt-14-dev          # libFuzzer (scripts/fuzz.sh)
  libopencv-dev                     # capture, codecs, reference kernels
  opencv-data                       # the Haar face cascade of the facedetect task
  opencv-doc                        # tests: a photograph with faces (examples/data/messi5.jpg)
  libyaml-dev                       # manifests and daemon configs
  libisal-dev                       # CRC32C (hardware-accelerated)
  libopenblas-dev libopenblas-openmp-dev  # BLAS for the matmul task (OpenMP build)
  libfftw3-dev                      # FFT for the fft task
  librdkafka-dev                    # Kafka client and the embedded mock cluster
  libzookeeper-mt-dev zookeeper     # coordination (the server runs in integration tests)
  libuv1-dev                        # event loops, timers, sockets
  libjansson-dev                    # JSON
  libsystemd-dev systemd            # sd_notify; systemd-analyze verifies the units
  node-llhttp                       # HTTP parser (C sources, embedded)
  libcmocka-dev                     # unit tests
  prometheus                        # promtool: tests check every /metrics output
  kcat                              # tests write a corrupt frame into a stage topic
  python3                           # tests: the layering check (tests/layering)
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: run as root (or install sudo)" >&2; exit 1; }
  sudo=sudo
fi
echo "install-deps: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
