#!/usr/bin/env python3
"""partition_check.py - the write checks of tests/faults/partition.sh.

    partition_check.py ACKS "NAME0 NAME1 ..." STORE0 STORE1 ...

ACKS has one line per acknowledged write (node index i, as the writer
logged it):

    add i ID VALUE          record ID created with name=VALUE notes=VALUE
    edit i ID FIELD VALUE   FIELD set to VALUE
    badd i ID ELEM          benefits+=ELEM
    brem i ID ELEM          benefits-=ELEM (ELEM seen on node i first)
    tbrem i ID ELEM         such a removal was tried (not a write: an
                            element it may have removed is not lost)
    merge i KEEP DUP        DUP folded into KEEP
    import i PREFIX N       N new records named PREFIX1..PREFIXN

The final state is STORE0's head tree (the test has already checked that
every node has the same tree). The record format (docs/STORE.md "Record
text") gives each entry's dot (node, counter) and each record's context.
A write is *present* when its entry is in the final record; it is
*superseded* when an entry of its field in the final record was written
by a node that had seen it (a write replaces every entry it sees, and what
replaces that has seen it too): the versions of the record holding that
entry have a context covering the write's dot. The versions are
every blob the record path had in any commit of the writing node's store
(all branches); every version holding an entry descends from the write
that made it, so the smallest context among them is the writer's.
Anything else is lost. Prints one line per problem and a last line
"figures: writes=N present=N superseded=N lost=N resurrected=N ...";
exits 1 if anything was lost or came back.
"""
import collections
import subprocess
import sys


def git(store, *args, data=None):
    return subprocess.run(["git", "--git-dir=" + store, *args], input=data,
                          capture_output=True, check=True).stdout


class Blobs:
    """Blob contents by id, read in batches through cat-file --batch."""

    def __init__(self):
        self.text = {}

    def load(self, store, shas):
        want = [s for s in shas if s not in self.text]
        if not want:
            return
        out = git(store, "cat-file", "--batch", data=("\n".join(want) + "\n").encode())
        pos = 0
        for s in want:
            nl = out.index(b"\n", pos)
            hdr = out[pos:nl].split()
            size = int(hdr[2])
            self.text[s] = out[nl + 1:nl + 1 + size].decode("utf-8", "replace")
            pos = nl + 1 + size + 1


def parse(text):
    """(entries [(field, value, node, counter)], context {node: counter})"""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    sep = lines.index("--")
    values, ctxline, meta = lines[:sep], lines[sep + 1], lines[sep + 2:]
    ctx = {}
    for part in ctxline[len("context:"):].split():
        n, c = part.rsplit("=", 1)
        ctx[n] = int(c)
    entries = []
    for v, m in zip(values, meta):
        field, _, val = v.partition(":")
        val = val[1:] if val.startswith(" ") else val
        mf, node, counter, _t = m.split(" ", 3)
        assert mf == field, (v, m)
        entries.append((field, val, node, int(counter)))
    return entries, ctx


def path_versions(store):
    """{record id: set of blob ids} over every commit of every branch"""
    out = git(store, "log", "--all", "--full-history", "-m", "--raw", "--no-abbrev",
              "--format=").decode()
    vers = collections.defaultdict(set)
    for line in out.splitlines():
        if not line.startswith(":"):
            continue
        meta, path = line.split("\t", 1)
        new = meta.split()[3]
        if new != "0" * 40 and "/" in path:
            vers[path.rsplit("/", 1)[1]].add(new)
    return vers


def main():
    acks_path, names, stores = sys.argv[1], sys.argv[2].split(), sys.argv[3:]
    blobs = Blobs()
    final = {}
    for line in git(stores[0], "ls-tree", "-r", "HEAD").decode().splitlines():
        meta, path = line.split("\t", 1)
        final[path.rsplit("/", 1)[1]] = meta.split()[2]
    blobs.load(stores[0], list(final.values()))
    state = {rid: parse(blobs.text[sha]) for rid, sha in final.items()}
    versions = {}  # store index -> {rid: blobs}

    def record_versions(i, rid):
        if i not in versions:
            versions[i] = path_versions(stores[i])
        shas = sorted(versions[i].get(rid, ()))
        blobs.load(stores[i], shas)
        return [parse(blobs.text[s]) for s in shas]

    def dot_of(i, rid, field, value):
        """the dot node i gave the write of value to field, or None"""
        for entries, _ctx in record_versions(i, rid):
            for f, v, n, c in entries:
                if f == field and v == value and n == names[i]:
                    return c
        return None

    def writer_ctx(rid, field, node, counter):
        """the context with which node wrote entry (field, node, counter)"""
        j = names.index(node) if node in names else 0
        best = None
        for entries, ctx in record_versions(j, rid):
            if any(f == field and n == node and c == counter for f, _v, n, c in entries):
                if best is None:
                    best = dict(ctx)
                else:
                    best = {k: min(best.get(k, 0), ctx.get(k, 0)) for k in set(best) | set(ctx)}
        return best

    count = collections.Counter()
    problems = []
    acks = [l.split() for l in open(acks_path, encoding="utf-8") if l.strip()]
    # a removal not acknowledged (the node was killed) may still have happened
    remove_tried = {(a[2], a[3]) for a in acks if a[0] in ("brem", "tbrem")}
    acks = [a for a in acks if a[0] != "tbrem"]
    names_in_final = collections.Counter()
    for rid, (entries, _ctx) in state.items():
        for f, v, _n, _c in entries:
            if f == "name":
                names_in_final[v] += 1

    def lost(msg):
        count["lost"] += 1
        problems.append("LOST " + msg)

    for a in acks:
        kind, i = a[0], int(a[1])
        count["writes"] += 1
        count[kind] += 1
        if kind == "add":
            rid, val = a[2], a[3]
            if rid not in state:
                lost(f"add on {names[i]}: record {rid} is not in the final tree")
            elif not any(f == "name" and v == val for f, v, _n, _c in state[rid][0]):
                lost(f"add on {names[i]}: record {rid} lost its name {val}")
            else:
                count["present"] += 1
        elif kind == "edit":
            rid, field, val = a[2], a[3], a[4]
            if rid not in state:
                lost(f"edit on {names[i]}: record {rid} is not in the final tree")
                continue
            entries, _ctx = state[rid]
            if any(f == field and v == val and n == names[i] for f, v, n, _c in entries):
                count["present"] += 1
                continue
            c = dot_of(i, rid, field, val)
            if c is None:
                lost(f"edit on {names[i]}: {rid} {field}={val} is in no version of the record")
                continue
            # a write replaces every entry it sees, and whatever replaced
            # that saw it too (contexts only grow), so a write that is gone
            # rightly has at least one final entry whose writer saw it;
            # the others may be concurrent with it
            over = [(n, cc) for f, _v, n, cc in entries if f == field]
            ok = False
            for n, cc in over:
                wctx = writer_ctx(rid, field, n, cc)
                if wctx is not None and wctx.get(names[i], 0) >= c:
                    ok = True
            if ok:
                count["superseded"] += 1
            else:
                lost(f"edit on {names[i]}: {rid} {field}={val} (dot {names[i]}:{c}) is gone; "
                     f"the field now holds {[(n, cc) for n, cc in over]}, written without seeing it")
        elif kind == "badd":
            rid, elem = a[2], a[3]
            there = rid in state and any(f == "benefits" and v == elem for f, v, _n, _c in state[rid][0])
            if there:
                count["present"] += 1
            elif (rid, elem) in remove_tried:
                count["superseded"] += 1
            else:
                lost(f"benefits+={elem} on {names[i]} ({rid}) is gone and was never removed")
        elif kind == "brem":
            rid, elem = a[2], a[3]
            if rid in state and any(f == "benefits" and v == elem for f, v, _n, _c in state[rid][0]):
                count["resurrected"] += 1
                problems.append(f"BACK benefits-={elem} on {names[i]} ({rid}) was acknowledged, "
                                "but the element is there again")
            else:
                count["present"] += 1
        elif kind == "merge":
            keep, dup = a[2], a[3]
            e = state.get(dup, ([], {}))[0]
            st = {v for f, v, _n, _c in e if f == "status"}
            into = {v for f, v, _n, _c in e if f == "merged_into"}
            if "merged" in st and keep in into and keep in state:
                count["present"] += 1
            else:
                lost(f"merge on {names[i]}: {dup} into {keep}: status {sorted(st)}, "
                     f"merged_into {sorted(into)}")
        elif kind == "import":
            prefix, n = a[2], int(a[3])
            have = sum(1 for r in range(1, n + 1) if names_in_final[f"{prefix}{r}"] >= 1)
            if have == n:
                count["present"] += 1
            else:
                lost(f"import on {names[i]}: {have} of {n} records named {prefix}* are there")
        else:
            problems.append(f"unknown ack line {a}")
            count["lost"] += 1
    for p in problems[:40]:
        print(p)
    kinds = " ".join(f"{k}={count[k]}" for k in ("add", "edit", "badd", "brem", "merge", "import"))
    print(f"figures: writes={count['writes']} present={count['present']} "
          f"superseded={count['superseded']} lost={count['lost']} "
          f"resurrected={count['resurrected']} records={len(state)} {kinds}")
    return 1 if count["lost"] or count["resurrected"] else 0


if __name__ == "__main__":
    sys.exit(main())
