#!/bin/sh
# Side-by-side speed: raw hiredis (the floor), redis-py, node-redlock and libredlock on one throwaway server,
# then libredlock's per-round ratios to the floor and their medians (goals: wall <= 1.10x, CPU <= 1.25x).
# Usage: scripts/bench.sh [pairs] [rounds]   (needs ../shared/bench/anchors.sh beside this checkout, and npm)
set -eu
cd "$(dirname "$0")/.."
anchors=${REDLOCK_ANCHORS:-../shared/bench/anchors.sh}
if [ ! -f "$anchors" ]; then
  echo "bench.sh needs the anchor benchmarks (raw hiredis, redis-py, node-redlock side by side): $anchors is missing." >&2
  echo "They ship beside this checkout in the project's workspace; set REDLOCK_ANCHORS to their anchors.sh." >&2
  exit 2
fi
sh scripts/deps.sh
cmake -S . -B build-bench -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null  # symbols for profilers
cmake --build build-bench --target redlock_pairs
out=$(bash "$anchors" "${1:-20000}" "${2:-5}" "$(pwd)/build-bench/bench/redlock_pairs")
printf '%s\n' "$out"
printf '%s\n' "$out" | awk '
  function median(a, n,   i, j, t) {
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
  }
  { name = $1; sec = ""; k = 0
    for (i = 2; i <= NF; i++) {
      if ($i == "wall_us:") { sec = "w"; k = 0; continue }
      if ($i == "cpu_us:") { sec = "c"; k = 0; continue }
      k++; v[name, sec, k] = $i; rounds = k
    } }
  END {
    for (r = 1; r <= rounds; r++) {
      wr[r] = v["libredlock", "w", r] / v["raw-hiredis", "w", r]
      cr[r] = v["libredlock", "c", r] / v["raw-hiredis", "c", r]
      printf "round %d: libredlock / raw-hiredis  wall %.2fx  cpu %.2fx\n", r, wr[r], cr[r]
    }
    printf "median: wall %.2fx (goal <= 1.10x)  cpu %.2fx (goal <= 1.25x)\n", median(wr, rounds), median(cr, rounds)
  }'
