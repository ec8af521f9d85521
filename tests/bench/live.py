#!/usr/bin/env python3
"""live.py BUILD [BUILD2 ...] - the bench's two live rows only (bench.py's
live(): one add on A until `show` answers on B, and on D over the line
A - B - C - D), for before/after pairs: one set of four nodes per build,
filled from the same generated members (A imports them, B, C, D replicate
along the line), then the adds interleaved between the builds in batches
(BATCH adds on one set, then on the next, ...). Environment: BENCH_N
(members, default 20000), BENCH_REPS (adds per row and build, default 31),
BATCH (default 5), KEEP=1 (leave the daemons running and print the
directory, for tracing). Prints p50 and p99 per row and build, the cost of
one `show` (the floor of the poll), the p50 and p99 of as many more adds
polled over a kept control connection (bench.Kept: the propagation without
the process floor), and the load average while it ran."""
import os
import statistics
import sys
import time

builds = [os.path.abspath(b) for b in sys.argv[1:]] or [os.path.abspath("build")]
sys.argv = [sys.argv[0], builds[0]]
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402  (reads sys.argv and BENCH_* at import)

BATCH = int(os.environ.get("BATCH", "5"))


def use(b):
    bench.UNIOND, bench.UNIONCTL = os.path.join(b, "uniond"), os.path.join(b, "unionctl")


def main():
    csv = bench.members_csv(os.path.join(builds[0], "genmembers"), bench.N,
                            os.path.join(bench.D, "m.csv"))
    sets = []
    for k, b in enumerate(builds):
        use(b)
        a = bench.node_new("x%d-a" % k)
        bench.ctl(a, "import", csv)
        nodes = [a] + [bench.node_new("x%d-%s" % (k, c)) for c in "bcd"]
        t = time.perf_counter()
        for x, y in zip(nodes, nodes[1:]):
            bench.peers_link(x, y)
        bench.wait_tree(nodes[3], bench.head_tree(a), "fill")
        for n in nodes[1:]:
            bench.wait_served(n, a)
        print("build %s: B, C, D filled in %.1f s" % (b, time.perf_counter() - t), flush=True)
        sets.append((b, nodes, [], [], [], [], []))
    reps, done, loads = bench.REPS, 0, []
    while done < reps:
        n = min(BATCH, reps - done)
        for b, nodes, one, three, floor, k1, k3 in sets:
            use(b)
            bench.REPS = n
            lat, fl, kept = bench.live(nodes[0], nodes[1], "传播")
            one += lat
            floor += fl
            k1 += kept
            lat, fl, kept = bench.live(nodes[0], nodes[3], "三跳")
            three += lat
            k3 += kept
            loads.append(os.getloadavg()[0])
        done += n
    for b, nodes, one, three, floor, k1, k3 in sets:
        print("%s: 1 hop p50 %.1f ms p99 %.1f ms | 3 hops p50 %.1f ms p99 %.1f ms | "
              "one show %.1f ms (n=%d)" % (b, statistics.median(one) * 1e3,
                                          bench.pct(one, 99) * 1e3,
                                          statistics.median(three) * 1e3,
                                          bench.pct(three, 99) * 1e3,
                                          statistics.median(floor) * 1e3, len(one)))
        print("%s: kept connection: 1 hop p50 %.1f ms p99 %.1f ms | 3 hops p50 %.1f ms "
              "p99 %.1f ms (n=%d)" % (b, statistics.median(k1) * 1e3, bench.pct(k1, 99) * 1e3,
                                     statistics.median(k3) * 1e3, bench.pct(k3, 99) * 1e3,
                                     len(k1)))
    print("load average (1 min) while it ran: min %.2f, max %.2f" % (min(loads), max(loads)))


if __name__ == "__main__":
    keep = os.environ.get("KEEP") == "1"
    try:
        main()
    finally:
        if keep:
            print("kept (daemons running):", bench.D, flush=True)
        else:
            bench.cleanup()
