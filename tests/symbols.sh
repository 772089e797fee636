#!/bin/sh
# libredlock.so exports exactly the functions its header declares: nothing else, nothing missing.
# (The version node itself is listed by nm as an absolute symbol; it is not a function.)
set -eu
lib=$1 header=$2
exported=$(nm -D --defined-only "$lib" | awk '$2 != "A" {print $3}' | sed 's/@.*//' | sort -u)
declared=$(tr '\n' ' ' < "$header" | grep -o 'REDLOCK_API [^(]*(' | sed 's/($//; s/.*[ *]//' | grep '^redlock_' | sort)
if [ "$exported" != "$declared" ]; then
  echo "exported symbols differ from the header's REDLOCK_API functions:"
  diff -u /dev/fd/3 /dev/fd/4 3<<E1 4<<E2 || true
$declared
E1
$exported
E2
  exit 1
fi
# Programs built against version 1 of the options structs call their version-1 inits: they must stay, beside the
# defaults.
for v in "redlock_lock_options_init@REDLOCK_0" "redlock_lock_options_init@@REDLOCK_0.2" \
         "redlock_client_options_init@REDLOCK_0" "redlock_client_options_init@@REDLOCK_0.3"; do
  nm -D --defined-only "$lib" | grep -q " $v\$" || { echo "missing versioned symbol $v"; exit 1; }
done
soname=$(objdump -p "$lib" | awk '/SONAME/ {print $2}')
case "$soname" in libredlock.so.[0-9]*) ;; *) echo "SONAME '$soname' does not carry the ABI major"; exit 1;; esac
echo "ok: $(printf '%s\n' "$exported" | wc -l) symbols, exactly the header's functions; SONAME $soname"
