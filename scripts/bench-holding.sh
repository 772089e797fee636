#!/bin/sh
# Holding and waiting, side by side on one throwaway redis-server (TCP loopback), printed as the tables of
# docs/performance.md: handoff latency across processes (libredlock and redis-py's Lock), many threads on one client
# against raw hiredis with a connection per thread, fairness (default and fair mode), startup against raw hiredis,
# and memory per idle handle. Speed goals are ratios within this one run; the machine is noisy.
# Usage: scripts/bench-holding.sh [rounds]   (rounds of the interleaved thread and startup measurements; default 5)
set -eu
cd "$(dirname "$0")/.."
rounds=${1:-5}
. scripts/bench-lib.sh
bench_build redlock_handoff redlock_threads redlock_fairness redlock_startup redlock_memory
b=build-bench/bench

tmp=$(mktemp -d /tmp/redlock-bench-XXXXXX)
trap 'kill $(cat "$tmp/redis.pid" 2>/dev/null) 2>/dev/null || true; rm -rf "$tmp"' EXIT
port=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$tmp" --daemonize yes \
  --pidfile "$tmp/redis.pid" --logfile "$tmp/redis.log"
for i in $(seq 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.05; done

field() { printf '%s\n' "$1" | tr ' ' '\n' | sed -n "s/^$2=//p"; }
median() { tr ' ' '\n' | grep . | sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

echo "## Handoff: release in one process to acquire in another (default options: sleep 100 ms)"
echo
echo "| client | waiters | handoffs | p50 ms | p90 ms | p99 ms | max ms |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
for w in 1 8; do
  for line in "$($b/redlock_handoff "$port" $w 2000)" "$(/usr/bin/python3 bench/redis_py_handoff.py "$port" $w 40)"; do
    printf '| %s | %s | %s | %s | %s | %s | %s |\n' "${line%% *}" "$w" "$(field "$line" rounds)" \
      "$(field "$line" p50_ms)" "$(field "$line" p90_ms)" "$(field "$line" p99_ms)" "$(field "$line" max_ms)"
  done
done

echo
echo "## Many threads on one client (default options) against raw hiredis with one connection per thread"
echo
echo "| threads | raw hiredis pairs/s (median) | libredlock pairs/s (median) | ratio per round | median ratio |"
echo "| --- | --- | --- | --- | --- |"
for n in 1 8 16 32 64; do
  hs="" ls="" rs=""
  for r in $(seq "$rounds"); do
    h=$(field "$($b/redlock_threads "$port" $n 1.5 hiredis)" pairs_per_s)
    l=$(field "$($b/redlock_threads "$port" $n 1.5 libredlock)" pairs_per_s)
    hs="$hs $h" ls="$ls $l" rs="$rs $(awk -v a="$l" -v b="$h" 'BEGIN { printf "%.2f", a / b }')"
  done
  printf '| %s | %s | %s |%s | %sx |\n' $n "$(echo $hs | median)" "$(echo $ls | median)" "$rs" "$(echo $rs | median)"
done

echo
echo "## Fairness: 16 threads, a handle each, on one lock for 3 s (hold 100 us per grant)"
echo
echo "| mode | grants | fewest to one thread | most to one thread |"
echo "| --- | --- | --- | --- |"
for mode in default fair; do
  line=$($b/redlock_fairness "$port" 16 3 $mode)
  printf '| %s | %s | %s | %s |\n' $mode "$(field "$line" grants)" "$(field "$line" min)" "$(field "$line" max)"
done

echo
echo "## Startup: nothing to a first lock held (client, lock, first acquire) against raw hiredis connect + SET"
echo
echo "| round | raw hiredis us | libredlock us | ratio |"
echo "| --- | --- | --- | --- |"
rs=""
for r in $(seq "$rounds"); do
  h=$(field "$($b/redlock_startup "$port" 200 hiredis)" startup_us)
  l=$(field "$($b/redlock_startup "$port" 200 libredlock)" startup_us)
  ratio=$(awk -v a="$l" -v b="$h" 'BEGIN { printf "%.2f", a / b }')
  rs="$rs $ratio"
  printf '| %s | %s | %s | %sx |\n' "$r" "$h" "$l" "$ratio"
done
echo "| median | | | $(echo $rs | median)x |"

echo
line=$($b/redlock_memory "$port" 1000000)
echo "## Memory: $(field "$line" bytes_per_handle) bytes per idle THREAD_LOCAL handle (100k handles);" \
  "RSS growth over 1M pairs: $(field "$line" rss_growth_kib) KiB"
