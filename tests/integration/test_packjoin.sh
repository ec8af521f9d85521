#!/usr/bin/env bash
# The group commit's packs are joined while the daemon runs: each lone add
# leaves one pack stored without deflate; after 16 of them the idle store
# queue joins the small and stored packs into one deflated pack and removes
# them, with no restart, while reads run; a restart joins what is left;
# SIGKILL around the joins loses nothing and leaves git fsck clean.
. "$(dirname "$0")/lib.sh"

A=$T/a
P=$A/store.git/objects/pack
node_init "$A" haishu-01 haishu
node_start "$A" || exit 1
npacks() { ls "$P" | grep -c '\.pack$'; }

# packinfo: per pack "NAME OBJECTS RAW INPACK STORED" (RAW/INPACK: bytes of
# the undeltified objects, inflated and as stored; STORED: 1 if its first
# object is a stored deflate block, as the group commit writes them; a
# deflated pack may hold one too, where libdeflate found a small object
# cheapest stored, so "deflated" is judged by the sizes, as packjoin.c does)
packinfo() {
    for f in "$P"/pack-*.pack; do
        git verify-pack -v "${f%.pack}.idx" 2>/dev/null | awk -v f="$(basename "$f")" '
            $2 ~ /^(commit|tree|blob|tag)$/ { n++; raw += $3; inp += $4 }
            END { printf "%s %d %d %d ", f, n, raw, inp }'
        python3 -c '
import sys, zlib
b = open(sys.argv[1], "rb").read(64)
i = 12
while b[i] & 0x80: i += 1
i += 1
print(1 if (b[i + 2] >> 1) & 3 == 0 else 0)' "$f"
    done
}

# a node of some size: each add then rewrites trees of a few KB
"$GENMEMBERS" 3000 5 >"$T/m.csv"
ctl "$A" import --skip-invalid "$T/m.csv" >/dev/null 2>&1
first=$(ctl "$A" add name=甲)
check "the first add was acknowledged" bash -c "[[ '$first' =~ ^[0-9a-z]{16}\$ ]]"
np0=$(npacks)

# reads run all along
(
    while [ ! -e "$T/stop" ]; do
        if ctl "$A" show "$first" >/dev/null 2>&1 && ctl "$A" list --count >/dev/null 2>&1; then
            echo ok >>"$T/reads"
        else
            echo fail >>"$T/reads"
        fi
    done
) &
READER=$!
maxp=0
njoins() { grep -c 'joined [0-9]* small packs into one' "$A.log"; }
for i in $(seq 1 40); do
    ctl "$A" add "name=独$i" >>"$T/solo.ids"
    n=$(npacks)
    [ "$n" -gt "$maxp" ] && maxp=$n
    # A join waits for a pause in the writes (100 ms without a store job)
    # or 48 new packs: adds back to back on a fast machine leave no pause,
    # so the clerk's pause is made here, every 16 adds, while the reads
    # go on. (Without the pauses no join came on such a machine: 0 joins.)
    if [ $((i % 16)) = 0 ]; then
        before=$(njoins)
        wait_until 20 bash -c "[ \$(grep -c 'joined [0-9]* small packs into one' '$A.log') -gt $before ]" ||
            echo "# no join within 20 s of add $i"
    fi
done
touch "$T/stop"
wait "$READER"
np1=$(npacks)
joins=$(grep -c 'joined [0-9]* small packs into one' "$A.log")
check "40 lone adds were acknowledged" test "$(grep -c '^[0-9a-z]\{16\}$' "$T/solo.ids")" = 40
check "packs were joined without a restart ($joins joins; $np0 packs, at most $maxp, then $np1)" \
    bash -c "[ $joins -ge 2 ] && [ $maxp -le $((np0 + 17)) ] && [ $np1 -le $((np0 + 17)) ]"
pj=$(ctl "$A" status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["packs_joined"])')
check "status --json counts the joined packs ($pj)" bash -c "[ '$pj' -ge 32 ]"
nok=$(grep -c '^ok$' "$T/reads") nfail=$(grep -c '^fail$' "$T/reads")
check "reads during the joins all succeeded ($nok ok, $nfail failed)" \
    bash -c "[ $nok -ge 10 ] && [ $nfail = 0 ]"
packinfo >"$T/info1"
sed 's/^/# /' "$T/info1"
check "the joined pack is deflated: smaller than its objects" \
    awk '$2 >= 80 && $4 < $3 { ok = 1 } END { exit !ok }' "$T/info1"
check "the group commit's own packs are stored (undeflated)" \
    awk '$5 == 1 && $4 > $3 { ok = 1 } END { exit !ok }' "$T/info1"
check "git fsck after the live joins" fsck_clean "$A"
missing=0
for id in $first $(cat "$T/solo.ids"); do
    ctl "$A" show "$id" >/dev/null 2>&1 || missing=$((missing + 1))
done
check "every acknowledged record is there after the joins" [ "$missing" = 0 ]

# a restart joins what is left stored, whatever its count
check "SIGTERM before the restart" node_stop "$A"
node_start "$A" || exit 1
packinfo >"$T/info2"
check "after a restart no pack is stored undeflated" \
    awk '$4 >= $3 { bad = 1 } END { exit bad }' "$T/info2"
check "git fsck after the start-up join" fsck_clean "$A"

# SIGKILL at times around the joins (each round: 15 adds, so that the
# next add's pack starts a join, then one more add and a kill soon after)
lost=0 nk=0
for round in 1 2 3 4 5 6; do
    for i in $(seq 1 15); do ctl "$A" add "name=杀$round-$i" >>"$T/kill.ids"; done
    ctl "$A" add "name=杀$round-x" >>"$T/kill.ids" &
    k1=$!
    ctl "$A" add "name=杀$round-y" >>"$T/kill.ids" &
    wait "$k1" $!
    sleep "0.0$round" # a spread of kill points, not a wait for a condition
    node_kill9 "$A"
    node_start "$A" || exit 1
    check "fsck after kill $round" fsck_ok "$A"
done
for id in $(cat "$T/kill.ids"); do
    nk=$((nk + 1))
    ctl "$A" show "$id" >/dev/null 2>&1 || lost=$((lost + 1))
done
check "no acknowledged add lost to the kills ($nk acknowledged, $lost lost)" \
    bash -c "[ $nk -ge 90 ] && [ $lost = 0 ]"
check "SIGTERM exits cleanly" node_stop "$A"
check "no sanitizer reports" log_clean "$A"
done_testing
