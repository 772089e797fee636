# Sourced by scripts/bench-*.sh (from the checkout's top): building the benchmark programs, free ports and
# throwaway redis-servers, each script's own servers in its own temp dir.

# bench_args [PAIRS] [ROUNDS]: the usual arguments, with their defaults (20000 pairs, 5 rounds).
bench_args() {
  pairs=${1:-20000}
  rounds=${2:-5}
}

# bench_init NAME [PAIRS] [ROUNDS]: the arguments, redlock_pairs built, and $tmp: a temp dir for this script's
# servers, which stop (and it goes) at exit.
bench_init() {
  name=$1
  shift
  bench_args "$@"
  bench_build redlock_pairs
  tmp=$(mktemp -d "/tmp/redlock-bench-$name-XXXXXX")
  trap 'stop_servers "$tmp"' EXIT
}

# bench_build TARGET...: the dependencies, then these targets in build-bench (RelWithDebInfo: symbols for profilers).
bench_build() {
  sh scripts/deps.sh
  cmake -S . -B build-bench -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build build-bench --target "$@" >/dev/null
}

# wall LINE: the wall_us figure of a benchmark program's output line; ratio A B: A/B as "1.23x".
wall() { x=${1#*wall_us=}; echo "${x%% *}"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2fx", a/b}'; }

free_port() { /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# start_server DIR NAME PORT [ARGS...]: a daemonized redis-server (pid in DIR/NAME.pid, files in DIR/NAME), answering
# PING when this returns. ARGS come first (a config file must).
start_server() {
  dir=$1 name=$2 port=$3
  shift 3
  mkdir -p "$dir/$name"
  redis-server "$@" --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$dir/$name" --daemonize yes \
    --pidfile "$dir/$name.pid" --logfile "$dir/$name/log"
  for i in $(seq 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && return; sleep 0.05; done
  echo "redis-server $name did not start" >&2
  exit 1
}

# stop_servers DIR: every server start_server started there, then DIR itself.
stop_servers() {
  for f in "$1"/*.pid; do kill "$(cat "$f")" 2>/dev/null || true; done
  rm -rf "$1"
}
