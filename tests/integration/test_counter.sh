#!/usr/bin/env bash
# A day at the counter (issue 14): find a member by what the clerk holds
# (ID card, phone, an id prefix), edit and undo in three commands; the
# office's history ("what changed today and by whom"); revert refused when
# a field was changed again since, then --force; a merge that keeps the
# kept record's values and creates no conflicts, undone whole; void
# records out of list unless asked for.
. "$(dirname "$0")/lib.sh"
[ -n "${DEBUG:-}" ] && set -x

A=$T/a C=$T/c
node_init "$A" yinzhou-01 yinzhou
node_init "$C" haishu-01 haishu
node_start "$A" || exit 1
node_start "$C" || exit 1
export LANG=C
unset LANGUAGE LC_ALL LC_MESSAGES
# as CLERK DATA args... : unionctl as that clerk; out in $T/out, err in $T/err, $rc
as() { local who=$1; shift; UNIOND_OPERATOR=$who ctl "$@" >"$T/out" 2>"$T/err"; rc=$?; }
has() { grep -qF -- "$1" "$2"; }
# field ID NAME : the record's value of the field, unmasked
field() {
    [ -n "$1" ] || return 1
    ctl "$A" show "$1" --json --reveal | python3 -c "import json,sys; r=json.load(sys.stdin); print(r['fields'].get('$2', ''))"
}

IDN=33020319850312106X
as wang "$A" add name=陈诚 id_number=$IDN phone=13812345678 category=快递员
id=$(cat "$T/out")
as wang "$A" add name=李娜 phone=13900001111
other=$(cat "$T/out")

# ---- find by what the clerk holds -----------------------------------------------
as li "$A" show "330203 19850312 106x"
check "show by ID number with spaces and lowercase x" bash -c "[ $rc = 0 ] && grep -q '$id' '$T/out' && grep -q 陈诚 '$T/out'"
as li "$A" show "３３０２０３１９８５０３１２１０６Ｘ"
check "show by a full-width ID number" bash -c "[ $rc = 0 ] && grep -q '$id' '$T/out'"
as li "$A" show 13812345678
check "show by phone" bash -c "[ $rc = 0 ] && grep -q '$id' '$T/out'"
as li "$A" show "${id:0:12}"
check "show by a unique id prefix" bash -c "[ $rc = 0 ] && grep -q '$id' '$T/out'"
as li "$A" show 330203198503121230
check "an unknown ID number: not found, exit 1" bash -c "[ $rc = 1 ] && grep -q 'no record with id 330203198503121230' '$T/err'"
as wang "$A" add name=陈诚 phone=13900001111
as li "$A" show 13900001111
check "several matches: listed masked, exit 1" \
    bash -c "[ $rc = 1 ] && grep -q '2 records match 13900001111' '$T/err' && grep -q '$other' '$T/err' && grep -q '139\*\*\*\*1111' '$T/err' && ! grep -q 13900001111.*active '$T/err'"

# ---- a clerk with only an ID card: find, edit, undo in three commands -----------------
as li "$A" show $IDN
check "1. find by the ID card" bash -c "[ $rc = 0 ] && grep -q 陈诚 '$T/out'"
as li "$A" edit $IDN phone=13700000000
check "2. edit by the ID card" test "$rc" = 0
check "   the phone changed" test "$(field "$id" phone)" = 13700000000
as li "$A" revert --last
check "3. undo: revert --last" bash -c "[ $rc = 0 ] && grep -q 'reverted' '$T/out'"
check "   the phone is back" test "$(field "$id" phone)" = 13812345678

# ---- what changed today, and by whom ----------------------------------------------------
as li "$A" log --since today
check "log lists today's changes" test "$rc" = 0
check "log: newest first, the revert by li" bash -c "head -n1 '$T/out' | grep -q ' li@yinzhou-01  revert  陈诚'"
check "log: the edit by li, field masked" bash -c "grep ' li@yinzhou-01  edit  陈诚' '$T/out' | grep -q 'phone 138\*\*\*\*5678 -> 137\*\*\*\*0000'"
check "log: the adds by wang" test "$(grep -c ' wang@yinzhou-01  add  ' "$T/out")" = 3
as li "$A" log --by wang
check "log --by: only that clerk" bash -c "[ $rc = 0 ] && [ \$(wc -l <'$T/out') = 3 ] && ! grep -q ' li@' '$T/out'"
as li "$A" log --limit 1 --reveal
check "log --limit 1 --reveal" bash -c "[ $rc = 0 ] && [ \$(wc -l <'$T/out') = 1 ] && grep -q 13812345678 '$T/out'"
as li "$A" log --until 2000-01-01
check "log --until before anything: no changes" bash -c "[ $rc = 0 ] && grep -qx 'no changes' '$T/out'"
as li "$A" log --json
check "log --json: what, operator, records" \
    bash -c "python3 -c \"import json; e=json.load(open('$T/out')); assert e[0]['what']=='revert' and e[0]['operator']=='li' and e[-1]['what']=='add', e[0]\""
as li "$A" log $IDN
check "log ID (by ID number) keeps working" bash -c "[ $rc = 0 ] && grep -q 'add $id' '$T/out'"

# ---- revert refused when changed again since, then --force ---------------------------
as li "$A" edit $id category=外卖配送员
edit1=$(ctl "$A" log --limit 1 --json | python3 -c "import json,sys; print(json.load(sys.stdin)[0]['commit'][:10])")
as zhao "$A" edit $id category=网约车司机
edit2=$(ctl "$A" log --limit 1 --json | python3 -c "import json,sys; print(json.load(sys.stdin)[0]['commit'][:10])")
h=$(git_store "$A" rev-parse HEAD)
as li "$A" revert "$edit1"
check "revert refused: the field was changed again, naming the later change" \
    bash -c "[ $rc = 1 ] && grep -q 'changed again since' '$T/err' && grep -q '$edit2' '$T/err' && grep -q category '$T/err'"
check "the refusal wrote nothing" test "$(git_store "$A" rev-parse HEAD)" = "$h"
as li "$A" revert "$edit1" --force
check "revert --force puts the older value back" bash -c "[ $rc = 0 ] && [ \"\$('$UNIONCTL' -d '$A' show $id --json | python3 -c \"import json,sys; print(json.load(sys.stdin)['fields']['category'])\")\" = 快递员 ]"
as li "$A" revert 00000000
check "revert of an unknown change: not found" bash -c "[ $rc = 1 ] && grep -q 'no change 00000000' '$T/err'"

# ---- revert of an add voids the record ------------------------------------------------------
as wang "$A" add name=错录 phone=13600000000
bad=$(cat "$T/out")
n_before=$(ctl "$A" list --count)
as wang "$A" revert --last
check "reverting an add voids the record" test "$(field "$bad" status)" = void
check "a void record is left out of list" test "$(ctl "$A" list --count)" = $((n_before - 1))
check "... unless asked for with --where status=void" \
    bash -c "'$UNIONCTL' -d '$A' list --where status=void | grep -q '$bad'"

# ---- merge keeps KEEP's values; revert restores both ------------------------------------
IDN2=330203199001011236
K=$(ctl "$A" add name=林海 id_number=$IDN2 phone=13811112222 category=快递员 joined=2020-03-01 benefits=welfare-2021)
X=$(ctl "$C" add name=林海 id_number=$IDN2 phone=13899998888 category=网约车司机 joined=2024-02-01 union=网约车司机工会 benefits=legal-aid)
ctl "$C" bundle export "$T/x.bundle" >/dev/null && ctl "$A" bundle import "$T/x.bundle" >/dev/null
as li "$A" merge "$K" "$X"
check "merge succeeds" test "$rc" = 0
check "merge output lists every differing field with both values (masked)" \
    bash -c "has() { grep -qF -- \"\$1\" '$T/out'; }; has '快递员 (DUP had 网约车司机)' && has '2020-03-01 (DUP had 2024-02-01)' && has '138****2222 (DUP had 138****8888)'"
check "a merge leaves no conflicts" bash -c "'$UNIONCTL' -d '$A' conflicts | grep -q 'no conflicts' || [ -z \"\$('$UNIONCTL' -d '$A' conflicts --json | python3 -c 'import json,sys; print(json.load(sys.stdin) or \"\")')\" ]"
check "KEEP's values stay (joined, category)" \
    test "$(field "$K" joined) $(field "$K" category)" = "2020-03-01 快递员"
check "an empty field is filled from DUP" test "$(field "$K" union)" = 网约车司机工会
check "benefits united" test "$(field "$K" benefits)" = "['legal-aid', 'welfare-2021']"
check "the ID number finds KEEP, not the merged-away DUP that still holds it (live first)" \
    test "$(ctl "$A" show $IDN2 --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')" = "$K"
as li "$A" revert --last
check "reverting the merge" test "$rc" = 0
check "DUP is back (status active, no merged_into)" test "$(field "$X" status)/$(field "$X" merged_into)" = "active/"
check "KEEP is back (union empty, one benefit)" test "$(field "$K" union)/$(field "$K" benefits)" = "/['welfare-2021']"
as li "$A" show $IDN2
check "... and once both are live again, the ID number matches both" \
    bash -c "[ $rc = 1 ] && grep -q '2 records match' '$T/err' && grep -q '$K' '$T/err' && grep -q '$X' '$T/err'"

# ---- a sync merge is one line -------------------------------------------------------------
as li "$A" log
check "the bundle take-in is one 'sync merge' line" test "$(grep -c '  sync merge' "$T/out")" = 1
check "haishu's add is listed as its own change" bash -c "grep -q ' [a-z]*@haishu-01  add  林海' '$T/out'"

# ---- conflicts a person can read ------------------------------------------------------------
ctl "$A" bundle export "$T/a1.bundle" >/dev/null && ctl "$C" bundle import "$T/a1.bundle" >/dev/null
ctl "$A" edit "$X" phone=13912341234 >/dev/null
ctl "$C" edit "$X" phone=13955551234 >/dev/null
ctl "$C" add name=新会员 phone=13512340000 >/dev/null
ctl "$C" bundle export "$T/c2.bundle" >/dev/null
as li "$A" bundle import "$T/c2.bundle"
check "bundle import reports members added, changed and in conflict" \
    bash -c "[ $rc = 0 ] && grep -q 'bundle imported: 1 members added, 1 changed, 1 now in conflict' '$T/out'"
as li "$A" conflicts
check "phones that mask alike show the digits that differ" \
    bash -c "[ $rc = 0 ] && grep -q '1395\*\*\*1234' '$T/out' && grep -q '1391\*\*\*1234' '$T/out'"
check "... and still hide the digits they share" bash -c "! grep -q '13912341234' '$T/out' && ! grep -q '13955551234' '$T/out'"

check "fsck clean" fsck_clean "$A"
check "SIGTERM A" node_stop "$A"
check "SIGTERM C" node_stop "$C"
check "no sanitizer reports" bash -c "! grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' '$A.log' '$C.log'"
done_testing
