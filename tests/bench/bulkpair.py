#!/usr/bin/env python3
"""bulkpair.py import|replicate N RUNS BUILD... - the import and first
replication rows of bench.py for one or more builds, interleaved (build 1,
build 2, ..., anchor; RUNS times), so that a change can be measured
before/after on a shared machine. Reuses bench.py's functions and the
production binaries and layout. Prints per run the wall time, the CPU time
of the daemon doing the work (from /proc/PID/stat: steadier than wall time
when other work shares the cores) and the load average; then medians.
  import:    unionctl import of N genmembers into a fresh node; uniond's
             and unionctl's CPU per record; git fast-import of the same
             blobs and paths as the anchor.
  replicate: per build one node A holding N members (imported once), then
             a fresh B takes A's store in (seconds until B's head tree is
             A's); B's and A's CPU, the bytes of objects on B, and B's
             take-in phases from its debug log; git clone --bare over git
             daemon as the anchor; A's pack build time from its debug log.
Example (before/after):  git worktree add /tmp/old main && make -C /tmp/old
  python3 tests/bench/bulkpair.py import 100000 3 /tmp/old/build build"""
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time

MODE, N, RUNS = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
BUILDS = [os.path.abspath(b) for b in sys.argv[4:]]
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.argv = [sys.argv[0], BUILDS[-1]]
import bench  # noqa: E402  (reads its build from argv)

TCK = os.sysconf("SC_CLK_TCK")
med = statistics.median


def cpu(pid):
    """utime + stime of a process, seconds."""
    with open("/proc/%d/stat" % pid) as f:
        x = f.read().rsplit(")", 1)[1].split()
    return (int(x[11]) + int(x[12])) / TCK


def use(b):
    bench.UNIOND, bench.UNIONCTL = b + "/uniond", b + "/unionctl"


def bench_import(csv):
    res = {b: [] for b in BUILDS}
    fi, stream = [], os.path.join(bench.D, "fi.stream")
    for k in range(RUNS):
        for i, b in enumerate(BUILDS):
            use(b)
            node = bench.node_new("i%d-%d" % (i, k))
            pid, l0 = bench.DAEMONS[node].pid, os.getloadavg()[0]
            c0, r0 = cpu(pid), resource.getrusage(resource.RUSAGE_CHILDREN)
            w = bench.timed(lambda: bench.ctl(node, "import", csv))
            r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
            cc = (r1.ru_utime + r1.ru_stime) - (r0.ru_utime + r0.ru_stime)
            res[b].append((w, cpu(pid) - c0, cc))
            print("%s run %d: wall %.2f s, uniond CPU %.1f us/record, unionctl CPU %.1f "
                  "us/record, uniond peak %.0f MiB, load %.1f" %
                  (b, k, w, res[b][-1][1] / N * 1e6, cc / N * 1e6,
                   bench.rss_mb(node, "VmHWM:"), l0), flush=True)
            if not os.path.exists(stream):
                bench.fast_import_stream(os.path.join(node, "store.git"), stream)
            bench.node_drop(node)
        g = os.path.join(bench.D, "fi.git")
        bench.run("git", "init", "-q", "--bare", g)
        with open(stream, "rb") as s:
            fi.append(bench.timed(lambda: subprocess.run(
                ["git", "--git-dir", g, "fast-import", "--quiet"], stdin=s, check=True)))
        shutil.rmtree(g)
        print("git fast-import run %d: %.2f s" % (k, fi[-1]), flush=True)
    for b in BUILDS:
        w = med(x[0] for x in res[b])
        print("%s: import median %.2f s = %.2fx fast-import (%.2f s); uniond CPU %.1f us/record, "
              "unionctl CPU %.1f us/record" % (b, w, w / med(fi), med(fi),
                                               med(x[1] for x in res[b]) / N * 1e6,
                                               med(x[2] for x in res[b]) / N * 1e6))


def bench_replicate(csv):
    a_of = {}
    for i, b in enumerate(BUILDS):
        use(b)
        a_of[b] = bench.node_new("a%d" % i)
        bench.ctl(a_of[b], "import", csv)
    port = bench.free_port()
    gd = subprocess.Popen(["git", "daemon", "--reuseaddr", "--export-all", "--listen=127.0.0.1",
                           "--port=%d" % port, "--base-path=" + bench.D, bench.D],
                          stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    res, gs, gb = {b: [] for b in BUILDS}, [], 0
    try:
        for k in range(RUNS):
            for i, b in enumerate(BUILDS):
                use(b)
                a, name = a_of[b], "b%d-%d" % (i, k)
                node = bench.node_new(name)
                pb, pa = bench.DAEMONS[node].pid, bench.DAEMONS[a].pid
                cb, ca, l0 = cpu(pb), cpu(pa), os.getloadavg()[0]
                want = bench.head_tree(a)
                bench.ctl(a, "peer", "add", name, *bench.ident(node))
                la, fa = bench.ident(a)
                t = time.perf_counter()
                bench.ctl(node, "peer", "add", os.path.basename(a), la, fa)
                bench.wait_tree(node, want, "replication")
                w = time.perf_counter() - t
                ub = bench.objects_bytes(os.path.join(node, "store.git"))
                res[b].append((w, cpu(pb) - cb, cpu(pa) - ca, ub))
                print("%s run %d: wall %.2f s, B CPU %.2f s, A CPU %.2f s, %.1f MB on B, load %.1f"
                      % (b, k, w, res[b][-1][1], res[b][-1][2], ub / 1e6, l0), flush=True)
                with open(node + ".log", errors="replace") as f:
                    for line in f:
                        if "take-in:" in line:
                            print("    " + line.split("debug: ", 1)[-1].strip())
                with open(a + ".log", errors="replace") as f:
                    built = [x for x in f if "sending a pack of" in x]
                if built:  # A's side: how long the pack took to build
                    print("    A: " + built[-1].split("debug: ", 1)[-1].strip())
                bench.ctl(a, "peer", "remove", name)
                bench.node_drop(node)
            dst = os.path.join(bench.D, "clone.git")
            url = "git://127.0.0.1:%d/%s/store.git" % (port, os.path.basename(a_of[BUILDS[0]]))
            gs.append(bench.timed(lambda: bench.run("git", "clone", "-q", "--bare", url, dst)))
            gb = bench.objects_bytes(dst)
            shutil.rmtree(dst)
            print("git clone run %d: %.2f s, %.1f MB" % (k, gs[-1], gb / 1e6), flush=True)
    finally:
        gd.terminate()
        gd.wait()
    for b in BUILDS:
        w = med(x[0] for x in res[b])
        print("%s: first replication median %.2f s = %.2fx git clone (%.2f s); B CPU %.2f s; "
              "bytes %.3fx the clone's" % (b, w, w / med(gs), med(gs), med(x[1] for x in res[b]),
                                           med(x[3] for x in res[b]) / gb))


def main():
    csv = bench.members_csv(os.path.join(BUILDS[-1], "genmembers"), N,
                            os.path.join(bench.D, "m.csv"))
    print("bulkpair %s: N=%d runs=%d, %s; load average at start %.2f %.2f %.2f" %
          ((MODE, N, RUNS, bench.machine()) + os.getloadavg()), flush=True)
    (bench_import if MODE == "import" else bench_replicate)(csv)


if __name__ == "__main__":
    try:
        main()
    finally:
        bench.cleanup()
