#!/usr/bin/env bash
# killloop.sh - the seeded SIGKILL loop (docs/RELIABILITY.md). KILLS times:
# start the node, run a workload chosen by the seed (parallel adds, a CSV
# import, a bundle import, or all at once), SIGKILL the daemon after a
# seeded delay, restart it, and check: it answers within 5 s, every
# acknowledged add is in the head tree, every acknowledged import and
# bundle import is there in full, and `git fsck --strict` is clean
# (dangling objects allowed: a kill between writing objects and moving the
# branch leaves them). Prints one "ok"/"not ok" line per check kind and a
# summary line with the figures.
#   FAULT_SEED=1 FAULT_KILLS=200 tests/faults/killloop.sh
. "$(dirname "$0")/../integration/lib.sh"
SEED=${FAULT_SEED:-1}
KILLS=${FAULT_KILLS:-20}
RANDOM=$SEED

A=$T/a B=$T/b
node_init "$A" haishu-01 haishu
node_init "$B" yinzhou-01 yinzhou
node_start "$B" || exit 1
# bundles with growing content from another office
nb=4
for k in $(seq 1 $nb); do
    for i in 1 2 3 4 5; do ctl "$B" add name=外来$k乙$i >/dev/null; done
    ctl "$B" bundle export "$T/b$k.bundle" >/dev/null
    git bundle list-heads "$T/b$k.bundle" | awk '{print $1}' >"$T/b$k.heads"
done
node_stop "$B"
node_start "$A" || exit 1

first_bad=none lost=0 fsck_bad=0 slow=0 acked_adds=0 acked_imports=0 acked_bundles=0 max_start=0 kills=0
: >"$T/acked.ids"
: >"$T/acked.imports"
: >"$T/acked.bundles"
# fsck_ok, and a store with no commit yet (a kill before the first write
# on a loaded machine) is clean too: git then only says "notice: HEAD
# points to an unborn branch"
fsck_round() {
    local out
    out=$(git_store "$A" fsck --strict --no-progress 2>&1) || { echo "# $out"; return 1; }
    out=$(grep -v -e '^dangling ' -e '^notice: ' <<<"$out")
    [ -z "$out" ] || { echo "# fsck: $out"; return 1; }
}
tree_ids() { git_store "$A" ls-tree -r --name-only HEAD 2>/dev/null | sed 's|.*/||' | sort -u; }

for round in $(seq 1 "$KILLS"); do
    kind=$((RANDOM % 4))         # 0 adds, 1 import, 2 bundle, 3 all
    delay=$((20 + RANDOM % 600)) # ms before the kill
    pids=()
    if [ $kind = 0 ] || [ $kind = 3 ]; then
        for c in 1 2 3 4 5 6; do
            ( while :; do id=$("$UNIONCTL" -d "$A" add name=轮${round}客$c 2>/dev/null) || break
                  echo "$id" >>"$T/acked.ids"; done ) &
            pids+=($!)
        done
    fi
    if [ $kind = 1 ] || [ $kind = 3 ]; then
        { echo name; for i in $(seq 1 300); do echo "导入${round}号$i"; done; } >"$T/r$round.csv"
        ( out=$("$UNIONCTL" -d "$A" import "$T/r$round.csv" 2>/dev/null) &&
              grep -q 'imported 300 new' <<<"$out" && echo "$round" >>"$T/acked.imports" ) &
        pids+=($!)
    fi
    if [ $kind = 2 ] || [ $kind = 3 ]; then
        k=$((1 + RANDOM % nb))
        ( "$UNIONCTL" -d "$A" bundle import "$T/b$k.bundle" >/dev/null 2>&1 &&
              echo "$k" >>"$T/acked.bundles" ) &
        pids+=($!)
    fi
    sleep "$(printf '0.%03d' "$delay")"
    node_kill9 "$A"
    kills=$((kills + 1))
    wait "${pids[@]}" 2>/dev/null
    t0=$(date +%s%N)
    "$UNIOND" -d "$A" >>"$A.log" 2>&1 &
    pid=$!; PIDS+=("$pid"); eval "PID_$(echo "$A" | md5sum | cut -c1-8)=$pid"
    if ! wait_until 20 ctl "$A" status; then
        echo "# round $round: the node did not come back"; tail -5 "$A.log" | sed 's/^/#   /'
        not_ok "round $round: restart"; break
    fi
    ms=$(( ($(date +%s%N) - t0) / 1000000 ))
    [ "$ms" -gt "$max_start" ] && max_start=$ms
    [ "$ms" -ge 5000 ] && { slow=$((slow + 1)); echo "# round $round: restart took $ms ms"; }
    tree_ids >"$T/tree.ids"
    miss=$(sort -u "$T/acked.ids" | comm -23 - "$T/tree.ids" | wc -l)
    for r in $(sort -u "$T/acked.imports"); do
        c=$(git_store "$A" grep -c "^name: 导入${r}号" HEAD -- members | awk -F: '{s+=$NF} END{print s+0}')
        [ "$c" = 300 ] || { miss=$((miss + 300 - c)); echo "# round $round: import $r has $c of 300"; }
    done
    for k in $(sort -u "$T/acked.bundles"); do
        for h in $(cat "$T/b$k.heads"); do
            git_store "$A" ls-tree -r --name-only "$h" 2>/dev/null | sed 's|.*/||' | sort -u |
                comm -23 - "$T/tree.ids" >"$T/bmiss"
            git_store "$A" cat-file -e "$h" 2>/dev/null || echo "missing head $h" >>"$T/bmiss"
            [ -s "$T/bmiss" ] && { miss=$((miss + $(wc -l <"$T/bmiss"))); echo "# round $round: bundle $k lacks records"; }
        done
    done
    [ "$miss" -gt 0 ] && echo "# round $round (kind $kind, kill after $delay ms): $miss acknowledged writes missing"
    lost=$((lost + miss))
    if ! fsck_round >/dev/null; then
        fsck_bad=$((fsck_bad + 1))
        # once broken a store stays broken: the first round is the finding
        if [ "$first_bad" = none ]; then
            first_bad="$round (kind $kind, kill after $delay ms)"
            echo "# round $round (kind $kind, kill after $delay ms): fsck not clean"; fsck_round
        fi
    fi
    leftovers=$(find "$A/store.git/objects" -maxdepth 1 -name 'incoming-*' | wc -l)
    [ "$leftovers" = 0 ] || echo "# round $round: $leftovers quarantine folders left after restart"
done
acked_adds=$(sort -u "$T/acked.ids" | wc -l)
acked_imports=$(sort -u "$T/acked.imports" | wc -l)
acked_bundles=$(sort -u "$T/acked.bundles" | wc -l)
check "seed $SEED: $kills SIGKILLs, no acknowledged write lost ($acked_adds adds, $acked_imports imports of 300, $acked_bundles distinct bundles acknowledged)" \
    test "$lost" = 0
check "seed $SEED: git fsck --strict clean after every kill (first failure: round $first_bad)" test "$fsck_bad" = 0
check "seed $SEED: every restart answered within 5 s (slowest $max_start ms)" test "$slow" = 0
check "seed $SEED: the kills hit acknowledged work (at least one acknowledged add)" test "$acked_adds" -gt 0
check "no sanitizer reports" log_clean "$A"
echo "# faults: seed=$SEED kills=$kills acked_adds=$acked_adds acked_imports=$acked_imports acked_bundles=$acked_bundles lost=$lost fsck_bad=$fsck_bad first_fsck_failure=\"$first_bad\" slowest_restart_ms=$max_start"
done_testing
