#!/usr/bin/env python3
"""oneadd.py BUILD [BUILD...] - one acknowledged `unionctl add` (a process,
as a clerk runs it) on a fresh node per build, against one sqlite3 CLI
insert with synchronous=full (durable), interleaved REPS (41) times;
prints p50/p90 and the ratio to sqlite3 per build. The quick form of
bench.py's "one add" row, for old/new pairs:
    python3 tests/bench/oneadd.py /tmp/old-build build
"""
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

REPS = int(os.environ.get("REPS", "41"))
D = tempfile.mkdtemp(prefix="uniond-oneadd.")


def timed(cmd):
    t = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    return time.perf_counter() - t


def start(b, k):
    d = os.path.join(D, "oa%d" % k)
    subprocess.run([b + "/uniond", "init", "-d", d, "--node", "oa%d" % k, "--office", "yinzhou",
                    "--listen", "127.0.0.1:0"], check=True, capture_output=True)
    p = subprocess.Popen([b + "/uniond", "-d", d], stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    deadline = time.time() + 20
    while subprocess.run([b + "/unionctl", "-d", d, "status"],
                         capture_output=True).returncode != 0:
        if time.time() > deadline:
            sys.exit("uniond of %s did not come up" % b)
        time.sleep(0.05)
    return (b, d, p)


def main():
    builds = [os.path.abspath(b) for b in sys.argv[1:]] or ["build"]
    nodes = [start(b, k) for k, b in enumerate(builds)]
    db = os.path.join(D, "oa.db")
    subprocess.run(["sqlite3", db, "create table m(id integer primary key, name text)"],
                   check=True)
    res = {b: [] for b in builds}
    res["sqlite3"] = []
    try:
        for i in range(REPS):
            for b, d, _ in nodes:
                res[b].append(timed([b + "/unionctl", "-d", d, "add", "name=基准%d" % i]))
            res["sqlite3"].append(timed(["sqlite3", db, "pragma synchronous=full; insert into "
                                         "m(name) values ('基准%d')" % i]))
    finally:
        for _, _, p in nodes:
            p.terminate()
            p.wait()
    s = statistics.median(res["sqlite3"])
    for k, v in res.items():
        v.sort()
        print("%-30s p50 %.2f ms  p90 %.2f ms  ratio %.2fx" % (
            k, statistics.median(v) * 1e3, v[int(len(v) * .9)] * 1e3, statistics.median(v) / s))


if __name__ == "__main__":
    try:
        main()
    finally:
        shutil.rmtree(D, ignore_errors=True)
