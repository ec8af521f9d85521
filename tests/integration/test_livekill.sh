#!/usr/bin/env bash
# The live take-in under kill -9 (docs/RELIABILITY.md, "When a write is
# durable"): A adds records one after another while B takes each in from
# A's pushed HEADS (a small take-in: one new pack, then the own branch,
# then the branch copy written without a folder fsync) and B is killed at
# seeded random moments, so kills land between the pack and the branch,
# and between the branch and the copy. After every restart: B answers,
# `git fsck --strict` on B is clean (dangling objects allowed: a kill
# before the branch moved leaves them), and B's copy of A is never ahead
# of B's own branch (a copy moves only after its head is merged). At the
# end B holds every add A acknowledged.
#   LIVEKILL_SEED=1 LIVEKILL_KILLS=12 tests/integration/test_livekill.sh
. "$(dirname "$0")/lib.sh"
RANDOM=${LIVEKILL_SEED:-1}
KILLS=${LIVEKILL_KILLS:-8}

A=$T/a B=$T/b
node_init "$A" yinzhou-01 yinzhou
node_init "$B" haishu-01 haishu
for d in "$A" "$B"; do node_start "$d" || exit 1; done
fpr() { ctl "$1" id --json | sed -n 's/.*"fingerprint": "\(.*\)".*/\1/p'; }
addr() { ctl "$1" id --json | sed -n 's/.*"listen": "\(.*\)".*/\1/p'; }
connected() { ctl "$1" peers --json | tr -d '\n ' | grep -o "\"name\":\"$2\"[^}]*" | grep -q '"state":"connected"'; }
# B's copy of A is in B's own branch (or there is no copy yet)
copy_merged() {
    git_store "$B" rev-parse -q --verify refs/heads/yinzhou-01 >/dev/null || return 0
    git_store "$B" merge-base --is-ancestor refs/heads/yinzhou-01 refs/heads/haishu-01
}
# B's copy of A is A's head: B took in everything A had
caught_up() {
    [ "$(git_store "$B" rev-parse -q --verify refs/heads/yinzhou-01)" = \
        "$(git_store "$A" rev-parse -q --verify refs/heads/yinzhou-01)" ]
}

ctl "$A" peer add haishu-01 "$(addr "$B")" "$(fpr "$B")"
ctl "$B" peer add yinzhou-01 "$(addr "$A")" "$(fpr "$A")"
check "B connects to A" wait_until 20 connected "$B" yinzhou-01

# A writes in the background for the whole loop; its acknowledged ids go to a file
(
    i=0
    while [ ! -e "$T/stop" ]; do
        i=$((i + 1))
        id=$("$UNIONCTL" -d "$A" add name=会员$i phone=139$(printf %08d $i) 2>/dev/null) &&
            echo "$id" >>"$T/acked"
    done
) &
writer=$!

bad_fsck=0 bad_copy=0 bad_start=0 seen=0
for k in $(seq 1 "$KILLS"); do
    # a kill somewhere in the next take-ins: 20-400 ms after B is connected
    wait_until 20 connected "$B" yinzhou-01 || true
    sleep "0.$(printf %03d $((20 + RANDOM % 380)))"
    node_kill9 "$B"
    fsck_ok "$B" || bad_fsck=$((bad_fsck + 1))
    copy_merged || { echo "# kill $k: B's copy of A is ahead of B's branch"; bad_copy=$((bad_copy + 1)); }
    node_start "$B" || bad_start=$((bad_start + 1))
done
touch "$T/stop"
wait "$writer"
acked=$(wc -l <"$T/acked")
check "A acknowledged adds while B was killed $KILLS times ($acked adds)" test "$acked" -gt "$KILLS"
check "B restarted and answered after every kill" test "$bad_start" = 0
check "fsck --strict clean on B after every kill" test "$bad_fsck" = 0
check "B's copy of A never ahead of B's branch after a kill" test "$bad_copy" = 0
check "B catches up with A after the last restart" wait_until 60 caught_up
last=$(tail -n 1 "$T/acked")
check "A's last acknowledged add is on B" bash -c "\"$UNIONCTL\" -d \"$B\" show \"$last\" >/dev/null"
for id in $(cat "$T/acked"); do ctl "$B" show "$id" >/dev/null 2>&1 || seen=$((seen + 1)); done
check "every add A acknowledged is on B" test "$seen" = 0
check "B's copy of A is in B's branch" copy_merged
for d in "$A" "$B"; do
    check "$(basename "$d"): no sanitizer report" log_clean "$d"
    node_stop "$d"
    check "$(basename "$d"): fsck clean" fsck_ok "$d"
done
done_testing
