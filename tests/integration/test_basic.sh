#!/usr/bin/env bash
# One node end to end: init, start, add/show/edit/list/log, masking, exit
# codes, the store checked with plain git.
. "$(dirname "$0")/lib.sh"

A=$T/a
node_init "$A" yinzhou-01 yinzhou
check "init prints the fingerprint" grep -qE '^fingerprint [0-9a-f]{64}$' "$A.init"
check "init makes the bare store with HEAD on the node branch" \
    test "$(git_store "$A" symbolic-ref HEAD)" = refs/heads/yinzhou-01
check "node.key is mode 0600" test "$(stat -c %a "$A/node.key")" = 600
"$UNIOND" init -d "$A" --node x --office y >/dev/null 2>"$T/err"; rc=$?
check "init refuses an existing node: exit 1" test "$rc" = 1
check "and says the directory already holds a node" grep -q "already holds a node" "$T/err"

ctl "$A" status >/dev/null 2>"$T/err"; rc=$?
check "no daemon: exit 3" test "$rc" = 3
check "no daemon: says how to start it" grep -q "uniond -d $A" "$T/err"

node_start "$A" || exit 1
check "control socket is mode 0660" test "$(stat -c %a "$A/uniond.sock")" = 660
"$UNIOND" -d "$A" 2>"$T/second"; rc=$?
check "a second daemon on the same DATA refuses" test "$rc" = 1
check "and says why" grep -q "already running" "$T/second"

id=$(ctl "$A" add name=陈诚 gender=M id_number=110105194912310011 phone=13812345678 \
    category=外卖配送员 benefits+=heat-relief-2021)
check "add prints the id alone" bash -c "[[ '$id' =~ ^[0-9a-z]{16}$ ]]"
check "the record is in the git tree" bash -c "git --git-dir='$A/store.git' ls-tree -r --name-only HEAD | grep -q '/$id\$'"
path=$(git_store "$A" ls-tree -r --name-only HEAD | grep "/$id\$")
check "stored text is readable" bash -c "git --git-dir='$A/store.git' show HEAD:$path | grep -qx 'name: 陈诚'"
check "gender normalised to 男" bash -c "git --git-dir='$A/store.git' show HEAD:$path | grep -qx 'gender: 男'"
check "defaults: office, status, joined" bash -c "git --git-dir='$A/store.git' show HEAD:$path | grep -qx 'office: yinzhou' && git --git-dir='$A/store.git' show HEAD:$path | grep -qx 'status: active'"

out=$(ctl "$A" show "$id")
check "show masks the id number" bash -c "grep -q '110105\*\*\*\*\*\*\*\*0011' <<<'$out'"
check "show masks the phone" bash -c "grep -q '138\*\*\*\*5678' <<<'$out'"
check "show never prints the full id number (only the masked one)" \
    bash -c "grep -q '110105\*\*\*\*\*\*\*\*0011' <<<'$out' && ! grep -q 110105194912310011 <<<'$out'"
json=$(ctl "$A" show "$id" --json --reveal)
check "show --json --reveal has the full values" \
    bash -c "grep -q '\"id_number\": \"110105194912310011\"' <<<'$json' && grep -q '\"benefits\": \[' <<<'$json'"
check "show --json shape: id, fields, conflicts" bash -c "grep -q '\"conflicts\": {}' <<<'$json' && grep -q '\"id\": \"$id\"' <<<'$json'"
check "reveal is noted in the daemon log without values" \
    bash -c "grep -q 'reveal: tester' '$A.log' && ! grep -q 110105194912310011 '$A.log'"

ctl "$A" add name=李四 phone=123 2>"$T/err"; rc=$?
check "bad phone refused with exit 1" test "$rc" = 1
check "message names field and rule" grep -q "phone" "$T/err"
ctl "$A" add name=王五 id_number=110105194912310021 2>"$T/err"; rc=$?
check "bad check digit refused" test "$rc" = 1
check "bad id number: the message names the field and rule, not the value" \
    bash -c "grep -q 'id_number: check digit is wrong' '$T/err' && ! grep -q 110105194912310021 '$T/err'"
ctl "$A" add name=赵六 joined=2999-01-01 2>"$T/err"; rc=$?
check "future joined date refused" test "$rc" = 1
check "and says why" grep -q "joined: date is in the future" "$T/err"
ctl "$A" add gender=F 2>"$T/err"; rc=$?
check "add without a name refused" test "$rc" = 1
check "and says a name is needed" grep -q "name: a new member needs a name" "$T/err"
check "refused adds wrote nothing" test "$(git_store "$A" rev-list --count HEAD)" = 1
ctl "$A" frobnicate 2>"$T/err"; rc=$?
check "unknown command: exit 2" test "$rc" = 2
check "and names it" grep -q "unknown command 'frobnicate'" "$T/err"
ctl "$A" list --where 'nonsense' 2>"$T/err"; rc=$?
check "bad --where: exit 2" test "$rc" = 2
check "and names the condition" grep -q "'nonsense'" "$T/err"
ctl "$A" show zzzzzzzzzzzzzzzz 2>"$T/err"; rc=$?
check "show of an unknown id: exit 1" test "$rc" = 1
check "and says there is no such record" grep -q "no record with id zzzzzzzzzzzzzzzz" "$T/err"

ctl "$A" edit "$id" phone=13900001111 union=快递工会 benefits+=welfare-2021
check "edit changes the value" bash -c "'$UNIONCTL' -d '$A' show '$id' --reveal | grep -q 13900001111"
check "edit is one commit" test "$(git_store "$A" rev-list --count HEAD)" = 2
ctl "$A" edit "$id" phone=13900001111 >"$T/out" 2>&1; rc=$?
check "an edit that changes nothing succeeds and says so" \
    bash -c "[ $rc = 0 ] && grep -q 'nothing changed' '$T/out'"
check "an edit that changes nothing makes no commit" test "$(git_store "$A" rev-list --count HEAD)" = 2
ctl "$A" edit "$id" benefits-=heat-relief-2021
check "set element removed" bash -c "'$UNIONCTL' -d '$A' show '$id' --json | grep -A3 benefits | grep -q welfare-2021 && ! '$UNIONCTL' -d '$A' show '$id' --json | grep -q heat-relief"

logout=$(ctl "$A" log "$id")
check "log shows the edit with operator and node" bash -c "grep -q 'tester@yinzhou-01' <<<'$logout'"
check "log shows from -> to, masked" bash -c "grep -q 'phone: 138\*\*\*\*5678 -> 139\*\*\*\*1111' <<<'$logout'"
check "log json has changes" bash -c "'$UNIONCTL' -d '$A' log '$id' --json | grep -q '\"changes\"'"
check "git log -p of the store shows the change" bash -c "git --git-dir='$A/store.git' log -p | grep -q '^+phone: 13900001111'"

id2=$(ctl "$A" add name=张三 gender=女 category=快递员)
check "list --count" test "$(ctl "$A" list --count)" = 2
check "list --where exact" test "$(ctl "$A" list --where category=快递员 --count)" = 1
check "list --where contains" test "$(ctl "$A" list --where 'name~陈' --count)" = 1
check "list --where gender=F normalised" test "$(ctl "$A" list --where gender=F --count)" = 1
check "list --where ANDed" test "$(ctl "$A" list --where 'name~张' --where category=外卖配送员 --count)" = 0
check "list --json is an array" bash -c "'$UNIONCTL' -d '$A' list --json | head -1 | grep -qx '\['"
check "list --csv has a header" bash -c "'$UNIONCTL' -d '$A' list --csv | head -1 | grep -q '^id,name'"
check "list --csv masks too" \
    bash -c "'$UNIONCTL' -d '$A' list --csv >'$T/csv' && grep -q '139\*\*\*\*1111' '$T/csv' && ! grep -q 13900001111 '$T/csv'"
table=$(ctl "$A" list)
check "table header" bash -c "head -1 <<<'$table' | grep -q '^id  *name'"

check "show --csv: header and one masked row" bash -c "'$UNIONCTL' -d '$A' show '$id' --csv | head -1 | grep -q '^id,name' && [ \$('$UNIONCTL' -d '$A' show '$id' --csv | wc -l) = 2 ] && ! '$UNIONCTL' -d '$A' show '$id' --csv | grep -q 13900001111"
check "log --csv: one row per changed field" bash -c "'$UNIONCTL' -d '$A' log '$id' --csv | head -1 | grep -qx 'commit,time,node,operator,summary,field,from,to' && '$UNIONCTL' -d '$A' log '$id' --csv | grep -q ',phone,138\*\*\*\*5678,139\*\*\*\*1111\$'"
check "conflicts --csv has a header" bash -c "'$UNIONCTL' -d '$A' conflicts --csv | head -1 | grep -qx 'id,name,field,value,node,time'"
check "peers --csv has a header" bash -c "'$UNIONCTL' -d '$A' peers --csv | head -1 | grep -q '^name,address'"
check "fsck --strict is clean" fsck_clean "$A"
check "SIGTERM exits cleanly" node_stop "$A"
check "socket removed on exit" test ! -e "$A/uniond.sock"
check "no sanitizer reports" log_clean "$A"
done_testing
