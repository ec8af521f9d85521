#!/usr/bin/env bash
# status is answered on the loop thread from the view the store queue's
# thread publishes after every job (daemon/ctl/control.c view_publish),
# not only after the control socket's own writes: a change B takes in from
# a peer (a store job of the net room) shows in B's status at once, head,
# tree and counts equal to what plain git and `list --count` say; and a
# status asked while B's store queue is busy still answers.
. "$(dirname "$0")/lib.sh"

A=$T/a B=$T/b
node_init "$A" yinzhou-01 yinzhou
node_init "$B" haishu-01 haishu
for d in "$A" "$B"; do node_start "$d" || exit 1; done
fpr() { ctl "$1" id --json | sed -n 's/.*"fingerprint": "\(.*\)".*/\1/p'; }
addr() { ctl "$1" id --json | sed -n 's/.*"listen": "\(.*\)".*/\1/p'; }
field() { sed -n "s/.*\"$1\": \"\\{0,1\\}\\([^\",]*\\).*/\\1/p" | head -1; }
ctl "$A" peer add haishu-01 "$(addr "$B")" "$(fpr "$B")"
ctl "$B" peer add yinzhou-01 "$(addr "$A")" "$(fpr "$A")"

"$GENMEMBERS" 500 3 >"$T/m.csv"
ctl "$A" import "$T/m.csv" >/dev/null
check "A's 500 members reach B" \
    wait_until 30 bash -c "[ \$('$UNIONCTL' -d '$B' list --count) = 500 ]"
# B has made no write of its own: its view comes from the take-in's job
ctl "$B" status --json >"$T/st.json"
check "B's status head is B's git HEAD" \
    test "$(field head <"$T/st.json")" = "$(git_store "$B" rev-parse HEAD)"
check "B's status tree is B's git HEAD^{tree}" \
    test "$(field tree <"$T/st.json")" = "$(git_store "$B" rev-parse 'HEAD^{tree}')"
check "B's status counts the 500 records" grep -q '"records": 500' "$T/st.json"
r1=$(field requests <"$T/st.json")
r2=$(ctl "$B" status --json | field requests)
check "status counts itself as a request ($r1 -> $r2)" test "$r2" -gt "$r1"

id=$(ctl "$A" add name=王芳 phone=13712345678)
check "one more add reaches B" wait_until 20 ctl "$B" show "$id"
check "and B's status says 501 at once" grep -q '"records": 501' <(ctl "$B" status --json)
check "SIGTERM exits cleanly (A)" node_stop "$A"
check "SIGTERM exits cleanly (B)" node_stop "$B"
check "no sanitizer reports (A)" log_clean "$A"
check "no sanitizer reports (B)" log_clean "$B"
done_testing
