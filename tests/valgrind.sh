#!/usr/bin/env bash
# valgrind.sh BUILD_DIR - runs the release uniond under valgrind memcheck
# through a session of every kind of request (adds, edits, queries, import,
# log, export, bundles, conflicts, stats, duplicates, peers) and a SIGTERM;
# fails on any memory error or leak (tests/valgrind.supp: libgit2's
# per-thread error state only; indirect leaks hang off those blocks).
set -euo pipefail
B=$(cd "${1:-build}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
D=$(mktemp -d /tmp/uniond-vg.XXXXXX)
trap 'kill -9 $PID 2>/dev/null || true; rm -rf "$D"' EXIT
"$B/uniond" init -d "$D/n" --node vg --office yinzhou --listen 127.0.0.1:0 >/dev/null
valgrind --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=9 \
    --suppressions="$here/valgrind.supp" --log-file="$D/vg.log" "$B/uniond" -d "$D/n" 2>"$D/n.log" &
PID=$!
U() { "$B/unionctl" -d "$D/n" "$@"; }
for _ in $(seq 1 300); do U status >/dev/null 2>&1 && break; sleep 0.1; done
"$B/genmembers" 500 3 >"$D/m.csv"
id=$(U add name=甲 phone=13800000000 benefits+=a)
U edit "$id" benefits+=b union=x >/dev/null
U list --where 'name~甲' --csv >/dev/null
U import "$D/m.csv" >/dev/null
U log "$id" --reveal >/dev/null
U export --json >/dev/null
U bundle export "$D/b.bundle"
U bundle import "$D/b.bundle" >/dev/null
U conflicts >/dev/null; U stats --by office,category >/dev/null; U duplicates >/dev/null || true
U peers >/dev/null; U status --json >/dev/null
U add name= 2>/dev/null || true
# unionctl batch itself under memcheck: a kept connection, a failing line
brc=0
printf 'add name=乙\nshow %s\nlist --count\nadd "name=\nadd name=\n' "$id" |
    valgrind --leak-check=full --error-exitcode=9 --log-file="$D/vgc.log" \
        "$B/unionctl" -d "$D/n" batch >/dev/null 2>&1 || brc=$?
grep -E "ERROR SUMMARY|definitely lost" "$D/vgc.log" | sed 's/^/unionctl batch: /'
if [ "$brc" != 2 ]; then cat "$D/vgc.log"; echo "valgrind: unionctl batch exit $brc, not 2"; exit 1; fi
kill -TERM $PID
rc=0; wait $PID || rc=$?
grep -E "ERROR SUMMARY|definitely lost|indirectly lost" "$D/vg.log"
if [ "$rc" != 0 ]; then cat "$D/vg.log"; echo "valgrind: errors (exit $rc)"; exit 1; fi
echo "valgrind: clean"
