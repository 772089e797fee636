#!/bin/sh
# Redlock's cost: libredlock acquire+release pairs over five local masters (a quorum client) against the same pairs
# on one of them alone (redis://), interleaved per round, and node-redlock 5.0.0-beta.2 over the same five. Servers in
# a temp dir on free ports, removed at exit. Usage: scripts/bench-redlock.sh [pairs] [rounds]
set -eu
cd "$(dirname "$0")/.."
. scripts/bench-lib.sh
bench_init quorum "$@"
(cd bindings/node && npm ci --no-audit --no-fund --loglevel=error >/dev/null)  # node-redlock and ioredis
ports= urls=
for i in 1 2 3 4 5; do
  p=$(free_port)
  start_server "$tmp" "$p" "$p"
  ports="$ports $p" urls="$urls redis://127.0.0.1:$p"
done
first=${ports# }; first=${first%% *}
b=build-bench/bench/redlock_pairs
echo "| round | one master (redis://) | five masters (quorum) | ratio | node-redlock, five masters | ratio to ours |"
echo "| --- | --- | --- | --- | --- | --- |"
for r in $(seq "$rounds"); do
  one=$(wall "$($b "$first" "$pairs")")
  five=$(wall "$(REDLOCK_BENCH_URLS="${urls# }" $b 0 "$pairs")")
  node=$(wall "$(node bench/node_redlock_pairs.js "$((pairs / 4))" $ports)")
  printf '| %s | %s | %s | %s | %s | %s |\n' "$r" "$one" "$five" "$(ratio "$five" "$one")" \
    "$node" "$(ratio "$node" "$five")"
done
