#!/usr/bin/env bash
# Real member data in (issue 9): a GBK office list with Chinese headers,
# CRLF, mixed date styles, full-width digits and 15-digit ID numbers goes in
# with every value right; the same list again changes nothing; every silent
# case of old is an error with the nearest name, exit 1 and nothing written;
# one person one record; declared fields, also on another node after sync;
# --dry-run writes nothing. Checked with plain git (commit counts).
. "$(dirname "$0")/lib.sh"

A=$T/a B=$T/b
node_init "$A" yinzhou-01 yinzhou
node_init "$B" haishu-01 haishu
node_start "$A" || exit 1
node_start "$B" || exit 1
commits() { git_store "$1" rev-list --count HEAD 2>/dev/null || echo 0; }
id_of() { ctl "$1" list --where "name=$2" --json | sed -n 's/.*"id": "\([0-9a-z]*\)".*/\1/p'; }
# has DATA ID FIELD VALUE: show --json --reveal holds "FIELD": "VALUE"
has() { ctl "$1" show "$2" --json --reveal | grep -qF "\"$3\": \"$4\""; }

# ---- an office list as Chinese Excel saves it ----------------------------------
printf '%s\r\n' '姓名,性别,身份证号码,手机号码,职业,入会日期,状态' \
    '陈一,,110101800101231,１３８００１３８０００,快递小哥,2021/8/1,在会' \
    '王二,女,330203199003074521,13900139001,外卖骑手,2021年8月1日,有效' \
    '张三,男,330203198511110010,13700137002,网约车司机,20200105,申请中' \
    '李四,女,330203199202290024,13600136003,护工,2019.12.3,在会' \
    '赵五,男,330203199506150039,13500135004,其他,2022-3-9,在会' >"$T/office.utf8.csv"
iconv -f UTF-8 -t GBK "$T/office.utf8.csv" >"$T/office.csv"
check "the test file really is GBK (not valid UTF-8)" bash -c "! iconv -f UTF-8 -t UTF-8 '$T/office.csv' >/dev/null 2>&1"
out=$(ctl "$A" import "$T/office.csv"); rc=$?
check "GBK list imports (exit 0)" test "$rc" = 0
check "summary: 5 new" bash -c "grep -q 'imported 5 new, 0 updated, 0 unchanged' <<<'$out'"
check "summary says the encoding read" bash -c "grep -q 'GB18030' <<<'$out'"
check "summary counts the 15-digit ID converted" bash -c "grep -q 'converted 1 15-digit' <<<'$out'"
check "one commit" test "$(commits "$A")" = 1
c1=$(id_of "$A" 陈一) w2=$(id_of "$A" 王二) z3=$(id_of "$A" 张三) l4=$(id_of "$A" 李四) z5=$(id_of "$A" 赵五)
check "15-digit ID made 18 digits" has "$A" "$c1" id_number 110101198001012315
check "gender filled from the ID number" has "$A" "$c1" gender 男
check "full-width phone made ASCII" has "$A" "$c1" phone 13800138000
check "alias 快递小哥 stored as 快递员" has "$A" "$c1" category 快递员
check "date 2021/8/1" has "$A" "$c1" joined 2021-08-01
check "status 在会 = active" has "$A" "$c1" status active
check "date 2021年8月1日" has "$A" "$w2" joined 2021-08-01
check "外卖骑手 = 外卖配送员" has "$A" "$w2" category 外卖配送员
check "status 有效 = active" has "$A" "$w2" status active
check "王二's ID number" has "$A" "$w2" id_number 330203199003074521
check "date 20200105" has "$A" "$z3" joined 2020-01-05
check "status 申请中 = applicant" has "$A" "$z3" status applicant
check "网约车司机" has "$A" "$z3" category 网约车司机
check "date 2019.12.3" has "$A" "$l4" joined 2019-12-03
check "护工 = 护工护理员" has "$A" "$l4" category 护工护理员
check "leap-day birth date ID kept" has "$A" "$l4" id_number 330203199202290024
check "date 2022-3-9" has "$A" "$z5" joined 2022-03-09
check "phone of 赵五" has "$A" "$z5" phone 13500135004
check "the office is set" has "$A" "$z5" office yinzhou

out=$(ctl "$A" import "$T/office.csv"); rc=$?
check "the same list again: 0 new 0 updated" bash -c "[ $rc = 0 ] && grep -q 'imported 0 new, 0 updated, 5 unchanged' <<<'$out'"
check "and no commit" test "$(commits "$A")" = 1
check "still 5 members" test "$(ctl "$A" list --count)" = 5

# the same people in another list, one phone changed: matched, updated
printf 'name,id_number,phone\n陈一,110101198001012315,13800138999\n赵五,330203199506150039,13500135004\n' >"$T/upd.csv"
out=$(ctl "$A" import "$T/upd.csv")
check "a list matched by ID number updates: 0 new, 1 updated, 1 unchanged" \
    bash -c "grep -q 'imported 0 new, 1 updated, 1 unchanged' <<<'$out'"
check "the phone changed on the same record" has "$A" "$c1" phone 13800138999
printf 'name,phone,notes\n王二,13900139001,夜班\n' >"$T/np.csv"
out=$(ctl "$A" import "$T/np.csv")
check "a row without ID number matches by name + phone" \
    bash -c "grep -q 'imported 0 new, 1 updated' <<<'$out'"
check "and updates that record" has "$A" "$w2" notes 夜班
check "still 5 members after the updates" test "$(ctl "$A" list --count)" = 5

# ---- every silent case of old: exit 1, the nearest name, nothing written ----------
n=$(commits "$A")
printf 'name,join_date,id_no\n孙六,2021-01-01,330203199506150039\n' >"$T/guess.csv"
ctl "$A" import "$T/guess.csv" 2>"$T/err"; rc=$?
check "header join_date,id_no: exit 1" test "$rc" = 1
check "suggests joined" grep -q "did you mean 'joined'" "$T/err"
check "suggests id_number" grep -q "did you mean 'id_number'" "$T/err"
ctl "$A" edit "$c1" phnoe=13900000000 2>"$T/err"; rc=$?
check "edit phnoe=: exit 1, did you mean phone" bash -c "[ $rc = 1 ] && grep -q \"did you mean 'phone'\" '$T/err'"
ctl "$A" list --where catgory=快递员 2>"$T/err"; rc=$?
check "--where catgory=: exit 1, did you mean category" bash -c "[ $rc = 1 ] && grep -q \"did you mean 'category'\" '$T/err'"
ctl "$A" stats --by catgory 2>"$T/err"; rc=$?
check "stats --by catgory: exit 1, did you mean category" bash -c "[ $rc = 1 ] && grep -q \"did you mean 'category'\" '$T/err'"
ctl "$A" list --sort nmae 2>"$T/err"; rc=$?
check "--sort nmae: exit 1, did you mean name" bash -c "[ $rc = 1 ] && grep -q \"did you mean 'name'\" '$T/err'"
ctl "$A" add name=孙六 性别=女 id_number=330203198511110010x 2>/dev/null; rc=$?
check "a bad ID number on add: exit 1" test "$rc" = 1
ctl "$A" add name=孙六 gender=女 id_number=330203198511110010 2>"$T/err"; rc=$?
check "add of a registered ID number is refused, naming the record" \
    bash -c "[ $rc = 1 ] && grep -q '$z3' '$T/err'"
ctl "$A" add name=孙六 gender=女 id_number=330203199506150039 2>"$T/err"; rc=$?
check "a registered ID is refused before gender vs ID (exit 1, says why)" bash -c "[ $rc = 1 ] && grep -q 'id_number' '$T/err'"
ctl "$A" add name=孙六 gender=男 id_number=330203200001010028 2>"$T/err"; rc=$?
check "gender that disagrees with the ID number is refused" bash -c "[ $rc = 1 ] && grep -q 'gender' '$T/err'"
printf 'name,id_number,phone\n周七,330203199801010012,13000130001\n吴八,330203199801020018,13000130002\n周七,330203199801010012,13000130003\n' >"$T/dup.csv"
ctl "$A" import "$T/dup.csv" 2>"$T/err"; rc=$?
check "the same person twice in one file: exit 1" test "$rc" = 1
check "naming both lines" bash -c "grep -q 'line 4' '$T/err' && grep -q 'line 2' '$T/err'"
check "nothing written by any refusal" test "$(commits "$A")" = "$n"
check "refusals added no member" test "$(ctl "$A" list --count)" = 5

# ---- the same rules in queries -----------------------------------------------------
a=$(ctl "$A" list --where 'joined>=2021/1/1' --count)
b=$(ctl "$A" list --where 'joined>=2021-01-01' --count)
check "joined>=2021/1/1 counts as joined>=2021-01-01 ($b)" bash -c "[ '$a' = '$b' ] && [ '$b' = 3 ]"
check "--where category=快递小哥 finds 快递员" test "$(ctl "$A" list --where category=快递小哥 --count)" = 1
check "--where 入会日期<2020/1/1 (Chinese field name)" test "$(ctl "$A" list --where '入会日期<2020/1/1' --count)" = 1
check "--where phone= with full-width digits" test "$(ctl "$A" list --where 'phone=１３５００１３５００４' --count)" = 1

# ---- --dry-run ------------------------------------------------------------------------
printf 'name,id_number\n郑九,330203199801030013\n陈一,110101198001012315\n' >"$T/dry.csv"
n=$(commits "$A")
out=$(ctl "$A" import --dry-run "$T/dry.csv"); rc=$?
check "--dry-run prints what would happen" \
    bash -c "[ $rc = 0 ] && grep -q 'would import 1 new, 0 updated, 1 unchanged' <<<'$out' && grep -q 'nothing was written' <<<'$out'"
check "--dry-run writes nothing" bash -c "[ $(commits "$A") = $n ] && [ \$('$UNIONCTL' -d '$A' list --count) = 5 ]"
ctl "$A" import --dry-run "$T/guess.csv" 2>/dev/null; rc=$?
check "--dry-run of a bad file: exit 1" test "$rc" = 1

# ---- declared fields ------------------------------------------------------------------
ctl "$A" field add hukou --type text --label 户籍 >/dev/null; rc=$?
check "field add hukou --label 户籍" test "$rc" = 0
check "field add makes one commit" test "$(commits "$A")" = $((n + 1))
check "it lives at schema/ in the tree" bash -c "git --git-dir='$A/store.git' ls-tree -r --name-only HEAD | grep -qx 'schema/schemafields'"
check "fields lists it with its label" bash -c "'$UNIONCTL' -d '$A' fields | grep hukou | grep -q 户籍"
check "fields --json has every built-in field with aliases" \
    bash -c "'$UNIONCTL' -d '$A' fields --json | grep -q '身份证号码'"
ctl "$A" field add phone --type text 2>/dev/null; rc=$?
check "declaring a built-in name is refused" test "$rc" = 1
ctl "$A" field add cardno --type id_number --private >/dev/null
printf '姓名,户籍,身份证号码\n钱十,宁波,330203199801040019\n' | iconv -f UTF-8 -t GBK >"$T/decl.csv"
out=$(ctl "$A" import "$T/decl.csv"); rc=$?
check "a declared column imported by its Chinese label" bash -c "[ $rc = 0 ] && grep -q 'imported 1 new' <<<'$out'"
check "its value is stored under the field name" has "$A" "$(id_of "$A" 钱十)" hukou 宁波
ctl "$A" field value add category 跑腿员 --alias 跑腿 --new-form >/dev/null; rc=$?
check "field value add category" test "$rc" = 0
id=$(ctl "$A" add name=冯十一 category=跑腿 户籍=奉化)
check "an added category alias works on add" has "$A" "$id" category 跑腿员
ctl "$A" add name=冯十二 category=跑腿小哥x 2>"$T/err"; rc=$?
check "an unknown category is refused with the nearest" bash -c "[ $rc = 1 ] && grep -q 'did you mean' '$T/err'"

# ---- declarations replicate -------------------------------------------------------------
fpr() { ctl "$1" id --json | sed -n 's/.*"fingerprint": "\(.*\)".*/\1/p'; }
addr() { ctl "$1" id --json | sed -n 's/.*"listen": "\(.*\)".*/\1/p'; }
ctl "$B" add name=郭十三 户籍=海曙 2>/dev/null; rc=$?
check "before sync, B does not know 户籍" test "$rc" = 1
ctl "$A" peer add haishu-01 "$(addr "$B")" "$(fpr "$B")"
ctl "$B" peer add yinzhou-01 "$(addr "$A")" "$(fpr "$A")"
wait_until 30 bash -c "'$UNIONCTL' -d '$B' sync >/dev/null 2>&1"
check "after sync B has the records" wait_until 30 bash -c "[ \$('$UNIONCTL' -d '$B' list --count) = 7 ]"
check "B lists the declared field" wait_until 20 bash -c "'$UNIONCTL' -d '$B' fields | grep -q hukou"
id=$(ctl "$B" add name=郭十三 户籍=海曙 category=跑腿)
check "the field declared on A works on B" has "$B" "$id" hukou 海曙
check "and the category added on A" has "$B" "$id" category 跑腿员
ctl "$B" field add shift --type text --label 班次 >/dev/null
check "a field declared on B reaches A" wait_until 30 bash -c "'$UNIONCTL' -d '$A' fields | grep -q 班次"
check "trees converge" wait_until 30 bash -c "[ \$(git --git-dir='$A/store.git' rev-parse 'HEAD^{tree}') = \$(git --git-dir='$B/store.git' rev-parse 'HEAD^{tree}') ]"

# ---- a progress line on a terminal, nothing extra when piped ---------------------------
# script(1) gives unionctl a terminal; UNIONCTL_PROGRESS_DELAY_MS=0 shows
# the line at once (a second is the threshold otherwise), so the check does
# not hang on the machine's speed. A dry run does all the work, writes nothing.
"$GENMEMBERS" 20000 7 >"$T/big.csv"
n=$(commits "$A")
UNIONCTL_PROGRESS_DELAY_MS=0 script -qec "'$UNIONCTL' -d '$A' import --dry-run --skip-invalid '$T/big.csv'" /dev/null >"$T/tty.out" 2>&1; rc=$?
check "on a terminal: the import ran (exit 0, would import the rows)" \
    bash -c "[ $rc = 0 ] && grep -q 'would import 20000 new' '$T/tty.out'"
check "on a terminal: a progress line was drawn (rows, elapsed)" \
    bash -c "grep -q \$'\\e\\[K' '$T/tty.out' && grep -qE 'rows|[0-9]:[0-9][0-9]' '$T/tty.out'"
check "and cleared right before the summary" bash -c "grep -q \$'\\e\\[Kwould import' '$T/tty.out'"
UNIONCTL_PROGRESS_DELAY_MS=0 "$UNIONCTL" -d "$A" import --dry-run --skip-invalid "$T/big.csv" >"$T/pipe.out" 2>"$T/pipe.err"; rc=$?
check "piped: the import ran" bash -c "[ $rc = 0 ] && grep -q 'would import 20000 new' '$T/pipe.out'"
check "piped: nothing on stderr, no escape in stdout" \
    bash -c "[ ! -s '$T/pipe.err' ] && ! grep -q \$'\\e' '$T/pipe.out'"
script -qec "'$UNIONCTL' -d '$A' import --dry-run '$T/dry.csv'" /dev/null >"$T/tty2.out" 2>&1
check "a short import on a terminal shows no progress line" \
    bash -c "grep -q 'would import' '$T/tty2.out' && ! grep -q \$'\\e\\[K' '$T/tty2.out'"
check "the dry runs wrote nothing" test "$(commits "$A")" = "$n"

check "fsck clean (A)" fsck_clean "$A"
check "fsck clean (B)" fsck_clean "$B"
check "SIGTERM A" node_stop "$A"
check "SIGTERM B" node_stop "$B"
check "no sanitizer reports (A)" log_clean "$A"
check "no sanitizer reports (B)" log_clean "$B"
done_testing
