#!/usr/bin/env bash
# A clerk at the counter: unionctl in Chinese when the locale says zh_CN
# (help, errors, table titles, status words) while --json and --csv stay
# canonical; times in the local zone (TZ) in tables, UTC in JSON; one-line
# confirmations and the pager on a terminal only; bundle export that does
# not overwrite without --force and names its file in a directory.
#
# No generated locale is needed: LANGUAGE=zh_CN with LANG=C.UTF-8 (built
# into glibc). A terminal is faked with script(1).
. "$(dirname "$0")/lib.sh"

unset UNIOND_DATA UNIOND_LOCALEDIR
A=$T/a B=$T/b
node_init "$A" yinzhou-01 yinzhou
node_init "$B" haishu-01 haishu
node_start "$A" || exit 1
node_start "$B" || exit 1

# run CMD... : unionctl in English; stdout in $T/out, stderr in $T/err, $rc
run() { env -u LANGUAGE -u LC_ALL -u LC_MESSAGES LANG=C "$UNIONCTL" "$@" >"$T/out" 2>"$T/err"; rc=$?; }
# zh CMD... : the same, in Chinese
zh() { env -u LC_ALL -u LC_MESSAGES LANGUAGE=zh_CN LANG=C.UTF-8 "$UNIONCTL" "$@" >"$T/out" 2>"$T/err"; rc=$?; }
# tty CMD... : on a (fake) terminal; what it shows in $T/out (no CRs), $rc
tty() {
    local cmd; printf -v cmd '%q ' "$@"
    script -qec "$cmd" /dev/null </dev/null >"$T/out.raw" 2>&1; rc=$?
    tr -d '\r' <"$T/out.raw" >"$T/out"
}
has() { grep -qF -- "$1" "$2"; } # has TEXT FILE

check "the catalogue was built into build/locale" \
    test -f "$ROOT/build/locale/zh_CN/LC_MESSAGES/unionctl.mo"

# ---- the clerk's language ---------------------------------------------------------
zh --help
check "zh_CN: --help in Chinese (usage line, group, a summary)" \
    bash -c "[ $rc = 0 ] && [ \"\$(head -n1 '$T/out')\" = '用法： unionctl [-d DATA] 命令 [参数] [选项]' ] && grep -qx '会籍工作：' '$T/out' && grep -q '^  list         查找会员：筛选、排序、计数\$' '$T/out'"
zh list --help
check "zh_CN: list --help: options explained in Chinese, option names as typed" \
    bash -c "[ $rc = 0 ] && grep -qx '  --count           只显示找到的会员人数' '$T/out' && grep -qx '选项：' '$T/out'"
zh lsit
check "zh_CN: a usage error in Chinese, exit 2" \
    bash -c "[ $rc = 2 ] && [ \"\$(cat '$T/err')\" = \$'unionctl: 未知命令“lsit”；您是想输入“list”吗？\\n（unionctl --help 列出全部命令）' ]"
zh list
check "zh_CN: no DATA directory, in Chinese" \
    bash -c "[ $rc = 2 ] && grep -qx 'unionctl: 未指定数据目录：请用 -d DATA 指定，或设置 UNIOND_DATA' '$T/err'"
run lsit
check "without zh_CN: the same error in English" \
    bash -c "[ $rc = 2 ] && [ \"\$(cat '$T/err')\" = \$'unionctl: unknown command \\'lsit\\'; did you mean \\'list\\'?\\n(unionctl --help lists the commands)' ]"
run --help
check "without zh_CN: --help in English" \
    bash -c "[ $rc = 0 ] && [ \"\$(head -n1 '$T/out')\" = 'usage: unionctl [-d DATA] COMMAND [ARGS] [OPTIONS]' ] && grep -qx 'membership work:' '$T/out'"
env -u LC_ALL -u LC_MESSAGES -u LANGUAGE LANG=zh_CN.UTF-8 "$UNIONCTL" --help >"$T/out" 2>&1
check "LANG=zh_CN.UTF-8 alone (generated or not): Chinese" has '会籍工作：' "$T/out"
mkdir -p "$T/nolocale"
UNIOND_LOCALEDIR=$T/nolocale zh --help
check "UNIOND_LOCALEDIR decides where the catalogue is (none there: English)" \
    bash -c "[ $rc = 0 ] && grep -qx 'membership work:' '$T/out'"

id=$(ctl "$A" add name=陈诚 gender=M phone=13812345678 id_number=330203198503121238 category=快递员)
check "a member added" test -n "$id"
zh -d "$A" list
check "zh_CN: list's titles are the fields' labels" \
    bash -c "[ $rc = 0 ] && head -n1 '$T/out' | grep -q '^编号 *姓名 *性别 *身份证号码 *手机号码 *职业类别 *办事处 *会籍状态 *入会日期\$'"
check "zh_CN: the status shows as its Chinese word" bash -c "grep -q '^$id .* 在会 ' '$T/out'"
run -d "$A" list
check "English: list's titles are the field names, status as stored" \
    bash -c "[ $rc = 0 ] && head -n1 '$T/out' | grep -q '^id *name *gender *id_number *phone *category *office *status *joined\$' && grep -q '^$id .* active ' '$T/out'"
zh -d "$A" list --csv
check "zh_CN: --csv keeps the field names and the stored values" \
    bash -c "[ $rc = 0 ] && [ \"\$(head -n1 '$T/out')\" = 'id,name,gender,id_number,phone,category,office,joined,status' ] && grep -q ',active\$' '$T/out'"
zh -d "$A" show "$id" --json
check "zh_CN: --json keeps the keys and the stored values" \
    bash -c "[ $rc = 0 ] && grep -q '\"status\": \"active\"' '$T/out' && ! grep -q '在会' '$T/out'"
zh -d "$A" show "$id"
check "zh_CN: show names each field by its label and its name" \
    bash -c "[ $rc = 0 ] && grep -q '^手机号码 (phone) *139\\*\\*\\*\\*5678\$\\|^手机号码 (phone) *138\\*\\*\\*\\*5678\$' '$T/out' && grep -q '^会籍状态 (status) *在会\$' '$T/out'"
zh -d "$A" edit "$id" '=1'
check "zh_CN: a message of unionctl's own in Chinese (exit 2)" \
    bash -c "[ $rc = 2 ] && grep -qx 'unionctl: “=1”不是 字段=值 的形式' '$T/err'"

# ---- the daemon's errors in Chinese (uniond speaks English; unionctl translates) ----
# same CMD... : English then Chinese; "$en_rc $zh_rc" in $rcs, stderr in $T/en.err and $T/err
same() {
    run "$@"; en_rc=$rc; cp "$T/err" "$T/en.err"
    zh "$@"; rcs="$en_rc $rc"
}
same -d "$A" add name=某某 phon=13800000000
check "zh_CN: unknown field, with the suggestion, in Chinese (exit 1 both ways)" \
    bash -c "[ '$rcs' = '1 1' ] && [ \"\$(cat '$T/err')\" = 'unionctl: 没有“phon”这个字段（您是想输入“phone”吗？）' ]"
check "... English unchanged" \
    bash -c "[ \"\$(cat '$T/en.err')\" = \"unionctl: unknown field 'phon' (did you mean 'phone'?)\" ]"
same -d "$A" add name=某某 id_number=330203198503121238
check "zh_CN: an ID number already registered, in Chinese, the record named (exit 1)" \
    bash -c "[ '$rcs' = '1 1' ] && [ \"\$(cat '$T/err')\" = 'unionctl: id_number：这个身份证号码已登记为记录 $id；一人只能有一条记录（查看：unionctl show $id；修改：unionctl edit $id）' ]"
check "... English unchanged" \
    bash -c "[ \"\$(cat '$T/en.err')\" = 'unionctl: id_number: this ID number is already registered as record $id; one person has one record (unionctl show $id; change it with unionctl edit $id)' ]"
same -d "$A" show 0000000000
check "zh_CN: show of an unknown id in Chinese (exit 1)" \
    bash -c "[ '$rcs' = '1 1' ] && [ \"\$(cat '$T/err')\" = 'unionctl: 找不到编号为 0000000000 的记录（也没有以此开头的编号、这个身份证号码或手机号码；可用 unionctl list 查找记录）' ]"
check "... English unchanged" \
    bash -c "[ \"\$(cat '$T/en.err')\" = 'unionctl: no record with id 0000000000 (nor with that id prefix, ID number or phone; unionctl list finds records)' ]"
same -d "$A" list --where phon=1
check "zh_CN: a bad --where in Chinese, the nearest field suggested (exit 1)" \
    bash -c "[ '$rcs' = '1 1' ] && [ \"\$(cat '$T/err')\" = 'unionctl: --where phon=1：条件不正确：没有“phon”这个字段（您是想输入“phone”吗？）' ]"
check "... English unchanged" \
    bash -c "[ \"\$(cat '$T/en.err')\" = \"unionctl: --where phon=1: bad condition: unknown field 'phon' (did you mean 'phone'?)\" ]"
printf 'name,id_number\n王五,11010519491231002X\n王六,11010519491231002X\n' >"$T/twice.csv"
same -d "$A" import "$T/twice.csv"
check "zh_CN: import refused by the daemon (one person twice), the row's reason in Chinese (exit 1)" \
    bash -c "[ '$rcs' = '1 1' ] && [ \"\$(cat '$T/err')\" = \$'unionctl: 2 行中有 1 行无效；未导入任何内容（请改正，或加 --skip-invalid 只导入有效的行）\\n  第 3 行：id_number：与第 2 行是同一个人（身份证号码相同）；一人只能有一条记录：请在两行中只保留一行' ]"
check "... English unchanged" \
    bash -c "[ \"\$(cat '$T/en.err')\" = \$'unionctl: 1 of 2 rows are invalid; nothing was imported (fix them, or use --skip-invalid to import the valid rows)\\n  line 3: id_number: the same person as line 2 (same ID number); one person has one record: keep one of the two rows' ]"
check "... and nothing was imported" bash -c "! '$UNIONCTL' -d '$A' list --json | grep -q 王五"
printf 'name,phone\n张三,13800000001\n李四,2345\n' >"$T/badphone.csv"
same -d "$A" import "$T/badphone.csv"
check "zh_CN: a bad row found before sending, the schema's reason in Chinese (exit 1)" \
    bash -c "[ '$rcs' = '1 1' ] && grep -qx '  第 3 行：phone：必须是以 1 开头的 11 位数字' '$T/err' && grep -qx '  line 3: phone: must be 11 digits starting with 1' '$T/en.err'"
ctl "$A" edit "$id" notes=first
ctl "$A" edit "$id" notes=second
first=$(ctl "$A" log "$id" --json | python3 -c 'import json,sys; print([e["commit"] for e in json.load(sys.stdin) if "first" in json.dumps(e)][-1][:10])')
same -d "$A" revert "$first"
check "zh_CN: revert refused (changed again since) in Chinese (exit 1)" \
    bash -c "[ '$rcs' = '1 1' ] && grep -q '^unionctl: 无法撤销：$first 之后又有修改：$id.notes .*；请先撤销那些修改，或加 --force 仍然恢复旧值\$' '$T/err'"
check "... English unchanged" \
    bash -c "grep -q '^unionctl: revert: changed again since $first: $id.notes .*; revert those first, or --force puts back the older values anyway\$' '$T/en.err'"
check "... and nothing was reverted" bash -c "'$UNIONCTL' -d '$A' show '$id' --json | grep -q '\"notes\": \"second\"'"
zh -d "$A" revert 'zz'
check "zh_CN: a change id that is not one, in Chinese (exit 1)" \
    bash -c "[ $rc = 1 ] && grep -q '^unionctl: 无法撤销：“zz”不是变更编号（至少 [0-9]* 位十六进制数字，见 unionctl log）\$' '$T/err'"
zh -d "$A" report --from 2026-01-01 --to 2026-12-31
check "zh_CN: report titled in Chinese, its rows named as on the county's form" \
    bash -c "[ $rc = 0 ] && grep -qx '报表 2026-01-01 至 2026-12-31' '$T/out' && grep -q '^指标  *合计  *yinzhou\$' '$T/out' && grep -q '^新发展会员  ' '$T/out'"
run -d "$A" report --from 2026-01-01 --to 2026-12-31
check "... English unchanged" \
    bash -c "[ $rc = 0 ] && grep -qx 'report 2026-01-01 .. 2026-12-31' '$T/out' && grep -q '^members.new  ' '$T/out'"
zh -d "$A" fields
check "zh_CN: fields titled in Chinese (the first column is the field's name)" \
    bash -c "[ $rc = 0 ] && head -n1 '$T/out' | grep -q '^字段名  *类型  *标签  *别名  *私密  *自定义\$'"
check "zh_CN: fields' yes cells in Chinese (是)" \
    bash -c "grep -q '^id_number .*  是 *\$' '$T/out' && ! grep -qw yes '$T/out'"
run -d "$A" fields --csv
check "... --csv keeps yes" bash -c "[ $rc = 0 ] && grep -q '^id_number,.*,yes,' '$T/out'"

# ---- system error texts, peers' notes, every --help: Chinese too ------------------
same -d "$A" bundle export "$T/nodir/sub/x.bundle"
check "zh_CN: a system error inside the daemon's message in Chinese (bundle export to a missing directory, exit 1)" \
    bash -c "[ '$rcs' = '1 1' ] && grep -q '^unionctl: .*：没有那个文件或目录\$' '$T/err'"
check "... English unchanged" bash -c "grep -q '^unionctl: .*: No such file or directory\$' '$T/en.err'"
same -d "$A" import "$T/missing.csv"
check "zh_CN: unionctl's own system error in Chinese (import of a missing file, exit 1)" \
    bash -c "[ '$rcs' = '1 1' ] && grep -qF '：没有那个文件或目录；' '$T/err' && grep -qF ': No such file or directory;' '$T/en.err'"
fp=$(printf 'ab%.0s' $(seq 32))
ctl "$A" peer add nowhere 127.0.0.1:1 "$fp" >/dev/null 2>&1
zh -d "$A" sync
check "zh_CN: a peer that refuses: sync says why in Chinese (exit 1)" \
    bash -c "[ $rc = 1 ] && grep -qx 'nowhere：未同步：连接被拒绝' '$T/err'"
check "the peer's last error is recorded" \
    wait_until 10 bash -c "'$UNIONCTL' -d '$A' peers --json | grep -q '\"last_error\": \"connection refused\"'"
zh -d "$A" peers
check "zh_CN: the peers table's note (last error) in Chinese" \
    bash -c "[ $rc = 0 ] && grep -q '^nowhere .*  连接被拒绝\$' '$T/out'"
zh -d "$A" peers --csv
check "zh_CN: --csv too (for clerks' spreadsheets), titles and states canonical" \
    bash -c "[ $rc = 0 ] && grep -q '^nowhere,127.0.0.1:1,.*,连接被拒绝\$' '$T/out' && head -n1 '$T/out' | grep -q '^name,address,'"
zh -d "$A" peers --json
check "zh_CN: --json keeps the daemon's English" \
    bash -c "[ $rc = 0 ] && grep -q '\"last_error\": \"connection refused\"' '$T/out' && ! grep -q '连接' '$T/out'"
run -d "$A" peers
check "English: the note as the daemon wrote it" grep -q '^nowhere .*  connection refused$' "$T/out"
ctl "$A" peer remove nowhere >/dev/null 2>&1
zh -d "$A" benefit --help
check "zh_CN: benefit --help: each option in Chinese" \
    bash -c "[ $rc = 0 ] && grep -qx '  --date D          发放日期（YYYY-MM-DD）' '$T/out' && grep -qx '  --station S       服务站点（编号或名称）' '$T/out'"
zh -d "$A" report --help
check "zh_CN: report --help: each option in Chinese" \
    bash -c "[ $rc = 0 ] && grep -qx '  --from D          期间的第一天（YYYY-MM-DD）' '$T/out' && grep -qx '  --office O        只统计办事处 O 的记录' '$T/out'"
zh fields --help
check "zh_CN: fields --help (no DATA needed): usage and summary in Chinese" \
    bash -c "[ $rc = 0 ] && [ \"\$(head -n1 '$T/out')\" = '用法： unionctl [-d DATA] fields [--json|--csv]' ] && grep -qx '记录可有的字段，及其标签和别名' '$T/out'"
# A sample of what a clerk reads in zh_CN: every command's --help, the
# command list, and errors; none may hold a run of three English words
# (command lines quoted in them, option names and placeholders aside).
: >"$T/zh.sample"
for cmd in help add show edit list log revert import export benefit conflicts resolve bundle stats \
    report duplicates merge transfer peers peer sync id status backup fields field; do
    zh -d "$A" $cmd --help; [ $rc = 0 ] || echo "EXIT $rc: $cmd --help" >>"$T/zh.sample"
    cat "$T/out" "$T/err" >>"$T/zh.sample"
done
for line in "add name=某 gender=X" "add foo=bar name=x" "show nope1234" "list --where phone" \
    "list --limit x" "log --since 2026-13-01" "revert abcdef0" "export --kind nosuch" \
    "benefit give $id heat --amount 1" "bundle import $T/missing.bundle" "report" \
    "peer add bad 1.2.3.4 zz" "peer remove nosuch" "help nosuch" "field add Bad-Name" "lsit" \
    "add name=某 gender=F id_number=330203198503121238"; do
    zh -d "$A" $line; [ $rc != 0 ] || echo "EXIT 0: $line" >>"$T/zh.sample"
    cat "$T/out" "$T/err" >>"$T/zh.sample"
done
english_runs() { # english_runs FILE: lines with 3+ English words in a row
    python3 - "$1" <<'PY'
import re, sys
for line in open(sys.argv[1], encoding="utf-8"):
    s = line.rstrip("\n")
    if s.startswith(("用法", "EXIT")) or re.match(r"^\s+unionctl ", s):
        continue  # usage and example lines: commands as typed
    s = re.sub(r"\b(?:unionctl|uniond)(?: [\w./=:\[\]|-]+)*", " ", s)  # a command quoted
    s = re.sub(r"`[^`]*`", " ", s)
    for m in re.finditer(r"(?<![\w.-])[A-Za-z]{2,}(?: [A-Za-z]{2,}){2,}(?![\w-])", s):
        print(line.rstrip("\n"))
        break
PY
}
english_runs "$T/zh.sample" >"$T/english"
check "zh_CN: no English sentences in $(wc -l <"$T/zh.sample") lines of help and errors ($(head -c 300 "$T/english" | tr '\n' '|'))" \
    bash -c "[ -s '$T/zh.sample' ] && [ \$(wc -l <'$T/zh.sample') -gt 300 ] && ! grep -q '^EXIT' '$T/zh.sample' && [ ! -s '$T/english' ]"
UNIOND_LOCALEDIR=$T/nolocale zh -d "$A" show 0000000000
check "no catalogue: the daemon's words as they came" \
    bash -c "[ $rc = 1 ] && grep -qx 'unionctl: no record with id 0000000000 (nor with that id prefix, ID number or phone; unionctl list finds records)' '$T/err'"

# ---- the clerk's time zone --------------------------------------------------------
utc=$(ctl "$A" log "$id" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["time"])')
check "log --json: the time in UTC ($utc)" bash -c "[[ '$utc' =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z\$ ]]"
want=$(TZ=Asia/Shanghai date -d "$utc" '+%Y-%m-%d %H:%M:%S +0800')
utc_hour=$((10#${utc:11:2}))
TZ=Asia/Shanghai run -d "$A" log "$id"
check "TZ=Asia/Shanghai: log shows $want (UTC hour $utc_hour + 8)" \
    bash -c "[ $rc = 0 ] && [ \"\$(head -n1 '$T/out' | cut -c1-25)\" = '$want' ] && [ $((10#${want:11:2})) = $(((utc_hour + 8) % 24)) ]"
TZ=UTC run -d "$A" log "$id"
check "TZ=UTC: log shows the UTC time with +0000" \
    bash -c "[ \"\$(head -n1 '$T/out' | cut -c1-25)\" = '${utc:0:10} ${utc:11:8} +0000' ]"
TZ=Asia/Shanghai run -d "$A" log "$id" --json
check "TZ does not change --json" has "\"time\": \"$utc\"" "$T/out"

# a conflict (A and B edit the phone apart): times and resolve
ctl "$A" bundle export "$T/a1.bundle" && ctl "$B" bundle import "$T/a1.bundle" >/dev/null
ctl "$A" edit "$id" phone=13900000001
ctl "$B" edit "$id" phone=13700000002
ctl "$B" bundle export "$T/b1.bundle" && ctl "$A" bundle import "$T/b1.bundle" >/dev/null
ctime=$(ctl "$A" conflicts --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["values"][0]["time"])')
cwant=$(TZ=Asia/Shanghai date -d "$ctime" '+%Y-%m-%d %H:%M:%S +0800')
TZ=Asia/Shanghai run -d "$A" conflicts
check "TZ=Asia/Shanghai: conflicts shows the entry's time as $cwant" \
    bash -c "[ $rc = 0 ] && grep -q '^$id .*  $cwant\$' '$T/out'"
TZ=Asia/Shanghai run -d "$A" conflicts --csv
check "conflicts --csv keeps UTC" bash -c "grep -qF ',$ctime' '$T/out' && ! grep -q '+0800' '$T/out'"

# ---- confirmations: on a terminal only ----------------------------------------------
run -d "$A" edit "$id" notes=counter
check "edit piped: exit 0, prints nothing" bash -c "[ $rc = 0 ] && [ ! -s '$T/out' ] && [ ! -s '$T/err' ]"
check "... and the edit was made" bash -c "'$UNIONCTL' -d '$A' show '$id' --json | grep -q '\"notes\": \"counter\"'"
tty env -u LANGUAGE LANG=C "$UNIONCTL" -d "$A" edit "$id" notes=window category=外卖配送员
check "edit on a terminal: 'edited ID: notes, category'" \
    bash -c "[ $rc = 0 ] && [ \"\$(cat '$T/out')\" = 'edited $id: notes, category' ]"
tty env -u LC_ALL -u LC_MESSAGES LANGUAGE=zh_CN LANG=C.UTF-8 "$UNIONCTL" -d "$A" edit "$id" notes=desk
check "edit on a terminal in Chinese: '已修改 ID：备注'" \
    bash -c "[ $rc = 0 ] && [ \"\$(cat '$T/out')\" = '已修改 $id：备注' ]"
tty env -u LANGUAGE LANG=C "$UNIONCTL" -d "$A" resolve "$id" phone 13900000001
check "resolve on a terminal: 'resolved ID: phone'" \
    bash -c "[ $rc = 0 ] && [ \"\$(cat '$T/out')\" = 'resolved $id: phone' ]"
run -d "$A" conflicts
check "... and the conflict is settled" bash -c "[ $rc = 0 ] && grep -qx 'no conflicts' '$T/out'"
ctl "$B" edit "$id" phone=13700000003
ctl "$A" edit "$id" phone=13900000004
ctl "$B" bundle export "$T/b2.bundle" && ctl "$A" bundle import "$T/b2.bundle" >/dev/null
run -d "$A" resolve "$id" phone
check "resolve piped: exit 0, prints nothing" bash -c "[ $rc = 0 ] && [ ! -s '$T/out' ] && [ ! -s '$T/err' ]"
check "... and the conflict was settled" bash -c "'$UNIONCTL' -d '$A' conflicts | grep -qx 'no conflicts'"

# ---- the pager: on a terminal only ---------------------------------------------------
export PAGER="sed s/^/PAGED:/"
tty env -u LANGUAGE LANG=C "$UNIONCTL" -d "$A" list
check "list on a terminal goes through \$PAGER" \
    bash -c "[ $rc = 0 ] && grep -q '^PAGED:id  ' '$T/out' && grep -q '^PAGED:$id ' '$T/out'"
tty env -u LANGUAGE LANG=C "$UNIONCTL" -d "$A" list --no-pager
check "--no-pager: the table straight to the terminal" \
    bash -c "[ $rc = 0 ] && grep -q '^$id ' '$T/out' && ! grep -q PAGED '$T/out'"
tty env -u LANGUAGE LANG=C "$UNIONCTL" -d "$A" list --json
check "--json on a terminal: no pager" bash -c "[ $rc = 0 ] && grep -q '\"id\": \"$id\"' '$T/out' && ! grep -q PAGED '$T/out'"
tty env -u LANGUAGE LANG=C "$UNIONCTL" -d "$A" list --csv
check "--csv on a terminal: no pager" bash -c "[ $rc = 0 ] && grep -q '^$id,' '$T/out' && ! grep -q PAGED '$T/out'"
run -d "$A" list
check "list piped: no pager" bash -c "[ $rc = 0 ] && grep -q '^$id ' '$T/out' && ! grep -q PAGED '$T/out'"
tty env -u LANGUAGE LANG=C "$UNIONCTL" -d "$A" lsit
check "an error on a terminal is not paged" \
    bash -c "[ $rc = 2 ] && grep -q \"^unionctl: unknown command 'lsit'\" '$T/out' && ! grep -q PAGED '$T/out'"
unset PAGER

# ---- bundle export: no silent overwrite; a directory gets NODE-YYYYMMDD.bundle -------
F=$T/usb.bundle
run -d "$A" bundle export "$F"
check "bundle export piped: exit 0, prints nothing, the file is there" \
    bash -c "[ $rc = 0 ] && [ ! -s '$T/out' ] && [ ! -s '$T/err' ] && [ -s '$F' ]"
cp "$F" "$T/usb.before"
ctl "$A" edit "$id" notes=after-the-first-export
run -d "$A" bundle export "$F"
check "export onto an existing file: exit 1, says to use --force, file untouched" \
    bash -c "[ $rc = 1 ] && [ \"\$(cat '$T/err')\" = 'unionctl: $F exists; use --force to overwrite it' ] && [ ! -s '$T/out' ] && cmp -s '$F' '$T/usb.before'"
zh -d "$A" bundle export "$F"
check "... the same refusal in Chinese" \
    bash -c "[ $rc = 1 ] && [ \"\$(cat '$T/err')\" = 'unionctl：$F 已存在；如要覆盖，请加 --force' ]"
run -d "$A" bundle export "$F" --force
check "--force overwrites it (exit 0, a newer bundle)" \
    bash -c "[ $rc = 0 ] && ! cmp -s '$F' '$T/usb.before' && git --git-dir='$A/store.git' bundle verify '$F' >/dev/null 2>&1"
run -d "$A" bundle import "$F" --force
check "--force is for bundle export only (exit 2)" \
    bash -c "[ $rc = 2 ] && grep -qx 'unionctl: --force is for bundle export' '$T/err'"
mkdir -p "$T/stick"
day1=$(date +%Y%m%d)
run -d "$A" bundle export "$T/stick"
day2=$(date +%Y%m%d)
made=$(ls "$T/stick")
check "export into a directory writes NODE-YYYYMMDD.bundle ($made)" \
    bash -c "[ $rc = 0 ] && { [ '$made' = 'yinzhou-01-$day1.bundle' ] || [ '$made' = 'yinzhou-01-$day2.bundle' ]; }"
check "... a bundle B can take in" \
    bash -c "'$UNIONCTL' -d '$B' bundle import '$T/stick/$made' >/dev/null"
run -d "$A" bundle export "$T/stick/"
check "the same directory again: exit 1, names the file, says --force" \
    bash -c "[ $rc = 1 ] && [ \"\$(cat '$T/err')\" = 'unionctl: $T/stick/$made exists; use --force to overwrite it' ]"
tty env -u LANGUAGE LANG=C "$UNIONCTL" -d "$A" bundle export "$T/stick" --force
check "bundle export on a terminal: 'wrote FILE'" \
    bash -c "[ $rc = 0 ] && [ \"\$(cat '$T/out')\" = 'wrote $T/stick/$made' ]"

# ---- the office's Chinese display name (uniond init --office-name) --------------------
N=$T/named
"$UNIOND" init -d "$N" --node yinzhou-02 --office yinzhou --office-name 鄞州区 --listen 127.0.0.1:0 >"$N.init" 2>&1
check "init --office-name writes [node] office_name" grep -qx 'office_name = 鄞州区' "$N/uniond.conf"
node_start "$N" || exit 1
run -d "$N" id
check "id shows the name beside the code" grep -qx 'office  *yinzhou (鄞州区)' "$T/out"
check "... and no separate office_name line" bash -c "[ $rc = 0 ] && ! grep -q office_name '$T/out'"
run -d "$N" status
check "status (table) shows the name beside the code" bash -c "[ $rc = 0 ] && grep -q '^office.*yinzhou (鄞州区)' '$T/out'"
check "status --json has office_name" \
    bash -c "'$UNIONCTL' -d '$N' status --json | python3 -c \"import json,sys; j=json.load(sys.stdin); assert (j['office'], j['office_name']) == ('yinzhou', '鄞州区'), j\""
check "id --json has office_name" \
    bash -c "'$UNIONCTL' -d '$N' id --json | python3 -c \"import json,sys; j=json.load(sys.stdin); assert j['office_name'] == '鄞州区', j\""
run -d "$A" id
check "a node without a display name: office alone, office_name empty in --json" \
    bash -c "grep -qx 'office  *yinzhou' '$T/out' && '$UNIONCTL' -d '$A' id --json | grep -q '\"office_name\": \"\"'"
"$UNIOND" init -d "$T/badname" --node x-02 --office yinzhou --office-name '鄞州;区' >"$T/out" 2>&1; rc=$?
check "an office name with ';' is refused (exit 2), nothing created" \
    bash -c "[ $rc = 2 ] && grep -q 'office name' '$T/out' && [ ! -e '$T/badname/uniond.conf' ]"
check "SIGTERM the named node" node_stop "$N"

check "no sanitizer report in the daemons' logs" bash -c "$(declare -f log_clean); log_clean '$A' && log_clean '$B' && log_clean '$N'"
done_testing
