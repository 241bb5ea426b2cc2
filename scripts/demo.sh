#!/usr/bin/env bash
# The main job, end to end on this machine: set up (venv, dependencies; idempotent), then sample two
# design spaces into a store and show how they differ in complexity.
#   DSE_DEMO_N     models per space (default 100)
#   DSE_DEMO_DIR   where the demo's store goes (default ./dse-demo)
set -euo pipefail
source "$(dirname "$0")/_env.sh"
n="${DSE_DEMO_N:-100}"
dir="${DSE_DEMO_DIR:-$PWD/dse-demo}"
mkdir -p "$dir"
export DSE_DB="$dir/dse.sqlite"

echo "== design spaces =="
dse spaces
echo
echo "== RegNetX-400MF, as published (397,678,568 flops) =="
dse model regnet --depth 22 --w0 24 --wa 24.48 --wm 2.54 --group-width 16
for space in anynet_a anynet_e; do
  echo
  echo "== dse sample --space $space -n $n =="
  dse sample --space "$space" -n "$n"
done
echo
dse status
dse export -o "$dir/models.csv"
echo
echo "store: $DSE_DB   table: $dir/models.csv"
