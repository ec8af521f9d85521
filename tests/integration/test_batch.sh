#!/usr/bin/env bash
# unionctl batch (issue 12's concurrent adds without a process per add):
# many command lines over one kept control connection; each line as if
# typed after `unionctl`, quotes and comments as in a shell, CRLF files
# from Windows; every line runs, the exit code is the first failure's, a
# daemon that does not answer stops the batch; a daemon restarted between
# two lines is reconnected to; a nested batch and an overlong line are
# refused. Checked with list, show and plain git.
. "$(dirname "$0")/lib.sh"
[ -n "${DEBUG:-}" ] && set -x

A=$T/a
node_init "$A" yinzhou-01 yinzhou
node_start "$A" || exit 1
export LANG=C
unset LANGUAGE LC_ALL LC_MESSAGES
has() { grep -qF -- "$1" "$2"; }
# batch ARGS... <input : unionctl -d A batch; out, err, rc
batch() { ctl "$A" batch "$@" >"$T/out" 2>"$T/err"; rc=$?; }

# ---- thirty adds, comments, quotes, a CRLF line ---------------------------------
{
    echo "# thirty members from the roadside station"
    echo
    for i in $(seq 1 27); do echo "add name=骑手$i category=外卖骑手"; done
    echo "add 'name=陈 诚' \"notes=说 \\\"你好\\\"\" phone=13812345678"
    printf 'add name=王五\\ 六 office=yinzhou\r\n'
    echo "   add name=赵七   # the last one"
    echo "list --count"
} >"$T/b1"
batch "$T/b1"
check "a batch of 30 adds and a count exits 0" [ "$rc" = 0 ]
check "it printed 30 ids and the count" bash -c "[ \$(grep -cE '^[0-9a-z]{16}\$' '$T/out') = 30 ] && [ \"\$(tail -1 '$T/out')\" = 30 ]"
check "nothing on stderr" bash -c "[ ! -s '$T/err' ]"
check "the node holds the 30 members" [ "$(ctl "$A" list --count)" = 30 ]
id=$(sed -n 28p "$T/out")
ctl "$A" show "$id" --json --reveal >"$T/show"
check "a quoted name with a space and an escaped quote" python3 -c "
import json; r=json.load(open('$T/show'))['fields']
assert r['name']=='陈 诚', r; assert r['notes']=='说 \"你好\"', r; assert r['phone']=='13812345678', r"
id=$(sed -n 29p "$T/out")
check "a backslash-escaped space, and the CRLF line's last field is clean" bash -c \
    "ctl() { \"$UNIONCTL\" -d \"$A\" \"\$@\"; }; ctl show $id --json | python3 -c \"
import json,sys; r=json.load(sys.stdin)['fields']; assert r['name']=='王五 六' and r['office']=='yinzhou', r\""

# ---- one connection for the whole batch -------------------------------------------
if command -v strace >/dev/null; then
    for i in 1 2 3 4 5; do echo "add name=连接$i"; done >"$T/b2"
    # (LeakSanitizer cannot run under ptrace)
    ASAN_OPTIONS=detect_leaks=0 strace -f -qq -e trace=connect -o "$T/st" "$UNIONCTL" -d "$A" batch "$T/b2" >"$T/out" 2>"$T/err"
    check "five adds in a batch: exit 0" [ $? = 0 ]
    check "five adds in a batch connect to uniond once" [ "$(grep -c 'uniond.sock' "$T/st")" = 1 ]
else
    ok "# SKIP one connection per batch: strace not installed"
fi

# ---- failing lines: every line runs, the first failure's code ---------------------
printf 'add name=好一\nshow nosuchrecord\nadd name="未闭合\nadd name=好二\n' >"$T/b3"
batch "$T/b3"
check "a batch with failing lines exits with the first failure's code (1)" [ "$rc" = 1 ]
check "each failed line is named" bash -c "grep -qF 'line 2 failed (exit 1)' '$T/err' && grep -qF 'line 3: a quote (\") is not closed' '$T/err' && grep -qF 'line 3 failed (exit 2)' '$T/err'"
check "the summary counts them" has "2 of 4 commands failed; the first on line 2" "$T/err"
check "the good lines after a failure ran" bash -c "[ \$(grep -cE '^[0-9a-z]{16}\$' '$T/out') = 2 ] && [ \$(\"$UNIONCTL\" -d '$A' list --where name=好二 --count) = 1 ]"

# ---- standard input, '-' ------------------------------------------------------------
printf 'add name=管道一\nadd name=管道二\n' | ctl "$A" batch >"$T/out" 2>"$T/err"
check "batch reads standard input" bash -c "[ \${PIPESTATUS[0]:-0} = 0 ] && [ \$(grep -c . '$T/out') = 2 ]"
echo "list --where name=管道一 --count" | ctl "$A" batch - >"$T/out" 2>&1
check "batch - reads standard input too" [ "$(cat "$T/out")" = 1 ]

# ---- refused: nested, too long, missing file, usage ------------------------------------
printf 'batch %s\n' "$T/b2" >"$T/b4"
batch "$T/b4"
check "a batch line cannot start a batch (usage, 2)" bash -c "[ $rc = 2 ] && grep -qF 'cannot run another batch' '$T/err'"
python3 -c "print('add name=' + 'x' * (1 << 20)); print('add name=长行之后')" >"$T/b5"
batch "$T/b5"
check "a line over 1 MiB is refused, the next still runs" bash -c "[ $rc = 2 ] && grep -qF 'line 1 is longer than 1048576 bytes' '$T/err' && [ \$(grep -c . '$T/out') = 1 ]"
batch "$T/nosuchfile"
check "a missing file: exit 1, named" bash -c "[ $rc = 1 ] && grep -qF 'cannot open $T/nosuchfile' '$T/err'"
batch "$T/b1" "$T/b2"
check "two files: usage (2)" [ "$rc" = 2 ]
check "batch --help names the command" bash -c "ctl() { \"$UNIONCTL\" \"\$@\"; }; ctl batch --help | grep -q 'usage: unionctl \[-d DATA\] batch \[FILE\]'"

# ---- the daemon restarted between two lines: a new connection ------------------------
before=$(ctl "$A" list --count)
mkfifo "$T/fifo"
"$UNIONCTL" -d "$A" batch "$T/fifo" >"$T/out" 2>"$T/err" &
bpid=$!
# the writer is its own process, so the restarted daemon does not inherit
# the FIFO's write end (the batch would never see its end)
(echo "add name=重启之前"
 while [ ! -e "$T/go" ]; do sleep 0.02; done
 echo "add name=重启之后") >"$T/fifo" &
wait_until 20 grep -qE '^[0-9a-z]{16}$' "$T/out"
node_stop "$A"
node_start "$A" || exit 1
touch "$T/go"
wait "$bpid"
rc=$?
check "a daemon restarted between two lines: the batch reconnects, exit 0" bash -c "[ $rc = 0 ] && [ \$(grep -c . '$T/out') = 2 ]"
check "both lines were written" [ "$(ctl "$A" list --count)" = $(( before + 2 )) ]

# ---- no daemon: stop at the first line ------------------------------------------------
node_stop "$A"
batch "$T/b2"
check "no daemon: exit 3, stopped at line 1" bash -c "[ $rc = 3 ] && grep -qF 'stopped at line 1' '$T/err' && [ \$(grep -c 'failed (exit 3)' '$T/err') = 1 ]"

check "fsck --strict is clean" fsck_clean "$A"
check "no sanitizer report" log_clean "$A"
done_testing
