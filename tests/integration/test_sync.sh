#!/usr/bin/env bash
# Live sync over TLS 1.3 between real daemons on 127.0.0.1: three nodes in a
# line (A-B-C, A and C not peered) converge through B; gossip without
# `unionctl sync`; concurrent edits while B is down converge with the right
# conflict after B returns; unpinned and wrongly pinned nodes get nothing.
. "$(dirname "$0")/lib.sh"
export UNIOND_ANTI_ENTROPY_MS=2000

A=$T/a B=$T/b C=$T/c M=$T/m
node_init "$A" yinzhou-01 yinzhou
node_init "$B" haishu-01 haishu
node_init "$C" xiangshan-01 xiangshan
node_init "$M" mallory-01 mallory
for d in "$A" "$B" "$C" "$M"; do node_start "$d" || exit 1; done
fpr() { ctl "$1" id --json | sed -n 's/.*"fingerprint": "\(.*\)".*/\1/p'; }
addr() { ctl "$1" id --json | sed -n 's/.*"listen": "\(.*\)".*/\1/p'; }
tree() { git_store "$1" rev-parse "HEAD^{tree}" 2>/dev/null; }
state_of() { ctl "$1" peers --json | tr -d '\n ' | grep -o "\"name\":\"$2\"[^}]*" | grep -o '"state":"[a-z]*"' | cut -d'"' -f4; }
connected() { [ "$(state_of "$1" "$2")" = connected ]; }
same_tree() { local t; t=$(tree "$1"); [ -n "$t" ] || return 1; shift; for d in "$@"; do [ "$(tree "$d")" = "$t" ] || return 1; done; }

check "id --json reports the bound port" bash -c "[[ '$(addr "$A")' =~ ^127\.0\.0\.1:[0-9]+$ ]] && [ '$(addr "$A")' != 127.0.0.1:0 ]"
ctl "$A" peer add haishu-01 "$(addr "$B")" "$(fpr "$B")"
ctl "$B" peer add yinzhou-01 "$(addr "$A")" "$(fpr "$A")"
ctl "$B" peer add xiangshan-01 "$(addr "$C")" "$(fpr "$C")"
ctl "$C" peer add haishu-01 "$(addr "$B")" "$(fpr "$B")"
check "peer add is persisted in the config" grep -q 'peer "haishu-01"' "$A/uniond.conf"
ctl "$A" peer add haishu-01 "$(addr "$B")" "$(fpr "$B")" 2>/dev/null; rc=$?
check "pinning the same peer twice is refused" test "$rc" = 1
ctl "$A" peer add bad 127.0.0.1:1 nothex 2>/dev/null; rc=$?
check "a malformed fingerprint is refused" test "$rc" = 1
check "A connects to B" wait_until 20 connected "$A" haishu-01
check "B connects to C" wait_until 20 connected "$B" xiangshan-01
check "B sees both" bash -c "'$UNIONCTL' -d '$B' peers | grep -c connected | grep -qx 2"

id=$(ctl "$A" add name=陈诚 phone=13812345678 category=外卖配送员)
check "an add on A reaches C through B, without sync" wait_until 20 ctl "$C" show "$id"
check "A, B, C have equal trees" wait_until 20 same_tree "$A" "$B" "$C"
ctl "$C" edit "$id" employer=美团
check "an edit on C reaches A" wait_until 20 bash -c "'$UNIONCTL' -d '$A' show '$id' | grep -q 美团"
check "C's branch copy on A moves too" wait_until 20 bash -c "git --git-dir='$A/store.git' rev-parse -q --verify refs/heads/xiangshan-01 >/dev/null"
"$GENMEMBERS" 500 11 >"$T/m.csv"
ctl "$C" import "$T/m.csv" >/dev/null
check "a 500-member import on C reaches A" wait_until 30 bash -c "[ \$('$UNIONCTL' -d '$A' list --count) = 501 ]"
check "unionctl sync on A succeeds" bash -c "'$UNIONCTL' -d '$A' sync | grep -q 'haishu-01: in sync'"
check "after sync, trees are equal" wait_until 20 same_tree "$A" "$B" "$C"

# B goes down; A and C edit the same field and different fields
node_stop "$B"
check "A notices B is gone" wait_until 20 bash -c "! '$UNIONCTL' -d '$A' peers | grep -q connected"
ctl "$A" sync >/dev/null 2>&1; rc=$?
check "sync with the only peer down fails (exit 1)" test "$rc" = 1
ctl "$A" edit "$id" union=外卖骑手工会 phone=13900000001
ctl "$C" edit "$id" union=快递工会 notes=夜班
# two more members in conflict: conflicts must list every one (it stops
# walking once it found as many as the index counts)
more=$(ctl "$A" list --csv --limit 3 | sed 1d | cut -d, -f1 | grep -v "^$id\$" | head -2)
for m in $more; do
    ctl "$A" edit "$m" notes=甲班 >/dev/null
    ctl "$C" edit "$m" notes=乙班 >/dev/null
done
node_start "$B" || exit 1
check "B reconnects to A" wait_until 30 connected "$B" yinzhou-01
check "B reconnects to C" wait_until 30 connected "$B" xiangshan-01
check "after B returns all trees converge" wait_until 30 same_tree "$A" "$B" "$C"
check "the same-field edit is a conflict on A" bash -c "'$UNIONCTL' -d '$A' conflicts | grep -q union"
check "and on C" bash -c "'$UNIONCTL' -d '$C' conflicts | grep -q union"
check "conflicts identical on A and C" test "$(ctl "$A" conflicts --json)" = "$(ctl "$C" conflicts --json)"
nconf() { ctl "$1" conflicts --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'; }
nstat() { ctl "$1" status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["conflict_records"])'; }
check "conflicts lists the three members in conflict, as status counts them ($(nconf "$A"), $(nstat "$A"))" \
    bash -c "[ '$(nconf "$A")' = 3 ] && [ '$(nstat "$A")' = 3 ]"
check "different fields merged without conflict" bash -c "'$UNIONCTL' -d '$A' show '$id' --reveal | grep -q 13900000001 && '$UNIONCTL' -d '$A' show '$id' | grep -q 夜班"
ctl "$B" resolve "$id" union 快递工会
for m in $more; do ctl "$B" resolve "$m" notes 甲班 >/dev/null; done
check "a resolve on B clears the conflict on A" wait_until 20 bash -c "'$UNIONCTL' -d '$A' conflicts | grep -q 'no conflicts'"
check "and on C" wait_until 20 bash -c "'$UNIONCTL' -d '$C' conflicts | grep -q 'no conflicts'"
check "trees equal after the resolve" wait_until 20 same_tree "$A" "$B" "$C"
same_head() { local h; h=$(git_store "$1" rev-parse HEAD); shift; for d in "$@"; do [ "$(git_store "$d" rev-parse HEAD)" = "$h" ] || return 1; done; }
check "a quiet network ends with every branch on the same commit" wait_until 30 same_head "$A" "$B" "$C"

# an unpinned node, and a node pinned with the wrong fingerprint
ctl "$M" peer add haishu-01 "$(addr "$B")" "$(fpr "$B")"
ctl "$A" peer add mallory-01 127.0.0.1:9 "$(fpr "$C")" # wrong key for that name
check "an unpinned node is refused by B (handshake)" wait_until 20 grep -q "not pinned" "$B.log"
check "the unpinned node got nothing" test "$(ctl "$M" list --count)" = 0
check "and has no copy of anyone's branch" test -z "$(git_store "$M" for-each-ref)"
check "the unpinned node never gets connected" bash -c "! '$UNIONCTL' -d '$M' peers | grep -q connected"
# a wrong fingerprint pinned for B on M's side: M refuses B's certificate
ctl "$M" peer remove haishu-01
ctl "$M" peer add haishu-01 "$(addr "$B")" "$(fpr "$C")"
ctl "$B" peer add mallory-01 "$(addr "$M")" "$(fpr "$M")"
check "a wrongly pinned fingerprint is refused" wait_until 20 bash -c "grep -q 'fingerprint' '$M.log' && ! '$UNIONCTL' -d '$M' peers | grep -q connected"
check "the wrongly pinned pair exchanged nothing" test "$(ctl "$M" list --count)" = 0
ctl "$B" peer remove mallory-01
check "peer remove drops it from the config" bash -c "! grep -q mallory '$B/uniond.conf'"

# the wire: TLS 1.3 only, with a client certificate
hp=$(addr "$B")
check "a TLS 1.2 client is refused" bash -c "! echo | timeout 10 openssl s_client -connect '$hp' -tls1_2 -brief 2>&1 | grep -q 'Protocol version: TLSv1.2'"
check "a TLS 1.3 client without a certificate gets no session" bash -c "echo | timeout 10 openssl s_client -connect '$hp' -tls1_3 -ign_eof 2>&1 | grep -qiE 'alert|certificate required|errno|error'"
check "plaintext gets nothing back" bash -c "exec 3<>/dev/tcp/${hp%:*}/${hp##*:}; printf 'HELLO\\n' >&3; ! timeout 5 head -c 1 <&3 | grep -q ."

# status and the wire
check "status --json lists peers with state" bash -c "'$UNIONCTL' -d '$B' status --json | tr -d '\n ' | grep -q '\"peers\":\[{\"name\"'"
check "peers shows bytes in and out" bash -c "'$UNIONCTL' -d '$B' peers --json | grep -q '\"bytes_in\": [1-9]'"

check "fsck A" fsck_clean "$A"
check "fsck B" fsck_ok "$B"
check "fsck C" fsck_clean "$C"
for d in "$A" "$B" "$C" "$M"; do check "SIGTERM $(basename "$d")" node_stop "$d"; done
check "no sanitizer reports" bash -c "! grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' '$A.log' '$B.log' '$C.log' '$M.log'"
done_testing
