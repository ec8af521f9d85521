#!/usr/bin/env bash
# The live path of one change (docs/PROTOCOL.md 5.4, 7.4): an add on A
# reaches B and, through B, C (a line A-B-C) as one HEADS carrying its pack
# per hop: no WANT is sent on the way, and no anti-entropy timer is needed
# (it is set to 10 minutes here). Counted with the per-peer counters of
# `unionctl peers --json` (pushes_in, pushes_out, wants_out). A change too
# big to ride in one HEADS still arrives, asked for with a WANT (which also
# proves that wants_out counts). A and B run with -v: after a 3000-member
# import, the take-in of one more change reads O(depth) trees for its
# layout check (the siblings it shares with B's head are not read again).
. "$(dirname "$0")/lib.sh"
export UNIOND_ANTI_ENTROPY_MS=600000

A=$T/a B=$T/b C=$T/c
node_init "$A" yinzhou-01 yinzhou
node_init "$B" haishu-01 haishu
node_init "$C" xiangshan-01 xiangshan
# node_start with -v (lib.sh's node_start, plus the debug lines)
node_start_v() {
    "$UNIOND" -d "$1" -v >>"$1.log" 2>&1 &
    PIDS+=("$!")
    eval "PID_$(echo "$1" | md5sum | cut -c1-8)=$!"
    wait_until 20 ctl "$1" status
}
node_start_v "$A" || exit 1
node_start_v "$B" || exit 1
node_start "$C" || exit 1
fpr() { ctl "$1" id --json | sed -n 's/.*"fingerprint": "\(.*\)".*/\1/p'; }
addr() { ctl "$1" id --json | sed -n 's/.*"listen": "\(.*\)".*/\1/p'; }
# counter NODE PEER KEY: the value of KEY in NODE's peers --json for PEER
counter() {
    ctl "$1" peers --json | tr -d '\n ' | grep -o "\"name\":\"$2\"[^}]*" |
        grep -o "\"$3\":[0-9]*" | cut -d: -f2
}
connected() { ctl "$1" peers --json | tr -d '\n ' | grep -o "\"name\":\"$2\"[^}]*" | grep -q '"state":"connected"'; }
# every branch (copies included) the same on all nodes: nobody lacks anything
refs() { git --git-dir="$1/store.git" for-each-ref --format='%(refname) %(objectname)' refs/heads/; }
quiet() { local r; r=$(refs "$1"); [ -n "$r" ] || return 1; shift; for d in "$@"; do [ "$(refs "$d")" = "$r" ] || return 1; done; }

ctl "$A" peer add haishu-01 "$(addr "$B")" "$(fpr "$B")"
ctl "$B" peer add yinzhou-01 "$(addr "$A")" "$(fpr "$A")"
ctl "$B" peer add xiangshan-01 "$(addr "$C")" "$(fpr "$C")"
ctl "$C" peer add haishu-01 "$(addr "$B")" "$(fpr "$B")"
check "A connects to B" wait_until 20 connected "$A" haishu-01
check "B connects to C" wait_until 20 connected "$B" xiangshan-01

first=$(ctl "$A" add name=陈诚 phone=13812345678)
check "a first add reaches C" wait_until 20 ctl "$C" show "$first"
check "all branches equal on A, B, C" wait_until 20 quiet "$A" "$B" "$C"
check "the counters are in peers --json" test -n "$(counter "$B" yinzhou-01 wants_out)"

b_wants=$(counter "$B" yinzhou-01 wants_out) c_wants=$(counter "$C" haishu-01 wants_out)
b_in=$(counter "$B" yinzhou-01 pushes_in) c_in=$(counter "$C" haishu-01 pushes_in)
a_out=$(counter "$A" haishu-01 pushes_out)
id=$(ctl "$A" add name=李娜 phone=13912345678 category=外卖配送员)
check "the add reaches B" wait_until 20 ctl "$B" show "$id"
check "and C, through B" wait_until 20 ctl "$C" show "$id"
check "A pushed the change to B" test "$(counter "$A" haishu-01 pushes_out)" -gt "$a_out"
check "B took it in from a push" test "$(counter "$B" yinzhou-01 pushes_in)" -gt "$b_in"
check "C took it in from B's push" test "$(counter "$C" haishu-01 pushes_in)" -gt "$c_in"
check "B sent A no WANT" test "$(counter "$B" yinzhou-01 wants_out)" = "$b_wants"
check "C sent B no WANT" test "$(counter "$C" haishu-01 wants_out)" = "$c_wants"
check "all branches equal again" wait_until 20 quiet "$A" "$B" "$C"

# Echoes: A and C announce back the change B passed on (their copies and
# branches moved to it). B answers them from its heads in memory: no
# store job for heads it has, and the copies that catch up move in one
# job at B's next tick, not one per echo. Before: 5 take-ins on B per
# change (the change and four echoes).
off=$(wc -l <"$B.log")
id=$(ctl "$A" add name=周杰 phone=13612345678)
check "one more add reaches C" wait_until 20 ctl "$C" show "$id"
check "and the branches settle (copies moved at a tick)" wait_until 20 quiet "$A" "$B" "$C"
jobs=$(tail -n +"$((off + 1))" "$B.log" | grep -c 'take-in: [0-9]* objects:')
echo "# take-in jobs on B for one change and its echoes: $jobs"
check "B ran at most 2 take-ins for it (the change, one copy catch-up)" test "$jobs" -le 2

# A receiver joins the small packs its live take-ins write (one per
# change) while it runs, as the group commit's: 20 changes, B joins.
joined() { ctl "$1" status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["packs_joined"])'; }
j0=$(joined "$B")
for i in $(seq 1 20); do last=$(ctl "$A" add "name=批量$i"); done
check "20 more adds reach B" wait_until 30 ctl "$B" show "$last"
joined_more() { [ "$(joined "$B")" -gt "$j0" ]; }
check "B joined its take-in packs while running" wait_until 20 joined_more

# Echoes of older changes: A and C announce (or push, with an empty pack)
# copies that lag theirs by a change or more, at commits that were B's
# heads a moment ago; B remembers its recent heads, so these wait for its
# tick like the others instead of a store job each at once. Each add is
# waited for on C, so every change was B's head once (when adds come
# faster, B may take in only the newest of two, and an echo naming the
# one it skipped is rightly taken in at once).
check "the branches settle before" wait_until 30 quiet "$A" "$B" "$C"
off_a=$(wc -l <"$A.log") off=$(wc -l <"$B.log")
for i in $(seq 1 10); do
    id=$(ctl "$A" add "name=回声$i")
    wait_until 20 ctl "$C" show "$id" || break
done
check "10 adds, each waited for on C" ctl "$C" show "$id"
check "and the branches settle" wait_until 30 quiet "$A" "$B" "$C"
# zero-object take-ins that no tick started, in NODE's log after line OFF
at_once() {
    local lines z t
    lines=$(tail -n +"$(($2 + 1))" "$1.log")
    z=$(grep -c 'take-in: 0 objects:' <<<"$lines")
    t=$(grep -c 'taking in the branch copies its announcement moved' <<<"$lines")
    echo $((z - t))
}
echo "# echoes of older changes taken in at once for 10 changes: A $(at_once "$A" "$off_a"), B $(at_once "$B" "$off")"
check "A took in no echo of an older change at once" test "$(at_once "$A" "$off_a")" -le 0
check "nor B" test "$(at_once "$B" "$off")" -le 0

# A change over the push limit (256 KiB): announced, then asked for.
b_wants=$(counter "$B" yinzhou-01 wants_out)
"$GENMEMBERS" 3000 5 >"$T/m.csv"
ctl "$A" import "$T/m.csv" >/dev/null
n_a=$(ctl "$A" list --count)
check "a 3000-member import on A reaches C" \
    wait_until 60 bash -c "[ \$('$UNIONCTL' -d '$C' list --count) = $n_a ]"
check "B asked A for it with a WANT" test "$(counter "$B" yinzhou-01 wants_out)" -gt "$b_wants"

# One change on top of the import: its layout check on B reads the new
# path's trees, not the ~500 folders it shares with B's head.
check "all branches equal after the import" wait_until 60 quiet "$A" "$B" "$C"
off=$(wc -l <"$B.log")
id=$(ctl "$A" add name=王芳 phone=13712345678)
check "an add after the import reaches C" wait_until 20 ctl "$C" show "$id"
reads=$(tail -n +"$((off + 1))" "$B.log" | grep -E 'take-in: [1-9][0-9]* objects:' |
    sed -n 's/.*(\([0-9]*\) trees read).*/\1/p' | head -1)
echo "# trees read by B's layout check of one change: ${reads:-none}"
check "B logged the take-in's layout check" test -n "$reads"
check "it read at most 8 trees (O(depth))" test "${reads:-999}" -le 8

for d in "$A" "$B" "$C"; do
    check "$(basename "$d"): no sanitizer report" log_clean "$d"
    node_stop "$d"
    check "$(basename "$d"): fsck clean" fsck_clean "$d"
done
done_testing
