#!/bin/sh
# Install what is missing, build the library and the demo, and run the demo (per-thread vs shared token state,
# through the C API) against a private redis-server (unix socket in a temp dir, no TCP port), stopped afterwards.
set -eu
cd "$(dirname "$0")/.."
sh scripts/deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null  # as an install from build/ should be
cmake --build build --target redlock_demo  # not the test suites: the demo needs the library and itself

sh scripts/with-redis.sh ./build/examples/redlock_demo
