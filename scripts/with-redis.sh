#!/bin/sh
# Run a command against a private redis-server (unix socket in a temp dir, no TCP port), stopped afterwards.
# Usage: scripts/with-redis.sh CMD [ARGS...]   -> runs CMD ARGS... unix:///tmp/.../redis.sock
set -eu
tmp=$(mktemp -d /tmp/redlock-run-XXXXXX)
trap 'kill $(cat "$tmp/redis.pid" 2>/dev/null) 2>/dev/null || true; rm -rf "$tmp"' EXIT
redis-server --port 0 --unixsocket "$tmp/redis.sock" --save '' --appendonly no --dir "$tmp" \
  --daemonize yes --pidfile "$tmp/redis.pid" --logfile "$tmp/redis.log"
for i in $(seq 100); do [ -S "$tmp/redis.sock" ] && break; sleep 0.05; done
"$@" "unix://$tmp/redis.sock"
