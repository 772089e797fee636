#!/bin/sh
# What routing costs: libredlock acquire+release pairs through redis+sentinel:// (one master, one sentinel) and
# redis+cluster:// (three masters) against the same pairs over redis:// straight to the server that holds the key,
# interleaved per round. Servers in a temp dir on free ports, removed at exit. Usage: scripts/bench-topology.sh [pairs] [rounds]
set -eu
cd "$(dirname "$0")/.."
. scripts/bench-lib.sh
bench_init topology "$@"
m=$(free_port); s=$(free_port)
start_server "$tmp" master "$m"
printf 'sentinel monitor bench 127.0.0.1 %s 1\n' "$m" >"$tmp/sentinel.conf"
start_server "$tmp" sentinel "$s" "$tmp/sentinel.conf" --sentinel
c1=$(free_port); c2=$(free_port); c3=$(free_port)
for p in $c1 $c2 $c3; do
  start_server "$tmp" "node$p" "$p" --cluster-enabled yes --cluster-config-file nodes.conf --cluster-port "$(free_port)"
done
redis-cli --cluster create 127.0.0.1:$c1 127.0.0.1:$c2 127.0.0.1:$c3 --cluster-yes >/dev/null
for i in $(seq 100); do redis-cli -p "$c1" cluster info | grep -q cluster_state:ok && break; sleep 0.1; done
sleep 1
# The node that holds the benchmark's key (the others answer MOVED), for the direct comparison.
owner=
for p in $c1 $c2 $c3; do
  case $(redis-cli -p "$p" exists anchor:libredlock 2>&1) in *MOVED*) ;; *) owner=$p ;; esac
done
b=build-bench/bench/redlock_pairs
echo "| round | redis:// to the master | redis+sentinel:// | ratio | redis:// to the key's node | redis+cluster:// | ratio |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
for r in $(seq "$rounds"); do
  d=$(wall "$($b "$m" "$pairs")")
  t=$(wall "$(REDLOCK_BENCH_URL="redis+sentinel://127.0.0.1:$s/bench" $b 0 "$pairs")")
  e=$(wall "$($b "$owner" "$pairs")")
  k=$(wall "$(REDLOCK_BENCH_URL="redis+cluster://127.0.0.1:$c1" $b 0 "$pairs")")
  printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$r" "$d" "$t" "$(ratio "$t" "$d")" \
    "$e" "$k" "$(ratio "$k" "$e")"
done
