#!/usr/bin/env bash
# Two nodes that have each other pinned start at the same moment, so both
# dial: they must end with exactly one connection between them (the one
# dialled by the node whose name sorts first), both sides connected.
#
# That both dials get through is made certain, not left to timing: each
# node dials the other through a small TCP relay that holds every
# connection until both nodes have dialled, then lets both through at once.
# So the rule is always exercised and the check can fail.
. "$(dirname "$0")/lib.sh"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PA=$(free_port); PB=$(free_port); RA=$(free_port); RB=$(free_port)
A=$T/a B=$T/b
"$UNIOND" init -d "$A" --node alpha-01 --office yinzhou --listen 127.0.0.1:$PA >/dev/null
"$UNIOND" init -d "$B" --node beta-01 --office haishu --listen 127.0.0.1:$PB >/dev/null
fpr() { openssl x509 -in "$1/node.crt" -pubkey -noout | openssl pkey -pubin -outform DER | sha256sum | cut -d' ' -f1; }
# pin each other (through the relays) while offline, then stop
for d in "$A" "$B"; do "$UNIOND" -d "$d" --offline >>"$d.log" 2>&1 & PIDS+=($!); done
wait_until 20 ctl "$A" status && wait_until 20 ctl "$B" status
ctl "$A" peer add beta-01 127.0.0.1:$RB "$(fpr "$B")"
ctl "$B" peer add alpha-01 127.0.0.1:$RA "$(fpr "$A")"
check "an offline node does not connect" bash -c "! '$UNIONCTL' -d '$A' peers | grep -q connected"
ctl "$A" sync >/dev/null 2>&1; rc=$?
check "sync on an offline node is refused" test "$rc" = 1
kill -TERM "${PIDS[@]}"; wait "${PIDS[@]}" 2>/dev/null; PIDS=()

# The relay: RB -> PB carries alpha's dial ("alpha-dialled"), RA -> PA
# beta's ("beta-dialled"). It logs "open NAME" / "closed NAME" per
# connection, and forwards nothing until both have opened.
python3 -u - "$RA" "$PA" beta-dialled "$RB" "$PB" alpha-dialled >"$T/relay.log" 2>&1 <<'EOF' &
import socket, sys, threading
gate = threading.Event()
opened = set()
lock = threading.Lock()
def pipe(src, dst):
    try:
        while True:
            b = src.recv(65536)
            if not b:
                break
            dst.sendall(b)
    except OSError:
        pass
    for s in (src, dst):
        try: s.shutdown(socket.SHUT_RDWR)
        except OSError: pass
def serve(port, target, name):
    ls = socket.socket(); ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", port)); ls.listen(8)
    while True:
        c, _ = ls.accept()
        with lock:
            opened.add(name)
            print("open", name)
            if len(opened) == 2:
                gate.set()
        threading.Thread(target=relay, args=(c, target, name), daemon=True).start()
def relay(c, target, name):
    gate.wait()
    u = socket.create_connection(("127.0.0.1", target))
    t = threading.Thread(target=pipe, args=(u, c), daemon=True); t.start()
    pipe(c, u); t.join()
    print("closed", name)
a = sys.argv[1:]
for i in (0, 3):
    threading.Thread(target=serve, args=(int(a[i]), int(a[i + 1]), a[i + 2]), daemon=True).start()
print("ready")
threading.Event().wait()
EOF
PIDS+=($!)
wait_until 10 grep -q ready "$T/relay.log"

# both start at once and dial each other
for d in "$A" "$B"; do
    "$UNIOND" -d "$d" >>"$d.log" 2>&1 &
    PIDS+=($!)
    eval "PID_$(echo "$d" | md5sum | cut -c1-8)=$!"
done
check "both nodes dialled (the relay saw both)" wait_until 20 bash -c "grep -q 'open alpha-dialled' '$T/relay.log' && grep -q 'open beta-dialled' '$T/relay.log'"
state() { "$UNIONCTL" -d "$1" peers --json | tr -d ' \n' | grep -o '"state":"[a-z]*"' | cut -d'"' -f4; }
export -f state; export UNIONCTL
check "A connected" wait_until 20 bash -c "[ \"\$(state '$A')\" = connected ]"
check "B connected" wait_until 20 bash -c "[ \"\$(state '$B')\" = connected ]"
# the duplicate is closed: the connection beta-01 dialled goes, alpha-01's stays
check "the connection dialled by beta-01 was closed" wait_until 20 grep -q 'closed beta-dialled' "$T/relay.log"
check "the one dialled by alpha-01 (sorts first) stays" bash -c "! grep -q 'closed alpha-dialled' '$T/relay.log'"
# each TCP connection shows twice on loopback (both ends): relay -> B only
check "exactly one connection reaches the nodes" wait_until 20 bash -c "[ \$(ss -Htn state established '( sport = :$PA or dport = :$PA or sport = :$PB or dport = :$PB )' | wc -l) = 2 ]"
check "and it is the one to beta-01's port" bash -c "ss -Htn state established '( dport = :$PB )' | grep -q ."
id=$(ctl "$A" add name=双向 phone=13800000009)
check "and it carries data" wait_until 20 ctl "$B" show "$id"
check "still exactly one: alpha's dial was never closed" bash -c "! grep -q 'closed alpha-dialled' '$T/relay.log'"
check "SIGTERM A" node_stop "$A"
check "SIGTERM B" node_stop "$B"
check "no sanitizer reports" bash -c "! grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' '$A.log' '$B.log'"
done_testing
