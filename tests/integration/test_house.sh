#!/usr/bin/env bash
# test_house.sh - the rules between rooms (docs/ARCHITECTURE.md), checked on
# the source tree so a change that breaks them fails the suite:
# only daemon/store/ includes git2.h; ctl and net never include each other;
# daemon/util/ and proto/ include no daemon room; no source file over 800
# lines. Each check first proves it saw files, so it cannot pass on an empty
# or moved tree.
. "$(dirname "$0")/lib.sh"
cd "$ROOT" || exit 1

nsrc=$(find proto daemon cli -name '*.[ch]' | wc -l)
[ "$nsrc" -gt 50 ] && ok "sources found ($nsrc)" || not_ok "sources found ($nsrc)"

# includes_of ROOM: the daemon rooms that ROOM's files include (other than itself)
includes_of() {
    grep -rhoE '#include "daemon/[a-z]+/' "daemon/$1" | sed 's#.*daemon/##; s#/$##' |
        sort -u | grep -vx "$1"
}

git2=$(grep -rlE '#include <git2' proto daemon cli | grep -v '^daemon/store/' || true)
[ -z "$git2" ] && [ -n "$(grep -rlE '#include <git2' daemon/store)" ] &&
    ok "only daemon/store/ includes git2.h" || not_ok "git2.h included outside the store: $git2"

for pair in "ctl net" "net ctl"; do
    set -- $pair
    if [ -d "daemon/$1" ] && ! includes_of "$1" | grep -qx "$2"; then
        ok "daemon/$1 does not include daemon/$2"
    else
        not_ok "daemon/$1 includes daemon/$2"
    fi
done
if ! grep -rqE '#include "daemon/ctl/' daemon/net && grep -rq 'reply.h' daemon/net; then
    ok "the peers answer control requests through reply.h, not the control room"
else
    not_ok "daemon/net reaches into daemon/ctl"
fi

for room in util; do
    inc=$(includes_of "$room" || true)
    [ -d "daemon/$room" ] && [ -z "$inc" ] && ok "daemon/$room includes no other room" ||
        not_ok "daemon/$room includes: $inc"
done
inc=$(grep -rlE '#include "(daemon|cli)/' proto || true)
[ -z "$inc" ] && ok "proto/ includes nothing from daemon/ or cli/" || not_ok "proto includes: $inc"

# No two daemon rooms import each other (no cycle of length 2).
cycle=""
for a in $(ls daemon); do
    [ -d "daemon/$a" ] || continue
    for b in $(includes_of "$a" || true); do
        includes_of "$b" 2>/dev/null | grep -qx "$a" && cycle="$cycle $a<->$b"
    done
done
[ -z "$cycle" ] && ok "no two daemon rooms include each other" || not_ok "rooms in a circle:$cycle"

big=$(find proto daemon cli -name '*.[ch]' -exec wc -l {} + | awk '$2 != "total" && $1 > 800 {print $2 " (" $1 ")"}')
[ -z "$big" ] && ok "no source file over 800 lines" || not_ok "files over 800 lines: $big"

exit 0
