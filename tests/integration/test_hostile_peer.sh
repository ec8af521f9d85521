#!/usr/bin/env bash
# A pinned peer turned hostile (tests/tools/minipeer.py attack) gets nothing
# in: an endless PACK is cut at the byte budget with bounded memory, a forged
# log line or raw bytes never reach the log, malformed ids and OIDs are
# protocol errors, new branch names are rationed, a pack over the object
# limit is refused from its header, a WANT's answer that stops progressing
# is given up while a slow one that keeps progressing is taken in. After each attack: the
# daemon answers, refs, objects and the index are unchanged, fsck is clean.
# Also: DATA is private by construction (init, start-up check).
. "$(dirname "$0")/lib.sh"
MINI=$ROOT/tests/tools/minipeer.py
# ASan keeps freed memory in a quarantine (256 MiB by default), which would
# count in the RSS below: keep it small so the RSS is the daemon's own
export ASAN_OPTIONS=$ASAN_OPTIONS:quarantine_size_mb=4
U=$T/u
node_init "$U" yinzhou-01 yinzhou
# small limits so the attacks are quick: 64 MiB per pack, 2 new names an
# hour, 50 objects per take-in, a WANT's answer given up after 2 s without
# progress
printf '\n[sync]\nmax_pack_bytes = 67108864\nnew_branches_per_hour = 2\nmax_take_in_objects = 50\nwant_stall_seconds = 2\n' >>"$U/uniond.conf"
node_start "$U" || exit 1
UPID=$(node_pid "$U")
fpr() { ctl "$1" id --json | sed -n 's/.*"fingerprint": "\(.*\)".*/\1/p'; }
addr() { ctl "$1" id --json | sed -n 's/.*"listen": "\(.*\)".*/\1/p'; }
UFPR=$(fpr "$U") UADDR=$(addr "$U")
for i in 1 2; do ctl "$U" add name=会员$i phone=1380000000$i category=快递员 >/dev/null; done

M=$T/mini
mkdir -p "$M"
openssl genpkey -algorithm ed25519 -out "$M/node.key" 2>/dev/null &&
    openssl req -new -x509 -key "$M/node.key" -subj "/CN=mini-01" -days 3650 -out "$M/node.crt" 2>/dev/null
MFPR=$(openssl x509 -in "$M/node.crt" -pubkey -noout | openssl pkey -pubin -outform DER | sha256sum | cut -d' ' -f1)
python3 "$MINI" add "$M" mini-01 name=王小明 phone=13700000009 >/dev/null
ctl "$U" peer add mini-01 127.0.0.1:1 "$MFPR" # minipeer dials in
check "peer add keeps the [sync] limits in the rewritten config" \
    grep -q '^max_pack_bytes = 67108864$' "$U/uniond.conf"
check "peer add keeps max_take_in_objects and want_stall_seconds" \
    bash -c "grep -q '^max_take_in_objects = 50\$' '$U/uniond.conf' && grep -q '^want_stall_seconds = 2\$' '$U/uniond.conf'"

# attack KIND [ARG]: one hostile session; what uniond did is in $said
attack() {
    # each attack's own stderr file: a straggler of an earlier attack cannot
    # interleave its lines with this one's
    said=$(timeout 120 python3 "$MINI" attack "$M" mini-01 "$UADDR" "$UFPR" "$@" 2>"$M.$1.err")
    cat "$M.$1.err" >>"$M.err"
    echo "# $1: $said"
}
# the store as a user would see it: refs, object files, records indexed
state() {
    git_store "$U" for-each-ref
    (cd "$U/store.git" && find objects -type f | sort)
    ctl "$U" list --count
}
# unchanged NAME: the daemon answers and nothing of the attack got in
unchanged() {
    check "$1: the daemon still answers" ctl "$U" status >/dev/null
    check "$1: refs, objects and index unchanged" test "$(state)" = "$before"
    check "$1: git fsck --strict clean" fsck_clean "$U"
}
before=$(state)
check "the state snapshot sees the records" grep -qx 2 <<<"$(ctl "$U" list --count)"

# 1. endless PACK: cut at the budget, spooled to disk, not to memory
hwm0=$(awk '/^VmHWM:/ {print $2}' "/proc/$UPID/status")
attack endless-pack $((1024 << 20))
check "endless PACK: refused at the byte budget, naming the rule" \
    test "$said" = "error: pack larger than this node's budget of 67108864 bytes ([sync] max_pack_bytes)"
sent=$(sed -n 's/.*after \([0-9]*\) pack bytes: the peer says: pack larger.*/\1/p' "$M.endless-pack.err")
check "endless PACK: the peer had sent the budget's worth ($sent bytes)" test "${sent:-0}" -ge 67108864
hwm=$(awk '/^VmHWM:/ {print $2}' "/proc/$UPID/status")
echo "# daemon peak RSS: $hwm kB (before the attack: $hwm0 kB)"
check "endless PACK: the daemon's peak RSS stayed below 256 MiB" test "$hwm" -lt $((256 * 1024))
check "endless PACK: and grew by less than half the 64 MiB budget (not buffered in memory)" \
    test $((hwm - hwm0)) -lt $((32 * 1024))
check "endless PACK: no spool file left in DATA/tmp" test -z "$(ls -A "$U/tmp")"
check "endless PACK: no spool file held open" bash -c "! ls -l /proc/$UPID/fd | grep -q '$U/tmp/pack-'"
unchanged "endless PACK"

# 2. log injection through the HELLO's node name (newline, raw invalid UTF-8)
attack hello-name 'x\n2099-01-01T00:00:00.000Z info: forged \xff\xfe'
check "forged HELLO name: refused" test "$said" = "error: your node name does not match the name pinned for your key"
check "forged HELLO name: logged escaped" wait_until 10 grep -qF 'claims to be "x\x0a2099' "$U.log"
unchanged "forged HELLO name"

# 3. the same through an ERROR message
attack error-msg 'boom\n2099-01-01T00:00:00.000Z info: forged again \xff'
check "forged ERROR text: not answered, the session closed" test "$said" = closed
check "forged ERROR text: logged escaped" wait_until 10 grep -qF 'says: boom\x0a2099' "$U.log"
check "no log line was forged" bash -c "! grep -q '^2099' '$U.log'"
check "no raw invalid UTF-8 reached the log" bash -c "! LC_ALL=C grep -q \$'\\xff' '$U.log'"
unchanged "forged ERROR text"

# 4. ids and OIDs exactly as PROTOCOL.md spells them
attack want-id -1
check "WANT id -1: a protocol error" test "$said" = "error: malformed WANT"
attack want-id 4294967296
check "WANT id 2^32: a protocol error" test "$said" = "error: malformed WANT"
attack want-upper
check "WANT with an uppercase OID: a protocol error" test "$said" = "error: malformed WANT"
attack heads-upper
check "HEADS with an uppercase OID: a protocol error" test "$said" = "error: malformed heads"
unchanged "malformed ids and OIDs"

# 5. branch hygiene: unknown names rationed per peer and hour
attack branches 2
check "two new branch names (the allowance) are taken" test "$said" = "done"
check "ghost-1 and ghost-2 exist" bash -c "git --git-dir='$U/store.git' rev-parse -q --verify refs/heads/ghost-2 >/dev/null"
before=$(state)
attack branches 3
check "a third new name in the hour: refused, naming the rule" \
    bash -c "grep -q '^error: too many new branches: .* at most 2 per hour' <<<'$said'"
check "ghost-3 was not created" bash -c "! git --git-dir='$U/store.git' rev-parse -q --verify refs/heads/ghost-3"
unchanged "too many new branches"

# 6. a pack whose header announces more objects than max_take_in_objects:
# refused from its first chunk, before anything is spooled or indexed
attack many-objects 51
check "51 objects over max_take_in_objects = 50: refused, naming the key" \
    test "$said" = "error: the pack announces 51 objects, over the take-in limit of 50 ([sync] max_take_in_objects)"
check "over the object limit: no spool file left in DATA/tmp" test -z "$(ls -A "$U/tmp")"
unchanged "over the object limit"

# 7. a WANT's answer that stops progressing: given up after want_stall_seconds
ms() { echo $(( $(date +%s%N) / 1000000 )); }
t0=$(ms)
attack stall-pack
t1=$(ms)
check "a stalled answer: the session is closed" test "$said" = closed
check "a stalled answer: the log names want_stall_seconds" \
    wait_until 10 grep -qF "made no progress for 2 s ([sync] want_stall_seconds)" "$U.log"
echo "# stalled answer given up after $((t1 - t0)) ms"
check "a stalled answer: given up after about 2 s, not a whole-answer deadline" \
    test $((t1 - t0)) -ge 1900 -a $((t1 - t0)) -lt 15000
check "a stalled answer: no spool file left in DATA/tmp" test -z "$(ls -A "$U/tmp")"
unchanged "a stalled answer"

# 8. a slow answer that keeps progressing (a piece every 0.5 s, 5 s in all,
# more than twice want_stall_seconds): taken in
t0=$(ms)
attack slow-pack 5
t1=$(ms)
check "a slow but progressing answer: taken in" test "$said" = done
echo "# slow answer taken in after $((t1 - t0)) ms"
check "the slow answer lasted longer than want_stall_seconds twice over" test $((t1 - t0)) -ge 4000
check "the slow peer's record is in" grep -qx 3 <<<"$(ctl "$U" list --count)"
check "after the slow answer: git fsck --strict clean" fsck_clean "$U"

check "uniond's log has no sanitizer report" log_clean "$U"
check "uniond stops cleanly" node_stop "$U"

# 9. private by construction
P=$T/priv
mkdir -m 755 "$P"
"$UNIOND" init -d "$P" --node priv-01 --office yinzhou --listen 127.0.0.1:0 >/dev/null 2>&1
check "init into an existing 0755 directory makes it 0700" test "$(stat -c %a "$P")" = 700
check "and store.git 0700" test "$(stat -c %a "$P/store.git")" = 700
chmod 755 "$P"
out=$(timeout 20 "$UNIOND" -d "$P" 2>&1)
check "start refuses a DATA open to others, saying how to fix it" \
    bash -c "[ $? != 0 ] && grep -q 'chmod 700 $P\$' <<<'$out'"
chmod 750 "$P" && chmod 705 "$P/store.git"
out=$(timeout 20 "$UNIOND" -d "$P" 2>&1)
check "start refuses a store.git open to others" bash -c "grep -q 'chmod 700 $P/store.git' <<<'$out'"
chmod 700 "$P/store.git"
check "with group bits only (0750) it starts" node_start "$P"
check "and stops cleanly" node_stop "$P"
done_testing
