#!/usr/bin/env bash
# Offline sync with git bundles between two and three nodes: clean merges of
# different fields, conflicts kept and shown alike everywhere, resolution
# spreading, equal trees, and refusal of truncated or tampered bundles.
. "$(dirname "$0")/lib.sh"

A=$T/a B=$T/b C=$T/c
node_init "$A" yinzhou-01 yinzhou
node_init "$B" haishu-01 haishu
node_init "$C" xiangshan-lt3 xiangshan
node_start "$A" || exit 1
node_start "$B" || exit 1
node_start "$C" || exit 1
tree() { git_store "$1" rev-parse "HEAD^{tree}"; }
# xfer FROM TO : FROM exports a bundle, TO imports it
n=0
xfer() { n=$((n + 1)); ctl "$1" bundle export "$T/x$n.bundle" && ctl "$2" bundle import "$T/x$n.bundle" >/dev/null; }

id=$(ctl "$A" add name=陈诚 phone=13812345678 category=外卖配送员)
ctl "$A" bundle export "$T/first.bundle"
check "git bundle verify accepts the export" bash -c "git --git-dir='$B/store.git' bundle verify '$T/first.bundle' 2>&1 | grep -q 'is okay'"
check "git bundle list-heads names the branch" bash -c "git bundle list-heads '$T/first.bundle' | grep -q 'refs/heads/yinzhou-01\$'"
check "import on B" bash -c "'$UNIONCTL' -d '$B' bundle import '$T/first.bundle' >/dev/null"
check "B has the record" bash -c "'$UNIONCTL' -d '$B' show '$id' | grep -q 陈诚"
check "B fast-forwarded: same commit as A" test "$(git_store "$A" rev-parse HEAD)" = "$(git_store "$B" rev-parse HEAD)"
check "B keeps a copy of A's branch" test "$(git_store "$B" rev-parse refs/heads/yinzhou-01)" = "$(git_store "$A" rev-parse HEAD)"
check "importing the same bundle again changes nothing" bash -c "'$UNIONCTL' -d '$B' bundle import '$T/first.bundle' | grep -q '0 moved forward'"

# different fields on two nodes: a clean merge
ctl "$A" edit "$id" employer=美团
ctl "$B" edit "$id" union=外卖骑手工会
xfer "$A" "$B"; xfer "$B" "$A"
check "different fields merge cleanly (A)" bash -c "'$UNIONCTL' -d '$A' show '$id' --json | grep -q '\"conflicts\": {}'"
check "A has both edits" bash -c "'$UNIONCTL' -d '$A' show '$id' | grep -q 美团 && '$UNIONCTL' -d '$A' show '$id' | grep -q 外卖骑手工会"
check "A and B have equal trees" test "$(tree "$A")" = "$(tree "$B")"
before=$(git_store "$A" rev-list --count HEAD)
xfer "$A" "$B"; xfer "$B" "$A"; xfer "$A" "$B"
check "a settled pair makes no more commits (no ping-pong)" test "$(git_store "$A" rev-list --count HEAD)" -le "$((before + 1))"
check "no merge commit once settled" test "$(git_store "$B" rev-parse HEAD^{tree})" = "$(tree "$A")"
check "merge commits have both parents" bash -c "git --git-dir='$A/store.git' log --merges --format=%p | awk 'NF != 2 {bad=1} END {exit bad}' && [ \$(git --git-dir='$A/store.git' log --merges --format=%p | wc -l) -ge 1 ]"
check "a settled pair ends on the same commit" test "$(git_store "$A" rev-parse HEAD)" = "$(git_store "$B" rev-parse HEAD)"
check "A's head contains B's work (history is connected)" git_store "$A" merge-base --is-ancestor refs/heads/haishu-01 HEAD

# the same field on two nodes: one conflict, same winner everywhere
ctl "$A" edit "$id" phone=13900000001
ctl "$B" edit "$id" phone=13700000002
xfer "$A" "$B"; xfer "$B" "$A"
check "conflict listed on A" bash -c "'$UNIONCTL' -d '$A' conflicts | grep -q phone"
check "conflict listed on B" bash -c "'$UNIONCTL' -d '$B' conflicts | grep -q phone"
check "both values kept" bash -c "'$UNIONCTL' -d '$A' show '$id' --json --reveal | grep -q 13900000001 && '$UNIONCTL' -d '$A' show '$id' --json --reveal | grep -q 13700000002"
check "the same winner on both" test "$(ctl "$A" show "$id" --json | grep '"phone"' | head -1)" = "$(ctl "$B" show "$id" --json | grep '"phone"' | head -1)"
check "conflicts listed identically" test "$(ctl "$A" conflicts --json)" = "$(ctl "$B" conflicts --json)"
check "status counts the conflict" bash -c "'$UNIONCTL' -d '$A' status --json | grep -q '\"conflicts\": 1'"
ctl "$A" conflicts >"$T/conf"; rc=$?
check "the field is masked in conflicts" \
    bash -c "[ $rc = 0 ] && grep -q '139\*\*\*\*0001' '$T/conf' && ! grep -q 13900000001 '$T/conf'"
check "log masks each concurrent value on its own" bash -c "'$UNIONCTL' -d '$A' log '$id' | grep -E 'phone: .*139\*\*\*\*0001 \| 137\*\*\*\*0002|phone: .*137\*\*\*\*0002 \| 139\*\*\*\*0001' >/dev/null"

# C joins late, via B only
xfer "$B" "$C"
check "C got the conflict through B" bash -c "'$UNIONCTL' -d '$C' conflicts | grep -q phone"
check "C has copies of A's and B's branches" bash -c "git --git-dir='$C/store.git' rev-parse -q --verify refs/heads/yinzhou-01 && git --git-dir='$C/store.git' rev-parse -q --verify refs/heads/haishu-01" >/dev/null

# resolve on C, spread to all
ctl "$C" resolve "$id" phone 13900000001
check "resolve clears it on C" bash -c "'$UNIONCTL' -d '$C' conflicts | grep -q 'no conflicts'"
xfer "$C" "$B"; xfer "$B" "$A"; xfer "$A" "$C"
check "cleared on A after exchange" bash -c "'$UNIONCTL' -d '$A' conflicts | grep -q 'no conflicts'"
check "cleared on B after exchange" bash -c "'$UNIONCTL' -d '$B' conflicts | grep -q 'no conflicts'"
check "resolved value everywhere" bash -c "for d in '$A' '$B' '$C'; do '$UNIONCTL' -d \$d show '$id' --reveal | grep -q 13900000001 || exit 1; done"
check "all three trees equal (A=B)" test "$(tree "$A")" = "$(tree "$B")"
check "all three trees equal (B=C)" test "$(tree "$B")" = "$(tree "$C")"
ctl "$A" resolve "$id" phone 2>"$T/err"; rc=$?
check "resolve of a field not in conflict is refused" bash -c "[ $rc = 1 ] && grep -q 'not in conflict' '$T/err'"

# concurrent adds on three offline nodes, exchanged in a ring
for d in "$A" "$B" "$C"; do "$GENMEMBERS" 30 $RANDOM >"$d.csv"; ctl "$d" import "$d.csv" >/dev/null; done
xfer "$A" "$B"; xfer "$B" "$C"; xfer "$C" "$A"; xfer "$A" "$B"
check "ring exchange: all nodes have 91 records" bash -c "for d in '$A' '$B' '$C'; do [ \$('$UNIONCTL' -d \$d list --count) = 91 ] || exit 1; done"
check "ring exchange: equal trees" bash -c "[ '$(tree "$A")' = '$(tree "$B")' ] && [ '$(tree "$B")' = '$(tree "$C")' ]"

# refusals leave the store untouched
ctl "$A" edit "$id" notes=before-bad-bundles
ctl "$A" bundle export "$T/good.bundle"
head_b=$(git_store "$B" rev-parse HEAD)
refs_b=$(git_store "$B" for-each-ref | md5sum)
size=$(stat -c %s "$T/good.bundle")
head -c $((size - 40)) "$T/good.bundle" >"$T/trunc.bundle"
ctl "$B" bundle import "$T/trunc.bundle" 2>"$T/err"; rc=$?
check "a truncated bundle is refused, with a clear message" \
    bash -c "[ $rc = 1 ] && grep -q 'bundle refused' '$T/err'"
cp "$T/good.bundle" "$T/tamper.bundle"
printf 'X' | dd of="$T/tamper.bundle" bs=1 seek=$((size - 30)) conv=notrunc 2>/dev/null
ctl "$B" bundle import "$T/tamper.bundle" 2>"$T/err"; rc=$?
check "a tampered bundle is refused" bash -c "[ $rc = 1 ] && grep -q 'bundle refused' '$T/err'"
printf 'hello\n' >"$T/junk.bundle"
ctl "$B" bundle import "$T/junk.bundle" 2>"$T/err"; rc=$?
check "a non-bundle is refused" bash -c "[ $rc = 1 ] && grep -q 'not a git bundle' '$T/err'"
check "refusals left B's head alone" test "$(git_store "$B" rev-parse HEAD)" = "$head_b"
check "refusals left B's refs alone" test "$(git_store "$B" for-each-ref | md5sum)" = "$refs_b"
check "no quarantine left behind" bash -c "! ls -d '$B'/store.git/objects/incoming-* 2>/dev/null"

# a bundle with a file outside the record layout (made with plain git)
W=$T/work; git init -q "$W"; git -C "$W" fetch -q "$A/store.git" refs/heads/yinzhou-01:refs/heads/evil 2>/dev/null
git -C "$W" checkout -q evil; echo x >"$W/README"; git -C "$W" add README
git -C "$W" -c user.name=x -c user.email=x@x commit -qm evil
git -C "$W" bundle create -q "$T/evil.bundle" "evil" 2>/dev/null
sed -i '0,/refs\/heads\/evil/s//refs\/heads\/mallory/' "$T/evil.bundle" 2>/dev/null
ctl "$B" bundle import "$T/evil.bundle" 2>"$T/err"; rc=$?
check "a bundle with a non-record file is refused" bash -c "[ $rc = 1 ] && grep -q 'outside the record layout' '$T/err'"
check "and B is untouched" test "$(git_store "$B" for-each-ref | md5sum)" = "$refs_b"

# a bundle that claims to move B's own branch: ignored
git -C "$W" bundle create -q "$T/own.bundle" evil 2>/dev/null
sed -i '0,/refs\/heads\/evil/s//refs\/heads\/haishu-01/' "$T/own.bundle"
git -C "$W" reset -q --hard HEAD~1
git -C "$W" bundle create -q "$T/own.bundle" evil 2>/dev/null
sed -i '0,/refs\/heads\/evil/s//refs\/heads\/haishu-01/' "$T/own.bundle"
out=$(ctl "$B" bundle import --json "$T/own.bundle")
check "a bundle naming B's own branch never moves it" bash -c "grep -q '\"own_skipped\": 1' <<<'$out' && [ '$(git_store "$B" rev-parse HEAD)' = '$head_b' ]"

# incremental bundles: only what is newer than an earlier bundle
ctl "$A" bundle export "$T/full.bundle"
inc_id=$(ctl "$A" add name=增量 phone=13811112222)
ctl "$A" bundle export --since "$T/full.bundle" "$T/inc.bundle"
check "an incremental bundle lists prerequisites" bash -c "grep -a -q '^-[0-9a-f]\{40\} ' '$T/inc.bundle'"
check "it is much smaller than a full one" test "$(stat -c %s "$T/inc.bundle")" -lt "$(( $(stat -c %s "$T/full.bundle") / 4 ))"
check "git bundle verify accepts it where the prerequisites are" bash -c "git --git-dir='$A/store.git' bundle verify '$T/inc.bundle' 2>&1 | grep -q 'is okay'"
N=$T/n; node_init "$N" newcomer-01 yinzhou; node_start "$N"
ctl "$N" bundle import "$T/inc.bundle" 2>"$T/err"; rc=$?
check "a node lacking the prerequisites refuses it, saying why" bash -c "[ $rc = 1 ] && grep -q 'import the earlier bundle first' '$T/err'"
ctl "$N" bundle import "$T/full.bundle" >/dev/null
check "after the full bundle, the incremental one applies" bash -c "'$UNIONCTL' -d '$N' bundle import '$T/inc.bundle' >/dev/null && '$UNIONCTL' -d '$N' show '$inc_id' >/dev/null"
node_stop "$N"

# a FIFO (or a device) is not opened blocking: it would hold the store
# queue until something wrote to it; refused at once, and B still writes
mkfifo "$T/fifo.bundle"
timeout 20 "$UNIONCTL" -d "$B" bundle import "$T/fifo.bundle" 2>"$T/err"; rc=$?
check "a FIFO given as a bundle is refused at once (rc $rc)" \
    bash -c "[ $rc = 1 ] && grep -q 'not a regular file' '$T/err'"
timeout 20 "$UNIONCTL" -d "$A" bundle export --since "$T/fifo.bundle" "$T/never.bundle" 2>"$T/err"; rc=$?
check "a FIFO given as --since is refused at once (rc $rc)" \
    bash -c "[ $rc = 1 ] && grep -q 'not a regular file' '$T/err' && [ ! -e '$T/never.bundle' ]"
check "the store queue was not held: B takes a write" \
    bash -c "timeout 20 '$UNIONCTL' -d '$B' edit '$id' notes=after-fifo >/dev/null"
check "a plain git bundle of the store is accepted" bash -c "git --git-dir='$A/store.git' bundle create -q '$T/plain.bundle' --all 2>/dev/null && '$UNIONCTL' -d '$B' bundle import '$T/plain.bundle' >/dev/null"
check "fsck A" fsck_clean "$A"
check "fsck B" fsck_ok "$B"
check "fsck C" fsck_clean "$C"
for d in "$A" "$B" "$C"; do node_stop "$d"; done
check "no sanitizer reports" bash -c "! grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' '$A.log' '$B.log' '$C.log'"
done_testing
