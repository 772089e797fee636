#!/bin/sh
# Install to a temp prefix, then build and run a C program with pkg-config and with CMake find_package,
# against a private redis-server on a unix socket (no TCP port: nothing to collide with).
set -eu
build=$1 src=$2
tmp=$(mktemp -d /tmp/redlock-consumer-XXXXXX)
trap 'kill $(cat "$tmp/redis.pid" 2>/dev/null) 2>/dev/null || true; rm -rf "$tmp"' EXIT

cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
redis-server --port 0 --unixsocket "$tmp/redis.sock" --save '' --appendonly no --dir "$tmp" \
  --daemonize yes --pidfile "$tmp/redis.pid" --logfile "$tmp/redis.log"
for i in $(seq 100); do [ -S "$tmp/redis.sock" ] && break; sleep 0.05; done
url="unix://$tmp/redis.sock"
libdir=$(dirname "$(find "$tmp/prefix" -name 'libredlock.so' | head -1)")

export PKG_CONFIG_PATH="$libdir/pkgconfig"
cc -std=c99 -Wall -Wextra -Werror -o "$tmp/with-pkgconfig" "$src/tests/consumer/consumer.c" \
  $(pkg-config --cflags --libs redlock) -Wl,-rpath,"$libdir"
"$tmp/with-pkgconfig" "$url"

cmake -S "$src/tests/consumer/cmake_project" -B "$tmp/cmake-build" -G Ninja -DCMAKE_PREFIX_PATH="$tmp/prefix" \
  -DCMAKE_BUILD_RPATH="$libdir" >/dev/null
cmake --build "$tmp/cmake-build" >/dev/null
"$tmp/cmake-build/consumer" "$url"
