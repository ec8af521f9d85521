#!/usr/bin/env bash
# run.sh BUILD_DIR - benchmarks of uniond against anchors run in the same
# command on the same data: plain git (fast-import of the same blobs in the
# same tree layout; fetch between bare repos) and sqlite (one table, one
# transaction; indexed count). Results are ratios uniond/anchor, so they
# compare across machines; absolute times are printed for context.
#   BENCH_N=20000 make bench
set -euo pipefail
B=$(cd "${1:-build}" && pwd)
N=${BENCH_N:-20000}
ADDS=${BENCH_ADDS:-200}
D=$(mktemp -d /tmp/uniond-bench.XXXXXX)
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null; rm -rf "$D"' EXIT
command -v sqlite3 >/dev/null || { echo "bench needs sqlite3: apt-get install sqlite3"; exit 1; }
now() { date +%s.%N; }
secs() { echo "$2 - $1" | bc -l; }
ratio() { printf '%.2f' "$(echo "$1 / $2" | bc -l)"; }
start() { # DIR NAME
    "$B/uniond" init -d "$D/$1" --node "$2" --office bench --listen 127.0.0.1:0 >/dev/null
    "$B/uniond" -d "$D/$1" -v 2>"$D/$1.log" & PIDS+=($!)
    for _ in $(seq 1 500); do "$B/unionctl" -d "$D/$1" status >/dev/null 2>&1 && return; sleep 0.02; done
    echo "node $1 did not start"; exit 1
}
row() { printf '%-34s %10.3f s %10.3f s %8s\n' "$1" "$2" "$3" "$(ratio "$2" "$3")"; }

"$B/genmembers" "$N" 1 >"$D/m.csv"
start a bench-a
printf '%-34s %12s %12s %8s\n' "benchmark (N=$N)" "uniond" "anchor" "ratio"

# 1. bulk import: uniond import (validate, encode, one commit, one pack)
#    vs git fast-import of the same records' text at the same paths
t0=$(now); "$B/unionctl" -d "$D/a" import "$D/m.csv" >/dev/null; t1=$(now)
u=$(secs "$t0" "$t1")
"$B/unionctl" -d "$D/a" export --csv >/dev/null
git init -q --bare "$D/anchor.git"
# the same blobs at the same paths, as one fast-import stream
python3 - "$D/a/store.git" >"$D/fi.stream" <<'PY'
import subprocess, sys
g = sys.argv[1]
tree = subprocess.run(["git", "--git-dir", g, "ls-tree", "-r", "HEAD"], capture_output=True, check=True).stdout.decode().splitlines()
oids = [l.split()[2] for l in tree]
paths = [l.split("\t", 1)[1] for l in tree]
cat = subprocess.run(["git", "--git-dir", g, "cat-file", "--batch"], input=("\n".join(oids) + "\n").encode(), capture_output=True, check=True).stdout
out = sys.stdout.buffer
out.write(b"commit refs/heads/anchor\ncommitter a <a@a> 0 +0000\ndata 6\nimport\n")
pos = 0
for path in paths:
    nl = cat.index(b"\n", pos); size = int(cat[pos:nl].split()[2]); data = cat[nl + 1:nl + 1 + size]; pos = nl + 2 + size
    out.write(b"M 100644 inline " + path.encode() + b"\ndata %d\n" % size + data + b"\n")
PY
t0=$(now); git --git-dir="$D/anchor.git" fast-import --quiet <"$D/fi.stream"; t1=$(now)
row "import N members (vs git fast-import)" "$u" "$(secs "$t0" "$t1")"

# 2. the same rows into sqlite, one transaction, with an index on category
python3 - "$D/m.csv" "$D/anchor.db" >"$D/sqlite.t" <<'PY'
import csv, sqlite3, sys, time
rows = list(csv.reader(open(sys.argv[1], encoding="utf-8")))
db = sqlite3.connect(sys.argv[2]); db.execute("pragma synchronous=full")
db.execute("create table m (%s)" % ",".join('"%s"' % c for c in rows[0]))
db.execute("create index mc on m(category)")
t = time.time()
with db:
    db.executemany("insert into m values (%s)" % ",".join("?" * len(rows[0])), rows[1:])
print(time.time() - t)
PY
row "import N members (vs sqlite)" "$u" "$(cat "$D/sqlite.t")"

# 3. a query answered from the in-memory index vs sqlite with an index
t0=$(now); for _ in $(seq 1 20); do "$B/unionctl" -d "$D/a" list --where category=快递员 --count >/dev/null; done; t1=$(now)
u=$(secs "$t0" "$t1")
t0=$(now); for _ in $(seq 1 20); do sqlite3 "$D/anchor.db" "select count(*) from m where category='快递员'" >/dev/null; done; t1=$(now)
row "20 x list --count (vs sqlite3 CLI)" "$u" "$(secs "$t0" "$t1")"

# 4. single durable writes: unionctl add (fsync'd commit) vs sqlite3 CLI
#    inserts, each its own transaction with synchronous=full
t0=$(now); for i in $(seq 1 "$ADDS"); do "$B/unionctl" -d "$D/a" add name=基准$i >/dev/null; done; t1=$(now)
u=$(secs "$t0" "$t1")
t0=$(now); for i in $(seq 1 "$ADDS"); do sqlite3 "$D/anchor.db" "pragma synchronous=full; insert into m(name) values ('基准$i')"; done; t1=$(now)
row "$ADDS single adds (vs sqlite3 CLI)" "$u" "$(secs "$t0" "$t1")"

# 5. replication: a second node takes in the whole store over TLS vs
#    git fetch of the same store between two bare repos on disk
start b bench-b
fpr() { "$B/unionctl" -d "$D/$1" id --json | sed -n 's/.*"fingerprint": "\(.*\)".*/\1/p'; }
addr() { "$B/unionctl" -d "$D/$1" id --json | sed -n 's/.*"listen": "\(.*\)".*/\1/p'; }
"$B/unionctl" -d "$D/a" peer add bench-b "$(addr b)" "$(fpr b)"
t0=$(now)
"$B/unionctl" -d "$D/b" peer add bench-a "$(addr a)" "$(fpr a)"
want=$(git --git-dir="$D/a/store.git" rev-parse 'HEAD^{tree}')
until [ "$(git --git-dir="$D/b/store.git" rev-parse -q --verify 'HEAD^{tree}' 2>/dev/null)" = "$want" ]; do sleep 0.01; done
t1=$(now)
u=$(secs "$t0" "$t1")
git init -q --bare "$D/fetch.git"
t0=$(now); git --git-dir="$D/fetch.git" fetch -q "$D/a/store.git" refs/heads/bench-a:refs/heads/bench-a; t1=$(now)
row "replicate the store (vs git fetch)" "$u" "$(secs "$t0" "$t1")"
# 6. live propagation: an add on A until B can show it (gossip, WANT, pack,
#    take-in), against a local git commit + push between bare repos
t0=$(now)
for i in $(seq 1 20); do
    pid=$("$B/unionctl" -d "$D/a" add name=传播$i)
    until "$B/unionctl" -d "$D/b" show "$pid" >/dev/null 2>&1; do sleep 0.005; done
done
t1=$(now)
u=$(secs "$t0" "$t1")
git init -q "$D/work"; git -C "$D/work" remote add o "$D/fetch.git"
t0=$(now)
for i in $(seq 1 20); do
    echo "$i" >"$D/work/f"; git -C "$D/work" add f
    git -C "$D/work" -c user.name=b -c user.email=b@b commit -qm "$i"; git -C "$D/work" push -q o HEAD:refs/heads/p 2>/dev/null
done
t1=$(now)
row "20 adds seen on the peer (vs git push)" "$u" "$(secs "$t0" "$t1")"
sleep 0.5; grep -h -E "sending a pack|took in" "$D"/a.log "$D"/b.log | sort | head -3 | sed "s/^/  # /" || true
echo "ratio = uniond time / anchor time (lower is better); N=$N, adds=$ADDS"
