#!/usr/bin/env bash
# readload.sh BUILD_DIR - do reads wait behind writes? CLIENTS (50) shell
# loops each run `unionctl add` back to back on a node holding N (20000)
# imported members, while `unionctl status` is timed SAMPLES (200) times;
# prints status p50/p99 and the adds per second the clients achieved.
#   tests/bench/readload.sh build      (release build; make -j2 first)
set -euo pipefail
B=$(cd "${1:-build}" && pwd)
N=${BENCH_N:-20000} CLIENTS=${CLIENTS:-50} SAMPLES=${SAMPLES:-200}
D=$(mktemp -d /tmp/uniond-readload.XXXXXX)
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null; rm -rf "$D"' EXIT
"$B/uniond" init -d "$D/a" --node bench-a --office bench --listen 127.0.0.1:0 >/dev/null
"$B/uniond" -d "$D/a" 2>"$D/a.log" & PIDS+=($!)
for _ in $(seq 1 500); do "$B/unionctl" -d "$D/a" status >/dev/null 2>&1 && break; sleep 0.02; done
"$B/genmembers" "$N" 1 >"$D/m.csv"
"$B/unionctl" -d "$D/a" import --skip-invalid "$D/m.csv" >/dev/null
before=$("$B/unionctl" -d "$D/a" list --count)
touch "$D/run"
for c in $(seq 1 "$CLIENTS"); do
    ( while [ -e "$D/run" ]; do "$B/unionctl" -d "$D/a" add name=压测$c >/dev/null 2>&1 || true; done ) &
    PIDS+=($!)
done
sleep 1 # let the writers fill the queue (a benchmark, not a test)
t0=$(date +%s%N)
for _ in $(seq 1 "$SAMPLES"); do
    s=$(date +%s%N); "$B/unionctl" -d "$D/a" status >/dev/null; e=$(date +%s%N)
    echo $(( (e - s) / 1000 ))
done >"$D/lat"
t1=$(date +%s%N)
rm -f "$D/run"
wait "${PIDS[@]:1}" 2>/dev/null || true
after=$("$B/unionctl" -d "$D/a" list --count)
sort -n "$D/lat" >"$D/lat.s"
p() { sed -n "$(( ($(wc -l <"$D/lat.s") * $1 + 99) / 100 ))p" "$D/lat.s"; }
adds=$(( after - before ))
secs=$(echo "($t1 - $t0) / 1000000000" | bc -l)
printf 'status under %d adding clients: p50 %.1f ms  p99 %.1f ms  max %.1f ms (%d samples)\n' \
    "$CLIENTS" "$(echo "$(p 50)/1000" | bc -l)" "$(echo "$(p 99)/1000" | bc -l)" \
    "$(echo "$(tail -1 "$D/lat.s")/1000" | bc -l)" "$SAMPLES"
printf 'adds: %d in %.1f s = %.0f/s\n' "$adds" "$secs" "$(echo "$adds / $secs" | bc -l)"
