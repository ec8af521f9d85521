#!/usr/bin/env python3
"""badpack.py - craft hostile packs and bundles for the store's take-in
tests, with plain git plumbing (git hash-object --literally writes any
bytes as an object; git pack-objects packs any list of objects).

    badpack.py CASE OUTDIR [--node NAME] [--base OID]

Writes OUTDIR/CASE.pack and OUTDIR/CASE.bundle (a v2 bundle whose one ref
is refs/heads/NAME, default node-z) and prints one line:

    COMMIT BAD_OID [BAD_OID...]

COMMIT is the head the pack/bundle announces; BAD_OIDs are the objects a
receiver must name when it refuses (for "valid": none). Cases: valid,
dup-entries, mode-100664, empty-tree, extra-toplevel, bad-utf8, overlong,
unknown-field, bad-phone, trailing-space, smuggled, oversized-blob,
too-many-parents, own-branch (a valid pack whose ref is NAME, meant to be
the receiver's own branch); for the schema/ folder of declarations:
schema-valid (a member using a field the same pack declares), schema-subtree,
schema-nondecl, schema-baddecl, schema-member (a member record named
schemafields); and union-in-members (a valid union record under members/).
"""
import os
import subprocess
import sys

TIME = "2026-11-28T23:45:29.656Z"


def git(repo, *args, data=None):
    r = subprocess.run(["git", "--git-dir=" + repo] + list(args), input=data,
                       stdout=subprocess.PIPE, check=True)
    return r.stdout


def obj(repo, kind, data):
    return git(repo, "hash-object", "-w", "--literally", "-t", kind, "--stdin",
               data=data).decode().strip()


def fnv_path(rid):
    h = 2166136261
    for b in rid.encode():
        h ^= b
        h = (h * 16777619) & 0xffffffff
    return "%02x" % (h >> 24), "%02x" % ((h >> 16) & 0xff)


def record(node, field=b"name", value="张三".encode()):
    """Canonical record text: one entry (field, value) by node, counter 1."""
    return (field + b": " + value + b"\n--\ncontext: " + node.encode() +
            b"=1\n" + field + b" " + node.encode() + b" 1 " + TIME.encode() + b"\n")


def tree(repo, entries, sort=True):
    """entries: (mode bytes, name str, oid hex). Written byte for byte."""
    if sort:
        entries = sorted(entries, key=lambda e: e[1] + ("/" if e[0] == b"40000" else ""))
    data = b"".join(m + b" " + n.encode() + b"\0" + bytes.fromhex(o) for m, n, o in entries)
    return obj(repo, "tree", data)


def layout(repo, rid, blob, mode=b"100644", extra_root=None):
    """members/aa/bb/rid -> blob; returns (root tree, [trees])."""
    aa, bb = fnv_path(rid)
    t_bb = tree(repo, [(mode, rid, blob)])
    t_aa = tree(repo, [(b"40000", bb, t_bb)])
    t_m = tree(repo, [(b"40000", aa, t_aa)])
    root_entries = [(b"40000", "members", t_m)]
    if extra_root:
        root_entries.append(extra_root)
    return tree(repo, root_entries), [t_bb, t_aa, t_m]


def commit(repo, root, parents=(), msg="add r\n"):
    head = "tree %s\n" % root
    for p in parents:
        head += "parent %s\n" % p
    sig = "clerk <clerk@node-z> 1795860000 +0800"
    head += "author %s\ncommitter %s\n\n%s" % (sig, sig, msg)
    return obj(repo, "commit", head.encode())


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    case, out = sys.argv[1], sys.argv[2]
    node = "node-z"
    if "--node" in sys.argv:
        node = sys.argv[sys.argv.index("--node") + 1]
    os.makedirs(out, exist_ok=True)
    repo = os.path.join(out, case + ".scratch.git")
    subprocess.run(["rm", "-rf", repo], check=True)
    subprocess.run(["git", "init", "-q", "--bare", repo], check=True)
    rid = "0000000000zz" + case.replace("-", "")[:8].lower()
    rid = "".join(c for c in rid if c.isalnum())
    good = obj(repo, "blob", record("node-z"))
    extra = []  # objects packed beside the history
    bad = []

    if case in ("valid", "own-branch"):
        root, _ = layout(repo, rid, good)
        head = commit(repo, root)
    elif case == "dup-entries":
        aa, bb = fnv_path(rid)
        t_bb = tree(repo, [(b"100644", rid, good), (b"100644", rid, good)], sort=False)
        t_aa = tree(repo, [(b"40000", bb, t_bb)])
        t_m = tree(repo, [(b"40000", aa, t_aa)])
        root = tree(repo, [(b"40000", "members", t_m)])
        head = commit(repo, root)
        bad = [t_bb]
    elif case == "mode-100664":
        root, trees = layout(repo, rid, good, mode=b"100664")
        head = commit(repo, root)
        bad = [trees[0]]
    elif case == "empty-tree":
        empty = obj(repo, "tree", b"")
        root, trees = layout(repo, rid, empty, mode=b"40000")
        head = commit(repo, root)
        bad = [empty, trees[0]]
    elif case == "extra-toplevel":
        other = tree(repo, [(b"100644", rid, good)])
        root, _ = layout(repo, rid, good, extra_root=(b"40000", "secrets", other))
        head = commit(repo, root)
        bad = [root]
    elif case in ("bad-utf8", "overlong", "unknown-field", "bad-phone", "trailing-space"):
        field, value = {
            "bad-utf8": (b"name", b"\xff\xfe"),
            "overlong": (b"name", b"a\xc0\xafb"),
            "unknown-field": (b"nickname", b"x"),
            "bad-phone": (b"phone", b"notaphone"),
            "trailing-space": (b"name", b"abc "),
        }[case]
        blob = obj(repo, "blob", record("node-z", field, value))
        root, _ = layout(repo, rid, blob)
        head = commit(repo, root)
        bad = [blob]
    elif case == "smuggled":
        root, _ = layout(repo, rid, good)
        head = commit(repo, root)
        dup = tree(repo, [(b"100644", rid, good), (b"100644", rid, good)], sort=False)
        extra = [dup]
        bad = [dup]
    elif case == "oversized-blob":
        root, _ = layout(repo, rid, good)
        head = commit(repo, root)
        big = obj(repo, "blob", b"a" * (2 << 20))
        extra = [big]
        bad = [big]
    elif case == "too-many-parents":
        parents = []
        for i in range(3):
            r = rid[:-1] + "abc"[i]
            root, _ = layout(repo, r, good)
            parents.append(commit(repo, root, msg="add %d\n" % i))
        root, _ = layout(repo, rid, good)
        head = commit(repo, root, parents, msg="octopus\n")
        bad = [head]
    elif case.startswith("schema-"):
        decl = obj(repo, "blob", record("node-z", b"hukou", "text 0 户籍".encode()))
        cat = obj(repo, "blob", record("node-z", b"values", "1;跑腿员;跑腿".encode()))
        entries = [(b"100644", "schemacategory", cat), (b"100644", "schemafields", decl)]
        member = good
        if case == "schema-valid":
            member = obj(repo, "blob", record("node-z", b"hukou", "宁波".encode()))
        elif case == "schema-subtree":
            entries = [(b"40000", "ab", tree(repo, [(b"100644", "schemafields", decl)]))]
        elif case == "schema-nondecl":
            entries.append((b"100644", rid, good))
        elif case == "schema-baddecl":
            baddecl = obj(repo, "blob", record("node-z", b"hukou", b"bogus 0 x"))
            entries = [(b"100644", "schemafields", baddecl)]
            bad = [baddecl]
        elif case == "schema-member":
            entries = [(b"100644", "schemafields", good)]
        else:
            sys.exit("unknown case " + case)
        t_schema = tree(repo, entries)
        root, _ = layout(repo, rid, member, extra_root=(b"40000", "schema", t_schema))
        head = commit(repo, root)
        if not bad and case != "schema-valid":
            bad = [t_schema]
    elif case == "union-in-members":
        blob = obj(repo, "blob", record("node-z", b"founded", b"2020-01-01"))
        root, trees = layout(repo, rid, blob)
        head = commit(repo, root)
        bad = [trees[0]]
    else:
        sys.exit("unknown case " + case)

    # every object of the history, plus the extras, in one pack
    objs = git(repo, "rev-list", "--objects", head).decode().split("\n")
    ids = [l.split(" ")[0] for l in objs if l] + extra
    pack = git(repo, "pack-objects", "--stdout", data=("\n".join(ids) + "\n").encode())
    with open(os.path.join(out, case + ".pack"), "wb") as f:
        f.write(pack)
    with open(os.path.join(out, case + ".bundle"), "wb") as f:
        f.write(b"# v2 git bundle\n%s refs/heads/%s\n\n" % (head.encode(), node.encode()))
        f.write(pack)
    print(" ".join([head] + bad))


if __name__ == "__main__":
    main()
