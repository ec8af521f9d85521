#!/usr/bin/env bash
# Two nodes that have each other pinned start at the same moment, so both
# dial: they must end with exactly one TCP connection between them (the one
# dialled by the node whose name sorts first), both sides connected.
. "$(dirname "$0")/lib.sh"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PA=$(free_port); PB=$(free_port)
A=$T/a B=$T/b
"$UNIOND" init -d "$A" --node alpha-01 --office yinzhou --listen 127.0.0.1:$PA >/dev/null
"$UNIOND" init -d "$B" --node beta-01 --office haishu --listen 127.0.0.1:$PB >/dev/null
fpr() { openssl x509 -in "$1/node.crt" -pubkey -noout | openssl pkey -pubin -outform DER | sha256sum | cut -d' ' -f1; }
# pin each other while offline, then stop
for d in "$A" "$B"; do "$UNIOND" -d "$d" --offline >>"$d.log" 2>&1 & PIDS+=($!); done
wait_until 20 ctl "$A" status && wait_until 20 ctl "$B" status
ctl "$A" peer add beta-01 127.0.0.1:$PB "$(fpr "$B")"
ctl "$B" peer add alpha-01 127.0.0.1:$PA "$(fpr "$A")"
check "an offline node does not connect" bash -c "! '$UNIONCTL' -d '$A' peers | grep -q connected"
ctl "$A" sync >/dev/null 2>&1; rc=$?
check "sync on an offline node is refused" test "$rc" = 1
kill -TERM "${PIDS[@]}"; wait "${PIDS[@]}" 2>/dev/null; PIDS=()
# both start at once and dial each other
for d in "$A" "$B"; do
    "$UNIOND" -d "$d" >>"$d.log" 2>&1 &
    PIDS+=($!)
    eval "PID_$(echo "$d" | md5sum | cut -c1-8)=$!"
done
wait_until 20 ctl "$A" status && wait_until 20 ctl "$B" status
check "A connected" wait_until 20 bash -c "[ \"\$('$UNIONCTL' -d '$A' peers --json | tr -d ' \n' | grep -o '\"state\":\"[a-z]*\"' | cut -d'\"' -f4)\" = connected ]"
check "B connected" wait_until 20 bash -c "[ \"\$('$UNIONCTL' -d '$B' peers --json | tr -d ' \n' | grep -o '\"state\":\"[a-z]*\"' | cut -d'\"' -f4)\" = connected ]"
# each TCP connection shows twice on loopback (both ends)
check "exactly one connection between them" wait_until 20 bash -c "[ \$(ss -Htn state established '( sport = :$PA or dport = :$PA or sport = :$PB or dport = :$PB )' | wc -l) = 2 ]"
# when both dials got through, the one dialled by alpha-01 (sorts first) stays
if grep -q "duplicate connection" "$A.log" "$B.log"; then
    check "both dialled: the kept one was dialled by alpha-01" bash -c "ss -Htn state established '( dport = :$PB )' | grep -q ."
fi
id=$(ctl "$A" add name=双向 phone=13800000009)
check "and it carries data" wait_until 20 ctl "$B" show "$id"
check "SIGTERM A" node_stop "$A"
check "SIGTERM B" node_stop "$B"
check "no sanitizer reports" bash -c "! grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' '$A.log' '$B.log'"
done_testing
