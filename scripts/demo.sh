#!/usr/bin/env bash
# Installs what is missing, builds RIDE and runs the demo: generated 900x900
# frames go through the wire format (encoded, chunked, reassembled, checked) into
# the grayscale and stddev kernels; output PNGs land in demo-out/.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
scripts/build.sh release
exec build/bin/ride-demo --out demo-out "$@"
