#!/usr/bin/env python3
"""bench.py BUILD_DIR - issue 13's table: uniond against anchors run in the
same command on the same data (git fast-import, git clone over git daemon,
sqlite3 with an index), every pair interleaved (uniond, anchor, uniond,
anchor, ...) and reported as medians, so that a busy machine slows both
sides alike. Uses the production binaries and the production on-disk
layout (uniond init / uniond -d / unionctl -d). Environment:
  BENCH_N     members (default 20000)
  BENCH_RUNS  runs of the heavy pairs: import, replication, restarts
              (default 3; 1 from N=500000 on: one run of each at 1M already
              takes about half an hour on 2 cores)
  BENCH_REPS  runs of the light pairs: queries, adds, live (default 31)
  BENCH_KEEP  1: keep the temporary directory (the imported node A) and
              print its path, for profiling afterwards; default: removed
Prints one row per line of the issue's table with the issue's target beside
it and whether this run met it; ratio = uniond / anchor, lower is better.
Most targets are stated for 1M members (or 100k): at other N the same bound
is checked, as a hint. Never part of `make test` (timings on a shared
machine are not pass/fail material)."""
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
import threading
import time

B = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build")
N = int(os.environ.get("BENCH_N", "20000"))
RUNS = int(os.environ.get("BENCH_RUNS", "3" if N < 500000 else "1"))
REPS = int(os.environ.get("BENCH_REPS", "31"))
UNIOND, UNIONCTL = os.path.join(B, "uniond"), os.path.join(B, "unionctl")
D = tempfile.mkdtemp(prefix="uniond-bench.")
DAEMONS = {}  # node dir -> Popen
ROWS = []
LOADS = []  # the 1-minute load average when each row was printed


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


def cleanup(remove=True):
    """Stop every daemon still running and, unless told not to, remove the
    bench's directory (the end of bench.py, bulkpair.py and live.py)."""
    for node in list(DAEMONS):
        try:
            daemon_stop(node)
        except Exception:
            DAEMONS.pop(node, None)
    if remove:
        shutil.rmtree(D, ignore_errors=True)


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
    """The daemon's resident memory now (VmRSS) or at its peak (VmHWM), MiB."""
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


def row(work, u, a, unit="s", note="", target=None, met=None):
    """One line of the table: uniond's median, the anchor's, the ratio, the
    issue's target and whether it was met. target (text) and met (bool) are
    given together; without met the ratio is compared with a target of the
    form "<= R x"."""
    ratio = None if a is None else u / a
    if target and met is None and ratio is not None:
        met = ratio <= float(target.split()[1].rstrip("x"))
    line("%-44s %12s %12s %8s" % (work, fmt(u, unit), fmt(a, unit) if a is not None else "-",
                                  "%7.2fx" % ratio if ratio is not None else "-"),
         target, met, note)


def line(cols, target, met, note):
    LOADS.append(os.getloadavg()[0])
    ROWS.append("%s  %-18s %-6s  %s" % (cols, target or "-",
                                        "-" if met is None else "met" if met else "MISSED", note))
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
    cat = subprocess.Popen(["git", "--git-dir", store, "cat-file", "--batch"],
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    def feed():  # a thread, so that a full stdout pipe cannot block the writer
        cat.stdin.write(("\n".join(oids) + "\n").encode())
        cat.stdin.close()
    threading.Thread(target=feed, daemon=True).start()
    with open(out, "wb") as o:
        o.write(b"commit refs/heads/anchor\ncommitter a <a@a> 0 +0000\ndata 6\nimport\n")
        for path in paths:
            size = int(cat.stdout.readline().split()[2])
            data = cat.stdout.read(size + 1)[:size]
            o.write(b"M 100644 inline " + path.encode() + b"\ndata %d\n" % size + data + b"\n")
    cat.wait()


def bench_import(csv):
    """uniond import (validate, encode, one commit, one pack) vs git
    fast-import of the same records' blobs at the same paths; each run on
    a fresh node / fresh bare repo. Keeps the first node as A."""
    us, gs, peaks, cpeaks, a = [], [], [], [], None
    stream = os.path.join(D, "fi.stream")
    for k in range(RUNS):
        node = node_new("bench-i%d" % k)
        secs, cpeak = ctl_peak(node, "import", csv)
        us.append(secs)
        cpeaks.append(cpeak)
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
    os.unlink(stream)
    row("import N members (vs git fast-import)", med(us), med(gs), target="<= 0.5x",
        note="%.1f us/record; fast-import %.1f us/record" % (med(us) / N * 1e6,
                                                             med(gs) / N * 1e6))
    row("RSS peak of uniond during the import", med(peaks), None, unit="MiB",
        target="<= 1024 MiB (1M)", met=med(peaks) <= 1024,
        note="VmHWM; unionctl's own peak %.0f MiB" % med(cpeaks))
    return a


def ctl_peak(node, *args):
    """Run unionctl; (seconds, its peak RSS in MiB from wait4's rusage)."""
    t = time.perf_counter()
    p = subprocess.Popen([UNIONCTL, "-d", node, *args], stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE)
    err = p.stderr.read()
    _, status, ru = os.wait4(p.pid, 0)
    secs = time.perf_counter() - t
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode != 0:
        raise RuntimeError("unionctl %s failed: %s" % (" ".join(args), err.decode()[-300:]))
    return secs, ru.ru_maxrss / 1024


def sqlite_anchor(csv):
    """The same rows in one sqlite table, one transaction, an index on
    category (the anchor of the queries and of the single insert)."""
    import csv as csvmod
    db = os.path.join(D, "anchor.db")
    con = sqlite3.connect(db)
    with open(csv, encoding="utf-8") as f:
        rows = csvmod.reader(f)
        head = next(rows)
        con.execute("create table m (%s)" % ",".join('"%s"' % c for c in head))
        with con:
            con.executemany("insert into m values (%s)" % ",".join("?" * len(head)), rows)
    con.execute("create index m_category on m(category)")
    con.execute("create index m_joined on m(joined)")
    con.execute("create index m_id_number on m(id_number)")
    con.commit()
    cat = con.execute("select category from m group by category order by count(*) desc"
                      " limit 1 offset 2").fetchone()[0]
    # the range: the joined date above which about a tenth of the members are
    n = con.execute("select count(*) from m").fetchone()[0]
    since = con.execute("select joined from m order by joined desc limit 1 offset ?",
                        (n // 10,)).fetchone()[0]
    con.close()
    return db, cat, since


def bench_count(a, db, work, where, sql, what):
    """list --where WHERE --count vs the sqlite3 CLI's count, interleaved;
    the two counts are checked equal."""
    us, ss = [], []
    for _ in range(REPS):  # interleaved
        us.append(timed(lambda: ctl(a, "list", "--where", where, "--count")))
        ss.append(timed(lambda: run("sqlite3", db, sql)))
    got = ctl(a, "list", "--where", where, "--count").stdout.decode().strip()
    want = run("sqlite3", db, sql).decode().strip()
    row(work, med(us), med(ss), target="<= 1.0x",
        note="%s: %s vs %s records%s" % (what, got, want, "" if got == want else " (DIFFER)"))


def bench_show(a, db):
    """show ID_NUMBER (what a clerk types off an ID card) vs the sqlite3
    CLI's select of that row through an index on id_number; a member from
    the middle of the file, the names checked equal."""
    n = int(run("sqlite3", db, "select count(*) from m").decode())
    idn, name = run("sqlite3", "-separator", "\t", db, "select id_number, name from m "
                    "where id_number != '' limit 1 offset %d" % (n // 2)).decode().strip().split("\t")
    sql = "select * from m where id_number='%s'" % idn
    us, ss = [], []
    for _ in range(REPS):  # interleaved
        us.append(timed(lambda: ctl(a, "show", idn)))
        ss.append(timed(lambda: run("sqlite3", db, sql)))
    got = json.loads(ctl(a, "show", idn, "--json").stdout)["fields"].get("name")
    row("show ID_NUMBER (vs sqlite3, indexed)", med(us), med(ss),
        note="one member of %d: %s" % (n, "same name" if got == name else "DIFFER"))


def bench_queries(a, db, cat, since):
    bench_count(a, db, "list --where category=X --count (vs sqlite3)", "category=" + cat,
                "select count(*) from m where category='%s'" % cat, "X=" + cat)
    bench_count(a, db, "list --where joined>=D --count (vs sqlite3)", "joined>=" + since,
                "select count(*) from m where joined>='%s'" % since, "D=" + since)
    bench_show(a, db)
    sql = ("select office, category, count(*) from m where status='active'"
           " group by office, category")
    us, ss = [], []
    for _ in range(max(5, REPS // 3)):
        us.append(timed(lambda: ctl(a, "stats", "--by", "office,category")))
        ss.append(timed(lambda: run("sqlite3", db, sql)))
    got = json.loads(ctl(a, "stats", "--by", "office,category", "--json").stdout)
    want = run("sqlite3", db, "select count(*) from m where status='active'").decode().strip()
    total = got.get("total") if isinstance(got, dict) else None
    row("stats --by office,category (vs sqlite3)", med(us), med(ss), target="<= 0.25x",
        note="total %s vs %s active%s" % (total, want, "" if str(total) == want else " (DIFFER)"))


def bench_start(a):
    """Restart A: start until `status` answers, and RSS once it does. The
    stop after the import writes the record index snapshot of the new head
    (daemon/store/recsnap.c, store_save_index): its time and the first start
    after it are reported apart; the row is the median of the starts after
    it (RUNS of them)."""
    first, ts, rs, stop0 = None, [], [], 0.0
    for k in range(RUNS + 1):
        t = time.perf_counter()
        daemon_stop(a)
        if k == 0:
            stop0 = time.perf_counter() - t
        secs = daemon_start(a)
        time.sleep(0.2)  # let the loop settle; RSS is read after start, not during
        if k == 0:
            first = (secs, rss_mb(a))
        else:
            ts.append(secs)
            rs.append(rss_mb(a))
    row("start until status answers", med(ts), None, target="<= 2 s (1M)", met=med(ts) <= 2,
        note="first start after the import: %s (the stop before it, which writes the "
        "index snapshot: %s)" % (fmt(first[0], "s"), fmt(stop0, "s")))
    row("RSS after start", med(rs), None, unit="MiB", target="<= 400 MiB (1M)",
        met=med(rs) <= 400, note="%.2f KiB per record; after the first start %.0f MiB" % (
            med(rs) * 1024 / N, first[1]))


def bench_adds(a, db):
    """One acknowledged add (fsynced commit) vs one sqlite3 CLI insert with
    synchronous=full in its own transaction: each a process, durable."""
    us, ss = [], []
    for i in range(REPS):
        us.append(timed(lambda: ctl(a, "add", "name=基准%d" % i)))
        ss.append(timed(lambda: run("sqlite3", db, "pragma synchronous=full;"
                                    " insert into m(name) values ('基准%d')" % i)))
    row("one add (vs one sqlite3 insert)", med(us), med(ss), target="<= 1.0x",
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


def head_tree(node):
    r = subprocess.run(["git", "--git-dir", os.path.join(node, "store.git"), "rev-parse", "-q",
                        "--verify", "HEAD^{tree}"], stdout=subprocess.PIPE,
                       stderr=subprocess.DEVNULL)
    return r.stdout


def peers_link(x, y):
    """x and y pin each other (each adds the other as a peer)."""
    ctl(x, "peer", "add", os.path.basename(y), *ident(y))
    ctl(y, "peer", "add", os.path.basename(x), *ident(x))


WANT_GAVE_UP = b"answer to a WANT made no progress"


def wait_tree(node, want, what, limit=3600, give_up=None):
    """Poll until node's head tree is want; seconds it took, or None when
    give_up(node) says it will not get there (then the caller reports it)."""
    t = time.perf_counter()
    while head_tree(node) != want:
        if DAEMONS[node].poll() is not None:
            raise RuntimeError("uniond on %s exited during %s" % (node, what))
        if time.perf_counter() - t > limit:
            raise RuntimeError("%s: %s did not get the head in %d s" % (what, node, limit))
        if give_up and give_up(node):
            return None
        time.sleep(0.005)
    return time.perf_counter() - t


def wait_served(node, ref, limit=600):
    """Poll until node's daemon answers `list --count` with ref's count: the
    head ref moves before the take-in has fed the record index (at 100k that
    tail is ~2.5 s of CPU), so a live row started on wait_tree alone timed
    its first add behind the first replication's index update."""
    want = ctl(ref, "list", "--count").stdout
    t = time.perf_counter()
    while ctl(node, "list", "--count", check=False).stdout != want:
        if time.perf_counter() - t > limit:
            raise RuntimeError("%s did not serve %s's records in %d s" % (node, ref, limit))
        time.sleep(0.005)


TAKEIN_REFUSED = b"over the take-in limit"


def replication_stuck(node):
    """1 when node's log shows it will not get the whole store: the peer did
    not answer a WANT in time twice (the receiver drops the session and asks
    again from the start, forever), or the pack was over a take-in limit
    (daemon/store: 1,000,000 objects, [sync] max_pack_bytes)."""
    with open(node + ".log", "rb") as f:
        log = f.read()
    return log.count(WANT_GAVE_UP) >= 2 or TAKEIN_REFUSED in log


def replicate_once(a, k):
    """A fresh node B takes in A's whole store over TLS; seconds until B's
    head tree is A's. Returns (seconds, B's node dir)."""
    b = node_new("bench-b%d" % k)
    want = head_tree(a)
    ctl(a, "peer", "add", "bench-b%d" % k, *ident(b))
    la, fa = ident(a)
    t = time.perf_counter()
    ctl(b, "peer", "add", os.path.basename(a), la, fa)
    # A sender that cannot answer the whole WANT within the receiver's
    # deadline (daemon/net: WANT_MS) is asked again from the start, forever:
    # after the second time the row is reported as not completing.
    if wait_tree(b, want, "replication", give_up=replication_stuck) is None:
        return None, b
    return time.perf_counter() - t, b


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
        us, gs, b, ub, gb, failed = [], [], None, 0, 0, 0
        url = "git://127.0.0.1:%d/%s/store.git" % (port, os.path.basename(a))
        for k in range(RUNS):
            if b:
                ctl(a, "peer", "remove", "bench-b%d" % (k - 1))
                node_drop(b)
            t = time.perf_counter()
            secs, b = replicate_once(a, k)
            if secs is None:
                failed = time.perf_counter() - t
            else:
                us.append(secs)
            dst = os.path.join(D, "clone%d.git" % k)
            gs.append(timed(lambda: run("git", "clone", "-q", "--bare", url, dst)))
            gb = objects_bytes(dst)
            shutil.rmtree(dst)
            if failed:
                break
        time.sleep(0.3)
        if not failed:
            ub = objects_bytes(os.path.join(b, "store.git"))
    finally:
        gd.terminate()
        gd.wait()
    if failed:
        line("%-44s %12s %12s %8s" % ("first replication (vs git clone, git daemon)",
                                      "no end", fmt(med(gs), "s"), "-"),
             "<= 1.0x", False, "B %s; gave up after %.0f s" % (
                 "refused the pack: over a take-in limit" if TAKEIN_REFUSED in open(
                     b + ".log", "rb").read() else
                 "dropped A's WANT answer twice (deadline 120 s)", failed))
        line("%-44s %12s %12s %8s" % ("  bytes of objects on B (vs the clone)", "-",
                                      fmt(gb / 1e6, "MB"), "-"), "<= 1.05x", None, "")
        ctl(a, "peer", "remove", os.path.basename(b))
        node_drop(b)
        return None
    row("first replication (vs git clone, git daemon)", med(us), med(gs), target="<= 1.0x",
        note="%.1f us/record" % (med(us) / N * 1e6))
    row("  bytes of objects on B (vs the clone)", ub / 1e6, gb / 1e6, unit="MB",
        target="<= 1.05x")
    return b


def seeded(a, names):
    """Nodes holding A's store without the first replication: one `bundle
    export` of A, taken in by each with `bundle import` (the offline path,
    checked like a sync; no WANT deadline), in parallel. For the live rows
    when the first replication does not complete."""
    bundle = os.path.join(D, "a.bundle")
    ctl(a, "bundle", "export", bundle)
    nodes = [node_new(n) for n in names]
    procs = [subprocess.Popen([UNIONCTL, "-d", n, "bundle", "import", bundle],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) for n in nodes]
    errs = [p.stderr.read().decode().strip() for p in procs if p.wait() != 0]
    os.unlink(bundle)
    if errs:  # e.g. over the take-in limit of 1,000,000 objects at 1M
        print("(the live rows were not run: bundle import refused: %s)" % errs[0][-200:],
              flush=True)
        for n in nodes:
            node_drop(n)
        return None
    return nodes


def mp_enc(v):
    """The few msgpack types a control request needs (docs/CONTROL.md)."""
    if isinstance(v, bool):
        return b"\xc3" if v else b"\xc2"
    if isinstance(v, str):
        b = v.encode()
        assert len(b) < 256
        return (bytes([0xa0 | len(b)]) if len(b) < 32 else bytes([0xd9, len(b)])) + b
    if isinstance(v, dict):
        assert len(v) < 16
        return bytes([0x80 | len(v)]) + b"".join(mp_enc(k) + mp_enc(x) for k, x in v.items())
    raise TypeError(v)


class Kept:
    """One kept connection to a node's control socket (4-byte big-endian
    length, one msgpack map each way; docs/CONTROL.md): a request without a
    unionctl process, so a poll through it times the daemons' propagation,
    not the process start (4.6-6.6 ms per `show` on the EPYC VM)."""

    def __init__(self, node):
        self.c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.c.connect(os.path.join(node, "uniond.sock"))

    def read_n(self, n):
        buf = b""
        while len(buf) < n:
            got = self.c.recv(n - len(buf))
            if not got:
                raise RuntimeError("the daemon closed the control connection")
            buf += got
        return buf

    def ask(self, op, **kw):
        req = mp_enc(dict(op=op, operator="bench", **kw))
        self.c.sendall(len(req).to_bytes(4, "big") + req)
        return self.read_n(int.from_bytes(self.read_n(4), "big"))

    def ok(self, op, **kw):
        """True when the daemon answers op with {"ok": true, ...}."""
        return b"\xa2ok\xc3" in self.ask(op, **kw)[:12]  # the reply map's first key (map 32)

    def records(self):
        """`status`'s records: a count the daemon keeps, O(1) to answer."""
        rep = self.ask("status")
        i = rep.find(b"\xa7records")
        if i < 0:
            raise RuntimeError("status without records")
        t, v = rep[i + 8], rep[i + 9:]
        if t < 0x80:
            return t
        n = {0xcc: 1, 0xcd: 2, 0xce: 4, 0xcf: 8}.get(t)
        if n is None:
            raise RuntimeError("status: records is not a count")
        return int.from_bytes(v[:n], "big")

    def close(self):
        self.c.close()


def live(a, far, tag):
    """Latencies (s) of REPS adds on a until `show` answers on far, the cost
    of one `show` alone (the floor of the poll), and, for REPS more adds
    interleaved with those, the latency seen over a kept control connection
    to far (`status` every 0.5 ms until its record count moves, then
    `show`): the propagation without the process floor."""
    lat, floor, kept = [], [], []
    k = Kept(far)
    try:
        for i in range(REPS):
            pid = ctl(a, "add", "name=%s%d" % (tag, i)).stdout.decode().strip()
            t = time.perf_counter()
            while ctl(far, "show", pid, check=False).returncode != 0:
                if time.perf_counter() - t > 300:
                    raise RuntimeError("the change did not reach %s in 300 s" % far)
            lat.append(time.perf_counter() - t)
            floor.append(timed(lambda: ctl(far, "show", pid)))
            n0 = k.records()
            pid = ctl(a, "add", "name=%s%dk" % (tag, i)).stdout.decode().strip()
            t = time.perf_counter()
            # status until the count moves, then show: a show of a record
            # not there yet walks the whole index under its read lock (1.9
            # ms at 100k on the EPYC VM), which a tight poll of show would
            # add to the far node's take-in
            while k.records() <= n0 or not k.ok("show", id=pid):
                if time.perf_counter() - t > 300:
                    raise RuntimeError("the change did not reach %s in 300 s" % far)
                time.sleep(0.0005)
            kept.append(time.perf_counter() - t)
    finally:
        k.close()
    return lat, floor, kept


def kept_note(kept):
    return "kept connection p50 %.1f ms p99 %.1f ms" % (med(kept) * 1e3, pct(kept, 99) * 1e3)


def path_counts(node, peer):
    """(pushes_in, wants_out) of node for peer (unionctl peers --json): how
    many announcements came with their pack, how many WANTs node sent."""
    for p in json.loads(ctl(node, "peers", "--json").stdout):
        if p.get("name") == os.path.basename(peer):
            return p.get("pushes_in", 0), p.get("wants_out", 0)
    return 0, 0


def path_note(node, peer, before):
    """What the live path used on node meanwhile: pushed take-ins, WANTs."""
    after = path_counts(node, peer)
    return "%d pushed, %d WANTs on %s" % (after[0] - before[0], after[1] - before[1],
                                          os.path.basename(node)[-1].upper())


def bench_live(a, b):
    """One add on A until `show` answers on B (the peers connected). The
    poll itself is a unionctl process: its cost, measured on B, is the floor
    of this row. The note says how the changes came: pushed with their
    HEADS (no WANT, PROTOCOL.md 5.4) or asked for."""
    wait_served(b, a)
    before = path_counts(b, a)
    lat, floor, kept = live(a, b, "传播")
    p50, p99 = med(lat) * 1e3, pct(lat, 99) * 1e3
    line("%-44s %12s %12s %8s" % ("one add on A until show works on B", "p50 %.1f ms" % p50,
                                  "p99 %.1f ms" % p99, "-"),
         "p50<=10 p99<=30 ms", p50 <= 10 and p99 <= 30,
         "one show alone: %.1f ms; %s; %s" % (med(floor) * 1e3, kept_note(kept),
                                               path_note(b, a, before)))


def bench_hops(a, b, c_d=None):
    """One change over three hops: A - B - C - D in a line (each pins only
    its neighbours; B and C pass the change on by gossip). C and D first
    take in the whole store (not timed)."""
    t = time.perf_counter()
    if c_d is None:
        c, d = node_new("bench-c"), node_new("bench-d")
    else:
        c, d = c_d
    peers_link(b, c)
    peers_link(c, d)
    wait_tree(d, head_tree(a), "the three-hop line's first replication")
    wait_served(d, a)
    secs = time.perf_counter() - t
    before = path_counts(d, c)
    lat, floor, kept = live(a, d, "三跳")
    p50 = med(lat) * 1e3
    line("%-44s %12s %12s %8s" % ("one add on A until show works on D (3 hops)",
                                  "p50 %.1f ms" % p50, "p99 %.1f ms" % (pct(lat, 99) * 1e3), "-"),
         "p50 <= 30 ms", p50 <= 30,
         "one show alone: %.1f ms; %s; C and D filled in %.0f s; %s" % (
             med(floor) * 1e3, kept_note(kept), secs, path_note(d, c, before)))
    node_drop(d)
    node_drop(c)


def bench_live_rows(a, b):
    """The one-hop and three-hop rows; b is A's replica from the first
    replication, or None when it did not complete (then B, C and D are
    filled from a bundle, when they can take it in)."""
    c_d = None
    if b is None:
        t = time.perf_counter()
        nodes = seeded(a, ["bench-b", "bench-c", "bench-d"])
        if nodes is None:
            return
        b, c, d = nodes
        peers_link(a, b)
        wait_tree(b, head_tree(a), "the live row's peers")
        print("(B, C and D filled from a bundle of A for the live rows: %.0f s)" %
              (time.perf_counter() - t), flush=True)
        c_d = (c, d)
    bench_live(a, b)
    bench_hops(a, b, c_d)


def members_csv(gen, n, path):
    """n generated members (genmembers writes each ID number once)."""
    with open(path, "wb") as f:
        subprocess.run([gen, str(n), "1"], stdout=f, check=True)
    return path


def machine():
    """nproc, CPU model, memory: the line that goes with the figures."""
    model, mem = "?", 0
    with open("/proc/cpuinfo") as f:
        for l in f:
            if l.startswith("model name"):
                model = l.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        for l in f:
            if l.startswith("MemTotal:"):
                mem = int(l.split()[1]) / 2**20
    return "%d cores (%s), %.0f GiB memory" % (os.cpu_count(), model, mem)


def main():
    t0 = time.perf_counter()
    print("uniond bench: N=%d runs=%d reps=%d, %s, %s" % (N, RUNS, REPS, machine(), B),
          flush=True)
    print("load average at start: %.2f %.2f %.2f" % os.getloadavg())
    csv = members_csv(os.path.join(B, "genmembers"), N, os.path.join(D, "m.csv"))
    print("%-44s %12s %12s %8s  %-18s %-6s  %s" % ("work (medians, interleaved)", "uniond",
                                                   "anchor", "ratio", "target", "met?", "notes"))
    a = bench_import(csv)
    db, cat, since = sqlite_anchor(csv)
    os.unlink(csv)
    bench_queries(a, db, cat, since)
    bench_start(a)
    bench_adds(a, db)
    os.unlink(db)
    bench_live_rows(a, bench_replication(a))
    print("ratio = uniond / anchor, lower is better; targets marked (1M) are the issue's at 1M")
    print("load average (1 min) while the rows ran: min %.2f, max %.2f; bench took %.0f s" %
          (min(LOADS), max(LOADS), time.perf_counter() - t0))


if __name__ == "__main__":
    try:
        main()
    finally:
        keep = os.environ.get("BENCH_KEEP") == "1"
        cleanup(remove=not keep)
        if keep:
            print("kept: %s (node A: %s)" % (D, os.path.join(D, "bench-i0")))
