#!/bin/sh
# Runs one libFuzzer target for a bounded time, starting from the committed seed corpus. New inputs go to a temp dir
# (the repository is never written); a crash leaves its input beside the test as crash-<sha1>, to reproduce with
# `fuzz_<target> crash-<sha1>`. Usage: run.sh FUZZER SEED_DIR SECONDS [libFuzzer flags...]
set -eu
fuzzer=$1 seeds=$2 seconds=$3
shift 3
work=$(mktemp -d /tmp/redlock-fuzz-XXXXXX)
trap 'rm -rf "$work"' EXIT
# malloc_limit: no single allocation may exceed 64 MiB (the reader's bounds); timeout: no input may take 10 s.
"$fuzzer" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=64 \
  -print_final_stats=1 -artifact_prefix="$(pwd)/" "$@" "$work" "$seeds"
