#!/bin/sh
# TLS cost: libredlock acquire+release pairs over rediss:// against the same over redis:// to one redis-server (a
# plain port and a TLS port), interleaved, with redis-benchmark --tls (one connection, SET) as an outside reference.
# Certificates are made in a temp dir with the openssl command. Usage: scripts/bench-tls.sh [pairs] [rounds]
set -eu
cd "$(dirname "$0")/.."
. scripts/bench-lib.sh
bench_init tls "$@"
ec="-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
printf 'subjectAltName=IP:127.0.0.1\n' >"$tmp/ext"
openssl req -x509 $ec -keyout "$tmp/ca.key" -out "$tmp/ca.crt" -days 2 -subj /CN=ca 2>/dev/null
openssl req $ec -keyout "$tmp/s.key" -out "$tmp/s.csr" -subj /CN=s 2>/dev/null
openssl x509 -req -in "$tmp/s.csr" -CA "$tmp/ca.crt" -CAkey "$tmp/ca.key" -CAcreateserial -out "$tmp/s.crt" -days 2 \
  -extfile "$tmp/ext" 2>/dev/null
port=$(free_port)
tport=$(free_port)
start_server "$tmp" redis "$port" --tls-port "$tport" --tls-cert-file "$tmp/s.crt" --tls-key-file "$tmp/s.key" \
  --tls-ca-cert-file "$tmp/ca.crt" --tls-auth-clients no
b=build-bench/bench/redlock_pairs
echo "| round | redis:// wall µs | rediss:// wall µs | ratio | redis:// CPU µs | rediss:// CPU µs | ratio |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
for r in $(seq "$rounds"); do
  p=$($b "$port" "$pairs")
  t=$(REDLOCK_BENCH_URL="rediss://127.0.0.1:$tport?tls_ca_file=$tmp/ca.crt" $b "$tport" "$pairs")
  pw=${p#*wall_us=}; pw=${pw%% *}; pc=${p#*cpu_us=}
  tw=${t#*wall_us=}; tw=${tw%% *}; tc=${t#*cpu_us=}
  printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$r" "$pw" "$tw" "$(ratio "$tw" "$pw")" \
    "$pc" "$tc" "$(ratio "$tc" "$pc")"
done
echo
echo "redis-benchmark, one connection, SET (µs per request; a pair is two requests):"
for mode in plain tls; do
  if [ $mode = tls ]; then args="--tls --cacert $tmp/ca.crt -p $tport"; else args="-p $port"; fi
  us=$(redis-benchmark $args -h 127.0.0.1 -c 1 -n "$pairs" -t set -q 2>/dev/null | tr '\r' '\n' | grep -o '[0-9.]* requests per second' |
       tail -1 | awk '{ printf "%.1f", 1e6 / $1 }')
  echo "  $mode: $us"
done
