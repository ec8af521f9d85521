#!/usr/bin/env bash
# Running it for real (issue 15): make install with DESTDIR, the systemd
# unit, sd_notify, the default DATA, and shared office use: a clerk in the
# node's group adds through the socket under their own name, a user outside
# it is refused with the hint. Unix users and groups it creates (tests run
# as root) are removed on exit.
. "$(dirname "$0")/lib.sh"

SUF=$$
GRP=uotg$SUF
CLERK=uoclerk$SUF
OUTSIDER=uoout$SUF
made_users=0
ops_cleanup() {
    if [ "$made_users" = 1 ]; then
        userdel "$CLERK" 2>/dev/null
        userdel "$OUTSIDER" 2>/dev/null
        groupdel "$GRP" 2>/dev/null
    fi
    cleanup
}
trap ops_cleanup EXIT

# ---- make install / uninstall ---------------------------------------------------
I=$T/inst
make -C "$ROOT" --no-print-directory install DESTDIR="$I" PREFIX=/usr >"$T/install.out" 2>&1
check "make install DESTDIR=... PREFIX=/usr succeeds" test $? = 0
for f in /usr/bin/unionctl /usr/sbin/uniond /usr/share/man/man1/unionctl.1 \
    /usr/share/man/man8/uniond.8 /usr/lib/systemd/system/uniond.service \
    /usr/lib/sysusers.d/uniond.conf /usr/lib/tmpfiles.d/uniond.conf \
    /usr/share/bash-completion/completions/unionctl \
    /usr/share/doc/uniond/examples/uniond.conf.example; do
    check "installed $f" test -s "$I$f"
done
for po in "$ROOT"/po/*.po; do
    [ -f "$po" ] || continue
    l=$(basename "$po" .po)
    check "installed the $l catalogue" test -s "$I/usr/share/locale/$l/LC_MESSAGES/unionctl.mo"
done
check "installed binaries are executable" test -x "$I/usr/sbin/uniond" -a -x "$I/usr/bin/unionctl"
check "the unit runs the installed uniond" \
    grep -qx 'ExecStart=/usr/sbin/uniond' "$I/usr/lib/systemd/system/uniond.service"
check "the unit is Type=notify with its own user" bash -c \
    "grep -qx Type=notify '$I/usr/lib/systemd/system/uniond.service' &&
     grep -qx User=uniond '$I/usr/lib/systemd/system/uniond.service'"
check "the completion script parses" bash -n "$I/usr/share/bash-completion/completions/unionctl"
make -C "$ROOT" --no-print-directory uninstall DESTDIR="$I" PREFIX=/usr >"$T/uninstall.out" 2>&1
check "make uninstall removes every file it installed" \
    bash -c "[ -z \"\$(find '$I' -type f)\" ] && [ -d '$I/usr/bin' ]"

# ---- systemd-analyze verify -------------------------------------------------------
if command -v systemd-analyze >/dev/null 2>&1; then
    sed "s|@SBINDIR@|$(dirname "$UNIOND")|" "$ROOT/dist/uniond.service.in" >"$T/uniond.service"
    systemd-analyze verify --man=no --recursive-errors=no "$T/uniond.service" >"$T/verify" 2>&1
    check "systemd-analyze verify accepts the unit" test $? = 0
else
    echo "ok - systemd-analyze verify # skip no systemd-analyze"
fi

# ---- sd_notify and the log destination ---------------------------------------------
A=$T/a
node_init "$A" ops-01 yinzhou
python3 - "$T/notify" >"$T/notified" 2>&1 <<'EOF' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(30)
for _ in range(2):
    print(s.recv(4096).decode().strip(), flush=True)
EOF
listener=$!
wait_until 10 test -S "$T/notify"
# JOURNAL_STREAM that is not stderr's: the log stays on stderr
NOTIFY_SOCKET=$T/notify JOURNAL_STREAM=1:1 node_start "$A" || exit 1
check "READY=1 is sent once the control socket answers" \
    wait_until 10 grep -qx READY=1 "$T/notified"
check "a JOURNAL_STREAM naming another file leaves the log on stderr" grep -q 'info: uniond' "$A.log"
node_stop "$A"
check "the daemon stops cleanly" test $? = 0
check "STOPPING=1 is sent on SIGTERM" wait_until 10 grep -qx STOPPING=1 "$T/notified"
wait "$listener" 2>/dev/null

# ---- default DATA --------------------------------------------------------------------
(unset UNIOND_DATA; XDG_DATA_HOME=$T/xdg "$UNIOND" init --office yinzhou \
    --listen 127.0.0.1:0 >"$T/xdg.init" 2>&1)
check "init without -d or --node uses \$XDG_DATA_HOME/uniond" test -f "$T/xdg/uniond/uniond.conf"
host=$(hostname | cut -d. -f1 | tr 'A-Z' 'a-z' | tr -c 'a-z0-9_\n-' '-')
check "and names the node after the host ($host)" grep -qx "name = $host" "$T/xdg/uniond/uniond.conf"
UNIOND_DATA=$T/env "$UNIOND" init --node env-01 --office yinzhou --listen 127.0.0.1:0 \
    >"$T/env.init" 2>&1
check "init without -d uses \$UNIOND_DATA" test -f "$T/env/uniond.conf"
if [ -e /var/lib/uniond ]; then
    echo "ok - unionctl without -d finds the XDG node # skip /var/lib/uniond exists here"
else
    (unset UNIOND_DATA; export XDG_DATA_HOME=$T/xdg
     "$UNIOND" >>"$T/xdg.log" 2>&1 & echo $! >"$T/xdg.pid"
     wait_until 20 "$UNIONCTL" status)
    PIDS+=("$(cat "$T/xdg.pid")")
    out=$(unset UNIOND_DATA; XDG_DATA_HOME=$T/xdg "$UNIONCTL" id 2>&1)
    check "uniond and unionctl without -d meet at the XDG node" grep -q "$host" <<<"$out"
    kill -TERM "$(cat "$T/xdg.pid")"
fi
(unset UNIOND_DATA; HOME=$T/nohome XDG_DATA_HOME= "$UNIONCTL" list >"$T/out" 2>"$T/err"); rc=$?
check "no DATA anywhere: unionctl still says how to give one (exit 2)" \
    bash -c "[ $rc = 2 ] && grep -q 'no DATA directory' '$T/err'"

# ---- shared office use ------------------------------------------------------------------
if ! command -v useradd >/dev/null 2>&1 || [ "$(id -u)" != 0 ]; then
    echo "ok - shared office use # skip needs root and useradd"
    log_clean "$A" && done_testing
    exit
fi
groupadd "$GRP" && useradd -M -N -G "$GRP" -s /usr/sbin/nologin "$CLERK" &&
    useradd -M -N -s /usr/sbin/nologin "$OUTSIDER" && made_users=1
check "made a group, a clerk in it and a user outside it" test "$made_users" = 1
# the clerks reach DATA through $T and the binaries through the tree
chmod 0711 "$T"
S=$T/shared
"$UNIOND" init -d "$S" --node shared-01 --office yinzhou --listen 127.0.0.1:0 --group "$GRP" \
    >"$S.init" 2>&1
check "init --group: DATA is 0710 with the group" \
    test "$(stat -c '%a %G' "$S")" = "710 $GRP"
check "init --group: store.git stays 0700, node.key 0600" \
    test "$(stat -c %a "$S/store.git") $(stat -c %a "$S/node.key")" = "700 600"
"$UNIOND" init -d "$T/nogroup" --node x-01 --office y --group nosuchgroup$SUF >/dev/null 2>"$T/err"
rc=$?
check "init --group with an unknown group: exit 2, says so" \
    bash -c "[ $rc = 2 ] && grep -q 'no group' '$T/err' && [ ! -e '$T/nogroup' ]"
node_start "$S" || exit 1
check "the socket is 0660 with the group" \
    test "$(stat -c '%a %G' "$S/uniond.sock")" = "660 $GRP"

# the clerk claims another name (UNIOND_OPERATOR=tester): the socket's peer
# credentials win
id=$(runuser -u "$CLERK" -- env UNIOND_OPERATOR=tester "$UNIONCTL" -d "$S" add name=林静 2>"$T/clerk.err")
check "a clerk in the group adds through the socket" bash -c "[[ '$id' =~ ^[0-9a-z]{16}\$ ]]"
check "the commit's author is the clerk's user name, not the claimed one" \
    test "$(git_store "$S" log -1 --format=%an)" = "$CLERK"
ctl "$S" edit "$id" notes=checked >/dev/null
check "the daemon's own account may still name its operator" \
    test "$(git_store "$S" log -1 --format=%an)" = tester
runuser -u "$OUTSIDER" -- "$UNIONCTL" -d "$S" add name=王五 >"$T/out" 2>"$T/err"; rc=$?
check "a user outside the group is refused (exit 1, nothing printed)" \
    bash -c "[ $rc = 1 ] && [ ! -s '$T/out' ]"
check "and told to ask to be added to the group" \
    grep -q "sudo adduser $OUTSIDER uniond" "$T/err"
check "the refused add left no commit" \
    test "$(git_store "$S" log -1 --format=%an)" = tester
node_stop "$S"
check "the shared daemon stops cleanly" test $? = 0
check "daemon logs clean" bash -c "$(declare -f log_clean); log_clean '$A' && log_clean '$S'"
done_testing
