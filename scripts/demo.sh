#!/bin/sh
# Install what is missing, build, and run the seed's experiments through the C API against a private
# redis-server (unix socket in a temp dir, no TCP port), which is stopped afterwards.
set -eu
cd "$(dirname "$0")/.."
sh scripts/deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build

tmp=$(mktemp -d /tmp/redlock-demo-XXXXXX)
trap 'kill $(cat "$tmp/redis.pid" 2>/dev/null) 2>/dev/null || true; rm -rf "$tmp"' EXIT
redis-server --port 0 --unixsocket "$tmp/redis.sock" --save '' --appendonly no --dir "$tmp" \
  --daemonize yes --pidfile "$tmp/redis.pid" --logfile "$tmp/redis.log"
for i in $(seq 100); do [ -S "$tmp/redis.sock" ] && break; sleep 0.05; done
./build/examples/redlock_demo "unix://$tmp/redis.sock"
