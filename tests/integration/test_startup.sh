#!/usr/bin/env bash
# Start-up that cannot hang: a truncated or damaged object of the store
# (a record blob, a tree, the head commit) makes uniond exit non-zero within
# 5 s, naming the object, its file and what to do; it never spins in zlib.
. "$(dirname "$0")/lib.sh"

A=$T/a
node_init "$A" haishu-01 haishu
node_start "$A" || exit 1
for i in 1 2 3; do ctl "$A" add name=会员$i notes=第$i条 >/dev/null; done
check "SIGTERM exits cleanly" node_stop "$A"
# the clean stop kept the record index for the next start: a snapshot of
# the head tree (its header names the tree)
snap=$A/store.git/uniond-recindex.snap
check "the stop wrote the index snapshot of the head tree" \
    test "$(dd if="$snap" bs=1 skip=12 count=40 2>/dev/null)" = "$(git_store "$A" rev-parse 'HEAD^{tree}')"
node_start "$A" || exit 1
check "the next start copies it (no record read from git)" \
    grep -q "3 records from the snapshot of tree" "$A.log"
check "and has the records" test "$(ctl "$A" list --count)" = 3
node_stop "$A"
# a start with a current snapshot reads no record blob; the damage below
# is found by the start that reads them: after a crash, or without the file
rm -f "$snap"
# adds are group-committed as packs; the damage below is to loose objects
# (what merges, transfers and small take-ins write), so unpack them
for p in "$A"/store.git/objects/pack/pack-*.pack; do
    mv "$p" "$T/unpack.pack" && rm -f "${p%.pack}.idx"
    git_store "$A" unpack-objects -q <"$T/unpack.pack"
done
loose() { echo "$1/store.git/objects/${2:0:2}/${2:2}"; }

# damage DIR OID HOW: truncate the loose object file of OID in DIR's store
damage() {
    local f; f=$(loose "$1" "$2")
    chmod u+w "$f"
    case $3 in
    half) truncate -s $(( $(stat -c %s "$f") / 2 )) "$f" ;;
    short) truncate -s 3 "$f" ;;
    esac
}

# start_fails NAME DIR OID: uniond exits non-zero within 5 s, names the object
start_fails() {
    local name=$1 d=$2 oid=$3 t0 ms rc
    t0=$(date +%s%N)
    timeout 30 "$UNIOND" -d "$d" >"$d.start" 2>&1; rc=$?
    ms=$(( ($(date +%s%N) - t0) / 1000000 ))
    check "$name: uniond exits non-zero (rc $rc, not the timeout)" bash -c "[ $rc != 0 ] && [ $rc != 124 ]"
    check "$name: within 5 s ($ms ms)" test "$ms" -lt 5000
    check "$name: the message names the object" grep -q "$oid" "$d.start"
    check "$name: and says to restore from a peer or a bundle" grep -q "peer or a bundle" "$d.start"
}

blob=$(git_store "$A" ls-tree -r HEAD | awk '$2 == "blob" {print $3; exit}')
tree=$(git_store "$A" rev-parse 'HEAD:members')
commit=$(git_store "$A" rev-parse HEAD)
for f in "$blob" "$tree" "$commit"; do
    check "object $f is loose" test -f "$(loose "$A" "$f")"
done

cp -a "$A" "$T/b1"; damage "$T/b1" "$blob" half
start_fails "record blob cut in half" "$T/b1" "$blob"
check "the message gives the object's file" grep -q "objects/${blob:0:2}/${blob:2}" "$T/b1.start"
cp -a "$A" "$T/b2"; damage "$T/b2" "$blob" short
start_fails "record blob cut to 3 bytes" "$T/b2" "$blob"
cp -a "$A" "$T/t1"; damage "$T/t1" "$tree" half
start_fails "tree cut in half" "$T/t1" "$tree"
cp -a "$A" "$T/c1"; damage "$T/c1" "$commit" half
start_fails "head commit cut in half" "$T/c1" "$commit"

# the undamaged original still starts
node_start "$A" || exit 1
check "the undamaged store starts and has its records" test "$(ctl "$A" list --count)" = 3
check "no sanitizer reports" log_clean "$A"
done_testing
