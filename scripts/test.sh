#!/bin/sh
# Everything the demo does, then every test, each suite's output in build/test-logs/, ending with one line per suite
# and an overall PASS or FAIL (exit status 0 or 1):
#  - the C/C++ suites built with GCC (Catch2 via ctest, header, symbol, consumer and example checks);
#  - the Python binding, installed offline into a venv, with its pytest suite and example;
#  - the Node binding (koffi from npm) with its node:test suite and example;
#  - the C/C++ suites built with clang under AddressSanitizer + UndefinedBehaviorSanitizer, and the libFuzzer
#    targets run for REDLOCK_FUZZ_SECONDS (default 10) each from their seed corpora;
#  - the C/C++ suites built with GCC under ThreadSanitizer;
#  - every code block of README.md and docs/, run as written (tests/docs/run_snippets.py);
#  - the packages: cpack's .deb files and .tar.gz, the Python wheel and the npm tarball, built, checked and used
#    (tests/packaging/run.sh). The redlock command's shell suite (tests/cli/run.sh) is in each ctest suite.
# Every test starts its own redis-server(s) on free loopback ports or unix sockets; nothing touches port 6379.
set -eu
cd "$(dirname "$0")/.."
root=$(pwd)
logs="$root/build/test-logs"
jobs=$(nproc 2>/dev/null || echo 2)
fuzz_seconds=${REDLOCK_FUZZ_SECONDS:-10}
summary=""
failed=0

# step NAME COMMAND...: runs COMMAND with its output in a log; records PASS or FAIL with the time and a count.
step() {
  name=$1
  shift
  log="$logs/$(printf '%s' "$name" | tr -c 'A-Za-z0-9+-' '_').log"
  t0=$(date +%s)
  echo "== $name (log: ${log#"$root"/})"
  # Not `if (...)`: sh ignores set -e for everything run inside an if condition, so a failing command in the middle
  # of a step (pytest before the example) would not fail the step.
  set +e
  (set -e; "$@") >"$log" 2>&1
  status=$?
  set -e
  if [ $status -eq 0 ]; then result=PASS; else result=FAIL; failed=1; fi
  count=$( (grep -Eo 'tests failed out of [0-9]+$' "$log" || :; grep -Eo '^[0-9]+ (passed|snippets passed)' "$log" || :
           grep -Eo '^# pass [0-9]+' "$log" || :) |
          grep -Eo '[0-9]+' | awk '{ n += $1 } END { if (n) printf "%d tests", n }')
  line=$(printf '%-4s  %-56s %9s %5ss' "$result" "$name" "$count" "$(($(date +%s) - t0))")
  summary="$summary$line
"
  if [ $result = FAIL ]; then
    echo "-- last 40 lines of ${log#"$root"/}:"
    tail -n 40 "$log"
  fi
}

ctest_suite() {  # build-dir, then cmake arguments
  dir=$1
  shift
  cmake -S . -B "$dir" -G Ninja -DREDLOCK_WERROR=ON "$@"
  cmake --build "$dir"
  (cd "$dir" && ctest --output-on-failure -j "$jobs")
}

python_binding() {
  export LIBREDLOCK_PATH="$root/build/libredlock.so"
  rm -rf build/venv
  /usr/bin/python3 -m venv --system-site-packages build/venv  # Debian's python3-redis and pytest stay visible
  build/venv/bin/pip install --no-index --quiet ./bindings/python  # --no-index: proves nothing is downloaded
  # From an empty directory: a libredlock.so in the working directory would shadow the package (Python would take
  # it for an extension module), and the source tree must not be importable, so the installed copy is what runs.
  dir=$(mktemp -d /tmp/redlock-pytest-XXXXXX)
  (cd "$dir" && "$root/build/venv/bin/python" -m pytest -p no:cacheprovider -q "$root/bindings/python/tests")
  rmdir "$dir"
  sh scripts/with-redis.sh build/venv/bin/python examples/python_example.py
}

node_binding() {
  export LIBREDLOCK_PATH="$root/build/libredlock.so"
  (cd bindings/node && npm ci --no-audit --no-fund --loglevel=error && npm test)
  sh scripts/with-redis.sh node examples/node_example.js
}

gcc_plain() {
  export CC=gcc CXX=g++
  ctest_suite build -DCMAKE_BUILD_TYPE=Release
}

clang_asan() {
  export CC=clang CXX=clang++ ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1
  ctest_suite build-clang-asan -DCMAKE_BUILD_TYPE=Debug -DREDLOCK_SANITIZE=address,undefined \
    -DREDLOCK_FUZZ=ON -DREDLOCK_FUZZ_SECONDS="$fuzz_seconds"
}

gcc_tsan() {
  # die_after_fork=0: the fork tests start threads in the child of a threaded parent, which TSan otherwise refuses
  export CC=gcc CXX=g++ TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1:die_after_fork=0
  ctest_suite build-tsan -DCMAKE_BUILD_TYPE=Debug -DREDLOCK_SANITIZE=thread -DREDLOCK_BUILD_EXAMPLES=OFF
}

docs_snippets() {  # after the builds it uses: build/ (installed to a temp prefix), the venv, the clang fuzzers
  sh scripts/with-redis.sh /usr/bin/python3 tests/docs/run_snippets.py build build/venv/bin/python
}

mkdir -p "$logs"
step "demo (deps, build, run)" sh scripts/demo.sh
step "C/C++ suites, GCC" gcc_plain
step "Python binding (pytest, example)" python_binding
step "Node binding (node:test, example)" node_binding
step "C/C++ suites + fuzzers, clang, ASan+UBSan" clang_asan
step "C/C++ suites, GCC, TSan" gcc_tsan
step "docs: every code block of README.md and docs/" docs_snippets
step "packages: .deb, .tar.gz, wheel, npm pack" sh tests/packaging/run.sh build-pkg
echo
printf '%s' "$summary"
if [ $failed -eq 0 ]; then echo "PASS: every suite passed"; else echo "FAIL: see the logs above"; fi
exit $failed
