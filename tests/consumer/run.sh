#!/bin/sh
# Install to a temp prefix, then build a C program with pkg-config and with CMake find_package, and run both against
# a private redis-server (scripts/with-redis.sh appends its URL).
set -eu
build=$1 src=$2
tmp=$(mktemp -d /tmp/redlock-consumer-XXXXXX)
trap 'rm -rf "$tmp"' EXIT

cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
libdir=$(dirname "$(find "$tmp/prefix" -name 'libredlock.so' | head -1)")

export PKG_CONFIG_PATH="$libdir/pkgconfig"
cc -std=c99 -Wall -Wextra -Werror -o "$tmp/with-pkgconfig" "$src/tests/consumer/consumer.c" \
  $(pkg-config --cflags --libs redlock) -Wl,-rpath,"$libdir"

# Ninja: a fresh Debian 12 has no make.
cmake -S "$src/tests/consumer/cmake_project" -B "$tmp/cmake-build" -G Ninja -DCMAKE_PREFIX_PATH="$tmp/prefix" \
  -DCMAKE_BUILD_RPATH="$libdir" >/dev/null
cmake --build "$tmp/cmake-build" >/dev/null

sh "$src/scripts/with-redis.sh" sh -c '"$1" "$3" && "$2" "$3"' run "$tmp/with-pkgconfig" "$tmp/cmake-build/consumer"
