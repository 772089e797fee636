#!/bin/sh
# Install what is missing, build, and run the seed's experiments through the C API against a private
# redis-server (unix socket in a temp dir, no TCP port), which is stopped afterwards.
set -eu
cd "$(dirname "$0")/.."
sh scripts/deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build

sh scripts/with-redis.sh ./build/examples/redlock_demo
