#!/bin/sh
# The packages, as a user meets them: cpack's three .deb files and the .tar.gz, the Python wheel built offline and the
# Node package's tarball. The .deb files are checked with dpkg-deb and apt-get's dependency resolver, then unpacked
# into a throwaway root (installing them for real would change this machine): programs are built against that root
# with pkg-config and CMake, and everything runs on the packaged library against a private redis-server, found as
# after an install: through the linker's cache (ldconfig), in a private mount namespace.
# Usage: tests/packaging/run.sh BUILD_DIR   (configured here for /usr; the test command uses build-pkg)
set -eu
src=$(cd "$(dirname "$0")/../.." && pwd)
build=$(mkdir -p "$1" && cd "$1" && pwd)
tmp=$(mktemp -d /tmp/redlock-packages-XXXXXX)
trap 'kill $(cat "$tmp/redis.pid" 2>/dev/null) 2>/dev/null || :; rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM HUP  # dash runs the EXIT trap on exit only
fail() { echo "FAIL: $*" >&2; exit 1; }
pass() { echo "ok - $*"; }

version=$(sed -n 's/^#define REDLOCK_VERSION_STRING "\(.*\)"/\1/p' "$src/include/redlock/redlock.h")
major=${version%%.*}
debversion=$version-1  # CPACK_DEBIAN_PACKAGE_RELEASE
arch=$(dpkg --print-architecture)
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch)

# --- build the packages -------------------------------------------------------------------------------------------
cmake -S "$src" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=/usr \
  -DREDLOCK_BUILD_TESTS=OFF -DREDLOCK_BUILD_EXAMPLES=OFF -DREDLOCK_WERROR=ON >/dev/null
cmake --build "$build" >/dev/null
rm -f "$build"/*.deb "$build"/*.tar.gz
(cd "$build" && cpack -G "DEB;TGZ" >/dev/null)
lib="$build/libredlock${major}_${debversion}_${arch}.deb"
dev="$build/libredlock-dev_${debversion}_${arch}.deb"
tools="$build/redlock-tools_${debversion}_${arch}.deb"
tgz="$build/libredlock-${version}-Linux.tar.gz"
for f in "$lib" "$dev" "$tools" "$tgz"; do [ -f "$f" ] || fail "cpack made no $(basename "$f")"; done
pass "cpack made libredlock$major, libredlock-dev, redlock-tools and the .tar.gz"

# --- what the .deb files say and hold ------------------------------------------------------------------------------
field() { dpkg-deb -f "$1" "$2"; }
[ "$(field "$lib" Package)" = "libredlock$major" ] || fail "the library package is not named after the SONAME"
for want in "libc6" "libfmt9" "libssl3" "libstdc++6"; do
  field "$lib" Depends | grep -q "$want" || fail "libredlock$major does not depend on $want: $(field "$lib" Depends)"
done
field "$lib" Depends | grep -q hiredis && fail "libredlock$major depends on hiredis, which it does not link"
[ "$(field "$dev" Depends)" = "libredlock$major (= $debversion)" ] || fail "libredlock-dev Depends: $(field "$dev" Depends)"
field "$tools" Depends | grep -q "libredlock$major (= $debversion)" || fail "redlock-tools Depends: $(field "$tools" Depends)"
pass "dependencies: $(field "$lib" Depends); dev and tools on libredlock$major (= $debversion)"
summaries=$(for d in "$lib" "$dev" "$tools"; do field "$d" Description | head -1; done)
[ "$(printf '%s\n' "$summaries" | sort -u | wc -l)" = 3 ] || fail "the packages share a summary line: $summaries"
for d in "$lib" "$dev" "$tools"; do
  field "$d" Description | tail -n +2 | grep -qv '^ [^ ]' && fail "$(basename "$d"): a description line is not ' text'"
  field "$d" Description | awk 'length > 80 { exit 1 }' || fail "$(basename "$d"): a description line is over 80 columns"
done
pass "each package has its own summary, and a description in Debian's form"
dpkg-deb --ctrl-tarfile "$lib" | tar -xO ./shlibs | grep -q "^libredlock $major libredlock$major (>= $debversion)" ||
  fail "no shlibs file for packages built on libredlock"
contents() { dpkg-deb -c "$1" | awk '{print $6}' | grep -v '/$' | sort | tr '\n' ' '; }
expect_files() {
  got=$(contents "$1")
  for f in $2; do case " $got" in *" ./$f "*) ;; *) fail "$(basename "$1") lacks $f (has: $got)";; esac; done
  [ "$(echo "$got" | wc -w)" = "$(echo "$2" | wc -w)" ] || fail "$(basename "$1") holds more than expected: $got"
}
l=usr/lib/$multiarch
expect_files "$lib" "$l/libredlock.so.$major $l/libredlock.so.$version usr/share/doc/libredlock$major/copyright"
expect_files "$dev" "usr/include/redlock/redlock.h usr/include/redlock/redlock.hpp $l/libredlock.so
  $l/pkgconfig/redlock.pc $l/cmake/redlock/redlockConfig.cmake $l/cmake/redlock/redlockConfigVersion.cmake
  $l/cmake/redlock/redlockTargets.cmake $l/cmake/redlock/redlockTargets-release.cmake
  usr/share/doc/libredlock-dev/copyright"
expect_files "$tools" "usr/bin/redlock usr/share/man/man1/redlock.1.gz usr/share/doc/redlock-tools/copyright"
pass "each package holds its files and nothing else"
apt-get -s install "$lib" "$dev" "$tools" >"$tmp/apt.log" 2>&1 || { cat "$tmp/apt.log"; fail "apt-get cannot install them"; }
grep -q "^Inst redlock-tools" "$tmp/apt.log" || { cat "$tmp/apt.log"; fail "apt-get would not install redlock-tools"; }
pass "apt-get -s install resolves the three packages' dependencies on this system"
tar -tzf "$tgz" | grep -q "/usr/bin/redlock$" && tar -tzf "$tgz" | grep -q "/include/redlock/redlock.h$" ||
  fail "the .tar.gz lacks the command or the header"
pass "the .tar.gz holds the library, header and command"

# --- unpacked into a throwaway root: build against it, run from it --------------------------------------------------
root=$tmp/root
for d in "$lib" "$dev" "$tools"; do dpkg-deb -x "$d" "$root"; done
soname=$(objdump -p "$root/usr/lib/$multiarch/libredlock.so.$version" | awk '/SONAME/ {print $2}')
[ "$soname" = "libredlock.so.$major" ] || fail "SONAME $soname does not match the package name libredlock$major"
readelf -d "$root/usr/bin/redlock" | grep -qE 'RPATH|RUNPATH' && fail "the packaged redlock carries an rpath"
needed=$(readelf -d "$root/usr/bin/redlock" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | sort | tr '\n' ' ')
case "$needed" in *fmt*|*ssl*|*crypto*|*stdc++*) fail "the redlock command links more than it calls: $needed";; esac
grep -q "^prefix=/usr$" "$root/$l/pkgconfig/redlock.pc" || fail "redlock.pc's prefix is not /usr"
export PKG_CONFIG_SYSROOT_DIR="$root" PKG_CONFIG_LIBDIR="$root/$l/pkgconfig" PKG_CONFIG_PATH=
[ "$(pkg-config --modversion redlock)" = "$version" ] || fail "pkg-config --modversion redlock"
cc -std=c99 -Wall -Wextra -Werror -o "$tmp/consumer" "$src/tests/consumer/consumer.c" $(pkg-config --cflags --libs redlock)
unset PKG_CONFIG_SYSROOT_DIR PKG_CONFIG_LIBDIR PKG_CONFIG_PATH
cmake -S "$src/tests/consumer/cmake_project" -B "$tmp/cmake-consumer" -G Ninja -DCMAKE_PREFIX_PATH="$root/usr" \
  >/dev/null
cmake --build "$tmp/cmake-consumer" >/dev/null
pass "a C program builds against the unpacked -dev package with pkg-config and with find_package(redlock)"

redis-server --port 0 --unixsocket "$tmp/redis.sock" --save '' --appendonly no --dir "$tmp" --daemonize yes \
  --pidfile "$tmp/redis.pid" --logfile "$tmp/redis.log"
for i in $(seq 100); do [ -S "$tmp/redis.sock" ] && break; sleep 0.05; done
url="unix://$tmp/redis.sock"
# As installed: the dynamic linker's cache (what ldconfig makes after `apt install`) with the unpacked library in it,
# seen only by the programs run through `installed` (a private mount namespace: /etc/ld.so.cache replaced there), with
# no environment variable. Where no mount namespace can be made (a container without the right), LD_LIBRARY_PATH.
unset LIBREDLOCK_PATH REDLOCK_URL LD_LIBRARY_PATH
printf '%s\ninclude /etc/ld.so.conf.d/*.conf\n' "$root/$l" >"$tmp/ld.so.conf"
# -X: no links made in any directory (ldconfig would otherwise update the host's); the package ships its own.
ldconfig -X -C "$tmp/ld.so.cache" -f "$tmp/ld.so.conf"
userns=""
[ "$(id -u)" -eq 0 ] || userns="--map-root-user"
installed() {
  unshare --mount --propagation private $userns sh -c 'mount --bind "$0" /etc/ld.so.cache && exec "$@"' \
    "$tmp/ld.so.cache" "$@"
}
if installed true 2>/dev/null; then
  how="the linker's cache (ldconfig), no environment variable"
else
  echo "note: no mount namespace here; the packaged library is found through LD_LIBRARY_PATH instead"
  how="LD_LIBRARY_PATH (no mount namespace here)"
  installed() { LD_LIBRARY_PATH="$root/$l" "$@"; }
fi
installed "$tmp/consumer" "$url" | grep -q "consumer ok with libredlock $version" || fail "the pkg-config consumer"
installed "$tmp/cmake-consumer/consumer" "$url" >/dev/null || fail "the CMake consumer"
installed ldd "$root/usr/bin/redlock" | grep -q "libredlock.so.$major => $root/$l/" ||
  fail "redlock does not load the packaged library"
[ "$(installed "$root/usr/bin/redlock" --version)" = "redlock $version (libredlock $version)" ] ||
  fail "redlock --version"
installed "$root/usr/bin/redlock" -u "$url" pkg -- sh -c 'echo ran' | grep -q ran ||
  fail "the packaged redlock runs a command"
installed "$root/usr/bin/redlock" -u "$url" status --json pkg | grep -q '"held": false' ||
  fail "the packaged redlock status"
MANWIDTH=200 man -l "$root/usr/share/man/man1/redlock.1.gz" 2>/dev/null | grep -q "like flock(1) across machines" ||
  fail "man cannot read the packaged redlock.1.gz"
pass "the consumers, the packaged redlock and its man page work on the packaged library, found through $how"

# --- the Python wheel, built offline, in a fresh venv without the source tree ----------------------------------------
/usr/bin/python3 -m venv "$tmp/venv"  # no system site packages: the wheel must need nothing else
"$tmp/venv/bin/pip" wheel --no-index --no-deps --quiet -w "$tmp/wheels" "$src/bindings/python"
wheel=$(ls "$tmp"/wheels/libredlock-"$version"-py3-none-any.whl) || fail "pip wheel made no py3-none-any wheel"
/usr/bin/python3 -m zipfile -l "$wheel" | grep -q "libredlock/py.typed" || fail "the wheel has no py.typed"
/usr/bin/python3 -m zipfile -l "$wheel" | grep -q "libredlock/__main__.py" || fail "the wheel has no __main__.py"
/usr/bin/python3 -m zipfile -l "$wheel" | grep -q "dist-info/LICENSE" || fail "the wheel has no LICENSE"
/usr/bin/python3 -m zipfile -l "$wheel" | grep -q '\.so' && fail "the wheel bundles a shared library (it uses the system's)"
"$tmp/venv/bin/pip" install --no-index --quiet "$wheel"
(cd "$tmp" && installed "$tmp/venv/bin/python" -c "import libredlock, sys; assert libredlock.library_path == 'libredlock.so.$major', \
libredlock.library_path; assert '$root/$l/libredlock.so.$version' in open('/proc/self/maps').read(), 'not the packaged one'; \
c = libredlock.Client('$url'); l = c.lock('py-wheel', timeout=5); assert l.acquire(); \
sys.exit(0 if l.status().held else 1)") || fail "the wheel's package does not lock through the packaged library"
(cd "$tmp" && installed "$tmp/venv/bin/python" -m libredlock status -u "$url" --json py-wheel) | grep -q '"kind": "libredlock"' ||
  fail "python -m libredlock status"
pass "pip wheel --no-index: a pure wheel with py.typed that loads the system library (libredlock.so.$major) through $how"

# --- the Node package: npm pack, installed from the tarball in a scratch project ------------------------------------
(cd "$src/bindings/node" && npm pack --silent --pack-destination "$tmp" >/dev/null)
tarball=$tmp/libredlock-$version.tgz
[ -f "$tarball" ] || fail "npm pack made no libredlock-$version.tgz"
tar -tzf "$tarball" | grep -q "package/lib/index.d.ts" || fail "the npm package lacks its type declarations"
tar -tzf "$tarball" | grep -q "package/tests/" && fail "the npm package ships its tests"
tar -tzf "$tarball" | grep -q "package/LICENSE" || fail "the npm package has no LICENSE"
mkdir "$tmp/app"
(cd "$tmp/app" && npm init -y >/dev/null && npm install --no-audit --no-fund --loglevel=error "$tarball" >/dev/null) ||
  fail "npm install of the tarball"
(cd "$tmp/app" && installed node -e "
const { Client, libraryPath } = require('libredlock');
(async () => {
  if (libraryPath !== 'libredlock.so.$major') throw new Error('loaded ' + libraryPath);
  const maps = require('node:fs').readFileSync('/proc/self/maps', 'utf8');
  if (!maps.includes('$root/$l/libredlock.so.$version')) throw new Error('not the packaged library');
  const c = new Client('$url');
  const l = c.lock('node-pack', { timeout: 5 });
  if (!(await l.acquire())) throw new Error('not acquired');
  await l.release();
  c.close();
})().catch((e) => { console.error(e); process.exit(1); });") || fail "the installed Node package does not lock"
pass "npm pack: installed from the tarball in a scratch project, it finds the library through $how"
echo "all package checks passed"
