#!/bin/sh
# Side-by-side speed: raw hiredis (the floor), redis-py, node-redlock and libredlock on one throwaway server.
# Usage: scripts/bench.sh [pairs] [rounds]   (needs ../shared/bench/anchors.sh beside this checkout, and npm)
set -eu
cd "$(dirname "$0")/.."
sh scripts/deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build --target redlock_pairs
bash ../shared/bench/anchors.sh "${1:-20000}" "${2:-5}" "$(pwd)/build/bench/redlock_pairs"
