#!/usr/bin/env python3
"""compare.py OLD_BUILD NEW_BUILD - the same queries and restarts against two
builds of uniond on copies of one store, interleaved (old, new, old, ...),
medians: how a change moved the numbers of tests/bench/bench.py without
the noise of two separate runs on a busy machine.
  BENCH_N=100000 python3 tests/bench/compare.py /tmp/old/build build
The store is imported once with NEW_BUILD; both builds must read it."""
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

OLD, NEW = (os.path.abspath(p) for p in sys.argv[1:3])
N = int(os.environ.get("BENCH_N", "100000"))
REPS = int(os.environ.get("BENCH_REPS", "21"))
RUNS = int(os.environ.get("BENCH_RUNS", "5"))
D = tempfile.mkdtemp(prefix="uniond-compare.")
PROCS = {}


def ctl(b, node, *args):
    return subprocess.run([os.path.join(b, "unionctl"), "-d", node, *args],
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)


def start(b, node):
    t = time.perf_counter()
    PROCS[node] = subprocess.Popen([os.path.join(b, "uniond"), "-d", node],
                                   stderr=open(node + ".log", "ab"))
    while ctl(b, node, "status").returncode != 0:
        if PROCS[node].poll() is not None:
            raise RuntimeError("uniond exited on " + node)
        time.sleep(0.005)
    return time.perf_counter() - t


def stop(node):
    p = PROCS.pop(node)
    p.send_signal(signal.SIGTERM)
    p.wait(timeout=120)


def timed(fn):
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def pair(name, fn):
    o, n = [], []
    for _ in range(REPS):
        o.append(timed(lambda: fn(OLD, nodes[OLD])))
        n.append(timed(lambda: fn(NEW, nodes[NEW])))
    mo, mn = statistics.median(o), statistics.median(n)
    print("%-40s old %9.1f ms  new %9.1f ms  new/old %.2f" % (name, mo * 1e3, mn * 1e3, mn / mo),
          flush=True)


def members_csv(gen, n, path):
    """As bench.py does: n generated members."""
    with open(path, "wb") as f:
        subprocess.run([gen, str(n), "1"], stdout=f, check=True)
    return path


try:
    csv = members_csv(os.path.join(NEW, "genmembers"), N, os.path.join(D, "m.csv"))
    base = os.path.join(D, "new")
    subprocess.run([os.path.join(NEW, "uniond"), "init", "-d", base, "--node", "cmp",
                    "--office", "bench", "--listen", "127.0.0.1:0"], check=True,
                   stdout=subprocess.DEVNULL)
    start(NEW, base)
    if ctl(NEW, base, "import", csv).returncode != 0:
        raise RuntimeError("import failed")
    stop(base)
    shutil.copytree(base, os.path.join(D, "old"), symlinks=True)
    nodes = {OLD: os.path.join(D, "old"), NEW: base}
    for b in (OLD, NEW):
        start(b, nodes[b])
    print("N=%d reps=%d runs=%d" % (N, REPS, RUNS))
    for b in (OLD, NEW):
        print(b, ctl(b, nodes[b], "list", "--where", "category=快递员", "--count")
              .stdout.decode().strip(), "快递员")
    pair("list --where category=快递员 --count",
         lambda b, n: ctl(b, n, "list", "--where", "category=快递员", "--count"))
    pair("list --where joined>=2024-06-01 --count",
         lambda b, n: ctl(b, n, "list", "--where", "joined>=2024-06-01", "--count"))
    pair("stats --by office,category",
         lambda b, n: ctl(b, n, "stats", "--by", "office,category"))
    pair("stats --by office --where category=快递员",
         lambda b, n: ctl(b, n, "stats", "--by", "office", "--where", "category=快递员"))
    o, n = [], []
    for _ in range(RUNS):
        for b, acc in ((OLD, o), (NEW, n)):
            stop(nodes[b])
            acc.append(start(b, nodes[b]))
    print("%-40s old %9.1f ms  new %9.1f ms  new/old %.2f" % (
        "start until status", statistics.median(o) * 1e3, statistics.median(n) * 1e3,
        statistics.median(n) / statistics.median(o)))
    print("  each start, old: %s" % " ".join("%.0f" % (x * 1e3) for x in o))
    print("  each start, new: %s" % " ".join("%.0f" % (x * 1e3) for x in n))
    o, n = [], []
    for i in range(RUNS):  # one write, then a restart: the head moved
        for b, acc in ((OLD, o), (NEW, n)):
            ctl(b, nodes[b], "add", "name=重启%d" % i)
            stop(nodes[b])
            acc.append(start(b, nodes[b]))
    print("%-40s old %9.1f ms  new %9.1f ms  new/old %.2f" % (
        "start after one add", statistics.median(o) * 1e3, statistics.median(n) * 1e3,
        statistics.median(n) / statistics.median(o)))
    for b in (OLD, NEW):
        with open("/proc/%d/status" % PROCS[nodes[b]].pid) as f:
            rss = [l.split()[1] for l in f if l.startswith("VmRSS:")][0]
        print("  RSS after start, %s: %.0f MB" % ("old" if b == OLD else "new", int(rss) / 1024))
finally:
    for node in list(PROCS):
        stop(node)
    shutil.rmtree(D, ignore_errors=True)
