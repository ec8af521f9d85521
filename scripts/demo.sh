#!/usr/bin/env bash
# demo.sh BUILD_DIR - a narrated walk-through: one uniond node (init, start,
# import a few thousand generated members, add, list, edit, log, export),
# then three offices syncing live over TLS on loopback (propagation, an
# offline laptop, a conflict and its resolution, equal trees), and the
# federation's period report of the three offices. Stops its
# daemons and removes its temp directory.
set -euo pipefail
B=${1:-build}
B=$(cd "$B" && pwd)
D=$(mktemp -d /tmp/uniond-demo.XXXXXX)
PID=
PIDS=
trap '[ -n "$PID" ] && kill "$PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$D"' EXIT
export UNIOND_OPERATOR=demo
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
# commands are shown as a person types them (binaries on PATH, DATA set)
run() { printf '$ %s\n' "$*" | sed "s|$B/||g; s|$D/||g"; "$@"; }
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
printf '$ unionctl add name=陈诚 gender=M id_number=110105194912310011 phone=13812345678 category=外卖配送员 employer=美团\n'
ID=$(ctl add name=陈诚 gender=M id_number=110105194912310011 phone=13812345678 category=外卖配送员 employer=美团)
echo "$ID"
run "$B/unionctl" show "$ID"

say "5. A typo is refused, and nothing is written"
run "$B/unionctl" add name=李四 id_number=110105194912310012 || true

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

say "9. Two more offices: Haishu and a Xiangshan field laptop, on loopback"
start_node() { # DIR NAME OFFICE
    "$B/uniond" init -d "$D/$1" --node "$2" --office "$3" --listen 127.0.0.1:0 >/dev/null
    "$B/uniond" -d "$D/$1" 2>"$D/$1.log" &
    eval "PID_$1=$!"
    for _ in $(seq 1 250); do "$B/unionctl" -d "$D/$1" status >/dev/null 2>&1 && break; sleep 0.02; done
}
start_node haishu haishu-01 haishu
start_node xiangshan xiangshan-lt3 xiangshan
PIDS="$PID_haishu $PID_xiangshan"
trap '[ -n "$PID" ] && kill "$PID" 2>/dev/null; [ -n "$PIDS" ] && kill $PIDS 2>/dev/null; wait 2>/dev/null; rm -rf "$D"; true' EXIT
idj() { "$B/unionctl" -d "$D/$1" id --json | sed -n "s/.*\"$2\": \"\(.*\)\".*/\1/p"; }
pin() { # A pins B
    printf '$ unionctl -d %s peer add %s %s %.16s...\n' "$1" "$(idj "$2" node)" "$(idj "$2" listen)" "$(idj "$2" fingerprint)"
    "$B/unionctl" -d "$D/$1" peer add "$(idj "$2" node)" "$(idj "$2" listen)" "$(idj "$2" fingerprint)"
}
echo "Each office pins the others' key fingerprints (printed by uniond init / unionctl id):"
for a in yinzhou haishu xiangshan; do for b in yinzhou haishu xiangshan; do [ $a = $b ] || pin $a $b; done; done
waitfor() { for _ in $(seq 1 500); do "$@" >/dev/null 2>&1 && return 0; sleep 0.02; done; return 1; }
waitfor bash -c "[ \$('$B/unionctl' -d '$D/xiangshan' list --count) -ge 3001 ]"
run "$B/unionctl" -d "$D/yinzhou" peers
printf '$ unionctl -d xiangshan list --count     # the laptop received Yinzhou'"'"'s members over TLS 1.3\n'
"$B/unionctl" -d "$D/xiangshan" list --count

say "10. Live: Haishu registers 500 members; Yinzhou sees them at once (no sync command)"
"$B/genmembers" 500 7 haishu >"$D/haishu.csv"
"$B/unionctl" -d "$D/haishu" import "$D/haishu.csv"
waitfor bash -c "[ \$('$B/unionctl' -d '$D/yinzhou' list --where office=haishu --count) = 500 ]"
printf '$ unionctl -d yinzhou list --where office=haishu --count\n'
"$B/unionctl" -d "$D/yinzhou" list --where office=haishu --count

say "11. The laptop goes offline; both it and Yinzhou edit the same member"
kill -TERM "$PID_xiangshan"; wait "$PID_xiangshan" 2>/dev/null || true
printf '$ uniond -d xiangshan --offline        # at a service station, no network\n'
"$B/uniond" -d "$D/xiangshan" --offline 2>>"$D/xiangshan.log" &
PID_xiangshan=$!; PIDS="$PID_haishu $PID_xiangshan"
waitfor "$B/unionctl" -d "$D/xiangshan" status
run "$B/unionctl" -d "$D/xiangshan" edit "$ID" union=快递工会
run "$B/unionctl" -d "$D/yinzhou" edit "$ID" union=外卖骑手工会 notes=夜班

say "12. Back online: the laptop restarts with its network and syncs; both values are kept"
kill -TERM "$PID_xiangshan"; wait "$PID_xiangshan" 2>/dev/null || true
"$B/uniond" -d "$D/xiangshan" 2>>"$D/xiangshan.log" &
PID_xiangshan=$!; PIDS="$PID_haishu $PID_xiangshan"
waitfor "$B/unionctl" -d "$D/xiangshan" status
run "$B/unionctl" -d "$D/xiangshan" sync
waitfor bash -c "'$B/unionctl' -d '$D/haishu' conflicts | grep -q union"
run "$B/unionctl" -d "$D/haishu" conflicts
run "$B/unionctl" -d "$D/haishu" show "$ID"

say "13. Haishu resolves it; the resolution spreads to every office"
run "$B/unionctl" -d "$D/haishu" resolve "$ID" union 外卖骑手工会
tree() { git --git-dir="$D/$1/store.git" rev-parse 'HEAD^{tree}'; }
trees_equal() { [ "$(tree yinzhou)" = "$(tree haishu)" ] && [ "$(tree xiangshan)" = "$(tree haishu)" ]; }
waitfor trees_equal
run "$B/unionctl" -d "$D/xiangshan" conflicts
echo "Every store now has the same tree (plain git):"
for n in yinzhou haishu xiangshan; do printf '  %-10s %s\n' "$n" "$(tree $n)"; done
git --git-dir="$D/yinzhou/store.git" log --oneline --graph -6

say "14. The federation's report: unions, enterprises, stations and welfare as records"
Y=$(date +%Y); LAST=$((Y - 1))
# office NODE : a station, an enterprise, a union linked to both, and
# welfare hand-outs at the station, all dated last year
office() { # DIR OFFICE-NAME USCC
    local d=$1 zh=$2 uscc=$3 u="$B/unionctl" m
    "$u" -d "$D/$d" add --kind station name="${zh}骑手驿站" address="${zh}中心路1号" opened=$LAST-03-01 >/dev/null
    "$u" -d "$D/$d" add --kind enterprise name="${zh}快递有限公司" uscc="$uscc" industry=交通运输 \
        employees=120 surveyed=$LAST-04-10 >/dev/null
    "$u" -d "$D/$d" add --kind union name="${zh}快递行业工会" type=行业工会 founded=$LAST-05-20 \
        new_form=是 enterprise="$uscc" station="${zh}骑手驿站" >/dev/null
    for m in $("$u" -d "$D/$d" list --where office="$d" --where category~员 --limit 3 --csv | awk -F, 'NR > 1 {print $1}'); do
        "$u" -d "$D/$d" benefit give "$m" 夏送清凉 --date $LAST-07-15 --amount 180 --station "${zh}骑手驿站" >/dev/null
    done
}
printf '$ unionctl add --kind station name=鄞州骑手驿站 address=... opened=%s-03-01\n' "$LAST"
printf '$ unionctl add --kind union name=鄞州快递行业工会 type=行业工会 founded=%s-05-20 new_form=是 ...\n' "$LAST"
printf '$ unionctl benefit give MEMBER 夏送清凉 --date %s-07-15 --amount 180 --station 鄞州骑手驿站\n' "$LAST"
"$B/unionctl" -d "$D/xiangshan" add name=王强 gender=M category=快递员 joined=$LAST-06-01 >/dev/null
"$B/unionctl" -d "$D/xiangshan" add name=周敏 gender=F category=外卖配送员 joined=$LAST-08-01 >/dev/null
office yinzhou 鄞州 91330212MA2H000019
office haishu 海曙 91330203MA2H00002B
office xiangshan 象山 91330225MA2H00003A
waitfor trees_equal
echo "(each office recorded its own; sync brought every record to every node)"
run "$B/unionctl" -d "$D/yinzhou" report --from $LAST-01-01 --to "$(date +%F)"
run "$B/unionctl" -d "$D/yinzhou" report --from $LAST-01-01 --to "$(date +%F)" --xlsx "$D/report.xlsx"
run "$B/unionctl" -d "$D/yinzhou" stats --by category --across office

say "15. Stop every daemon (SIGTERM finishes the running request first)"
kill -TERM "$PID" $PIDS 2>/dev/null || true; wait "$PID" $PIDS 2>/dev/null || true; PID=; PIDS=
echo "stopped; the demo's directory is removed on exit"
