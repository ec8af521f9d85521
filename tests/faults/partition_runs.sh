#!/usr/bin/env bash
# partition_runs.sh SEED... - the long partition run (`make test-faults`):
# tests/faults/partition.sh once per seed, one after the other, then the
# totals over all seeds (the figures of docs/RELIABILITY.md). A failed
# seed is named with the command that repeats it; its directory is kept.
#   PART_CHAOS_S=20 PART_JOBS=2 bash tests/faults/partition_runs.sh $(seq 1 50)
here=$(cd "$(dirname "$0")" && pwd)
log=$(mktemp -d /tmp/uniond-partition-runs.XXXXXX)
failed=()
t0=$(date +%s)
# PART_JOBS lanes run seeds side by side (each run has its own namespaces);
# a run mostly waits on timers, so two lanes halve the wall time
jobs=${PART_JOBS:-1}
lane() {
    local k=0 s
    for s in "$@"; do
        k=$((k + 1))
        [ $((k % jobs)) = "$LANE" ] || continue
        SEED=$s bash "$here/partition.sh" >"$log/seed$s.out" 2>&1
        echo $? >"$log/seed$s.rc"
    done
}
for LANE in $(seq 0 $((jobs - 1))); do lane "$@" & done
wait
for s in "$@"; do
    line=$(grep '^# partition: seed=.* mode=' "$log/seed$s.out" | tail -1)
    if [ "$(cat "$log/seed$s.rc")" != 0 ] || grep -q '^not ok' "$log/seed$s.out"; then
        failed+=("$s")
        echo "seed $s: FAILED (SEED=$s bash tests/faults/partition.sh; log $log/seed$s.out)"
        grep -E '^not ok|^# (LOST|BACK|kept)' "$log/seed$s.out" | sed 's/^/  /'
    else
        echo "seed $s: ok  ${line#\# partition: }"
    fi
done
sum() { grep -h '^# partition: seed=.* mode=' "$log"/seed*.out | grep -o " $1=-\?[0-9]*" | cut -d= -f2 | awk -v m="$2" '{ if (m == "max") { if ($1 > v) v = $1 } else v += $1 } END { print v + 0 }'; }
echo "# partition runs: seeds=$# failed=${#failed[@]}${failed[*]:+ (${failed[*]})} kills=$(sum kills) cuts=$(sum cuts) cuts_live=$(sum cuts_live) netem=$(sum netem) writes=$(sum writes) present=$(sum present) superseded=$(sum superseded) lost=$(sum lost) resurrected=$(sum resurrected) divergent=$(sum divergent) fsck_bad=$(sum fsck_bad) longest_converge_ms=$(sum converge_ms max) wall_s=$(($(date +%s) - t0)) logs=$log"
[ ${#failed[@]} = 0 ]
