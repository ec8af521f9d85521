#!/usr/bin/env bash
# demo.sh BUILD_DIR - a narrated walk-through of one uniond node: init,
# start, import a few thousand generated members, add, list, edit, log,
# export; then stops its daemon and removes its temp directory.
set -euo pipefail
B=${1:-build}
B=$(cd "$B" && pwd)
D=$(mktemp -d /tmp/uniond-demo.XXXXXX)
PID=
trap '[ -n "$PID" ] && kill "$PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$D"' EXIT
export UNIOND_OPERATOR=demo
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
# commands are shown as a person types them (binaries on PATH, DATA set)
run() { printf '$ %s\n' "$*" | sed "s|$B/||g; s|$D/|\$DEMO/|g"; "$@"; }
ctl() { "$B/unionctl" "$@"; }

say "1. Create a node for the Yinzhou office (key pair, git store, config)"
echo "(DEMO=$D; unionctl finds the node through UNIOND_DATA=\$DEMO/yinzhou)"
run "$B/uniond" init -d "$D/yinzhou" --node yinzhou-01 --office yinzhou --listen 127.0.0.1:0

export UNIOND_DATA=$D/yinzhou
say "2. Start it (in the background for this demo; normally a service)"
"$B/uniond" -d "$D/yinzhou" 2>"$D/yinzhou.log" &
PID=$!
for _ in $(seq 1 250); do ctl status >/dev/null 2>&1 && break; sleep 0.02; done
run "$B/unionctl" status

say "3. Import 3,000 generated members from a CSV (validated first: all or nothing)"
"$B/genmembers" 3000 2026 yinzhou >"$D/members.csv"
run head -3 "$D/members.csv"
run "$B/unionctl" import "$D/members.csv"

say "4. Register a new member at a service station"
printf '$ unionctl add name=陈诚 gender=M id_number=11010519491231002X phone=13812345678 category=外卖配送员 employer=美团\n'
ID=$(ctl add name=陈诚 gender=M id_number=11010519491231002X phone=13812345678 category=外卖配送员 employer=美团)
echo "$ID"
run "$B/unionctl" show "$ID"

say "5. A typo is refused, and nothing is written"
run "$B/unionctl" add name=李四 id_number=110105194912310021 || true

say "6. Find members: couriers who joined this year, and a count by query"
run "$B/unionctl" list --where category=快递员 --where 'joined>=2025-01-01' --sort joined --limit 5
printf '$ unionctl list --where category=外卖配送员 --count\n'; ctl list --where category=外卖配送员 --count

say "7. Edit: a new phone, a welfare package received"
run "$B/unionctl" edit "$ID" phone=13900001111 benefits+=heat-relief-2021
run "$B/unionctl" log "$ID"

say "8. Export a full backup (CSV, never masked) and look at the store with plain git"
ctl export >"$D/backup.csv"
printf '$ unionctl export > backup.csv   # %s lines\n' "$(wc -l <"$D/backup.csv")"
run git --git-dir="$D/yinzhou/store.git" log --oneline
printf '$ git log -p -1 (the edit, as a person reads it)\n'
git --git-dir="$D/yinzhou/store.git" log -p -1 | sed -n '1,40p'
run git --git-dir="$D/yinzhou/store.git" fsck --strict

say "9. Stop the daemon (SIGTERM finishes the running request first)"
kill -TERM "$PID"; wait "$PID"; PID=
echo "stopped; the demo's directory $D is removed on exit"
