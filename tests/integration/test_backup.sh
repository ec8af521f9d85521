#!/usr/bin/env bash
# Backup and restore that lose nothing (issue 15): `unionctl backup` writes
# one file that plain git accepts as a bundle; `uniond restore` builds a new
# node (new identity) or the same node (--same-identity with its key) whose
# tree and open conflicts equal the backup's; `export --json` imports back;
# the store's format version: an old store is migrated, a newer refused.
. "$(dirname "$0")/lib.sh"

A=$T/a B=$T/b
node_init "$A" yinzhou-01 yinzhou
node_init "$B" haishu-01 haishu
for d in "$A" "$B"; do node_start "$d" || exit 1; done
tree() { git_store "$1" rev-parse "HEAD^{tree}" 2>/dev/null; }
n=0
xfer() { n=$((n + 1)); ctl "$1" bundle export "$T/x$n.bundle" && ctl "$2" bundle import "$T/x$n.bundle" >/dev/null; }

# A record, a concurrent edit on both nodes: an open conflict on A.
id=$(ctl "$A" add name=陈诚 phone=13812345678 category=外卖配送员)
ctl "$A" add name=李四 phone=13912345678 category=快递员 >/dev/null
xfer "$A" "$B"
ctl "$A" edit "$id" employer=美团
ctl "$B" edit "$id" employer=饿了么
xfer "$B" "$A"
ctl "$A" conflicts --json >"$T/conflicts.a"
check "the setup has an open conflict on A" grep -q 美团 "$T/conflicts.a"

ctl "$A" backup "$T/a.backup" >"$T/out" 2>&1
check "backup writes the file" test -s "$T/a.backup"
check "git bundle verify accepts the backup" \
    bash -c "git --git-dir='$B/store.git' bundle verify '$T/a.backup' 2>&1 | grep -q 'is okay'"
check "the backup holds every branch" \
    bash -c "git bundle list-heads '$T/a.backup' | grep -q 'refs/heads/haishu-01\$' && git bundle list-heads '$T/a.backup' | grep -q 'refs/heads/yinzhou-01\$'"
check "the backup names its node and office" \
    bash -c "git bundle list-heads '$T/a.backup' | grep -q 'refs/uniond/backup/yinzhou/yinzhou-01\$'"
ctl "$A" backup "$T/a.backup" 2>"$T/err"; rc=$?
check "backup refuses to overwrite without --force" bash -c "[ $rc = 1 ] && grep -q -- --force '$T/err'"
check "backup --force overwrites" bash -c "'$UNIONCTL' -d '$A' backup --force '$T/a.backup' >/dev/null"

# A new node from the backup.
R=$T/r
"$UNIOND" restore -d "$R" --node yinzhou-02 --listen 127.0.0.1:0 "$T/a.backup" >"$T/restore.out" 2>&1
check "restore as a new node succeeds" grep -q 'restored node yinzhou-02 (office yinzhou)' "$T/restore.out"
check "the restored tree equals the backup's" test "$(tree "$R")" = "$(tree "$A")"
check "the restored node has its own branch and every copy" \
    bash -c "git --git-dir='$R/store.git' symbolic-ref HEAD | grep -qx refs/heads/yinzhou-02 && git --git-dir='$R/store.git' rev-parse -q --verify refs/heads/haishu-01 >/dev/null && git --git-dir='$R/store.git' rev-parse -q --verify refs/heads/yinzhou-01 >/dev/null"
check "the restored node has a new key" bash -c "! cmp -s '$A/node.key' '$R/node.key'"
node_start "$R" || exit 1
ctl "$R" conflicts --json >"$T/conflicts.r"
check "the open conflicts are the same after restore" cmp "$T/conflicts.a" "$T/conflicts.r"
check "the restored node shows the records" bash -c "'$UNIONCTL' -d '$R' show '$id' | grep -q 陈诚"
"$UNIOND" restore -d "$T/r2" --node yinzhou-01 "$T/a.backup" 2>"$T/err"; rc=$?
check "a new identity may not take the backup's own name" bash -c "[ $rc = 1 ] && grep -q same-identity '$T/err'"
"$UNIOND" restore -d "$R" --node yinzhou-03 "$T/a.backup" 2>"$T/err"; rc=$?
check "restore refuses a DATA that holds a node" bash -c "[ $rc = 1 ] && grep -q 'already holds a node' '$T/err'"
"$UNIOND" restore -d "$T/r3" --node x-1 "$T/x1.bundle" 2>"$T/err"; rc=$?
check "restore refuses a plain bundle, saying why" bash -c "[ $rc = 1 ] && grep -q 'not a uniond backup' '$T/err'"

# The same node again: a dead server replaced.
node_stop "$A"
S=$T/s
"$UNIOND" restore -d "$S" --same-identity --key "$A/node.key" --cert "$A/node.crt" \
    --config "$A/uniond.conf" "$T/a.backup" >"$T/restore.out" 2>&1
check "restore --same-identity succeeds" grep -q 'restored node yinzhou-01' "$T/restore.out"
check "its own branch is the backup's" \
    test "$(git_store "$S" rev-parse refs/heads/yinzhou-01)" = "$(git_store "$A" rev-parse refs/heads/yinzhou-01)"
check "its tree equals the backup's" test "$(tree "$S")" = "$(tree "$A")"
check "it keeps the fingerprint" cmp "$A/node.crt" "$S/node.crt"
check "no temporary branch is left" bash -c "! git --git-dir='$S/store.git' for-each-ref | grep -q restore-tmp"
node_start "$S" || exit 1
ctl "$S" conflicts --json >"$T/conflicts.s"
check "the same open conflicts after --same-identity" cmp "$T/conflicts.a" "$T/conflicts.s"
check "the restored node writes on its own branch" bash -c "'$UNIONCTL' -d '$S' edit $id notes=back >/dev/null"

# export --json imports back, with the import's all-or-nothing rules.
C=$T/c
node_init "$C" ningbo-01 yinzhou
node_start "$C" || exit 1
ctl "$S" export --json >"$T/export.json"
sed 's/13812345678/1381234/' "$T/export.json" >"$T/bad.json"
ctl "$C" import "$T/bad.json" >"$T/out" 2>&1; rc=$?
check "a JSON file with a bad value imports nothing" \
    bash -c "[ $rc = 1 ] && grep -q 'nothing was imported' '$T/out' && ! '$UNIONCTL' -d '$C' export --json | grep -q '\"id\"'"
check "export --json imports back" bash -c "'$UNIONCTL' -d '$C' import '$T/export.json' | grep -q 'imported 2 new'"
fields() { python3 -c 'import json,sys; print(json.dumps(sorted([(r["id"], r["fields"]) for r in json.load(sys.stdin)]), ensure_ascii=False))'; }
ctl "$C" export --json | fields >"$T/export.c"
fields <"$T/export.json" >"$T/export.s"
check "the imported records equal the exported ones (values shown)" cmp "$T/export.s" "$T/export.c"

# Format version: a node of the release before the markers opens and is
# migrated; a store or config of a newer format is refused, saying why.
O=$T/old
node_init "$O" old-01 yinzhou
check "a new store carries its format" test "$(git_store "$O" config uniond.format)" = 1
check "a new config carries its format" grep -qx 'format = 1' "$O/uniond.conf"
git_store "$O" config --unset uniond.format
sed -i '/^\[store\]$/d; /^format = /d' "$O/uniond.conf"
check "the simulated old node has no markers" \
    bash -c "! git --git-dir='$O/store.git' config uniond.format && ! grep -q format '$O/uniond.conf'"
node_start "$O" || exit 1
check "the old node opens" bash -c "'$UNIONCTL' -d '$O' status >/dev/null"
check "its store is migrated (format 1)" test "$(git_store "$O" config uniond.format)" = 1
check "its config is migrated" grep -qx 'format = 1' "$O/uniond.conf"
check "the migration is logged" bash -c "grep -q 'store migrated from format 0 to 1' '$O.log' && grep -q 'config migrated from format 0 to 1' '$O.log'"
node_stop "$O"
git_store "$O" config uniond.format 999
"$UNIOND" -d "$O" >"$T/new.out" 2>&1; rc=$?
check "a store of a newer format is refused, saying why" \
    bash -c "[ $rc = 1 ] && grep -q 'store format 999, newer than' '$T/new.out'"
git_store "$O" config uniond.format 1
sed -i 's/^format = 1$/format = 999/' "$O/uniond.conf"
"$UNIOND" -d "$O" >"$T/new.out" 2>&1; rc=$?
check "a config of a newer format is refused, saying why" \
    bash -c "[ $rc = 1 ] && grep -q 'written by a newer uniond' '$T/new.out'"

# status: an aligned block, the same conflict count as `conflicts`, peers.
ctl "$S" status >"$T/status"
check "status shows node, office, version and uptime" \
    bash -c "grep -q '^node  *yinzhou-01\$' '$T/status' && grep -q '^office  *yinzhou\$' '$T/status' && grep -q '^version  *[0-9]' '$T/status' && grep -q '^uptime  *[0-9]' '$T/status'"
check "status counts records by kind" grep -q '^records  *2 (member 2)$' "$T/status"
nconf=$(ctl "$S" conflicts --json | grep -c '"field"')
check "status counts the fields in conflict as conflicts lists them ($nconf)" \
    bash -c "[ $nconf -ge 1 ] && grep -q '^in conflict  *$nconf fields in 1 records' '$T/status' && '$UNIONCTL' -d '$S' status --json | grep -q '\"conflicts\": $nconf'"
check "status names the last change and who made it" grep -q '^last change  *[0-9-]* [0-9:]* by tester@yinzhou-01$' "$T/status"
check "status --json gains version, records_by_kind, last_change" \
    bash -c "'$UNIONCTL' -d '$S' status --json | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d[\"version\"] and d[\"records_by_kind\"][\"member\"] == 2 and d[\"last_change\"][\"by\"] and \"head\" in d and \"uptime_s\" in d'"
E=$T/e
node_init "$E" empty-01 yinzhou
node_start "$E" || exit 1
ctl "$E" status >"$T/status.e"
check "a new node says (empty) for head and tree" \
    bash -c "grep -q '^head  *(empty)\$' '$T/status.e' && grep -q '^tree  *(empty)\$' '$T/status.e' && grep -q '^last change  *none yet' '$T/status.e'"
ctl "$E" peer add gone-01 127.0.0.1:1 "$(printf 'ab%.0s' $(seq 32))"
ctl "$E" status >"$T/status.e"
check "status has a line per peer" grep -q '^gone-01  *127.0.0.1:1  *[a-z]' "$T/status.e"
ctl "$E" status --check >"$T/check" 2>&1; rc=$?
check "status --check: 0 while no peer is offline for an hour" bash -c "[ $rc = 0 ] && grep -q '^OK' '$T/check'"
check "status --check --max-offline 0: 1, naming the unreachable peer" \
    wait_until 20 bash -c "'$UNIONCTL' -d '$E' status --check --max-offline 0 >'$T/check'; [ \$? = 1 ] && grep -q 'peer gone-01 unreachable' '$T/check'"
ctl "$E" status --max-offline 5 >/dev/null 2>&1; rc=$?
check "--max-offline without --check is a usage error" test "$rc" = 2
done_testing
