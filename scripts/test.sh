#!/bin/sh
# Everything the demo does, then every test: the plain build (with header, symbol and consumer tests), then the
# whole suite again under AddressSanitizer + UndefinedBehaviorSanitizer and under ThreadSanitizer.
# Each test process starts its own redis-server(s) on free loopback ports; nothing touches port 6379.
set -eu
cd "$(dirname "$0")/.."
sh scripts/demo.sh

jobs=$(nproc 2>/dev/null || echo 2)
run_suite() {  # build-dir, then extra cmake arguments
  dir=$1; shift
  echo "== $dir"
  cmake -S . -B "$dir" -G Ninja "$@" >/dev/null
  cmake --build "$dir"
  (cd "$dir" && ctest --output-on-failure -j "$jobs")
}
run_suite build
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
  run_suite build-asan -DCMAKE_BUILD_TYPE=Debug -DREDLOCK_SANITIZE=address,undefined -DREDLOCK_BUILD_EXAMPLES=OFF
TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
  run_suite build-tsan -DCMAKE_BUILD_TYPE=Debug -DREDLOCK_SANITIZE=thread -DREDLOCK_BUILD_EXAMPLES=OFF
