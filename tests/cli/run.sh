#!/bin/sh
# The redlock command, from the shell, against private redis-servers (unix sockets in a temp dir).
# Usage: tests/cli/run.sh path/to/redlock   (ctest runs it; set -x to see each step)
set -eu
redlock=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
src=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d /tmp/redlock-cli-XXXXXX)
stop_servers() {  # and wait for them: a server still writing its log would keep rm -rf from removing the dir
  for f in "$tmp"/*.pid; do
    p=$(cat "$f" 2>/dev/null) || continue
    kill "$p" 2>/dev/null || continue
    for i in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.05; done
  done
  rm -rf "$tmp"
}
trap stop_servers EXIT
unset REDLOCK_URL
failures=0
passed=0

# server NAME [ARGS...]: a redis-server on $tmp/NAME.sock.
server() {
  name=$1
  shift
  redis-server --port 0 --unixsocket "$tmp/$name.sock" --save '' --appendonly no --dir "$tmp" --daemonize yes \
    --pidfile "$tmp/$name.pid" --logfile "$tmp/$name.log" --dbfilename "$name.rdb" "$@"
  for i in $(seq 100); do [ -S "$tmp/$name.sock" ] && return; sleep 0.05; done
  echo "redis-server $name did not start" >&2
  exit 1
}
cli() { redis-cli -s "$tmp/main.sock" "$@"; }
# dfl COMMAND...: COMMAND with SIGINT and SIGQUIT at their defaults. A non-interactive shell starts its background
# jobs with both ignored, and redlock rightly keeps what it was started with ignored.
dfl() { # (exec: in a background job, $! is then the command itself)
  exec /usr/bin/python3 -c 'import os, signal, sys
for s in (signal.SIGINT, signal.SIGQUIT): signal.signal(s, signal.SIG_DFL)
os.execvp(sys.argv[1], sys.argv[1:])' "$@"
}
# signal_after SECONDS SIG COMMAND...: COMMAND in the background, SIG to it after SECONDS; its exit status in $rc.
signal_after() {
  delay=$1 sig=$2
  shift 2
  "$@" &
  pid=$!
  sleep "$delay"
  kill -"$sig" $pid
  reap $pid
}
reap() { # reap PID: waits for it, its exit status in $rc
  set +e
  wait "$1"
  rc=$?
  set -e
}
ms() { date +%s%3N; }

ok() { passed=$((passed + 1)); echo "ok - $1"; }
not_ok() { failures=$((failures + 1)); echo "not ok - $1"; }
# check NAME CONDITION...: runs the test command CONDITION.
check() {
  name=$1
  shift
  if "$@"; then ok "$name"; else not_ok "$name"; fi
}
# status_is NAME EXPECTED COMMAND...: the command's exit status.
status_is() {
  name=$1 want=$2
  shift 2
  set +e
  "$@" >"$tmp/out" 2>"$tmp/err"
  got=$?
  set -e
  if [ "$got" = "$want" ]; then ok "$name"; else not_ok "$name (exit $got, expected $want; stderr: $(cat "$tmp/err"))"; fi
}

server main
export REDLOCK_URL="unix://$tmp/main.sock"

# --- running a command ------------------------------------------------------------------------------------------------

# Two redlock processes on one name: their children's [start, end] intervals never overlap.
for i in 1 2 3; do
  "$redlock" serial -- sh -c 'echo "$(date +%s%3N) start"; sleep 0.3; echo "$(date +%s%3N) end"' >"$tmp/serial.$i" &
done
wait
sort -n "$tmp"/serial.* | awk '
  $2 == "start" { if (running) bad = 1; running = 1 }
  $2 == "end" { running = 0 }
  END { exit bad }' && serial_ok=1 || serial_ok=0
check "three redlock processes on one name run their children one after the other" [ "$serial_ok" = 1 ]
check "each child ran" [ "$(cat "$tmp"/serial.* | grep -c end)" = 3 ]

status_is "the child's exit status comes back" 3 "$redlock" status-code -- sh -c 'exit 3'
status_is "a child killed by a signal: 128 + its number" 137 "$redlock" status-kill -- sh -c 'kill -9 $$'
check "the lock is released after the child exits" [ "$(cli exists status-code)" = 0 ]
status_is "-c runs a shell command" 5 "$redlock" shell -c 'test -n "$HOME" && exit 5'

# A holder for the conflict tests.
"$redlock" busy -- sleep 2 &
holder=$!
sleep 0.3
t0=$(ms)
status_is "-n: the conflict code (1) when held" 1 "$redlock" -n busy -- true
check "-n returns at once" [ $(($(ms) - t0)) -lt 500 ]
status_is "-E sets the conflict code" 7 "$redlock" -n -E 7 busy -- true
t0=$(ms)
status_is "-n wins over -w in any order (as flock)" 1 "$redlock" -w 5 -n busy -- true
check "... at once" [ $(($(ms) - t0)) -lt 500 ]
t0=$(ms)
status_is "-w 0.3 gives up with the conflict code" 1 "$redlock" -w 0.3 busy -- true
waited=$(($(ms) - t0))
check "-w 0.3 waits about 0.3 s (${waited} ms)" [ "$waited" -ge 250 -a "$waited" -lt 1500 ]
check "a conflict never runs the command" [ ! -e "$tmp/ran" ] # (the commands above would not create it anyway)
status_is "-n does not run the command" 1 "$redlock" -n busy -- touch "$tmp/ran"
check "... indeed" [ ! -e "$tmp/ran" ]
t0=$(ms)
status_is "a waiting redlock gets the lock when the holder is done" 0 "$redlock" -w 10 busy -- true
check "... soon after (holder had ~1.7 s left; took $(($(ms) - t0)) ms)" [ $(($(ms) - t0)) -lt 4000 ]
wait $holder

# Signals.
signal_after 0.4 TERM "$redlock" sig -- \
  sh -c 'trap "echo TERM >'"$tmp"'/sig.child; exit 9" TERM; sleep 10 >/dev/null 2>&1 & wait'
check "SIGTERM to redlock reaches the child (exit $rc = the child's 9)" [ "$rc" = 9 -a -f "$tmp/sig.child" ]
check "... and the lock is released" [ "$(cli exists sig)" = 0 ]
for s in INT HUP QUIT; do
  signal_after 0.4 $s dfl "$redlock" sig$s -- sleep 10
  check "SIG$s to redlock stops the child (exit $rc) and releases" [ "$rc" -gt 128 -a "$(cli exists sig$s)" = 0 ]
done
"$redlock" sigwait -- sleep 3 &
holder=$!
sleep 0.3
signal_after 0.4 INT dfl "$redlock" sigwait -- touch "$tmp/ran2"
check "SIGINT while waiting ends the wait: 130, the command not run" [ "$rc" = 130 -a ! -e "$tmp/ran2" ]
kill $holder
wait $holder || :

# Other signals a job may be sent are passed on too; signals ignored when redlock started stay ignored (nohup).
signal_after 0.4 USR1 "$redlock" usr -- \
  sh -c 'trap "echo USR1 >'"$tmp"'/usr.child; exit 7" USR1; sleep 10 >/dev/null 2>&1 & wait'
check "SIGUSR1 reaches the child (exit $rc = the child's 7)" [ "$rc" = 7 -a -f "$tmp/usr.child" ]
signal_after 0.3 HUP sh -c 'trap "" HUP; exec "$0" nohup -- sh -c "sleep 0.6; echo survived >'"$tmp"'/nohup.child"' \
  "$redlock"
check "an ignored SIGHUP (nohup) stays ignored: the child survives (exit $rc)" [ "$rc" = 0 -a -f "$tmp/nohup.child" ]
# A reader that goes away (SIGPIPE on stderr) does not kill redlock: the command runs, the lock is released.
( "$redlock" -v pipe -- sleep 0.3 2>&1; echo $? >"$tmp/pipe.rc" ) | true
check "stderr to a closed pipe: redlock exits with the command's 0 ($(cat "$tmp/pipe.rc")) and released" \
  [ "$(cat "$tmp/pipe.rc")" = 0 -a "$(cli exists pipe)" = 0 ]
# SIGCHLD ignored by the parent: the child's status still comes back.
status_is "SIGCHLD inherited as ignored: the child's status still comes back" 3 /usr/bin/python3 -c \
  'import os, signal, sys; signal.signal(signal.SIGCHLD, signal.SIG_IGN); os.execv(sys.argv[1], sys.argv[1:])' \
  "$redlock" chld -- sh -c 'exit 3'
# Closed stderr: messages must not land in the Redis connection.
"$redlock" -v "$(printf 'inj\r\nSET injected x\r\n')" -- true 2>&- || :
check "with stderr closed, nothing is written into the Redis connection" [ "$(cli exists injected)" = 0 ]

# The lock outlives what the command left running (its orphans become redlock's children): a second job waits.
"$redlock" leftover -c 'sh -c "trap \"\" TERM; sleep 1; echo A-late >>'"$tmp"'/leftover.log" & exit 0' &
pid=$!
sleep 0.3
"$redlock" -w 5 leftover -c 'echo B >>'"$tmp"'/leftover.log'
wait $pid
check "a job's leftover process keeps the lock until it ends: $(tr '\n' ' ' <"$tmp/leftover.log")" \
  [ "$(tr '\n' ' ' <"$tmp/leftover.log")" = "A-late B " ]
# A signal after the command ended well, while what it left runs: that is passed on, and the job did not end on its own.
signal_after 0.4 TERM "$redlock" stopped -c 'sleep 30 >/dev/null 2>&1 & exit 0'
check "SIGTERM while only a leftover runs: it is stopped, exit $rc (128+15), the lock released" \
  [ "$rc" = 143 -a "$(cli exists stopped)" = 0 ]
# Stopping a job stops what it left running, even what is left later: after a lost lock, the leftover's own child
# (reparented when the leftover dies of its SIGTERM) is sent SIGTERM too, and the work stops.
printf 'i=0; while [ $i -lt 30 ]; do echo w >>"%s"; sleep 0.1; i=$((i+1)); done\n' "$tmp/worker.log" >"$tmp/worker.sh"
"$redlock" -t 0.6 lostlate -c 'sh -c "sh '"$tmp"'/worker.sh; echo exited" & echo started' >/dev/null 2>&1 &
pid=$!
sleep 0.3
cli set lostlate other >/dev/null
reap $pid
check "a lost lock stops the leftovers' children too: exit $rc, $(wc -l <"$tmp/worker.log") of 30 writes" \
  [ "$rc" = 75 -a "$(wc -l <"$tmp/worker.log")" -lt 20 ]
# SIGTERM then SIGUSR1: the stop is not undone by the later signal.
"$redlock" both -c 'sh -c "trap \"echo usr1\" USR1; sleep 3 & wait; sleep 3" >/dev/null 2>&1 & exit 0' &
pid=$!
sleep 0.4
t0=$(ms)
kill -TERM $pid
kill -USR1 $pid
reap $pid
check "SIGTERM and SIGUSR1 while a leftover runs: stopped (exit $rc) in $(($(ms) - t0)) ms" \
  [ "$rc" = 143 -a $(($(ms) - t0)) -lt 2000 ]
# A signal the command handled is not replayed to what it starts later (a reload must not stop a later upload).
signal_after 0.3 HUP "$redlock" hup \
  -c 'trap "echo reloaded >'"$tmp"'/hup.log" HUP; sleep 0.6; (sleep 0.3; echo done >'"$tmp"'/up.log) & sleep 0.1'
check "a handled SIGHUP is not replayed to a later leftover (exit $rc)" [ "$rc" = 0 -a -f "$tmp/hup.log" -a -f "$tmp/up.log" ]
# SIGINT to redlock while it waits for a leftover that ignores SIGINT (a shell's background job): stopped.
t0=$(ms)
signal_after 0.4 INT dfl "$redlock" intl -c 'sleep 30 & exit 0'
check "SIGINT while only an INT-ignoring leftover runs: stopped, exit $rc, in $(($(ms) - t0)) ms" \
  [ "$rc" = 130 -a $(($(ms) - t0)) -lt 2000 ]
# A leftover that is stopped (SIGSTOP, SIGTTIN) gets SIGHUP and SIGCONT, as the kernel sends an orphaned process group.
t0=$(ms)
# (the command waits until the leftover is stopped: a SIGSTOP still pending when it is orphaned is not a stopped job)
status_is "a stopped leftover does not hold the lock forever" 0 timeout 10 "$redlock" stopl \
  -c 'sleep 30 & kill -STOP $!; until grep -q "^State:.*T" /proc/$!/status; do sleep 0.01; done; exit 0'
check "... it got SIGHUP and SIGCONT ($(($(ms) - t0)) ms)" [ $(($(ms) - t0)) -lt 3000 -a "$(cli exists stopl)" = 0 ]
# A leftover paused later on purpose is left paused (no SIGHUP); SIGTERM to redlock then continues and stops it.
"$redlock" paused -c 'sleep 5 & exit 0' &
pid=$!
sleep 0.5
leftover=$(cat /proc/$pid/task/*/children | tr -d ' ')
kill -STOP "$leftover"
sleep 0.6
check "a leftover paused later is not sent SIGHUP" [ -d "/proc/$leftover" ]
t0=$(ms)
kill -TERM $pid
reap $pid
check "... and SIGTERM to redlock (with SIGCONT) stops it: exit $rc in $(($(ms) - t0)) ms" \
  [ "$rc" = 143 -a $(($(ms) - t0)) -lt 2000 -a "$(cli exists paused)" = 0 ]
# Children redlock had before the command (`daemon & exec redlock ...`) are not the job's.
t0=$(ms)
status_is "a child redlock inherited is not waited for" 0 sh -c 'sleep 3 & exec "$0" inh -- true' "$redlock"
check "... done in $(($(ms) - t0)) ms" [ $(($(ms) - t0)) -lt 2000 ]
# SIGTERM reaches each leftover once: a second one means "force quit" to many programs.
printf 'trap "echo t >>%s" TERM; i=0; while [ $i -lt 10 ]; do sleep 0.1; i=$((i+1)); done\n' "$tmp/terms" \
  >"$tmp/counter.sh"
signal_after 0.3 TERM "$redlock" once -c 'sh '"$tmp"'/counter.sh & exit 0'
check "SIGTERM to redlock reaches a leftover once ($(wc -l <"$tmp/terms") times; exit $rc)" \
  [ "$(wc -l <"$tmp/terms")" = 1 -a "$rc" = 143 ]
# Orphans are reaped while the command runs: no zombies pile up against the process limit.
"$redlock" zombies -c 'for i in $(seq 50); do (true &); done; sleep 0.5
  cat /proc/[0-9]*/stat 2>/dev/null | awk -v p=$PPID '"'"'$4 == p && $3 == "Z"'"'"' | wc -l' >"$tmp/zombies" 2>&1
check "50 orphans of the command are reaped as they exit ($(cat "$tmp/zombies") zombies)" [ "$(cat "$tmp/zombies")" = 0 ]
# SIGCHLD blocked when redlock starts: the command's end is still seen.
status_is "SIGCHLD blocked at start: redlock still returns" 3 timeout 10 /usr/bin/python3 -c \
  'import os, signal, sys; signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGCHLD}); os.execv(sys.argv[1], sys.argv[1:])' \
  "$redlock" chb -- sh -c 'exit 3'
# status on a server that never answers: a signal ends it at once (status has nothing to clean up).
/usr/bin/python3 -c 'import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(); time.sleep(1.5)' "$tmp/hung.sock" &
hung=$!
sleep 0.3
"$redlock" -u "unix://$tmp/hung.sock" status x &
pid=$!
sleep 0.3
t0=$(ms)
kill -TERM $pid
reap $pid
check "SIGTERM ends a status waiting on a silent server at once (exit $rc, $(($(ms) - t0)) ms)" \
  [ "$rc" = 143 -a $(($(ms) - t0)) -lt 1000 ]
wait $hung

# kill -9 of redlock: the command gets SIGTERM (it must not run on without the lock); the key expires within the TTL.
"$redlock" -t 1 killed -- sh -c 'trap "echo TERM >'"$tmp"'/killed.child; exit 0" TERM; sleep 30 >/dev/null 2>&1 & wait' &
pid=$!
sleep 0.4
kill -9 $pid
wait $pid 2>/dev/null || :
sleep 0.2
check "kill -9 of redlock: its command gets SIGTERM" [ -f "$tmp/killed.child" ]
pttl=$(cli pttl killed)
check "after kill -9 the key is still there, with at most the TTL left ($pttl ms)" [ "$pttl" -gt 0 -a "$pttl" -le 1000 ]
sleep 1.2
check "... and it expires within the TTL" [ "$(cli exists killed)" = 0 ]

# Renewal: a child running 4 TTLs keeps the lock.
"$redlock" -t 0.5 long -- sh -c 'sleep 2; echo done >'"$tmp"'/long.done' &
pid=$!
sleep 0.3
token=$(cli get long)
sleep 1.3
check "a child running longer than the TTL keeps the lock (renewed)" [ "$(cli get long)" = "$token" ]
status_is "... so another redlock still finds it held" 1 "$redlock" -n long -- true
wait $pid
check "... and the child finished" [ -f "$tmp/long.done" ]

# A lost lock: the child gets SIGTERM and redlock exits 75.
"$redlock" -t 0.6 lost -- sh -c 'trap "echo TERM >'"$tmp"'/lost.child; exit 0" TERM; sleep 10 >/dev/null 2>&1 & wait' 2>"$tmp/lost.err" &
pid=$!
sleep 0.3
cli set lost someone-else >/dev/null
reap $pid
check "a lost lock: exit 75, the child got SIGTERM" [ "$rc" = 75 -a -f "$tmp/lost.child" ]
check "... with a message" grep -q "lock was lost" "$tmp/lost.err"
check "... and the new owner's key untouched" [ "$(cli get lost)" = someone-else ]
"$redlock" -k -t 0.6 kept -- sh -c 'sleep 1.2; exit 4' 2>"$tmp/kept.err" &
pid=$!
sleep 0.3
cli set kept someone-else >/dev/null
reap $pid
check "--keep-running: the child runs on, its status comes back ($rc), with a warning" \
  [ "$rc" = 4 -a -n "$(grep warning "$tmp/kept.err")" ]

# --- errors -----------------------------------------------------------------------------------------------------------
status_is "command not found: 127" 127 "$redlock" nf -- /nonexistent/command
status_is "a mistyped sub-command: 127 (jobs:y is no command)" 127 "$redlock" stauts jobs:y
check "... and no lock was taken" [ "$(cli exists stauts)" = 0 ]
status_is "--token twice: 64" 64 "$redlock" release x --token a --token b
status_is "a bad \$REDLOCK_URL: 64" 64 env REDLOCK_URL=redis://bad:port "$redlock" status x
check "... says where the URL came from" grep -q 'REDLOCK_URL' "$tmp/err"
status_is "command not executable: 126" 126 "$redlock" nx -- "$tmp"
printf 'echo "no shebang $1"\n' >"$tmp/noshebang"
chmod +x "$tmp/noshebang"
status_is "a script without #! runs with sh, as from a shell" 0 "$redlock" ns -- "$tmp/noshebang" arg
check "... with its arguments" grep -q "no shebang arg" "$tmp/out"
status_is "an option after NAME: 64, the lock not taken" 64 "$redlock" after -n -- touch "$tmp/ran3"
check "... and nothing run" [ ! -e "$tmp/ran3" -a "$(cli exists after)" = 0 ]
status_is "a TTL below 0.1 s: 64" 64 "$redlock" -t 0.05 n -- true
status_is "hex seconds: 64" 64 "$redlock" -w 0x2 n -- true
status_is "a signed exit code: 64" 64 "$redlock" -E +7 n -- true
status_is "--sleep 0 (a busy poll): 64" 64 "$redlock" --sleep 0 n -- true
status_is "--help to a full disk: 71" 71 sh -c '"$0" --help >/dev/full' "$redlock"
mkdir "$tmp/bin"
printf '#!/bin/sh\necho from-cwd\n' >"$tmp/bin/cwdtool"
chmod +x "$tmp/bin/cwdtool"
status_is "an empty PATH entry is the current directory" 0 sh -c 'cd "$1" && PATH=/usr/bin::/bin "$0" p -- cwdtool' \
  "$redlock" "$tmp/bin"
check "... the tool there ran" grep -q from-cwd "$tmp/out"
status_is "an empty PATH is the current directory, as in sh" 0 sh -c 'cd "$1" && PATH= "$0" p -- cwdtool' "$redlock" "$tmp/bin"
status_is "no command: usage, 64" 64 "$redlock" only-a-name
status_is "unknown option: 64" 64 "$redlock" --bogus n -- true
status_is "bad number: 64" 64 "$redlock" -w -1 n -- true
status_is "TTL 0: 64" 64 "$redlock" -t 0 n -- true
status_is "empty name: 64" 64 "$redlock" "" -- true
status_is "bad URL: 64" 64 "$redlock" -u 'redis://host:99999' n -- true
check "... one line naming the cause" [ "$(wc -l <"$tmp/err")" = 1 -a -n "$(grep -i 'port' "$tmp/err")" ]
status_is "server down: 69" 69 "$redlock" -u "redis://:hunter2-secret@127.0.0.1:1" n -- true
check "... one line, no password" [ "$(wc -l <"$tmp/err")" = 1 -a -z "$(grep hunter2 "$tmp/err")" ]
check "... naming the cause" grep -q "unavailable" "$tmp/err"
server auth --requirepass right-pass
status_is "wrong password: 77" 77 "$redlock" -u "unix://:wrong-pass@$tmp/auth.sock" n -- true
check "... one line, no password" [ "$(wc -l <"$tmp/err")" = 1 -a -z "$(grep wrong-pass "$tmp/err")" ]
status_is "right password: runs" 0 "$redlock" -u "unix://:right-pass@$tmp/auth.sock" n -- true

# --- sub-commands -----------------------------------------------------------------------------------------------------
status_is "status of a free lock: 1" 1 "$redlock" status free
check "... says free" grep -q "free" "$tmp/out"
"$redlock" st -- sleep 1.5 2>"$tmp/st.err" &
holder=$!
sleep 0.3
status_is "status of a held lock: 0" 0 "$redlock" status st
check "... shows the TTL and a libredlock token" grep -q "libredlock token" "$tmp/out"
status_is "status --json" 0 "$redlock" status --json st
/usr/bin/python3 - "$tmp/out" "$(cli get st)" <<'EOF' && json_ok=1 || json_ok=0
import json, sys
d = json.load(open(sys.argv[1]))
assert d["name"] == "st" and d["held"] is True and 0 < d["ttl_ms"] <= 30000, d
assert d["value"] == sys.argv[2] and d["value_bytes"] == 32 and d["kind"] == "libredlock", d
EOF
check "... is JSON with the key's value and a TTL" [ "$json_ok" = 1 ]
token=$(cli get st)
status_is "release with another token: 1" 1 "$redlock" release st --token not-the-token
check "... the key stays" [ "$(cli get st)" = "$token" ]
check "... says another token holds it" grep -q "holds another token" "$tmp/out"
status_is "release on a free lock: 1" 1 "$redlock" release free --token x
check "... says it is free" grep -q "the lock is free" "$tmp/out"
status_is "wait -w 0.2 on a held lock: 1" 1 "$redlock" wait -w 0.2 st
status_is "release --token: 0" 0 "$redlock" release st --token "$token" --json
check "... says so in JSON" grep -q '"released": true' "$tmp/out"
check "... the key is gone" [ "$(cli exists st)" = 0 ]
reap $holder
check "... and its holder, finding its lock gone at release, exits 75" [ "$rc" = 75 ]
status_is "release needs --token" 64 "$redlock" release st
status_is "--token only with release" 64 "$redlock" status st --token x
status_is "--json not with a command" 64 "$redlock" --json n -- true
status_is "output that cannot be written: 71" 71 sh -c '"$0" status --json free >/dev/full' "$redlock"
"$redlock" w -- sleep 0.6 &
holder=$!
sleep 0.2
t0=$(ms)
status_is "wait returns when the lock is free" 0 "$redlock" wait w --json
check "... after the holder's exit ($(($(ms) - t0)) ms)" [ $(($(ms) - t0)) -ge 200 -a $(($(ms) - t0)) -lt 3000 ]
check "... without taking it" [ "$(cli exists w)" = 0 ]
wait $holder
status_is "run, for a name spelled like a sub-command" 0 "$redlock" run status -- sh -c "redis-cli -s $tmp/main.sock exists status | grep -q 1"

# redis-py's lock: seen by status, excluded both ways.
/usr/bin/python3 - "$tmp/main.sock" <<'EOF'
import redis, sys
r = redis.Redis(unix_socket_path=sys.argv[1])
assert r.lock("py", timeout=30).acquire(blocking=False)
EOF
status_is "status of a redis-py lock" 0 "$redlock" status --json py
check "... kind redis-py, with its time" grep -q '"kind": "redis-py", "token_time": "20' "$tmp/out"
status_is "a redis-py holder excludes redlock" 1 "$redlock" -n py -- true
"$redlock" mine -- sleep 1 &
holder=$!
sleep 0.3
/usr/bin/python3 - "$tmp/main.sock" <<'EOF' && pyblocked=1 || pyblocked=0
import redis, sys
r = redis.Redis(unix_socket_path=sys.argv[1])
sys.exit(0 if not r.lock("mine", timeout=30).acquire(blocking=False) else 1)
EOF
check "redlock's holder excludes redis-py" [ "$pyblocked" = 1 ]
wait $holder

# --sleep paces the attempts while waiting (at most two per --sleep: a slice's last and the next one's first).
cli set paced someone >/dev/null
redis-cli -s "$tmp/main.sock" monitor >"$tmp/monitor" &
monitor=$!
sleep 0.2
status_is "--sleep 1 -w 2.2 on a held lock: 1" 1 "$redlock" --sleep 1 -w 2.2 paced -- true
kill $monitor
wait $monitor 2>/dev/null || :
attempts=$(grep -c '"paced"' "$tmp/monitor" || :)
check "... about one attempt per second ($attempts, not one per 0.2 s)" [ "$attempts" -ge 2 -a "$attempts" -le 6 ]

# Names and values as JSON: UTF-8 text stays text, other bytes are \u00XX each; an empty value is a value.
cli set "wé" "ünï" >/dev/null
status_is "status --json of a UTF-8 name and value" 0 "$redlock" status --json "wé"
/usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1], encoding="utf-8")); assert d["name"]=="wé" and d["value"]=="ünï" and d["value_bytes"]==5, d' \
  "$tmp/out" && utf8json=1 || utf8json=0
check "... reads back as the same text" [ "$utf8json" = 1 ]
cli set empty "" >/dev/null
status_is "status of an empty value" 0 "$redlock" status --json empty
check "... held, value empty, kind other" grep -q '"value": "", "value_bytes": 0, "kind": "other"' "$tmp/out"

# Odd values: a value that is no token, a key that is no string.
cli set odd "$(printf 'a\001b"\\')" >/dev/null
status_is "status of a value that is no token" 0 "$redlock" status --json odd
/usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["value"]=="a\x01b\"\\" and d["kind"]=="other" and d["ttl_ms"] is None, d' \
  "$tmp/out" && oddjson=1 || oddjson=0
check "... escaped JSON, kind other, no TTL" [ "$oddjson" = 1 ]
cli hset notastring f v >/dev/null
status_is "status of a key that is not a string: 69" 69 "$redlock" status notastring
check "... says WRONGTYPE" grep -q WRONGTYPE "$tmp/err"

# --- Redlock over three masters ---------------------------------------------------------------------------------------
server m1
server m2
server m3
q="-u unix://$tmp/m1.sock -u unix://$tmp/m2.sock -u unix://$tmp/m3.sock"
# shellcheck disable=SC2086
"$redlock" $q quorum -- sleep 1 &
holder=$!
sleep 0.3
# shellcheck disable=SC2086
status_is "three -u: Redlock; a second redlock is excluded" 1 "$redlock" $q -n quorum -- true
check "... the key is on every master" [ "$(redis-cli -s "$tmp/m1.sock" exists quorum)$(redis-cli -s "$tmp/m3.sock" exists quorum)" = 11 ]
# shellcheck disable=SC2086
status_is "... status over the masters" 0 "$redlock" $q status quorum
wait $holder
# shellcheck disable=SC2086
status_is "... released on all" 1 "$redlock" $q status quorum

# --- help, man page and version agree ---------------------------------------------------------------------------------
status_is "--help exits 0" 0 "$redlock" --help
cp "$tmp/out" "$tmp/help"
man_text=$(sed 's/\\-/-/g' "$src/docs/redlock.1")
for opt in $(grep -oE -- '--[a-z][a-z-]+' "$tmp/help" | sort -u); do
  printf '%s' "$man_text" | grep -q -- "$opt" || not_ok "option $opt of --help is not in redlock.1"
done
for opt in $(printf '%s' "$man_text" | grep -oE -- '^\.B[RI]? --?[a-z][a-z-]*' | awk '{print $2}' | sort -u); do
  grep -q -- "$opt" "$tmp/help" || not_ok "option $opt of redlock.1 is not in --help"
done
ok "every option of --help is in the man page and back"
man_codes=$(printf '%s\n' "$man_text" | sed -n '/^\.SH EXIT STATUS/,/^\.SH ENVIRONMENT/p' | grep -A1 '^\.TP' |
            grep -oE '^\.B [0-9]+' | awk '{print $2}' | sort -n | tr '\n' ' ')
help_codes=$(sed -n '/^Exit status/,$p' "$tmp/help" | grep -oE '(^|[ ;(])[0-9]{1,3}( |\))' | grep -oE '[0-9]+' |
             grep -v '^128$' | sort -nu | tr '\n' ' ')
src_codes=$(grep -oE 'EXIT_[A-Z_]+ = [0-9]+' "$src/tools/redlock.c" | awk '{print $3}' | sort -nu | tr '\n' ' ')
check "the exit codes of --help ($help_codes), the man page ($man_codes) and the source ($src_codes) agree" \
  [ "$man_codes" = "$help_codes" -a "$man_codes" = "$src_codes" ]
status_is "--version" 0 "$redlock" --version
check "... names both versions" grep -qE '^redlock [0-9.]+ \(libredlock [0-9.]+\)$' "$tmp/out"
if command -v man >/dev/null 2>&1; then
  check "the man page renders without warnings" [ -z "$(MANWIDTH=100 man --warnings -l "$src/docs/redlock.1" 2>&1 >/dev/null)" ]
fi

echo "$passed passed, $failures failed"
[ "$failures" = 0 ]
