#!/usr/bin/env bash
# Pack reuse (issue 13): a node whose store git has repacked (whole
# objects and deltas) replicates to a fresh node, which ends with the
# same tree and a store `git fsck --strict` passes; the sender's log shows
# that objects were copied from its pack (reused) and deltas deflated
# again; the receiver, whose store now holds the received pack, reuses it
# in turn for a third node.
. "$(dirname "$0")/lib.sh"

A=$T/a B=$T/b C=$T/c
node_init "$A" yinzhou-01 yinzhou
node_init "$B" haishu-01 haishu
node_init "$C" xiangshan-01 xiangshan
# node_start with -v: the pack builder's counts are debug lines
node_start_v() {
    local d=$1
    "$UNIOND" -d "$d" -v >>"$d.log" 2>&1 &
    local pid=$!
    PIDS+=("$pid")
    eval "PID_$(echo "$d" | md5sum | cut -c1-8)=$pid"
    wait_until 20 ctl "$d" status
}
fpr() { ctl "$1" id --json | sed -n 's/.*"fingerprint": "\(.*\)".*/\1/p'; }
addr() { ctl "$1" id --json | sed -n 's/.*"listen": "\(.*\)".*/\1/p'; }
tree() { git_store "$1" rev-parse "HEAD^{tree}" 2>/dev/null; }
same_tree() { [ -n "$(tree "$1")" ] && [ "$(tree "$1")" = "$(tree "$2")" ]; }
# reused COUNT from the last "pack: N objects reused, M deflated" of a log
last_pack() { grep -o 'pack: [0-9]* objects reused, [0-9]* deflated' "$1.log" | tail -1; }
reused() { last_pack "$1" | awk '{print $2}'; }
deflated() { last_pack "$1" | awk '{print $5}'; }

node_start "$A" || exit 1
"$GENMEMBERS" 400 7 >"$T/m.csv"
ctl "$A" import "$T/m.csv" >/dev/null
id=$(ctl "$A" add name=陈诚 phone=13812345678 category=外卖配送员)
ctl "$A" edit "$id" employer=美团
node_stop "$A"
git_store "$A" repack -adq
check "A's store is one pack, nothing loose" bash -c "[ \$(ls '$A/store.git/objects/pack/' | grep -c '\.idx$') = 1 ] && git --git-dir='$A/store.git' count-objects -v | grep -qx 'count: 0'"
check "git made deltas in A's pack" bash -c "git --git-dir='$A/store.git' verify-pack -v '$A'/store.git/objects/pack/*.idx | grep -qE ' (blob|tree) +[0-9]+ [0-9]+ [0-9]+ [0-9]+ [0-9a-f]{40}$'"
node_start_v "$A" || exit 1
node_start_v "$B" || exit 1

ctl "$A" peer add haishu-01 "$(addr "$B")" "$(fpr "$B")"
ctl "$B" peer add yinzhou-01 "$(addr "$A")" "$(fpr "$A")"
check "B takes in A's whole store" wait_until 60 same_tree "$A" "$B"
check "B has A's 401 members" wait_until 20 bash -c "[ \$('$UNIONCTL' -d '$B' list --count) = 401 ]"
check "the sender logged its pack counts" wait_until 20 bash -c "grep -q 'pack: [0-9]* objects reused' '$A.log'"
n=$(reused "$A") m=$(deflated "$A")
echo "# A: $(last_pack "$A")"
check "objects stored whole in A's pack were reused" test "${n:-0}" -gt 400
check "deltas were deflated again, not sent as deltas" test "${m:-0}" -gt 0
check "B's store passes git fsck --strict" fsck_clean "$B"
check "B's records read back" bash -c "'$UNIONCTL' -d '$B' show '$id' | grep -q 美团"
check "B holds the take-in as a pack" bash -c "ls '$B/store.git/objects/pack/' | grep -q '\.idx$'"

# second hop: B's store is the received pack (uniond's own writer, whole
# objects): nearly everything is copied from it
node_start "$C" || exit 1
ctl "$B" peer add xiangshan-01 "$(addr "$C")" "$(fpr "$C")"
ctl "$C" peer add haishu-01 "$(addr "$B")" "$(fpr "$B")"
check "C takes in B's store" wait_until 60 same_tree "$B" "$C"
check "B logged its pack counts" wait_until 20 bash -c "grep -q 'pack: [0-9]* objects reused' '$B.log'"
echo "# B: $(last_pack "$B")"
check "B reused the pack it had taken in" test "$(reused "$B")" -gt 400
check "C's store passes git fsck --strict" fsck_clean "$C"
for d in "$A" "$B" "$C"; do node_stop "$d"; check "no sanitizer report on $(basename "$d")" log_clean "$d"; done
done_testing
