#!/usr/bin/env bash
# Hostile bundles through the real daemon and `unionctl bundle import`: each
# object the store format forbids (tests/tools/badpack.py crafts them with
# plain git) is refused with exit 1, names the bad object, and leaves no
# trace (the objects directory listing and every ref as before, fsck
# clean, nothing indexed); a bundle naming the receiver's own branch moves
# nothing in; a branch copy fetched with plain git while the node was
# stopped is merged when it starts. (The sync-pack side of the same checks
# is in tests/unit/test_store.c: one take-in path serves both.)
. "$(dirname "$0")/lib.sh"

A=$T/a B=$T/b
node_init "$A" yinzhou-01 yinzhou
node_init "$B" haishu-01 haishu
node_start "$B" || exit 1
ctl "$B" add name=王五 phone=13812345678 >/dev/null
count() { ctl "$B" list --count; }
n0=$(count)
snap() { { find "$B/store.git/objects" | sort; git_store "$B" for-each-ref; } >"$T/$1"; }

for c in dup-entries mode-100664 empty-tree extra-toplevel bad-utf8 overlong unknown-field \
    bad-phone trailing-space smuggled oversized-blob too-many-parents; do
    line=$(python3 "$ROOT/tests/tools/badpack.py" "$c" "$T/bp" --node zz-hostile)
    bad=${line#* }
    snap before
    ctl "$B" bundle import "$T/bp/$c.bundle" >"$T/out" 2>&1
    rc=$?
    snap after
    check "$c: bundle import exits 1" test "$rc" = 1
    named=0
    for o in $bad; do grep -q "$o" "$T/out" && named=1; done
    check "$c: the refusal names the bad object" test "$named" = 1
    check "$c: objects and refs exactly as before" cmp -s "$T/before" "$T/after"
    check "$c: fsck clean" fsck_clean "$B"
done
check "nothing refused was indexed" test "$(count)" = "$n0"

# a bundle naming the receiver's own branch: nothing moves in
line=$(python3 "$ROOT/tests/tools/badpack.py" own-branch "$T/bp" --node haishu-01)
snap before
ctl "$B" bundle import "$T/bp/own-branch.bundle" >"$T/out" 2>&1
rc=$?
snap after
check "own branch: import answered (exit 0 or 1)" test "$rc" -le 1
check "own branch: objects and refs exactly as before" cmp -s "$T/before" "$T/after"

# the tool's valid case is taken in by the same node: the refusals were
# about the data
line=$(python3 "$ROOT/tests/tools/badpack.py" valid "$T/bp" --node zz-hostile)
check "a valid crafted bundle is imported" bash -c "'$UNIONCTL' -d '$B' bundle import '$T/bp/valid.bundle' >/dev/null"
check "its record is indexed" test "$(count)" = "$((n0 + 1))"
check "fsck clean after the valid import" fsck_clean "$B"

# a branch copy fetched with plain git while B is stopped (as a crash
# between moving the copy and merging would leave it) is merged at start
node_start "$A" || exit 1
id=$(ctl "$A" add name=赵六 phone=13912345678)
node_stop "$A"
node_stop "$B"
git_store "$B" fetch -q "$A/store.git" refs/heads/yinzhou-01:refs/heads/yinzhou-01
mkdir -p "$B/store.git/objects/incoming-left0ver" && touch "$B/store.git/objects/incoming-left0ver/x.pack"
node_start "$B" || exit 1
check "the unmerged copy was merged at start" bash -c "'$UNIONCTL' -d '$B' show '$id' | grep -q 赵六"
check "B's head contains A's branch" git_store "$B" merge-base --is-ancestor refs/heads/yinzhou-01 refs/heads/haishu-01
check "quarantine leftovers removed at start" test ! -e "$B/store.git/objects/incoming-left0ver"
check "daemon alive" bash -c "'$UNIONCTL' -d '$B' status >/dev/null"
check "fsck clean at the end" fsck_clean "$B"
node_stop "$B"
check "no sanitizer report" log_clean "$B"
done_testing
