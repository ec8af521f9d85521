#!/usr/bin/env bash
# Membership work: stats on 3,000 generated members checked against counts
# made independently with awk from the CSV; duplicates with planted pairs
# (and a planted non-pair); merge (KEEP's values kept, empty fields taken, no
# conflicts, benefits united,
# DUP marked, one commit); transfer (logged, unknown office refused); and
# two nodes doing the same merge offline converging to equal trees.
. "$(dirname "$0")/lib.sh"

A=$T/a C=$T/c D=$T/d
node_init "$A" yinzhou-01 yinzhou
node_init "$C" yinzhou-02 yinzhou
node_init "$D" haishu-01 haishu
node_start "$A" || exit 1
node_start "$C" || exit 1
node_start "$D" || exit 1
head_of() { git_store "$1" rev-parse HEAD; }
tree() { git_store "$1" rev-parse "HEAD^{tree}"; }
# json_get DATA ID EXPR : evaluate a python expression on `show ID --json` (as r)
json_get() {
    ctl "$1" show "$2" --json --reveal |
        python3 -c "import json,sys; r=json.load(sys.stdin); print($3)"
}

# ---- stats against an independent count --------------------------------------
"$GENMEMBERS" 3000 11 >"$T/m.csv"
ctl "$A" import "$T/m.csv" >/dev/null
# columns: 1 name 2 gender 3 id_number 4 phone 5 category 6 employer 7 union
#          8 office 9 joined 10 status 11 benefits
# awk_groups FILTER KEYEXPR HEADER : the CSV stats --csv must print
awk_groups() {
    echo "$3"
    awk -F, "NR>1 && ($1) { c[$2]++ } END { for (k in c) print k \",\" c[k] }" "$T/m.csv" |
        LC_ALL=C sort
}
want=$(awk -F, 'NR>1 && $10=="active"' "$T/m.csv" | wc -l)
check "stats without --by counts active members ($want)" test "$(ctl "$A" stats)" = "$want"
check "stats equals list --count with status=active" \
    test "$(ctl "$A" stats)" = "$(ctl "$A" list --where status=active --count)"

awk_groups '$10=="active"' '$8' 'office,count' >"$T/want"
ctl "$A" stats --by office --csv >"$T/got"
check "stats --by office --csv equals the awk count, exact format" cmp -s "$T/want" "$T/got"
check "several offices in the data" test "$(wc -l <"$T/got")" -ge 6
check "stats --csv has no total row" bash -c "grep -q '^office,count$' '$T/got' && ! grep -qi total '$T/got'"

awk_groups '$10=="active"' '$8 "," $5' 'office,category,count' >"$T/want"
ctl "$A" stats --by office,category --csv >"$T/got"
check "stats --by office,category --csv equals the awk count" cmp -s "$T/want" "$T/got"
check "office,category has many groups" test "$(wc -l <"$T/got")" -gt 30

awk_groups '$10=="active" && $9>="2023-03-01" && $9<="2024-06-30"' '$8' 'office,count' >"$T/want"
ctl "$A" stats --by office --since 2023-03-01 --until 2024-06-30 --csv >"$T/got"
check "stats --since --until (inclusive) equals the awk count" cmp -s "$T/want" "$T/got"
edge=$(awk -F, 'NR>1 && $10=="active" {print $9; exit}' "$T/m.csv")
want=$(awk -F, -v d="$edge" 'NR>1 && $10=="active" && $9==d' "$T/m.csv" | wc -l)
got=$(ctl "$A" stats --since "$edge" --until "$edge")
check "--since D --until D counts the members joined on D ($want)" \
    bash -c "[ $want -gt 0 ] && [ '$got' = $want ]"

awk_groups '$10=="lapsed"' '$8' 'office,count' >"$T/want"
ctl "$A" stats --by office --where status=lapsed --csv >"$T/got"
check "stats --where status=lapsed counts lapsed instead of active" cmp -s "$T/want" "$T/got"
want=$(awk -F, 'NR>1' "$T/m.csv" | wc -l)
check "stats --where 'status!=merged' counts every status" \
    test "$(ctl "$A" stats --where 'status!=merged')" = "$want"

# benefits: a member counts once per element, none groups as empty
{
    echo "benefits,count"
    awk -F, 'NR>1 && $10=="active" { n = split($11, e, ";"); if (n == 0) c[""]++;
             for (i = 1; i <= n; i++) c[e[i]]++ } END { for (k in c) print k "," c[k] }' \
        "$T/m.csv" | LC_ALL=C sort
} >"$T/want"
ctl "$A" stats --by benefits --csv >"$T/got"
check "stats --by benefits counts each element, none as empty" cmp -s "$T/want" "$T/got"

for f in "category=快递员" "union=外卖骑手工会" "benefits~welfare" "joined>=2025-01-01"; do
    check "stats --where $f equals list --count with status=active" \
        test "$(ctl "$A" stats --where "$f")" = "$(ctl "$A" list --where "$f" --where status=active --count)"
done
check "stats --since/--until equals list --count with joined>=/<=" \
    test "$(ctl "$A" stats --since 2022-01-01 --until 2022-12-31)" = \
    "$(ctl "$A" list --where 'joined>=2022-01-01' --where 'joined<=2022-12-31' --where status=active --count)"

ctl "$A" stats --by office,category >"$T/table"
total=$(ctl "$A" stats)
check "the table ends with a total row" bash -c "tail -1 '$T/table' | grep -qE '^total +$total\$'"
check "the table has a header and a rule" bash -c "head -1 '$T/table' | grep -qE '^office +category +count\$' && sed -n 2p '$T/table' | grep -qE '^-+ +-+ +-+\$'"
ctl "$A" stats --by office --json >"$T/json"
check "stats --json has by, groups and total" python3 -c "
import json; j = json.load(open('$T/json'))
assert j['by'] == ['office'] and j['total'] == $total
assert sum(g['count'] for g in j['groups']) == $total
assert all(set(g) == {'office', 'count'} for g in j['groups'])"
ctl "$A" stats --since 2024-02-30 2>/dev/null; rc=$?
check "a bad --since date is a usage error (exit 2)" test "$rc" = 2
ctl "$A" stats --until yesterday 2>/dev/null; rc=$?
check "a bad --until date is a usage error (exit 2)" test "$rc" = 2
ctl "$A" stats --by 'Office' 2>/dev/null; rc=$?
check "a bad --by field name is a usage error (exit 2)" test "$rc" = 2
ctl "$A" stats --by id_number 2>"$T/err"; rc=$?
check "grouping by a personal field is refused (exit 1)" bash -c "[ $rc = 1 ] && grep -q id_number '$T/err'"

# ---- duplicates ------------------------------------------------------------------
out=$(ctl "$A" duplicates)
check "no duplicates among the generated members (awk agrees)" \
    bash -c "grep -q 'no likely duplicates' <<<'$out' && [ \$(awk -F, 'NR>1{print \$3}' '$T/m.csv' | sort | uniq -d | wc -l) = 0 ]"
IDN=330203199001011236
P1=$(ctl "$A" add name=陈诚 id_number=$IDN phone=13811110001 category=快递员 employer=顺丰速运 \
    office=yinzhou joined=2023-05-01 benefits=welfare-2021)
# one person, one record: a node refuses a second record with the same ID
# number, so the duplicate is registered at another node and comes in
P2=$(ctl "$C" add name=陈成 id_number=$IDN phone=13922220002 category=外卖配送员 \
    union=外卖骑手工会 notes=registered-twice office=haishu joined=2024-02-01 \
    'benefits=heat-relief-2021;welfare-2021')
ctl "$C" bundle export "$T/p2.bundle" && ctl "$A" bundle import "$T/p2.bundle" >/dev/null
ctl "$A" add name=陈成 id_number=$IDN 2>/dev/null; rc=$?
check "a third record with that ID number is refused" test "$rc" = 1
Q1=$(ctl "$A" add name=赵敏 phone=13633330003)
Q2=$(ctl "$A" add name=赵敏敏 phone=13633330003)
R1=$(ctl "$A" add name=孙丽 phone=13544440004)
R2=$(ctl "$A" add name=孙莉 phone=13544440004)
N1=$(ctl "$A" add name=周杰 phone=13355550005)
N2=$(ctl "$A" add name=吴芳 phone=13355550005)
ctl "$A" duplicates >"$T/dups"
check "same id_number, different name: listed as certain, older first" \
    grep -qE "^$P1 +陈诚 +yinzhou +$P2 +陈成 +haishu +same id_number" "$T/dups"
check "same phone, name contained in the other: listed" \
    grep -qE "^$Q1 +赵敏 .* $Q2 +赵敏敏 .*same phone, similar name" "$T/dups"
check "same phone, names one character apart: listed" \
    grep -qE "^$R1 +孙丽 .* $R2 +孙莉 .*same phone, similar name" "$T/dups"
check "same phone, different name: not listed" bash -c "grep -q '^3 pairs' '$T/dups' && ! grep -qE '$N1|$N2' '$T/dups'"
check "exactly the three planted pairs" grep -q '^3 pairs' "$T/dups"
check "id numbers are masked by default" bash -c "! grep -q $IDN '$T/dups' && grep -q '330203\*\*\*\*\*\*\*\*1236' '$T/dups'"
check "duplicates --reveal shows them" bash -c "'$UNIONCTL' -d '$A' duplicates --reveal | grep -q $IDN"
check "the reveal is logged without the values" bash -c "grep -q 'reveal:.*duplicates' '$A.log' && ! grep -q $IDN '$A.log'"
check "duplicates --json lists the pairs with reasons" \
    bash -c "'$UNIONCTL' -d '$A' duplicates --json | python3 -c \"
import json, sys; p = json.load(sys.stdin)['pairs']
assert [(x['keep']['id'], x['dup']['id'], x['certain']) for x in p][0] == ('$P1', '$P2', True)
assert len(p) == 3 and all(x['keep']['id'] < x['dup']['id'] for x in p)\""

# ---- merge -------------------------------------------------------------------------
active_before=$(ctl "$A" stats)
commits=$(git_store "$A" rev-list --count HEAD)
out=$(ctl "$A" merge "$P1" "$P2"); rc=$?
check "merge succeeds" test "$rc" = 0
check "merge is one commit" test "$(git_store "$A" rev-list --count HEAD)" = $((commits + 1))
check "the commit writes exactly KEEP and DUP" \
    test "$(git_store "$A" diff-tree --no-commit-id --name-only -r HEAD | sort | tr '\n' ' ')" = \
    "$(git_store "$A" ls-tree -r --name-only HEAD | grep -E "/($P1|$P2)\$" | sort | tr '\n' ' ')"
check "the commit message names the merge" \
    bash -c "git --git-dir='$A/store.git' log -1 --format=%s | grep -qx 'merge $P2 into $P1'"
check "the commit message has field names, never values" \
    bash -c "! git --git-dir='$A/store.git' log -1 --format=%B | grep -qE '$IDN|13922220002|外卖'"
check "fields KEEP lacked are taken (union)" test "$(json_get "$A" "$P1" "r['fields']['union']")" = 外卖骑手工会
check "fields KEEP lacked are taken (notes)" test "$(json_get "$A" "$P1" "r['fields']['notes']")" = registered-twice
check "a merge creates no conflicts" test "$(json_get "$A" "$P1" "len(r['conflicts'])")" = 0
check "KEEP's category stays" test "$(json_get "$A" "$P1" "r['fields']['category']")" = 快递员
check "KEEP's name stays" test "$(json_get "$A" "$P1" "r['fields']['name']")" = 陈诚
check "KEEP's office, joined and phone stay" \
    test "$(json_get "$A" "$P1" "r['fields']['phone'][:3]")" = 138
check "equal id_number is not a conflict" \
    test "$(json_get "$A" "$P1" "'id_number' in r['conflicts'] or r['fields']['id_number']")" = $IDN
check "employer KEEP had is kept, not in conflict" \
    test "$(json_get "$A" "$P1" "'employer' in r['conflicts'] or r['fields']['employer']")" = 顺丰速运
check "benefits are united" \
    test "$(json_get "$A" "$P1" "r['fields']['benefits']")" = "['heat-relief-2021', 'welfare-2021']"
check "DUP has status=merged" test "$(json_get "$A" "$P2" "r['fields']['status']")" = merged
check "DUP has merged_into=KEEP" test "$(json_get "$A" "$P2" "r['fields']['merged_into']")" = "$P1"
check "DUP keeps its own values" test "$(json_get "$A" "$P2" "r['fields']['category']")" = 外卖配送员
check "merge lists where the two differed, with both values" \
    bash -c "grep -q '快递员 (DUP had 外卖配送员)' <<<'$out' && grep -q '138\*\*\*\*0001 (DUP had 139\*\*\*\*0002)' <<<'$out'"
check "conflicts does not list KEEP" bash -c "! '$UNIONCTL' -d '$A' conflicts | grep -q '^$P1 '"
check "the merged DUP no longer counts as an active member" test "$(ctl "$A" stats)" = $((active_before - 1))
check "stats still equals list --count after the merge" \
    test "$(ctl "$A" stats)" = "$(ctl "$A" list --where status=active --count)"
ctl "$A" duplicates >"$T/dups2"; rc=$?
check "duplicates no longer lists the merged pair" \
    bash -c "[ $rc = 0 ] && grep -qE '^2 pairs' '$T/dups2' && ! grep -q '$P2' '$T/dups2'"
check "the log of KEEP shows the merge" bash -c "'$UNIONCTL' -d '$A' log '$P1' | grep -q 'merge $P2 into $P1'"
check "fsck clean after the merge" fsck_clean "$A"
ctl "$A" edit "$P1" category=外卖配送员 >/dev/null
check "DUP's value, if right, is one edit away" \
    test "$(json_get "$A" "$P1" "r['fields']['category']")" = 外卖配送员

h=$(head_of "$A")
ctl "$A" merge "$P1" "$P2" 2>"$T/err"; rc=$?
check "merging an already merged DUP is refused" bash -c "[ $rc = 1 ] && grep -q 'already merged into $P1' '$T/err'"
ctl "$A" merge "$Q1" "$Q1" 2>"$T/err"; rc=$?
check "merging a record into itself is refused" bash -c "[ $rc = 1 ] && grep -q 'same record' '$T/err'"
ctl "$A" merge "$Q1" 0000000000000000 2>"$T/err"; rc=$?
check "merging an unknown id is refused" bash -c "[ $rc = 1 ] && grep -q 'no record with id 0000000000000000' '$T/err'"
ctl "$A" merge "$P2" "$Q1" 2>"$T/err"; rc=$?
check "merging into a merged record is refused, naming where to merge" \
    bash -c "[ $rc = 1 ] && grep -q 'merge into $P1 instead' '$T/err'"
ctl "$A" merge "$Q1" 2>/dev/null; rc=$?
check "merge with one id is a usage error" test "$rc" = 2
check "refusals wrote nothing" test "$(head_of "$A")" = "$h"

# ---- transfer ----------------------------------------------------------------------
ctl "$A" transfer "$Q1" haishu >"$T/out"; rc=$?
check "transfer succeeds" test "$rc" = 0
check "the office changed" test "$(json_get "$A" "$Q1" "r['fields']['office']")" = haishu
check "the status is kept (still an active member)" test "$(json_get "$A" "$Q1" "r['fields']['status']")" = active
check "the log shows the transfer and the move" \
    bash -c "'$UNIONCTL' -d '$A' log '$Q1' | head -2 | tr '\n' ' ' | grep -qE 'transfer $Q1 .*office: yinzhou -> haishu'"
check "the commit message lists the field" \
    test "$(git_store "$A" log -1 --format=%B | tr '\n' ' ' | sed 's/ *$//')" = "transfer $Q1  fields: office"
h=$(head_of "$A")
ctl "$A" transfer "$Q2" haishuu 2>"$T/err"; rc=$?
check "an office nobody names is refused (exit 1)" bash -c "[ $rc = 1 ] && grep -q 'haishuu' '$T/err'"
check "with a message that says what to do" grep -q "office 'haishuu' is unknown: no node or record names it; check the spelling or use --force" "$T/err"
check "and nothing was written" test "$(head_of "$A")" = "$h"
ctl "$A" transfer "$Q2" 'Hai Shu' 2>"$T/err"; rc=$?
check "an invalid office code is refused by the schema rule" bash -c "[ $rc = 1 ] && grep -q '^unionctl: office:' '$T/err'"
check "and nothing was written either" test "$(head_of "$A")" = "$h"
ctl "$A" transfer "$Q2" ninghai --force >/dev/null; rc=$?
check "--force moves to a new office" bash -c "[ $rc = 0 ] && [ \"\$(git --git-dir='$A/store.git' log -1 --format=%s)\" = 'transfer $Q2' ]"
check "the new office is now known: no --force needed" bash -c "'$UNIONCTL' -d '$A' transfer '$R1' ninghai >/dev/null"
out=$(ctl "$A" transfer "$R1" ninghai)
check "a transfer to the current office writes nothing" \
    bash -c "grep -q 'nothing changed' <<<'$out' && [ \"\$(git --git-dir='$A/store.git' log -1 --format=%s)\" = 'transfer $R1' ] && [ \$(git --git-dir='$A/store.git' log --format=%s | grep -c 'transfer $R1') = 1 ]"
ctl "$A" transfer "$P2" haishu 2>"$T/err"; rc=$?
check "a merged record cannot be transferred" bash -c "[ $rc = 1 ] && grep -q 'transfer $P1 instead' '$T/err'"
check "stats sees the transfers" test "$(ctl "$A" stats --where office=ninghai)" = 2
check "fsck clean after transfers" fsck_clean "$A"

# ---- the same merge on two offline nodes converges -------------------------------
n=0
xfer() { n=$((n + 1)); ctl "$1" bundle export "$T/x$n.bundle" && ctl "$2" bundle import "$T/x$n.bundle" >/dev/null; }
IDN2=330203198808081230
K=$(ctl "$C" add name=林海 id_number=$IDN2 phone=13811112222 category=快递员 employer=顺丰速运 benefits=welfare-2021)
X=$(ctl "$D" add name=林海 id_number=$IDN2 office=yinzhou phone=13899998888 category=网约车司机 union=网约车司机工会 benefits=legal-aid notes=x)
xfer "$C" "$D"
xfer "$D" "$C"
check "both nodes see the pair" bash -c "'$UNIONCTL' -d '$D' duplicates | grep -q '^$K .*$X'"
ctl "$C" merge "$K" "$X" >/dev/null
ctl "$D" merge "$K" "$X" >/dev/null
check "both nodes merged offline (different heads)" test "$(head_of "$C")" != "$(head_of "$D")"
xfer "$C" "$D"
xfer "$D" "$C"
check "after exchanging bundles both ways: equal trees" test "$(tree "$C")" = "$(tree "$D")"
check "KEEP shows the same on both" test "$(ctl "$C" show "$K" --json)" = "$(ctl "$D" show "$K" --json)"
check "DUP shows the same on both" test "$(ctl "$C" show "$X" --json)" = "$(ctl "$D" show "$X" --json)"
check "the conflicts are listed identically" test "$(ctl "$C" conflicts --json)" = "$(ctl "$D" conflicts --json)"
check "the merge made no conflicts on either node" \
    test "$(json_get "$C" "$K" "sorted(r['conflicts'])")" = "[]"
check "KEEP's values stay on both (category, phone)" \
    test "$(json_get "$D" "$K" "(r['fields']['category'], r['fields']['phone'][-4:])")" = "('快递员', '2222')"
check "a field taken on both nodes is not a conflict" test "$(json_get "$C" "$K" "r['fields']['union']")" = 网约车司机工会
check "benefits united once" test "$(json_get "$D" "$K" "r['fields']['benefits']")" = "['legal-aid', 'welfare-2021']"
check "DUP merged on both, no conflict on DUP" \
    test "$(json_get "$D" "$X" "(r['fields']['status'], r['fields']['merged_into'], r['conflicts'])")" = "('merged', '$K', {})"
ctl "$D" edit "$K" phone=13899998888 >/dev/null
ctl "$C" edit "$K" employer=美团 >/dev/null
xfer "$D" "$C"
xfer "$C" "$D"
check "resolve and edit after the merge spread: equal trees" test "$(tree "$C")" = "$(tree "$D")"
check "edits after the merge spread without conflicts" \
    test "$(json_get "$C" "$K" "(sorted(r['conflicts']), r['fields']['phone'][-4:], r['fields']['employer'])")" = "([], '8888', '美团')"
ctl "$C" merge "$K" "$X" 2>"$T/err"; rc=$?
check "merging again after the exchange is refused" bash -c "[ $rc = 1 ] && grep -q 'already merged' '$T/err'"
check "fsck C" fsck_clean "$C"
check "fsck D" fsck_clean "$D"

check "SIGTERM A" node_stop "$A"
check "SIGTERM C" node_stop "$C"
check "SIGTERM D" node_stop "$D"
check "no sanitizer reports" bash -c "! grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' '$A.log' '$C.log' '$D.log'"
done_testing
