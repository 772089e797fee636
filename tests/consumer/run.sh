#!/bin/sh
# Install to a temp prefix, then build a C program with pkg-config and with CMake find_package, and run both against
# a private redis-server (scripts/with-redis.sh appends its URL).
set -eu
build=$1 src=$2
tmp=$(mktemp -d /tmp/redlock-consumer-XXXXXX)
trap 'rm -rf "$tmp"' EXIT

cmake --install "$build" --prefix "$tmp/prefix" --strip >/dev/null
libdir=$(dirname "$(find "$tmp/prefix" -name 'libredlock.so' | head -1)")
if readelf -S "$libdir/libredlock.so" | grep -q '\.debug_'; then
  echo "cmake --install --strip left debug sections in libredlock.so" >&2
  exit 1
fi

# Only the installed redlock.pc is visible: no hiredis.pc or any other (hiredis is private to the library).
export PKG_CONFIG_LIBDIR="$libdir/pkgconfig" PKG_CONFIG_PATH=
for q in --cflags --libs "--static --libs"; do
  pkg-config $q redlock >/dev/null || { echo "pkg-config $q redlock failed without hiredis.pc" >&2; exit 1; }
done
cc -std=c99 -Wall -Wextra -Werror -o "$tmp/with-pkgconfig" "$src/tests/consumer/consumer.c" \
  $(pkg-config --cflags --libs redlock) -Wl,-rpath,"$(pkg-config --variable=libdir redlock)"

# Ninja: a fresh Debian 12 has no make.
cmake -S "$src/tests/consumer/cmake_project" -B "$tmp/cmake-build" -G Ninja -DCMAKE_PREFIX_PATH="$tmp/prefix" \
  -DCMAKE_BUILD_RPATH="$libdir" >/dev/null
cmake --build "$tmp/cmake-build" >/dev/null

sh "$src/scripts/with-redis.sh" sh -c '"$1" "$3" && "$2" "$3"' run "$tmp/with-pkgconfig" "$tmp/cmake-build/consumer"
