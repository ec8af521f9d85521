#!/usr/bin/env bash
# CSV import/export: 1,000 generated members, all-or-nothing validation with
# line numbers, --skip-invalid, quoting, export -> import round trip.
. "$(dirname "$0")/lib.sh"

A=$T/a B=$T/b
node_init "$A" yinzhou-01 yinzhou
node_init "$B" yinzhou-02 yinzhou
node_start "$A" || exit 1
node_start "$B" || exit 1

"$GENMEMBERS" 1000 42 >"$T/m.csv"
out=$(ctl "$A" import "$T/m.csv")
check "import of 1,000 rows" bash -c "grep -q 'imported 1000 new' <<<'$out'"
check "list --count sees 1,000" test "$(ctl "$A" list --count)" = 1000
check "the import is one commit" test "$(git_store "$A" rev-list --count HEAD)" = 1
check "the import is one pack, not loose objects" \
    bash -c "[ \$(git --git-dir='$A/store.git' count-objects -v | awk '/^count:/{print \$2}') -eq 0 ] && [ \$(ls '$A'/store.git/objects/pack/*.pack | wc -l) -eq 1 ]"
check "fsck clean after import" fsck_clean "$A"

# The import builds its trees itself (daemon/store/bulktree.c); plain git,
# given the same (path, blob) list, must build the same root tree.
tree_as_git() {
    local d=$1 idx
    idx=$(mktemp "$T/idx.XXXXXX") && rm -f "$idx" || return 1
    git_store "$d" ls-tree -r --full-tree HEAD >"$idx.list" || return 1
    GIT_INDEX_FILE=$idx git_store "$d" update-index --index-info <"$idx.list" || return 1
    local want got
    want=$(GIT_INDEX_FILE=$idx git_store "$d" write-tree) || return 1
    got=$(git_store "$d" rev-parse 'HEAD^{tree}')
    [ -n "$want" ] && [ "$want" = "$got" ] || { echo "# git builds $want, the store has $got"; return 1; }
}
check "the imported tree is the tree git builds from the same entries" tree_as_git "$A"

# independent counts with awk over the CSV
want=$(awk -F, 'NR>1 && $5=="外卖配送员"' "$T/m.csv" | wc -l)
check "list --where category= matches an independent count ($want)" \
    test "$(ctl "$A" list --where category=外卖配送员 --count)" = "$want"
want=$(awk -F, 'NR>1 && $9>="2024-01-01"' "$T/m.csv" | wc -l)
check "list --where joined>= compares dates ($want)" \
    test "$(ctl "$A" list --where 'joined>=2024-01-01' --count)" = "$want"
want=$(awk -F, 'NR>1 && $1 ~ /^陈/' "$T/m.csv" | wc -l)
check "list --where name~ ($want)" test "$(ctl "$A" list --where 'name~陈' --count)" = "$want"
check "list --limit" test "$(ctl "$A" list --limit 7 --csv | wc -l)" = 8
check "list --sort name" bash -c "'$UNIONCTL' -d '$A' list --sort joined --csv --limit 50 | awk -F, 'NR>1{print \$0}' >/dev/null"

# export -> import into a second node gives the same records
ctl "$A" export >"$T/export.csv"
check "export has every record" test "$(($(wc -l <"$T/export.csv") - 1))" = 1000
check "export is not masked" bash -c "awk -F, 'NR==2' '$T/export.csv' | grep -qE ',[0-9]{17}[0-9X],'"
out=$(ctl "$B" import "$T/export.csv")
check "re-import creates the same 1,000" bash -c "grep -q 'imported 1000 new' <<<'$out'"
ctl "$B" export >"$T/export2.csv"
check "re-exported CSV is identical" cmp -s "$T/export.csv" "$T/export2.csv"
out=$(ctl "$A" import "$T/export.csv")
check "re-import onto itself changes nothing" bash -c "grep -q '1000 unchanged' <<<'$out'"
check "and makes no commit" test "$(git_store "$A" rev-list --count HEAD)" = 1
ctl "$A" export --json >"$T/export.json"
check "export --json is a JSON array of 1,000" \
    test "$(grep -c '"id": ' "$T/export.json")" = 1000

# one bad ID number: nothing imported, the row and the rule named
"$GENMEMBERS" 50 7 >"$T/bad.csv"
sed -i '31s/,\([0-9]\{17\}\)\([0-9X]\),/,\1Q,/' "$T/bad.csv"
before=$(git_store "$A" rev-parse HEAD)
ctl "$A" import "$T/bad.csv" 2>"$T/err"; rc=$?
check "a CSV with one bad id number is refused (exit 1, saying so)" \
    bash -c "[ $rc = 1 ] && grep -q 'nothing was imported' '$T/err'"
check "nothing was written" test "$(git_store "$A" rev-parse HEAD)" = "$before"
check "the error names line 31 and id_number" grep -q "line 31: id_number" "$T/err"
check "and says nothing was imported" grep -q "nothing was imported" "$T/err"
out=$(ctl "$A" import --skip-invalid "$T/bad.csv")
check "--skip-invalid imports the good rows" bash -c "grep -q 'imported 49 new' <<<'$out'"
check "--skip-invalid reports the bad row" bash -c "grep -q 'line 31: id_number' <<<'$out'"
check "an import onto existing folders: the tree git builds" tree_as_git "$A"
check "each import is one more pack" test "$(ls "$A"/store.git/objects/pack/*.pack | wc -l)" = 2

# quoting: commas, quotes and newlines inside fields; line numbers after them
printf 'name,notes,phone\n"刘, 一",\"第一行\n第二行\",13800000001\n"王 ""二""",ok,13800000002\n孙三,x,12345\n' >"$T/q.csv"
ctl "$A" import "$T/q.csv" 2>"$T/err"; rc=$?
check "quoted CSV: bad phone on line 5 is reported as line 5" grep -q "line 5: phone" "$T/err"
printf 'name,notes\n"刘, 一","第一行\n第二行"\n' >"$T/q2.csv"
ctl "$A" import "$T/q2.csv" >/dev/null
qid=$(ctl "$A" list --where 'name=刘, 一' --json | sed -n 's/.*"id": "\([0-9a-z]*\)".*/\1/p')
check "quoted comma survives" test -n "$qid"
check "embedded newline survives" bash -c "'$UNIONCTL' -d '$A' show --json '$qid' | grep -q '第一行\\\\n第二行'"
printf 'name,bogus field\nx,y\n' >"$T/h.csv"
ctl "$A" import "$T/h.csv" 2>"$T/err"; rc=$?
check "bad header refused" bash -c "[ $rc = 1 ] && grep -q 'bogus field' '$T/err'"
ctl "$A" import "$T/nope.csv" 2>"$T/err"; rc=$?
check "missing file: exit 1, naming the file" bash -c "[ $rc = 1 ] && grep -q 'nope.csv' '$T/err'"

check "fsck clean at the end" fsck_clean "$A"
check "SIGTERM A" node_stop "$A"
check "SIGTERM B" node_stop "$B"
check "no sanitizer reports (A)" log_clean "$A"
check "no sanitizer reports (B)" log_clean "$B"
done_testing
