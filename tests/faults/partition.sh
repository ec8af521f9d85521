#!/usr/bin/env bash
# partition.sh - the seeded partition test (docs/RELIABILITY.md, issue 12).
# Five nodes, three offices and two laptops, each in its own network
# namespace, joined by point-to-point veth links (offices in a triangle,
# each laptop to two offices); each node listens on its namespace address
# (10.200.0.N on lo) and pins the others' addresses and keys. While one
# writer per node adds, edits, sets and removes benefits, merges and
# imports through unionctl, a schedule drawn from the seed cuts links
# (ip link down: sessions and packs in flight die), slows them (tc netem
# delay and loss), SIGKILLs and restarts nodes, keeps each laptop offline
# for a long stretch, and runs the nodes with clocks skewed per seed
# (libfaketime; none for yinzhou-01, up to minutes for the other offices,
# hours up to a day either way for the laptops). Then every
# link heals and it checks:
#   - every node ends with the same tree id and the same head commit;
#   - every acknowledged write is there or superseded by a write that saw
#     it (tests/faults/partition_check.py reads the record states and
#     dots from git);
#   - no removed benefit came back;
#   - git fsck --strict on every node (dangling objects allowed: kills);
#   - the network is quiet: every head stays put over three anti-entropy
#     rounds;
#   - no sanitizer report, every node stops cleanly on SIGTERM.
# Without namespaces (not root, no `ip`, or `ip netns add` fails) it says
# so and runs the same schedule on 127.0.0.1 through tests/tools/faultproxy
# (one proxy per direction of each link; a cut closes every connection
# mid-stream and refuses new ones); netem is then skipped.
#
#   SEED=7 PART_CHAOS_S=30 bash tests/faults/partition.sh
#   PART_MODE=proxy ...   force the loopback fallback
# SEED (or FAULT_SEED) fixes the schedule, the skews and each writer's
# choices; the timing of a real network and scheduler cannot be fixed, so a
# seed reproduces the run's faults, not every byte of it. The last line is
# "# partition: seed=... figures".
. "$(dirname "$0")/../integration/lib.sh"
SEED=${SEED:-${FAULT_SEED:-1}}
CHAOS_S=${PART_CHAOS_S:-20}
CONVERGE_S=${PART_CONVERGE_S:-180}
MODE=${PART_MODE:-auto}
FAULTPROXY=${FAULTPROXY_BIN:-$ROOT/build/faultproxy}
AE_MS=${UNIOND_ANTI_ENTROPY_MS:-2000}
export UNIOND_ANTI_ENTROPY_MS=$AE_MS
RANDOM=$SEED
echo "# partition: seed=$SEED (SEED=$SEED bash tests/faults/partition.sh repeats this schedule)"

NAME=(yinzhou-01 haishu-01 beilun-01 yinzhou-lt1 haishu-lt2)
OFFICE=(yinzhou haishu beilun yinzhou haishu)
N=${#NAME[@]}
LINKS=("0 1" "0 2" "1 2" "3 0" "3 1" "4 1" "4 2")
NL=${#LINKS[@]}
for i in $(seq 0 $((N - 1))); do D[$i]=$T/n$i; done
now_ms() { echo $(($(date +%s%N) / 1000000)); }

# ---- clocks --------------------------------------------------------------------
LIBFT=""
for f in /usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1 /usr/lib/*/faketime/libfaketimeMT.so.1; do
    [ -f "$f" ] && { LIBFT=$f; break; }
done
# Every draw happens in this shell, never inside $(...): bash reseeds
# RANDOM in each subshell, which would make a seed repeat nothing.
pick() { local a=("$@"); PICKED=${a[$((RANDOM % ${#a[@]}))]}; }
SKEW=(0)
pick 0 45 -120; SKEW+=("$PICKED")
pick 0 600 -30; SKEW+=("$PICKED")
pick 10800 -18000 86400; SKEW+=("$PICKED")
pick -86400 5400 -1020; SKEW+=("$PICKED")
[ -n "$LIBFT" ] || { echo "# libfaketime not found (apt-get install faketime): clocks not skewed"; SKEW=(0 0 0 0 0); }
echo "# clock skew (s): ${SKEW[*]}"
fenv() { # fenv i: the environment of node i's processes (clock skew)
    local s=${SKEW[$1]}
    if [ "$s" != 0 ]; then
        [ "${s:0:1}" = - ] || s=+$s
        echo "LD_PRELOAD=$LIBFT FAKETIME=$s FAKETIME_DONT_FAKE_MONOTONIC=1 ASAN_OPTIONS=$ASAN_OPTIONS:verify_asan_link_order=0"
    fi
}
nctl() { local i=$1; shift; env $(fenv "$i") "$UNIONCTL" -d "${D[$i]}" "$@"; }

# ---- the network -----------------------------------------------------------------
NS_PREFIX="up$$n"
if [ "$MODE" = auto ]; then
    MODE=proxy
    if [ "$(id -u)" = 0 ] && command -v ip >/dev/null && ip netns add "${NS_PREFIX}probe" 2>/dev/null; then
        ip netns del "${NS_PREFIX}probe"
        MODE=netns
    else
        echo "# network namespaces not available (not root, no ip(8), or ip netns add failed):"
        echo "# using the loopback fault proxy instead (tests/tools/faultproxy.c; no netem)"
    fi
fi
[ "$MODE" = proxy ] && [ ! -x "$FAULTPROXY" ] && { not_ok "faultproxy not built ($FAULTPROXY): make build/faultproxy"; exit 1; }

teardown() {
    for p in "${WPIDS[@]:-}" "${PROXY_PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null; done
    if [ "$MODE" = netns ]; then
        for i in $(seq 0 $((N - 1))); do ip netns del "$NS_PREFIX$i" 2>/dev/null; done
    fi
}
# PART_KEEP=DIR keeps the nodes' logs of a passing run too
keep_logs() { [ -n "${PART_KEEP:-}" ] && mkdir -p "$PART_KEEP" && cp "$T"/*.log "$T"/acks* "$PART_KEEP"/ 2>/dev/null; return 0; }
trap 'teardown; keep_logs; cleanup' EXIT

naddr() { echo "10.200.0.$(($1 + 1))"; }
lend() { # lend k side -> "NS IFACE GATEWAY NODEADDR-OF-OTHER"
    read -r a b <<<"${LINKS[$1]}"
    if [ "$2" = 0 ]; then echo "$NS_PREFIX$a l$1 10.201.$1.2 $(naddr "$b")"; else echo "$NS_PREFIX$b l$1 10.201.$1.1 $(naddr "$a")"; fi
}
routes_add() { # routes_add k: the route to the node at the other end, both sides
    local s ns dev gw to tries
    for s in 0 1; do
        read -r ns dev gw to <<<"$(lend "$1" "$s")"
        for tries in 1 2 3 4 5 6 7 8 9 10; do
            ip -n "$ns" route replace "$to/32" via "$gw" dev "$dev" src "$(ip -n "$ns" -4 -o addr show dev lo | awk '/10\.200/ {sub("/.*","",$4); print $4}')" 2>/dev/null && break
            sleep 0.05 # the kernel needs a moment after link up (bounded: 10 tries)
        done
    done
}
netns_setup() {
    local i k a b
    for i in $(seq 0 $((N - 1))); do
        ip netns add "$NS_PREFIX$i" || return 1
        ip -n "$NS_PREFIX$i" link set lo up
        ip -n "$NS_PREFIX$i" addr add "$(naddr "$i")/32" dev lo
    done
    for k in $(seq 0 $((NL - 1))); do
        read -r a b <<<"${LINKS[$k]}"
        ip link add "u$$k${k}a" type veth peer name "u$$k${k}b" || return 1
        ip link set "u$$k${k}a" netns "$NS_PREFIX$a"
        ip link set "u$$k${k}b" netns "$NS_PREFIX$b"
        ip -n "$NS_PREFIX$a" link set "u$$k${k}a" name "l$k"
        ip -n "$NS_PREFIX$b" link set "u$$k${k}b" name "l$k"
        ip -n "$NS_PREFIX$a" addr add "10.201.$k.1/24" dev "l$k"
        ip -n "$NS_PREFIX$b" addr add "10.201.$k.2/24" dev "l$k"
        ip -n "$NS_PREFIX$a" link set "l$k" up
        ip -n "$NS_PREFIX$b" link set "l$k" up
        routes_add "$k"
    done
}
LINK_UP=()
link_set() { # link_set k up|down
    local a b
    read -r a b <<<"${LINKS[$1]}"
    if [ "$MODE" = netns ]; then
        ip -n "$NS_PREFIX$a" link set "l$1" "$2"
        ip -n "$NS_PREFIX$b" link set "l$1" "$2"
        [ "$2" = up ] && routes_add "$1"
    else
        local sig=USR2
        [ "$2" = down ] && sig=USR1
        kill -"$sig" "${PROXY_AB[$1]}" "${PROXY_BA[$1]}" 2>/dev/null
    fi
    LINK_UP[$1]=$([ "$2" = up ] && echo 1 || echo 0)
}
live_sessions() { # live_sessions k: established TCP connections on link k (netns)
    read -r ns dev gw to <<<"$(lend "$1" 0)"
    ip netns exec "$ns" ss -Htn state established dst "$to" 2>/dev/null | wc -l
}
netem_set() { # netem_set k on|off
    local s ns dev gw to
    for s in 0 1; do
        read -r ns dev gw to <<<"$(lend "$1" "$s")"
        if [ "$2" = on ]; then
            ip netns exec "$ns" tc qdisc replace dev "$dev" root netem delay $((20 + RANDOM % 150))ms 30ms loss $((RANDOM % 25))% 2>/dev/null
        else
            ip netns exec "$ns" tc qdisc del dev "$dev" root 2>/dev/null
        fi
    done
}

# ---- the nodes ---------------------------------------------------------------------
NODE_PID=()
nstart() { # nstart i: start node i (in its namespace), wait until it answers
    local i=$1
    if [ "$MODE" = netns ]; then
        ip netns exec "$NS_PREFIX$i" env $(fenv "$i") "$UNIOND" -d "${D[$i]}" >>"${D[$i]}.log" 2>&1 &
    else
        env $(fenv "$i") "$UNIOND" -d "${D[$i]}" >>"${D[$i]}.log" 2>&1 &
    fi
    NODE_PID[$i]=$!
    PIDS+=("$!")
    wait_until 20 nctl "$i" status || { echo "# node $i did not come up:"; tail -5 "${D[$i]}.log" | sed 's/^/#   /'; return 1; }
}
nkill() { kill -9 "${NODE_PID[$1]}" 2>/dev/null; wait "${NODE_PID[$1]}" 2>/dev/null; NODE_PID[$1]=""; }
nstop() { kill -TERM "${NODE_PID[$1]}" 2>/dev/null; wait "${NODE_PID[$1]}"; }
fpr() { sed -n 's/^fingerprint *//p' "${D[$1]}.init"; }
conf_set_listen() { sed -i "s|^listen = .*|listen = $2|" "${D[$1]}/uniond.conf"; }
pin() { # pin i j ADDRESS: node i pins node j at ADDRESS (in the file: nodes are stopped)
    printf '\n[peer "%s"]\naddress = %s\nfingerprint = %s\n' "${NAME[$2]}" "$3" "$(fpr "$2")" >>"${D[$1]}/uniond.conf"
}

if [ "$MODE" = netns ] && ! netns_setup >"$T/netns.err" 2>&1; then
    sed 's/^/#   /' "$T/netns.err"
    if [ "${PART_MODE:-auto}" = netns ]; then not_ok "network namespaces and veth links set up"; exit 1; fi
    echo "# veth links could not be made: using the loopback fault proxy instead"
    for i in $(seq 0 $((N - 1))); do ip netns del "$NS_PREFIX$i" 2>/dev/null; done
    MODE=proxy
    [ -x "$FAULTPROXY" ] || { not_ok "faultproxy not built ($FAULTPROXY): make build/faultproxy"; exit 1; }
fi
for i in $(seq 0 $((N - 1))); do
    if [ "$MODE" = netns ]; then listen="$(naddr "$i"):7420"; else listen=127.0.0.1:0; fi
    "$UNIOND" init -d "${D[$i]}" --node "${NAME[$i]}" --office "${OFFICE[$i]}" --listen "$listen" >"${D[$i]}.init" 2>&1 ||
        { not_ok "init node $i"; cat "${D[$i]}.init"; exit 1; }
done
if [ "$MODE" = netns ]; then
    for k in $(seq 0 $((NL - 1))); do
        read -r a b <<<"${LINKS[$k]}"
        pin "$a" "$b" "$(naddr "$b"):7420"
        pin "$b" "$a" "$(naddr "$a"):7420"
        LINK_UP[$k]=1
    done
else
    # fixed ports, so that a restarted node is where its proxies point:
    # the port a first start was given, written back into the config
    for i in $(seq 0 $((N - 1))); do
        nstart "$i" || exit 1
        PORT[$i]=$(nctl "$i" id --json | sed -n 's/.*"listen": "127.0.0.1:\([0-9]*\)".*/\1/p')
        nstop "$i"
        conf_set_listen "$i" "127.0.0.1:${PORT[$i]}"
    done
    PROXY_PIDS=()
    for k in $(seq 0 $((NL - 1))); do
        read -r a b <<<"${LINKS[$k]}"
        coproc_out=$T/proxy$k
        "$FAULTPROXY" "${PORT[$b]}" >"$coproc_out.ab" 2>>"$T/proxy.log" &
        PROXY_AB[$k]=$!
        "$FAULTPROXY" "${PORT[$a]}" >"$coproc_out.ba" 2>>"$T/proxy.log" &
        PROXY_BA[$k]=$!
        PROXY_PIDS+=("${PROXY_AB[$k]}" "${PROXY_BA[$k]}")
        wait_until 10 test -s "$coproc_out.ab" && wait_until 10 test -s "$coproc_out.ba" || { not_ok "fault proxies start"; exit 1; }
        pin "$a" "$b" "127.0.0.1:$(cat "$coproc_out.ab")"
        pin "$b" "$a" "127.0.0.1:$(cat "$coproc_out.ba")"
        LINK_UP[$k]=1
    done
fi
echo "# mode: $MODE"
for i in $(seq 0 $((N - 1))); do nstart "$i" || { not_ok "node $i starts"; exit 1; }; done
state_of() { nctl "$1" peers --json | tr -d '\n ' | grep -o "\"name\":\"$2\"[^}]*" | grep -o '"state":"[a-z]*"' | cut -d'"' -f4; }
all_connected() {
    local k a b
    for k in $(seq 0 $((NL - 1))); do
        read -r a b <<<"${LINKS[$k]}"
        [ "$(state_of "$a" "${NAME[$b]}")" = connected ] || return 1
    done
}
check "seed $SEED: all $NL links connect ($MODE)" wait_until 60 all_connected

# ---- writers -----------------------------------------------------------------------
# One writer per node. Each acknowledged write is logged (acks.N) with
# what the final state must show; ids created go to ids.all (edited by
# anyone), and by role: ids.b (benefits removed later: never merged) or
# the writer's own ids.mN (merged in pairs by that writer only). Ops:
# add 25 %, edit 35 %, benefits+= 15 %, benefits-= 10 %, merge 10 %,
# import 5 %.
: >"$T/ids.all"; : >"$T/ids.b"
randline() { # RL = a line of file $1 drawn from RANDOM (1 if it is empty)
    local n; n=$(wc -l <"$1"); [ "$n" -gt 0 ] || return 1
    local ln=$((RANDOM % n + 1))
    RL=$(sed -n "${ln}p" "$1")
}
writer() {
    local i=$1 k=0 op id v f out merged=0
    RANDOM=$((SEED * 10 + i))
    local acks=$T/acks.$i mine=$T/ids.m$i
    : >"$acks"; : >"$mine"
    # until told to stop, or the test is gone (a killed run leaves no writer)
    while [ ! -e "$T/stop" ] && kill -0 $$ 2>/dev/null; do
        k=$((k + 1)); v="s$SEED-n$i-w$k"; op=$((RANDOM % 100))
        if [ $op -lt 25 ] || [ ! -s "$T/ids.all" ]; then
            id=$(nctl "$i" add "name=$v" "notes=$v" 2>/dev/null) || continue
            echo "add $i $id $v" >>"$acks"
            echo "$id" >>"$T/ids.all"
            case $((k % 3)) in 0) echo "$id" >>"$T/ids.b" ;; *) echo "$id" >>"$mine" ;; esac
        elif [ $op -lt 60 ]; then
            randline "$T/ids.all" || continue
            id=$RL; pick employer notes; f=$PICKED
            nctl "$i" edit "$id" "$f=$v" >/dev/null 2>&1 && echo "edit $i $id $f $v" >>"$acks"
        elif [ $op -lt 75 ]; then
            randline "$T/ids.b" || continue
            id=$RL
            nctl "$i" edit "$id" "benefits+=b$v" >/dev/null 2>&1 && echo "badd $i $id b$v" >>"$acks"
        elif [ $op -lt 85 ]; then
            # remove an element this node has seen (an OR-set removes what
            # it saw; an element it has not seen is not its to remove)
            local r=$RANDOM
            out=$(grep -h '^badd ' "$T"/acks.* 2>/dev/null | awk -v r=$r 'NR==1{srand(r)} {l[NR]=$0} END{if (NR) print l[int(rand()*NR)+1]}')
            [ -n "$out" ] || continue
            read -r _ _ id f <<<"$out"
            nctl "$i" show "$id" --json 2>/dev/null | grep -q "\"$f\"" || continue
            echo "tbrem $i $id $f" >>"$acks" # tried: it may happen unacknowledged
            nctl "$i" edit "$id" "benefits-=$f" >/dev/null 2>&1 && echo "brem $i $id $f" >>"$acks"
        elif [ $op -lt 95 ]; then
            local n keep dup
            n=$(wc -l <"$mine")
            [ $((n - merged)) -ge 2 ] || continue
            keep=$(sed -n "$((merged + 1))p" "$mine"); dup=$(sed -n "$((merged + 2))p" "$mine")
            merged=$((merged + 2))
            nctl "$i" merge "$keep" "$dup" >/dev/null 2>&1 && echo "merge $i $keep $dup" >>"$acks"
        else
            { echo name; for r in $(seq 1 100); do echo "imp-$v-$r"; done; } >"$T/imp.$i.csv"
            nctl "$i" import "$T/imp.$i.csv" 2>/dev/null | grep -q 'imported 100 new' && echo "import $i imp-$v- 100" >>"$acks"
        fi
    done
}
WPIDS=()
for i in $(seq 0 $((N - 1))); do writer "$i" & WPIDS+=($!); done

# ---- the fault schedule ------------------------------------------------------------------
kills=0 cuts=0 cuts_live=0 netems=0
t0=$(now_ms); tend=$((t0 + CHAOS_S * 1000))
for i in 3 4; do # each laptop: one long offline stretch (40-70% of the run)
    OFF_FROM[$i]=$((t0 + (RANDOM % 30) * CHAOS_S * 10))
    OFF_TO[$i]=$((OFF_FROM[$i] + (40 + RANDOM % 31) * CHAOS_S * 10))
done
for k in $(seq 0 $((NL - 1))); do CUT_UNTIL[$k]=0; NETEM_UNTIL[$k]=0; done
for i in $(seq 0 $((N - 1))); do DOWN_UNTIL[$i]=0; done
while :; do
    t=$(now_ms); [ "$t" -ge "$tend" ] && break
    ev=$((RANDOM % 100))
    if [ $ev -lt 35 ]; then
        k=$((RANDOM % NL)); CUT_UNTIL[$k]=$((t + 500 + RANDOM % 7500))
    elif [ $ev -lt 50 ] && [ "$MODE" = netns ]; then
        k=$((RANDOM % NL))
        if [ "${NETEM_UNTIL[$k]}" -lt "$t" ]; then netem_set "$k" on; netems=$((netems + 1)); fi
        NETEM_UNTIL[$k]=$((t + 1000 + RANDOM % 5000))
    elif [ $ev -lt 62 ]; then
        i=$((RANDOM % N))
        if [ -n "${NODE_PID[$i]}" ]; then nkill "$i"; kills=$((kills + 1)); DOWN_UNTIL[$i]=$((t + 300 + RANDOM % 3000)); fi
    fi
    # apply: links, netem, laptops, restarts
    for k in $(seq 0 $((NL - 1))); do
        read -r a b <<<"${LINKS[$k]}"
        want=1
        [ "${CUT_UNTIL[$k]}" -gt "$t" ] && want=0
        for e in $a $b; do
            [ "$e" -ge 3 ] && [ "$t" -ge "${OFF_FROM[$e]}" ] && [ "$t" -lt "${OFF_TO[$e]}" ] && want=0
        done
        if [ "$want" = 0 ] && [ "${LINK_UP[$k]}" = 1 ]; then
            [ "$MODE" = netns ] && [ "$(live_sessions "$k")" -gt 0 ] && cuts_live=$((cuts_live + 1))
            link_set "$k" down; cuts=$((cuts + 1))
        elif [ "$want" = 1 ] && [ "${LINK_UP[$k]}" = 0 ]; then
            link_set "$k" up
        fi
        if [ "${NETEM_UNTIL[$k]}" -ne 0 ] && [ "${NETEM_UNTIL[$k]}" -lt "$t" ]; then netem_set "$k" off; NETEM_UNTIL[$k]=0; fi
    done
    for i in $(seq 0 $((N - 1))); do
        if [ -z "${NODE_PID[$i]}" ] && [ "${DOWN_UNTIL[$i]}" -le "$t" ]; then
            nstart "$i" || { not_ok "seed $SEED: node $i restarts after SIGKILL"; exit 1; }
        fi
    done
    sleep "0.$((2 + RANDOM % 8))" # the schedule's pace, not a wait for a result
done
touch "$T/stop"
wait "${WPIDS[@]}"

# ---- heal ------------------------------------------------------------------------
for i in $(seq 0 $((N - 1))); do [ -n "${NODE_PID[$i]}" ] || nstart "$i" || { not_ok "node $i restarts"; exit 1; }; done
for k in $(seq 0 $((NL - 1))); do
    [ "$MODE" = netns ] && netem_set "$k" off
    [ "${LINK_UP[$k]}" = 1 ] || link_set "$k" up
done
theal=$(now_ms)
# proxy mode: the proxies count the connections each cut broke with bytes moved
[ "$MODE" = proxy ] && cuts_live=$(awk '/^cut / {gsub(/\(/, "", $3); s += $3} END {print s + 0}' "$T/proxy.log")
cat "$T"/acks.? >"$T/acks"
echo "# chaos ${CHAOS_S}s: $kills kills, $cuts cuts ($cuts_live with a session up), $netems netem; $(grep -vc '^tbrem' "$T/acks") acknowledged writes; healing"
tree() { git_store "${D[$1]}" rev-parse "HEAD^{tree}" 2>/dev/null; }
head_of() { git_store "${D[$1]}" rev-parse HEAD 2>/dev/null; }
heads() { for i in $(seq 0 $((N - 1))); do head_of "$i"; done | tr '\n' ' '; }
converged() {
    local t0 h0 i
    t0=$(tree 0); h0=$(head_of 0); [ -n "$t0" ] || return 1
    for i in $(seq 1 $((N - 1))); do [ "$(tree "$i")" = "$t0" ] && [ "$(head_of "$i")" = "$h0" ] || return 1; done
}
if wait_until "$CONVERGE_S" converged; then conv_ms=$(($(now_ms) - theal)); else conv_ms=-1; fi
divergent=0
for i in $(seq 1 $((N - 1))); do [ "$(tree "$i")" = "$(tree 0)" ] || divergent=$((divergent + 1)); done
check "seed $SEED: every node has the same tree id after healing ($divergent divergent, ${conv_ms} ms)" test "$divergent" = 0
check "seed $SEED: and the same head commit" converged
if [ "$conv_ms" -lt 0 ]; then
    for i in $(seq 0 $((N - 1))); do echo "# node $i ${NAME[$i]}: tree $(tree "$i") head $(head_of "$i")"; nctl "$i" peers 2>&1 | sed 's/^/#   /'; done
fi

# quiet: the heads stay put over three anti-entropy rounds (polled)
quiet_for=$((3 * AE_MS)); qdeadline=$(($(now_ms) + 60000)); quiet=0
h=$(heads); since=$(now_ms)
while [ "$(now_ms)" -lt "$qdeadline" ]; do
    h2=$(heads)
    if [ "$h2" != "$h" ]; then h=$h2; since=$(now_ms); fi
    if [ $(($(now_ms) - since)) -ge "$quiet_for" ]; then quiet=1; break; fi
    sleep 0.2
done
check "seed $SEED: the network is quiet (no head moved for ${quiet_for} ms)" test "$quiet" = 1

fsck_bad=0
for i in $(seq 0 $((N - 1))); do fsck_ok "${D[$i]}" >/dev/null || { fsck_bad=$((fsck_bad + 1)); echo "# fsck node $i:"; fsck_ok "${D[$i]}"; }; done
check "seed $SEED: git fsck --strict clean on every node" test "$fsck_bad" = 0

stores=(); for i in $(seq 0 $((N - 1))); do stores+=("${D[$i]}/store.git"); done
if python3 "$ROOT/tests/faults/partition_check.py" "$T/acks" "${NAME[*]}" "${stores[@]}" >"$T/check.out" 2>&1; then crc=0; else crc=1; fi
sed 's/^/# /' "$T/check.out" | tail -25
figures=$(grep '^figures:' "$T/check.out" | sed 's/^figures: //')
lost=$(sed -n 's/.*lost=\([0-9]*\).*/\1/p' <<<"$figures"); resurrected=$(sed -n 's/.*resurrected=\([0-9]*\).*/\1/p' <<<"$figures")
check "seed $SEED: every acknowledged write is there or superseded (${lost:-?} lost)" test "$crc" = 0 -a "${lost:-1}" = 0
check "seed $SEED: no removed benefit came back (${resurrected:-?})" test "${resurrected:-1}" = 0

stopped=0
for i in $(seq 0 $((N - 1))); do nstop "$i" && stopped=$((stopped + 1)); done
check "seed $SEED: every node stops cleanly on SIGTERM" test "$stopped" = "$N"
sanbad=0
for i in $(seq 0 $((N - 1))); do log_clean "${D[$i]}" || { sanbad=1; grep -m3 -A8 -E 'ERROR: (Address|Leak)Sanitizer|runtime error:' "${D[$i]}.log"; }; done
check "seed $SEED: no sanitizer reports" test "$sanbad" = 0
echo "# partition: seed=$SEED mode=$MODE chaos_s=$CHAOS_S kills=$kills cuts=$cuts cuts_live=$cuts_live netem=$netems $figures divergent=$divergent converge_ms=$conv_ms quiet=$quiet fsck_bad=$fsck_bad"
done_testing
