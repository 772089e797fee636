#!/bin/sh
# Installs what a fresh Debian 12 machine lacks to build and test libredlock (Debian's packages only; the Node
# binding's one dependency, koffi, comes from npm in scripts/test.sh). clang and its runtime (sanitizers, libFuzzer)
# are for the test command's second compiler and the fuzzers.
set -eu
pkgs="g++ gcc clang libclang-rt-14-dev cmake ninja-build pkg-config binutils libhiredis-dev libfmt-dev catch2
      libssl-dev openssl redis-server redis-tools python3 python3-redis python3-pytest python3-venv
      dpkg-dev file man-db"
command -v node >/dev/null 2>&1 || pkgs="$pkgs nodejs"
command -v npm >/dev/null 2>&1 || pkgs="$pkgs npm"
missing=""
for p in $pkgs; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "installing:$missing"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
$sudo apt-get update -q
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends $missing
