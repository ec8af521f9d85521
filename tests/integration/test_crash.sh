#!/usr/bin/env bash
# Durability and recovery: kill -9 right after an acknowledged write, stale
# lock files after a crash, restart with the index rebuilt from the store.
. "$(dirname "$0")/lib.sh"

A=$T/a
node_init "$A" haishu-01 haishu
node_start "$A" || exit 1
ids=()
for i in 1 2 3 4 5; do ids+=("$(ctl "$A" add name=会员$i phone=1380000000$i)"); done
last=$(ctl "$A" add name=最后一位 category=货车司机)
valid=0
for id in "${ids[@]}" "$last"; do [[ "$id" =~ ^[0-9a-z]{16}$ ]] && valid=$((valid + 1)); done
check "all 6 adds were acknowledged with an id before kill -9" test "$valid" = 6
node_kill9 "$A"
check "kill -9 leaves the acknowledged commit on the branch" \
    bash -c "git --git-dir='$A/store.git' ls-tree -r --name-only HEAD | grep -q '/$last\$'"
check "fsck clean after kill -9" fsck_clean "$A"

# what a crash mid-write leaves behind: a ref lock and a temp pack
touch "$A/store.git/refs/heads/haishu-01.lock" "$A/store.git/objects/pack/pack_git2_deadbeef"
node_start "$A" || exit 1
check "restart clears stale lock files" test ! -e "$A/store.git/refs/heads/haishu-01.lock"
check "restart clears temp packs" test ! -e "$A/store.git/objects/pack/pack_git2_deadbeef"
check "all records are back after restart" test "$(ctl "$A" list --count)" = 6
check "the last record is there" bash -c "'$UNIONCTL' -d '$A' show '$last' | grep -q 货车司机"
check "writes work after the restart" bash -c "'$UNIONCTL' -d '$A' edit '$last' category=快递员"
check "fsck clean after restart and write" fsck_clean "$A"

# a burst of writes from parallel clients, then kill -9 in the middle
for i in $(seq 1 20); do ctl "$A" add name=并发$i >"$T/par.$i" 2>&1 & done
wait_until 30 bash -c "[ \$(cat '$T'/par.* | grep -c '^[0-9a-z]\{16\}\$') -ge 10 ]"
burst_rc=$?
node_kill9 "$A"
wait
acked=$(cat "$T"/par.* | grep -c '^[0-9a-z]\{16\}$')
# without acknowledged adds the survival check below would prove nothing
check "at least 10 adds of the burst were acknowledged before kill -9 ($acked)" \
    bash -c "[ $burst_rc = 0 ] && [ $acked -ge 10 ]"
node_start "$A" || exit 1
missing=0
for f in "$T"/par.*; do
    id=$(cat "$f")
    [[ "$id" =~ ^[0-9a-z]{16}$ ]] || continue
    ctl "$A" show "$id" >/dev/null 2>&1 || missing=$((missing + 1))
done
check "every acknowledged add ($acked) survived kill -9" test "$missing" = 0
check "fsck clean (dangling allowed) after the burst" fsck_ok "$A"
check "SIGTERM exits cleanly" node_stop "$A"
check "no sanitizer reports" log_clean "$A"
done_testing
