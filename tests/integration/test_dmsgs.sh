#!/usr/bin/env bash
# The table of the daemon's message formats unionctl translates
# (cli/dmsgs.c) is what tools/dmsgs.py finds in daemon/ and proto/ now: a
# message added or reworded there without `make pot` fails here (and would
# reach the clerk in English).
. "$(dirname "$0")/lib.sh"

cd "$ROOT" || exit 1
tools/dmsgs.py --check cli/dmsgs.c 2>"$T/err"; rc=$?
check "cli/dmsgs.c is current (else: make pot, translate po/zh_CN.po)" \
    bash -c "[ $rc = 0 ] || { cat '$T/err'; false; }"
# the check can fail: a table missing one format is stale
grep -v '"no record with id %s (nor with' cli/dmsgs.c >"$T/stale.c"
tools/dmsgs.py --check "$T/stale.c" 2>"$T/err"; rc=$?
check "... and a table missing a format is found stale" \
    bash -c "[ $rc = 1 ] && grep -q 'is stale: run make pot' '$T/err'"
n=$(grep -c '^    "' cli/dmsgs.c)
msgcat --no-wrap -o "$T/uniond.pot" po/uniond.pot
msgcat --no-wrap -o "$T/zh_CN.po" po/zh_CN.po
missing=0 unmerged=0
while IFS= read -r line; do
    id=${line#    \"}; id=${id%\",}
    grep -qxF "msgid \"$id\"" "$T/uniond.pot" || { echo "# not in po/uniond.pot: $id"; missing=$((missing + 1)); }
    grep -qxF "msgid \"$id\"" "$T/zh_CN.po" || { echo "# not in po/zh_CN.po: $id"; unmerged=$((unmerged + 1)); }
done < <(grep '^    "' cli/dmsgs.c)
check "every one of the $n formats is in po/uniond.pot" test "$missing" = 0
check "... and in po/zh_CN.po (msgmerge po/zh_CN.po po/uniond.pot)" test "$unmerged" = 0
done_testing
