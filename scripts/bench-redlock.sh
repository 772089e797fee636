#!/bin/sh
# Redlock's cost: libredlock acquire+release pairs over five local masters (a quorum client) against the same pairs
# on one of them alone (redis://), interleaved per round, and node-redlock 5.0.0-beta.2 over the same five. Servers in
# a temp dir on free ports, removed at exit. Usage: scripts/bench-redlock.sh [pairs] [rounds]
set -eu
cd "$(dirname "$0")/.."
pairs=${1:-20000}
rounds=${2:-5}
sh scripts/deps.sh
cmake -S . -B build-bench -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build-bench --target redlock_pairs >/dev/null
(cd bindings/node && npm ci --no-audit --no-fund --loglevel=error >/dev/null)  # node-redlock and ioredis
tmp=$(mktemp -d /tmp/redlock-bench-quorum-XXXXXX)
trap 'for f in "$tmp"/*.pid; do kill "$(cat "$f")" 2>/dev/null || true; done; rm -rf "$tmp"' EXIT
free_port() { /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
ports= urls=
for i in 1 2 3 4 5; do
  p=$(free_port)
  mkdir -p "$tmp/$p"
  redis-server --port "$p" --bind 127.0.0.1 --save '' --appendonly no --dir "$tmp/$p" --daemonize yes \
    --pidfile "$tmp/$p.pid" --logfile "$tmp/$p/log"
  ports="$ports $p" urls="$urls redis://127.0.0.1:$p"
done
for p in $ports; do
  for i in $(seq 100); do redis-cli -p "$p" ping >/dev/null 2>&1 && break; sleep 0.05; done
done
first=${ports# }; first=${first%% *}
b=build-bench/bench/redlock_pairs
w() { x=${1#*wall_us=}; echo "${x%% *}"; }
echo "| round | one master (redis://) | five masters (quorum) | ratio | node-redlock, five masters | ratio to ours |"
echo "| --- | --- | --- | --- | --- | --- |"
for r in $(seq "$rounds"); do
  one=$(w "$($b "$first" "$pairs")")
  five=$(w "$(REDLOCK_BENCH_URLS="${urls# }" $b 0 "$pairs")")
  node=$(w "$(node bench/node_redlock_pairs.js "$((pairs / 4))" $ports)")
  printf '| %s | %s | %s | %s | %s | %s |\n' "$r" "$one" "$five" "$(awk -v a="$five" -v b="$one" 'BEGIN{printf "%.2fx", a/b}')" \
    "$node" "$(awk -v a="$node" -v b="$five" 'BEGIN{printf "%.2fx", a/b}')"
done
