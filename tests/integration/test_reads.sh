#!/usr/bin/env bash
# Reads never wait behind writes: while a big import holds the store
# queue, `status` is answered at once (from the view the last job left),
# and after the import it counts the imported records.
. "$(dirname "$0")/lib.sh"

A=$T/a
node_init "$A" haishu-01 haishu
node_start "$A" || exit 1
id=$(ctl "$A" add name=甲)
"$GENMEMBERS" 20000 7 >"$T/m.csv"
rchar() { awk '/^rchar/ {print $2}' "/proc/$(node_pid "$A")/io"; }
r0=$(rchar)
ctl "$A" import --skip-invalid "$T/m.csv" >"$T/import.out" 2>&1 &
imp=$!
check "the import request reached the daemon" wait_until 30 bash -c "[ \$(awk '/^rchar/ {print \$2}' /proc/$(node_pid "$A")/io) -gt $((r0 + 1000000)) ]"
t0=$(date +%s%N)
out=$(ctl "$A" status --json); rc=$?
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
kill -0 "$imp" 2>/dev/null; running=$?
check "status answered (rc $rc) while the import was still running ($ms ms)" \
    bash -c "[ $rc = 0 ] && [ $running = 0 ]"
check "it shows the state before the import" grep -q '"records": 1' <<<"$out"
wait "$imp"
n=$(sed -n 's/.*imported \([0-9]*\) new.*/\1/p' "$T/import.out")
check "after the import, status counts it (1 + $n)" \
    bash -c "'$UNIONCTL' -d '$A' status --json | grep -q '\"records\": $((1 + n))'"
ctl "$A" edit "$id" name=乙 >/dev/null
check "a client's status after its own write sees it" \
    bash -c "[ \"\$('$UNIONCTL' -d '$A' status --json | sed -n 's/.*\"head\": \"\\([0-9a-f]*\\)\".*/\\1/p')\" = \"\$(git --git-dir='$A/store.git' rev-parse HEAD)\" ]"
check "SIGTERM exits cleanly" node_stop "$A"
check "no sanitizer reports" log_clean "$A"
done_testing
