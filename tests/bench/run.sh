#!/usr/bin/env bash
# run.sh BUILD_DIR - issue 13's benchmark table (tests/bench/bench.py):
# uniond against git fast-import, git clone over git daemon and sqlite3 with
# an index, on the same data in the same command, interleaved, medians.
#   make bench                 N=20000 (a few minutes on 2 cores)
#   BENCH_N=100000 make bench  BENCH_RUNS / BENCH_REPS: see bench.py
set -euo pipefail
B=$(cd "${1:-build}" && pwd)
command -v sqlite3 >/dev/null || { echo "bench needs sqlite3: apt-get install sqlite3"; exit 1; }
git daemon --help >/dev/null 2>&1 || { echo "bench needs git daemon (package git)"; exit 1; }
bash "$(dirname "$0")/concurrent.sh" "$B" # group commit: adds/s with 1 and 50 clients
exec python3 "$(dirname "$0")/bench.py" "$B"
