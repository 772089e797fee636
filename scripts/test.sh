#!/bin/sh
# Everything the demo does, then every test:
#  1. the C/C++ suites (Catch2 via ctest, with header, symbol, consumer and example checks) on the plain build;
#  2. the Python binding: installed offline into a venv, then its pytest suite and example;
#  3. the Node binding: koffi from npm, then its node:test suite and example;
#  4. the C/C++ suites again under AddressSanitizer + UndefinedBehaviorSanitizer, and under ThreadSanitizer.
# Every test starts its own redis-server(s) on free loopback ports or unix sockets; nothing touches port 6379.
set -eu
cd "$(dirname "$0")/.."
root=$(pwd)
sh scripts/demo.sh

jobs=$(nproc 2>/dev/null || echo 2)
run_suite() {  # build-dir, then extra cmake arguments
  dir=$1; shift
  echo "== C/C++ suite: $dir"
  cmake -S . -B "$dir" -G Ninja "$@" >/dev/null
  cmake --build "$dir"
  (cd "$dir" && ctest --output-on-failure -j "$jobs")
}
run_suite build

echo "== Python binding"
export LIBREDLOCK_PATH="$root/build/libredlock.so"
rm -rf build/venv
/usr/bin/python3 -m venv --system-site-packages build/venv  # Debian's python3-redis and pytest stay visible
build/venv/bin/pip install --no-index --quiet ./bindings/python  # --no-index: proves nothing is downloaded
# From an empty directory: a libredlock.so in the working directory would shadow the package (Python would take
# it for an extension module), and the source tree must not be importable, so the installed copy is what runs.
pytest_dir=$(mktemp -d /tmp/redlock-pytest-XXXXXX)
(cd "$pytest_dir" && "$root/build/venv/bin/python" -m pytest -p no:cacheprovider -q "$root/bindings/python/tests")
rmdir "$pytest_dir"
sh scripts/with-redis.sh build/venv/bin/python examples/python_example.py

echo "== Node binding"
(cd bindings/node && npm ci --no-audit --no-fund --loglevel=error && npm test)
sh scripts/with-redis.sh node examples/node_example.js

ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
  run_suite build-asan -DCMAKE_BUILD_TYPE=Debug -DREDLOCK_SANITIZE=address,undefined -DREDLOCK_BUILD_EXAMPLES=OFF
TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
  run_suite build-tsan -DCMAKE_BUILD_TYPE=Debug -DREDLOCK_SANITIZE=thread -DREDLOCK_BUILD_EXAMPLES=OFF
