#!/usr/bin/env python3
"""bench.py BUILD_DIR - issue 13's table: uniond against anchors run in the
same command on the same data (git fast-import, git clone over git daemon,
sqlite3 with an index), every pair interleaved (uniond, anchor, uniond,
anchor, ...) and reported as medians, so that a busy machine slows both
sides alike. Uses the production binaries and the production on-disk
layout (uniond init / uniond -d / unionctl -d). Environment:
  BENCH_N     members (default 20000)
  BENCH_RUNS  runs of the heavy pairs: import, replication (default 3)
  BENCH_REPS  runs of the light pairs: queries, adds, live (default 31)
Prints one row per line of the issue's table; ratio = uniond / anchor,
lower is better. Never part of `make test` (timings on a shared machine are
not pass/fail material)."""
import json
import os
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

B = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build")
N = int(os.environ.get("BENCH_N", "20000"))
RUNS = int(os.environ.get("BENCH_RUNS", "3"))
REPS = int(os.environ.get("BENCH_REPS", "31"))
UNIOND, UNIONCTL = os.path.join(B, "uniond"), os.path.join(B, "unionctl")
D = tempfile.mkdtemp(prefix="uniond-bench.")
DAEMONS = {}  # node dir -> Popen
ROWS = []


def run(*args, **kw):
    return subprocess.run(args, check=True, stdout=subprocess.PIPE, **kw).stdout


def ctl(node, *args, check=True):
    r = subprocess.run([UNIONCTL, "-d", node, *args], stdout=subprocess.PIPE,
                       stderr=subprocess.DEVNULL)
    if check and r.returncode != 0:
        raise RuntimeError("unionctl %s failed" % " ".join(args))
    return r


def timed(fn):
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def daemon_start(node):
    """Start uniond on node; seconds until `status` answers."""
    log = open(node + ".log", "ab")
    t = time.perf_counter()
    DAEMONS[node] = subprocess.Popen([UNIOND, "-d", node, "-v"], stderr=log)
    deadline = t + 600
    while time.perf_counter() < deadline:
        if ctl(node, "status", check=False).returncode == 0:
            return time.perf_counter() - t
        if DAEMONS[node].poll() is not None:
            raise RuntimeError("uniond on %s exited" % node)
        time.sleep(0.005)
    raise RuntimeError("uniond on %s did not answer" % node)


def daemon_stop(node):
    p = DAEMONS.pop(node)
    p.send_signal(signal.SIGTERM)
    p.wait(timeout=120)


def node_new(name):
    node = os.path.join(D, name)
    run(UNIOND, "init", "-d", node, "--node", name, "--office", "bench",
        "--listen", "127.0.0.1:0")
    daemon_start(node)
    return node


def node_drop(node):
    daemon_stop(node)
    shutil.rmtree(node)


def rss_mb(node, key="VmRSS:"):
    """The daemon's resident memory now (VmRSS) or at its peak (VmHWM)."""
    with open("/proc/%d/status" % DAEMONS[node].pid) as f:
        for line in f:
            if line.startswith(key):
                return int(line.split()[1]) / 1024
    return 0.0


def med(xs):
    return statistics.median(xs)


def pct(xs, p):
    s = sorted(xs)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def row(work, u, a, unit="s", note=""):
    """One line of the table: uniond's median, the anchor's, the ratio."""
    if a is None:
        ROWS.append("%-44s %12s %12s %8s  %s" % (work, fmt(u, unit), "-", "-", note))
    else:
        ROWS.append("%-44s %12s %12s %7.2fx  %s" % (work, fmt(u, unit), fmt(a, unit), u / a, note))
    print(ROWS[-1], flush=True)


def fmt(v, unit):
    if unit == "s":
        return "%.3f s" % v if v >= 1 else "%.1f ms" % (v * 1000)
    return "%.0f %s" % (v, unit)


def fast_import_stream(store, out):
    """The same blobs at the same paths as node's head, as one fast-import
    stream (built once, outside the timing)."""
    tree = run("git", "--git-dir", store, "ls-tree", "-r", "HEAD").decode().splitlines()
    oids = [l.split()[2] for l in tree]
    paths = [l.split("\t", 1)[1] for l in tree]
    cat = run("git", "--git-dir", store, "cat-file", "--batch",
              input=("\n".join(oids) + "\n").encode())
    with open(out, "wb") as o:
        o.write(b"commit refs/heads/anchor\ncommitter a <a@a> 0 +0000\ndata 6\nimport\n")
        pos = 0
        for path in paths:
            nl = cat.index(b"\n", pos)
            size = int(cat[pos:nl].split()[2])
            data = cat[nl + 1:nl + 1 + size]
            pos = nl + 2 + size
            o.write(b"M 100644 inline " + path.encode() + b"\ndata %d\n" % size + data + b"\n")


def bench_import(csv):
    """uniond import (validate, encode, one commit, one pack) vs git
    fast-import of the same records' blobs at the same paths; each run on
    a fresh node / fresh bare repo. Keeps the first node as A."""
    us, gs, peaks, a = [], [], [], None
    stream = os.path.join(D, "fi.stream")
    for k in range(RUNS):
        node = node_new("bench-i%d" % k)
        us.append(timed(lambda: ctl(node, "import", csv)))
        peaks.append(rss_mb(node, "VmHWM:"))
        if a is None:
            a = node
            fast_import_stream(os.path.join(a, "store.git"), stream)
        else:
            node_drop(node)
        g = os.path.join(D, "fi%d.git" % k)
        run("git", "init", "-q", "--bare", g)
        with open(stream, "rb") as s:
            gs.append(timed(lambda: subprocess.run(
                ["git", "--git-dir", g, "fast-import", "--quiet"], stdin=s, check=True)))
        shutil.rmtree(g)
    row("import N members (vs git fast-import)", med(us), med(gs),
        note="%.1f us/record" % (med(us) / N * 1e6))
    row("RSS peak of uniond during the import", med(peaks), None, unit="MB",
        note="target <= 1 GiB at 1M")
    return a


def sqlite_anchor(csv):
    """The same rows in one sqlite table, one transaction, an index on
    category (the anchor of the queries and of the single insert)."""
    import csv as csvmod
    db = os.path.join(D, "anchor.db")
    with open(csv, encoding="utf-8") as f:
        rows = list(csvmod.reader(f))
    con = sqlite3.connect(db)
    con.execute("create table m (%s)" % ",".join('"%s"' % c for c in rows[0]))
    with con:
        con.executemany("insert into m values (%s)" % ",".join("?" * len(rows[0])), rows[1:])
    con.execute("create index m_category on m(category)")
    con.commit()
    cat = con.execute("select category from m group by category order by count(*) desc"
                      " limit 1 offset 2").fetchone()[0]
    con.close()
    return db, cat


def bench_queries(a, db, cat):
    sql = "select count(*) from m where category='%s'" % cat
    us, ss = [], []
    for _ in range(REPS):  # interleaved
        us.append(timed(lambda: ctl(a, "list", "--where", "category=" + cat, "--count")))
        ss.append(timed(lambda: run("sqlite3", db, sql)))
    got = ctl(a, "list", "--where", "category=" + cat, "--count").stdout.decode().strip()
    want = run("sqlite3", db, sql).decode().strip()
    row("list --where category=X --count (vs sqlite3)", med(us), med(ss),
        note="X=%s: %s vs %s records%s" % (cat, got, want, "" if got == want else " (DIFFER)"))
    sql = ("select office, category, count(*) from m where status='active'"
           " group by office, category")
    us, ss = [], []
    for _ in range(max(5, REPS // 3)):
        us.append(timed(lambda: ctl(a, "stats", "--by", "office,category")))
        ss.append(timed(lambda: run("sqlite3", db, sql)))
    got = json.loads(ctl(a, "stats", "--by", "office,category", "--json").stdout)
    want = run("sqlite3", db, "select count(*) from m where status='active'").decode().strip()
    total = got.get("total") if isinstance(got, dict) else None
    row("stats --by office,category (vs sqlite3)", med(us), med(ss),
        note="total %s vs %s active" % (total, want))


def bench_start(a):
    """Restart A: start until `status` answers, and RSS once it does."""
    ts, rs = [], []
    for _ in range(RUNS):
        daemon_stop(a)
        ts.append(daemon_start(a))
        time.sleep(0.2)  # let the loop settle; RSS is read after start, not during
        rs.append(rss_mb(a))
    row("start until status answers", med(ts), None, note="target <= 2 s at 1M")
    row("RSS after start", med(rs), None, unit="MB",
        note="%.2f KB per record; target <= 400 MiB at 1M" % (med(rs) * 1024 / N))


def bench_adds(a, db):
    """One acknowledged add (fsynced commit) vs one sqlite3 CLI insert with
    synchronous=full in its own transaction: each a process, durable."""
    us, ss = [], []
    for i in range(REPS):
        us.append(timed(lambda: ctl(a, "add", "name=基准%d" % i)))
        ss.append(timed(lambda: run("sqlite3", db, "pragma synchronous=full;"
                                    " insert into m(name) values ('基准%d')" % i)))
    row("one add (vs one sqlite3 insert)", med(us), med(ss),
        note="p99 %.1f vs %.1f ms" % (pct(us, 99) * 1e3, pct(ss, 99) * 1e3))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def ident(node):
    j = json.loads(ctl(node, "id", "--json").stdout)
    return j["listen"], j["fingerprint"]


def objects_bytes(gitdir):
    total = 0
    for root, _, files in os.walk(os.path.join(gitdir, "objects")):
        total += sum(os.path.getsize(os.path.join(root, f)) for f in files)
    return total


def replicate_once(a, k):
    """A fresh node B takes in A's whole store over TLS; seconds until B's
    head tree is A's. Returns (seconds, B's node dir)."""
    b = node_new("bench-b%d" % k)
    want = run("git", "--git-dir", os.path.join(a, "store.git"), "rev-parse", "HEAD^{tree}")
    ctl(a, "peer", "add", "bench-b%d" % k, *ident(b))
    la, fa = ident(a)
    t = time.perf_counter()
    ctl(b, "peer", "add", "bench-i0", la, fa)
    bstore = os.path.join(b, "store.git")
    while True:
        r = subprocess.run(["git", "--git-dir", bstore, "rev-parse", "-q", "--verify",
                            "HEAD^{tree}"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        if r.stdout == want:
            return time.perf_counter() - t, b
        time.sleep(0.005)


def bench_replication(a):
    """First replication vs `git clone --bare` over `git daemon` (git's own
    protocol, a pack made by the sender) of A's store; interleaved runs, a
    fresh B each time. Keeps the last B for the live row."""
    port = free_port()
    gd = subprocess.Popen(["git", "daemon", "--reuseaddr", "--export-all", "--listen=127.0.0.1",
                           "--port=%d" % port, "--base-path=" + D, D],
                          stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):  # until it listens
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.02)
        us, gs, b, ub, gb = [], [], None, 0, 0
        url = "git://127.0.0.1:%d/%s/store.git" % (port, os.path.basename(a))
        for k in range(RUNS):
            if b:
                ctl(a, "peer", "remove", "bench-b%d" % (k - 1))
                node_drop(b)
            secs, b = replicate_once(a, k)
            us.append(secs)
            dst = os.path.join(D, "clone%d.git" % k)
            gs.append(timed(lambda: run("git", "clone", "-q", "--bare", url, dst)))
            gb = objects_bytes(dst)
            shutil.rmtree(dst)
        time.sleep(0.3)
        ub = objects_bytes(os.path.join(b, "store.git"))
    finally:
        gd.terminate()
        gd.wait()
    row("first replication (vs git clone, git daemon)", med(us), med(gs),
        note="bytes on B %.1f MB vs clone %.1f MB (%.2fx)" % (ub / 1e6, gb / 1e6, ub / gb))
    return b


def bench_live(a, b):
    """One add on A until `show` answers on B (the peers connected). The
    poll itself is a unionctl process: its cost, measured on B, is the floor
    of this row."""
    lat, floor = [], []
    for i in range(REPS):
        pid = ctl(a, "add", "name=传播%d" % i).stdout.decode().strip()
        t = time.perf_counter()
        while ctl(b, "show", pid, check=False).returncode != 0:
            pass
        lat.append(time.perf_counter() - t)
        floor.append(timed(lambda: ctl(b, "show", pid)))
    ROWS.append("%-44s %12s %12s %8s  %s" % (
        "one add on A until show works on B", "p50 %.1f ms" % (med(lat) * 1e3),
        "p99 %.1f ms" % (pct(lat, 99) * 1e3), "-",
        "one show alone: %.1f ms; target p50 <= 10, p99 <= 30" % (med(floor) * 1e3)))
    print(ROWS[-1], flush=True)


def members_csv(gen, n, path):
    """n generated members (genmembers writes each ID number once)."""
    with open(path, "wb") as f:
        subprocess.run([gen, str(n), "1"], stdout=f, check=True)
    return path


def main():
    t0 = time.perf_counter()
    print("uniond bench: N=%d runs=%d reps=%d, %d cores, %s" % (
        N, RUNS, REPS, os.cpu_count(), B), flush=True)
    csv = members_csv(os.path.join(B, "genmembers"), N, os.path.join(D, "m.csv"))
    print("%-44s %12s %12s %8s" % ("work (medians, interleaved)", "uniond", "anchor", "ratio"))
    a = bench_import(csv)
    db, cat = sqlite_anchor(csv)
    bench_queries(a, db, cat)
    bench_start(a)
    bench_adds(a, db)
    b = bench_replication(a)
    bench_live(a, b)
    print("ratio = uniond / anchor, lower is better; bench took %.0f s" %
          (time.perf_counter() - t0))


if __name__ == "__main__":
    try:
        main()
    finally:
        for node in list(DAEMONS):
            try:
                daemon_stop(node)
            except Exception:
                DAEMONS.pop(node, None)
        shutil.rmtree(D, ignore_errors=True)
