#!/usr/bin/env bash
# Group commit (issue 12): adds queued behind a long import run as one
# batch, yet each is answered on its own (two adds of one ID number: the
# first wins, the second is refused naming it), each is its own change in
# the history, every acknowledged one is there afterwards and the store
# passes git fsck --strict. Then a SIGKILL in the middle of batched adds
# loses no acknowledged write.
. "$(dirname "$0")/lib.sh"

CLIENTS=20 PER=3
A=$T/a
node_init "$A" yinzhou-01 yinzhou
node_start "$A" || exit 1

# an 18-digit ID number with its check character, from 17 digits
idno() {
    local d=$1 w=(7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2) c=10X98765432 s=0
    for i in $(seq 0 16); do s=$(( s + ${d:$i:1} * ${w[$i]} )); done
    echo "$d${c:$(( s % 11 )):1}"
}
ID=$(idno 33021219800101123)

"$GENMEMBERS" 40000 11 >"$T/m.csv" # large enough to outlast 22 clients connecting on a loaded machine
commits0=$(git_store "$A" rev-list --count HEAD 2>/dev/null || echo 0)
pid=$(node_pid "$A")
fds0=$(ls "/proc/$pid/fd" | wc -l)
# the import holds the store queue while the adds queue up behind it
ctl "$A" import --skip-invalid "$T/m.csv" >"$T/import.out" 2>&1 &
imp=$!
check "the import request reached the daemon" wait_until 30 bash -c \
    "[ \$(ls /proc/$pid/fd | wc -l) -gt $fds0 ]"
for c in $(seq 1 "$CLIENTS"); do
    (for i in $(seq 1 "$PER"); do
         ctl "$A" add "name=并行$c-$i" >>"$T/ids.$c" 2>>"$T/err.$c" || echo "fail" >>"$T/err.$c"
     done) &
    PIDS+=($!)
done
for r in 1 2; do
    (if ctl "$A" add "name=争$r" "id_number=$ID" >"$T/race.$r" 2>&1; then echo 0; else echo 1; fi \
        >"$T/race.$r.rc") &
    PIDS+=($!)
done
wait_until 60 bash -c "[ \$(ls /proc/$pid/fd | wc -l) -ge $((fds0 + 1 + CLIENTS + 2)) ]"
check "every client's first add is queued while the import still runs" kill -0 "$imp"
wait "$imp"
wait_until 120 bash -c "[ -s '$T/race.1.rc' ] && [ -s '$T/race.2.rc' ] && [ \$(cat '$T'/ids.* 2>/dev/null | wc -l) -ge $((CLIENTS * PER)) ]"
check "no add failed" bash -c "! cat '$T'/err.* 2>/dev/null | grep -q ."
nacked=$(cat "$T"/ids.* | sort -u | wc -l)
check "every add was acknowledged with its own id ($nacked)" [ "$nacked" = $((CLIENTS * PER)) ]
rcs="$(cat "$T/race.1.rc")$(cat "$T/race.2.rc")"
check "exactly one of two racing adds of one ID number is acknowledged ($rcs)" \
    bash -c "[ '$rcs' = 01 ] || [ '$rcs' = 10 ]"
if [ "$rcs" = 01 ]; then win=1 lose=2; else win=2 lose=1; fi
winner=$(cat "$T/race.$win")
check "the refused one names the winner ($winner)" grep -q "$winner" "$T/race.$lose"
nimp=$(sed -n 's/.*imported \([0-9]*\) new.*/\1/p' "$T/import.out")
check "the count is the import's $nimp plus every acknowledged add" \
    [ "$(ctl "$A" list --count)" = $((nimp + nacked + 1)) ]
missing=0
for id in $(cat "$T"/ids.*) "$winner"; do
    ctl "$A" show "$id" >/dev/null 2>&1 || missing=$((missing + 1))
done
check "show finds every acknowledged record" [ "$missing" = 0 ]
st=$(ctl "$A" status --json)
wb=$(sed -n 's/.*"write_batches": \([0-9]*\).*/\1/p' <<<"$st")
bw=$(sed -n 's/.*"batched_writes": \([0-9]*\).*/\1/p' <<<"$st")
check "the adds ran in batches ($bw writes in $wb batches)" \
    bash -c "[ '${wb:-0}' -gt 0 ] && [ '${bw:-0}' -gt '${wb:-0}' ]"
commits1=$(git_store "$A" rev-list --count HEAD)
check "each add is its own commit ($commits0 + 1 import + $((nacked + 1)) adds = $commits1)" \
    [ "$commits1" = $((commits0 + 1 + nacked + 1)) ]
nlog=$(ctl "$A" log --limit 1000 | grep -c '  add  ' || true)
check "log shows each add as its own change ($nlog)" [ "$nlog" -ge $((nacked + 1)) ]
check "git fsck --strict is clean" fsck_clean "$A"

# the batch's durable step fails (the branch is locked): the add is
# refused with the store's error, leaves nothing visible, and the next add
# (lock gone) works
n0=$(ctl "$A" list --count)
touch "$A/store.git/refs/heads/yinzhou-01.lock"
out=$(ctl "$A" add name=锁住 2>&1); rc=$?
rm -f "$A/store.git/refs/heads/yinzhou-01.lock"
check "an add whose branch cannot move is refused (rc $rc)" bash -c "[ $rc != 0 ] && grep -qi 'branch' <<<'$out'"
check "the refused add is not in the index" [ "$(ctl "$A" list --count)" = "$n0" ]
check "nor in list" bash -c "! '$UNIONCTL' -d '$A' list --where name=锁住 | grep -q 锁住"
check "the next add works" bash -c "'$UNIONCTL' -d '$A' add name=锁后 >/dev/null"
check "and is counted" [ "$(ctl "$A" list --count)" = $((n0 + 1)) ]

# SIGKILL while batched adds are running: every acknowledged add survives
KILLERS=()
for c in $(seq 1 "$CLIENTS"); do
    (while ctl "$A" add "name=杀$c-$RANDOM" >>"$T/kids.$c" 2>/dev/null; do :; done) &
    KILLERS+=($!)
done
wait_until 60 bash -c "[ \$(cat '$T'/kids.* 2>/dev/null | wc -l) -ge 40 ]"
node_kill9 "$A"
wait "${KILLERS[@]}" # each client stops at its first failure
node_start "$A" || exit 1
lost=0 nk=0
for id in $(cat "$T"/kids.*); do
    nk=$((nk + 1))
    ctl "$A" show "$id" >/dev/null 2>&1 || lost=$((lost + 1))
done
check "no acknowledged add lost to SIGKILL ($nk acknowledged, $lost lost)" \
    bash -c "[ $nk -ge 40 ] && [ $lost = 0 ]"
check "git fsck after the kill" fsck_ok "$A"

# each lone add leaves a small pack; the idle store queue joins them after
# 16 once it is quiet for 100 ms, at 48 whatever the load (test_packjoin.sh),
# and the next start joins what is left into one
npb=$(ls "$A/store.git/objects/pack/" | grep -c '\.pack$')
for i in $(seq 1 35); do ctl "$A" add "name=独$i" >>"$T/solo.ids"; done
np0=$(ls "$A/store.git/objects/pack/" | grep -c '\.pack$')
check "SIGTERM before the restart" node_stop "$A"
node_start "$A" || exit 1
np1=$(ls "$A/store.git/objects/pack/" | grep -c '\.pack$')
check "at start the small packs are joined ($np0 packs, then $np1)" \
    bash -c "[ $np0 -le $((npb + 49)) ] && [ $np1 -le 3 ]"
missing=0
for id in $(cat "$T"/solo.ids "$T"/ids.* "$T"/kids.*); do
    ctl "$A" show "$id" >/dev/null 2>&1 || missing=$((missing + 1))
done
check "every acknowledged record is there after the join" [ "$missing" = 0 ]
check "git fsck after the join" fsck_ok "$A"
check "SIGTERM exits cleanly" node_stop "$A"
check "no sanitizer reports" log_clean "$A"
done_testing
