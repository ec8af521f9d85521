#!/usr/bin/env bash
# importrss.sh BUILD CSV - one import the way bench.py's import row makes
# it (uniond init, start, unionctl import of CSV), with what that row does
# not show: the CPU of uniond's busiest thread (the store queue's: the
# import's critical path when two cores are free), uniond's VmRSS every
# 0.5 s (where the peak is: checking, commit or index feed) and VmHWM.
# Prints one summary line, the RSS curve (MiB) and the daemon's phase
# lines (uniond --verbose: wall and CPU of the row checks, the commit and
# the index feed, and their parts; docs/BENCHMARKS.md round 10). Never
# part of make test.
# Example: BUILD=build; tests/bench/importrss.sh $BUILD m.csv
set -u
B=$1 CSV=$2
D=$(mktemp -d /tmp/uniond-importrss.XXXXXX)
trap 'rm -rf "$D"' EXIT
"$B/uniond" init -d "$D/n" --node n1 --office bench --listen 127.0.0.1:0 >/dev/null || exit 1
"$B/uniond" -d "$D/n" --verbose 2>"$D/log" &
PID=$!
for _ in $(seq 1 500); do "$B/unionctl" -d "$D/n" status >/dev/null 2>&1 && break; sleep 0.02; done
TCK=$(getconf CLK_TCK)
cpu() { awk -v t="$TCK" '{print ($14+$15)/t}' "$1"; }
(while kill -0 $PID 2>/dev/null; do
    awk '/VmRSS/{printf "%d ", $2/1024}' /proc/$PID/status 2>/dev/null; sleep 0.5
done) >"$D/rss" &
c0=$(cpu /proc/$PID/stat)
t0=$(date +%s.%N)
/usr/bin/time -f "%U %S" -o "$D/ctl" "$B/unionctl" -d "$D/n" import "$CSV" >"$D/out" || { cat "$D/out"; exit 1; }
t1=$(date +%s.%N)
c1=$(cpu /proc/$PID/stat)
busiest=$(for t in /proc/$PID/task/*; do cpu "$t/stat"; done | sort -n | tail -1)
hwm=$(awk '/VmHWM/{print int($2/1024)}' /proc/$PID/status)
kill $PID; wait $PID 2>/dev/null
sleep 0.6
printf 'wall %.2f s, uniond CPU %.2f s (busiest thread %.2f s), unionctl CPU %.2f s, uniond VmHWM %d MiB, load %s; %s\n' \
    "$(echo "$t1 - $t0" | bc)" "$(echo "$c1 - $c0" | bc)" "$busiest" \
    "$(awk '{print $1 + $2}' "$D/ctl")" "$hwm" "$(cut -d' ' -f1 /proc/loadavg)" "$(head -c 120 "$D/out")"
echo "VmRSS every 0.5 s (MiB): $(cat "$D/rss")"
grep -E 'debug: (import: |bulk commit)' "$D/log" | sed 's/^[^ ]* debug: /  /'
