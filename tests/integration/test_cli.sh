#!/usr/bin/env bash
# unionctl's command-line manners: --version / -V, --help listing every
# command on one line, CMD --help and help CMD for every command (usage,
# options, an example), a mistyped command answered with the nearest one,
# -d DATA and the options anywhere on the line, and the exit codes
# 0 ok, 1 refused, 2 usage, 3 daemon unreachable - each with its message.
. "$(dirname "$0")/lib.sh"

unset UNIOND_DATA
# run CMD... : runs unionctl, leaves stdout in $T/out, stderr in $T/err, exit code in $rc
run() { "$UNIONCTL" "$@" >"$T/out" 2>"$T/err"; rc=$?; }
has() { grep -qF -- "$1" "$2"; }     # has TEXT FILE
first_line() { head -n1 "$1"; }

# The commands of the table, in the order --help lists them. A row added
# to cli/table.c without being added here fails "--help lists exactly ...".
COMMANDS=(add show edit list log revert import export benefit conflicts resolve bundle stats report
    duplicates merge transfer peers peer sync id status backup batch help)

# ---- version -----------------------------------------------------------------
version=$(sed -n 's/^#define UNIOND_VERSION "\(.*\)"$/\1/p' "$ROOT/proto/version.h")
check "proto/version.h defines UNIOND_VERSION" test -n "$version"
run --version
check "--version: exit 0, prints 'unionctl $version' alone" \
    bash -c "[ $rc = 0 ] && [ \"\$(cat '$T/out')\" = 'unionctl $version' ] && [ ! -s '$T/err' ]"
run -V
check "-V: the same" bash -c "[ $rc = 0 ] && [ \"\$(cat '$T/out')\" = 'unionctl $version' ]"
check "uniond --version prints the same version" \
    test "$("$UNIOND" --version)" = "uniond $version"

# ---- unionctl --help -----------------------------------------------------------
run --help
check "--help: exit 0, usage first, nothing on stderr" \
    bash -c "[ $rc = 0 ] && [ \"\$(head -n1 '$T/out')\" = 'usage: unionctl [-d DATA] COMMAND [ARGS] [OPTIONS]' ] && [ ! -s '$T/err' ]"
listed=$(grep -E '^  [a-z]+ +[a-z]' "$T/out" | awk '{print $1}' | tr '\n' ' ')
check "--help lists exactly the commands of the table, one line each (${listed% })" \
    test "${listed% }" = "${COMMANDS[*]}"
check "--help names the exit codes" has "Exit codes: 0 ok, 1 refused or failed, 2 usage, 3 daemon unreachable." "$T/out"
cp "$T/out" "$T/help-all"
run help
check "help alone prints the same list" bash -c "[ $rc = 0 ] && cmp -s '$T/out' '$T/help-all'"
run
check "no command: exit 2, the list on stderr" \
    bash -c "[ $rc = 2 ] && [ ! -s '$T/out' ] && cmp -s '$T/err' '$T/help-all'"

# ---- CMD --help for every command ------------------------------------------------
for c in "${COMMANDS[@]}"; do
    run "$c" --help
    if [ "$rc" = 0 ] && [ ! -s "$T/err" ] &&
        [[ "$(first_line "$T/out")" == "usage: unionctl "*"$c"* ]] &&
        has "options:" "$T/out" && has "example:" "$T/out" &&
        grep -qE "^  unionctl $c( |$)" "$T/out"; then
        ok "$c --help: exit 0, usage, options and an example of $c"
    else
        not_ok "$c --help (exit $rc)"; sed 's/^/#   /' "$T/out" "$T/err"
    fi
    cp "$T/out" "$T/cmd-help"
    run help "$c"
    check "help $c prints the same as $c --help" bash -c "[ $rc = 0 ] && cmp -s '$T/out' '$T/cmd-help'"
done
run list --help
check "list --help lists list's options, not the global help" \
    bash -c "has() { grep -qF -- \"\$1\" '$T/out'; }; has '--where EXPR' && has '--count' && has '-d DATA' && ! has 'membership work:'"
run -h stats
check "-h before the command works too" bash -c "[ $rc = 0 ] && grep -q '^usage: unionctl \[-d DATA\] stats' '$T/out'"
run bundle --help
check "bundle --help shows both forms" \
    bash -c "grep -q 'bundle export \[--since OLD.bundle\] FILE' '$T/out' && grep -q 'bundle import FILE' '$T/out'"

# ---- a mistyped command ------------------------------------------------------------
run lsit
check "lsit: exit 2, did you mean 'list'?" \
    bash -c "[ $rc = 2 ] && [ ! -s '$T/out' ] && grep -qx \"unionctl: unknown command 'lsit'; did you mean 'list'?\" '$T/err'"
run stat -d "$T/nowhere"
check "stat: did you mean 'stats'? (before DATA is looked at)" \
    bash -c "[ $rc = 2 ] && grep -q \"did you mean 'stats'?\" '$T/err'"
run duplicate
check "duplicate: did you mean 'duplicates'?" \
    bash -c "[ $rc = 2 ] && grep -q \"did you mean 'duplicates'?\" '$T/err'"
run frobnicate
check "frobnicate: exit 2, unknown command, no far-fetched suggestion" \
    bash -c "[ $rc = 2 ] && grep -qx \"unionctl: unknown command 'frobnicate'\" '$T/err' && ! grep -q 'did you mean' '$T/err'"
run lsit --help
check "lsit --help: exit 2 with the suggestion (not a help page)" \
    bash -c "[ $rc = 2 ] && [ ! -s '$T/out' ] && grep -q \"did you mean 'list'?\" '$T/err'"
run help lsit
check "help lsit: exit 2, did you mean 'list'?" \
    bash -c "[ $rc = 2 ] && grep -q \"no command 'lsit'; did you mean 'list'?\" '$T/err'"

# ---- usage errors (exit 2) say what and for which command ---------------------------
run list
check "no DATA: exit 2, says how to give it" \
    bash -c "[ $rc = 2 ] && grep -qx 'unionctl: no DATA directory: give -d DATA or set UNIOND_DATA' '$T/err'"
run show -d "$T/nowhere"
check "show without ID: exit 2, show's usage and where to read more" \
    bash -c "[ $rc = 2 ] && grep -qx 'unionctl: show: usage: unionctl show ID \[--json|--csv\] \[--reveal\]' '$T/err' && grep -q 'unionctl show --help' '$T/err'"
run list --bogus -d "$T/nowhere"
check "an unknown option: exit 2, named" \
    bash -c "[ $rc = 2 ] && grep -qx \"unionctl: list: unknown or misplaced option '--bogus'\" '$T/err'"
run list -d "$T/nowhere" --limit
check "an option without its value: exit 2, named" \
    bash -c "[ $rc = 2 ] && grep -qx \"unionctl: list: option '--limit' needs a value\" '$T/err'"
run list -d "$T/nowhere" --limit x
check "--limit x: exit 2" bash -c "[ $rc = 2 ] && grep -q \"limit wants a number >= 0, not 'x'\" '$T/err'"
run list -d "$T/nowhere" --json --csv
check "--json with --csv: exit 2" bash -c "[ $rc = 2 ] && grep -q 'exclude each other' '$T/err'"
run peer frob x -d "$T/nowhere"
check "peer frob: exit 2 with both forms of peer" \
    bash -c "[ $rc = 2 ] && grep -q 'peer add NAME HOST:PORT FINGERPRINT' '$T/err' && grep -q 'unionctl peer remove NAME' '$T/err'"

# ---- exit 3: no daemon -----------------------------------------------------------------
A=$T/a
node_init "$A" yinzhou-01 yinzhou
run list --count -d "$A"
check "daemon not running: exit 3, says how to start it" \
    bash -c "[ $rc = 3 ] && grep -q 'uniond -d $A' '$T/err'"

# ---- -d and options anywhere ----------------------------------------------------------
node_start "$A" || exit 1
run add -d "$A" name=陈诚 phone=13812345678
id=$(cat "$T/out")
check "add with -d between the command and its arguments: exit 0, the id" \
    bash -c "[ $rc = 0 ] && [[ '$id' =~ ^[0-9a-z]{16}$ ]]"
run add name=李四 -d "$A" phone=13912345678
check "add with -d among the arguments" bash -c "[ $rc = 0 ] && [ -s '$T/out' ]"
run add name=王五 --data="$A"
check "add with --data=DIR last" bash -c "[ $rc = 0 ] && [ -s '$T/out' ]"
for line in "list --count -d $A" "-d $A list --count" "--count list -d $A" "list -d $A --count" \
    "--count -d $A list"; do
    # shellcheck disable=SC2086
    run $line
    check "unionctl $line: exit 0, prints 3" bash -c "[ $rc = 0 ] && [ \"\$(cat '$T/out')\" = 3 ]"
done
UNIOND_DATA=$T/nowhere "$UNIONCTL" list --count -d "$A" >"$T/out" 2>"$T/err"; rc=$?
check "-d wins over UNIOND_DATA" bash -c "[ $rc = 0 ] && [ \"\$(cat '$T/out')\" = 3 ]"
UNIOND_DATA=$A "$UNIONCTL" list --count >"$T/out" 2>"$T/err"; rc=$?
check "UNIOND_DATA alone still works" bash -c "[ $rc = 0 ] && [ \"\$(cat '$T/out')\" = 3 ]"
run show "$id" --json -d "$A" --reveal
check "show ID --json -d DIR --reveal: the record, revealed" \
    bash -c "[ $rc = 0 ] && grep -q '\"phone\": \"13812345678\"' '$T/out'"
run list --where name=陈诚 -d "$A" --csv
check "list --where ... -d DIR --csv: header and the one row" \
    bash -c "[ $rc = 0 ] && [ \$(wc -l <'$T/out') = 2 ] && grep -q ',陈诚,' '$T/out'"
run -d "$A" list -- --count
check "after --, an option is an argument: list refuses it (exit 2)" \
    bash -c "[ $rc = 2 ] && grep -qx \"unionctl: list: unexpected argument '--count'\" '$T/err'"
run add --json name=赵六 -d "$A"
check "an option the command does not take: exit 2, named, nothing added" \
    bash -c "[ $rc = 2 ] && grep -qx \"unionctl: add: unknown or misplaced option '--json'\" '$T/err' && [ \"\$('$UNIONCTL' -d '$A' list --count)\" = 3 ]"

# ---- exit 0 / 1 with a daemon -------------------------------------------------------------
run edit "$id" phone=13812345678 -d "$A"
check "edit to the same value: exit 0, says nothing changed" \
    bash -c "[ $rc = 0 ] && grep -qx 'nothing changed: the values were already those' '$T/out'"
run show zzzzzzzzzzzzzzzz -d "$A"
check "show of an unknown id: exit 1, the daemon's reason" \
    bash -c "[ $rc = 1 ] && [ ! -s '$T/out' ] && grep -q '^unionctl: .*zzzzzzzzzzzzzzzz' '$T/err'"
run status -d "$A" --json
check "status --json after -d: exit 0, JSON" bash -c "[ $rc = 0 ] && python3 -m json.tool '$T/out' >/dev/null"
run list --help -d "$A"
check "--help with a DATA given: help, nothing sent (exit 0)" \
    bash -c "[ $rc = 0 ] && grep -q '^usage: unionctl \[-d DATA\] list' '$T/out'"

check "the daemon stops cleanly" node_stop "$A"
check "daemon log clean" log_clean "$A"
done_testing
