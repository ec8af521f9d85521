# lib.sh - helpers for integration tests: real uniond processes on temp
# DATA directories, driven with unionctl, checked with plain git. Sourced by
# every tests/integration/test_*.sh. Prints TAP-like "ok - NAME" and
# "not ok - NAME" lines that tests/run.sh counts. Never sleeps a fixed time:
# waits poll with a deadline.
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
UNIOND=${UNIOND_BIN:-$ROOT/build/san/uniond}
UNIONCTL=${UNIONCTL_BIN:-$ROOT/build/san/unionctl}
GENMEMBERS=${GENMEMBERS_BIN:-$ROOT/build/genmembers}
# Sanitizer builds: leaks are errors, reports go to the daemon's log.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
T=$(mktemp -d /tmp/uniond-it.XXXXXX)
PIDS=()
FAILS=0
export UNIOND_OPERATOR=tester

cleanup() {
    for p in "${PIDS[@]:-}"; do
        [ -n "$p" ] && kill -9 "$p" 2>/dev/null
    done
    if [ "$FAILS" = 0 ]; then rm -rf "$T"; else echo "# kept $T for inspection"; fi
}
trap cleanup EXIT

ok() { echo "ok - $*"; }
not_ok() { echo "not ok - $*"; FAILS=$((FAILS + 1)); }

# check NAME CMD... : ok if CMD succeeds
check() {
    local name=$1; shift
    if "$@"; then ok "$name"; else not_ok "$name"; fi
}

# wait_until SECONDS CMD... : poll CMD every 20 ms until it succeeds
wait_until() {
    local limit=$1; shift
    local deadline=$(( $(date +%s%N) / 1000000 + limit * 1000 ))
    while ! "$@" >/dev/null 2>&1; do
        [ $(( $(date +%s%N) / 1000000 )) -ge "$deadline" ] && return 1
        sleep 0.02
    done
}

ctl() { # ctl DATA args...
    local d=$1; shift
    "$UNIONCTL" -d "$d" "$@"
}

node_init() { # node_init DATA NAME OFFICE
    "$UNIOND" init -d "$1" --node "$2" --office "$3" --listen 127.0.0.1:0 >"$1.init" 2>&1
}

# node_start DATA : start uniond in the background, wait until it answers
node_start() {
    local d=$1
    "$UNIOND" -d "$d" >>"$d.log" 2>&1 &
    local pid=$!
    PIDS+=("$pid")
    eval "PID_$(echo "$d" | md5sum | cut -c1-8)=$pid"
    if ! wait_until 20 ctl "$d" status; then
        echo "# daemon on $d did not come up:"; sed 's/^/#   /' "$d.log"
        return 1
    fi
}

node_pid() { local v="PID_$(echo "$1" | md5sum | cut -c1-8)"; echo "${!v:-}"; }

# node_stop DATA : SIGTERM and wait for a clean exit (returns its status)
node_stop() {
    local pid; pid=$(node_pid "$1")
    [ -n "$pid" ] || return 1
    kill -TERM "$pid" 2>/dev/null
    wait "$pid"
}

node_kill9() {
    local pid; pid=$(node_pid "$1")
    kill -9 "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    return 0
}

git_store() { local d=$1; shift; git --git-dir="$d/store.git" "$@"; }

# fsck_clean DATA : git fsck --strict passes and reports nothing dangling
fsck_clean() {
    local out
    out=$(git_store "$1" fsck --strict --no-progress 2>&1) || { echo "# $out"; return 1; }
    [ -z "$out" ] || { echo "# fsck: $out"; return 1; }
}

# no sanitizer report in a daemon log
log_clean() { ! grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$1.log"; }

done_testing() {
    [ "$FAILS" = 0 ]
}

# fsck_ok DATA : like fsck_clean, but dangling objects are allowed (a crash
# between writing objects and moving the ref leaves them; they are harmless),
# and so are git's notices about a store killed before its first commit
# ("HEAD points to an unborn branch"): nothing was acknowledged then, and the
# lost-write checks catch a branch that should exist.
fsck_ok() {
    local out
    out=$(git_store "$1" fsck --strict --no-progress 2>&1) || { echo "# $out"; return 1; }
    out=$(grep -v -e '^dangling ' -e '^notice: ' <<<"$out")
    [ -z "$out" ] || { echo "# fsck: $out"; return 1; }
}
