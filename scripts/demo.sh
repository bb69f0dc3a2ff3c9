#!/usr/bin/env bash
# Installs what is missing, builds RIDE and runs the demo cluster on this machine
# (docs/demo.md): ZooKeeper, a master with the embedded Kafka cluster, four workers
# (one a spare) and a producer with two synthetic 900x900 cameras; the demo
# manifest config/apps/demo.yaml; one worker killed with SIGKILL halfway through.
# Output images and the daemons' logs land in demo-output/.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh
scripts/build.sh release
exec build/bin/ride-demo --manifest config/apps/demo.yaml --out demo-output "$@"
