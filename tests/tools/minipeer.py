#!/usr/bin/env python3
"""minipeer.py - a minimal peer of uniond, written from docs/PROTOCOL.md alone
with the Python standard library and the git command line (no libgit2, no
msgpack package). Used by tests/integration/test_protocol.sh.

  minipeer.py add  DIR NODE FIELD=VALUE...     commit one record on the own branch, print its id
  minipeer.py sync DIR NODE HOST:PORT FINGERPRINT [--office CODE] [--timeout S]
  minipeer.py attack DIR NODE HOST:PORT FINGERPRINT KIND [ARG]

DIR holds node.key and node.crt (an Ed25519 key and a self-signed certificate,
made with the openssl CLI) and store.git (a bare repository, made on demand).
`sync` dials uniond, checks its fingerprint, exchanges HELLOs, WANTs what it
lacks, serves uniond's WANTs, ends with one sync round (HEADS req -> DONE ack)
and exits 0 once both sides hold each other's heads. It keeps copies of other
nodes' branches (fast-forward only) but does not merge them into its own.
Of the receiver checks it does the quarantine, paths and modes, not the
canonical-record check; it pins a key, so it does not check the HELLO's name.
Exit codes: 0 in sync, 1 refused or protocol error, 2 usage, 3 timeout.

`attack` plays a hostile pinned peer (tests/integration/test_hostile_peer.sh):
after the HELLOs it does one KIND of misbehaviour and prints what uniond did
on stdout: `error: MSG` (an ERROR), `closed` (closed without ERROR) or
`silent` (nothing within 20 s). KIND is one of
  endless-pack BYTES  announce its own branch, answer uniond's WANT with
                      PACK chunks (last=false) until refused or BYTES sent
  hello-name NAME     its HELLO claims the node name NAME (Python escapes
                      allowed, e.g. 'x\\n2099-...'; \\xNN are raw bytes)
  error-msg MSG       a valid HELLO, then an ERROR whose msg is MSG (same escapes)
  want-id ID          a WANT for uniond's head with id ID (e.g. -1)
  want-upper          a WANT for uniond's head spelled in uppercase hex
  heads-upper         a HEADS announcing its branch in uppercase hex
  branches N          a HEADS (req) announcing N branches ghost-1..N at uniond's
                      head; prints `done` when uniond's DONE says it took them in
  many-objects N      announce its own branch, answer uniond's WANT with a PACK
                      chunk whose header announces N objects (last=false)
  slow-pack SECONDS   not hostile, only slow: announce its own branch, answer
                      uniond's WANT with its real pack cut in pieces spread over
                      SECONDS (a piece every 0.5 s), then a HEADS (req); prints
                      `done` when uniond's DONE says it took the pack in
  stall-pack          announce its own branch, send the first half of the real
                      pack, then nothing (answering PINGs only)"""
import hashlib, os, random, re, shutil, socket, ssl, struct, subprocess, sys, tempfile, time

FRAME_MAX = 1 << 20       # PROTOCOL.md "Framing"
CHUNK = 256 << 10         # pack bytes per PACK message
PING_S, IDLE_S = 10, 45

# ---- msgpack (the subset PROTOCOL.md uses, encoded like msgpack-c) ----------

def _hdr(n, fix, fixlen, c8, c16, c32):
    if n < fixlen: return bytes([fix | n])
    if c8 and n < 256: return struct.pack(">BB", c8, n)
    return struct.pack(">BH", c16, n) if n < 65536 else struct.pack(">BI", c32, n)

class RawStr(bytes):
    """A msgpack str whose bytes need not be UTF-8 (hostile peers only)."""

def mp_pack(o):
    if isinstance(o, RawStr):
        return _hdr(len(o), 0xa0, 32, 0xd9, 0xda, 0xdb) + bytes(o)
    if o is None or o is True or o is False: return {None: b"\xc0", True: b"\xc3", False: b"\xc2"}[o]
    if isinstance(o, int):
        if 0 <= o < 0x80: return bytes([o])              # positive fixint, then uint8/16/32/64
        for code, fmt, top in ((0xcc, ">BB", 0xff), (0xcd, ">BH", 0xffff), (0xce, ">BI", 0xffffffff),
                               (0xcf, ">BQ", 2**64 - 1)):
            if 0 <= o <= top: return struct.pack(fmt, code, o)
        return struct.pack(">b", o) if o >= -32 else struct.pack(">Bq", 0xd3, o)
    if isinstance(o, str):
        return _hdr(len(o.encode()), 0xa0, 32, 0xd9, 0xda, 0xdb) + o.encode()
    if isinstance(o, (bytes, bytearray)):
        return _hdr(len(o), 0, 0, 0xc4, 0xc5, 0xc6) + bytes(o)
    if isinstance(o, (list, tuple)):
        return _hdr(len(o), 0x90, 16, 0, 0xdc, 0xdd) + b"".join(mp_pack(x) for x in o)
    if isinstance(o, dict):
        return _hdr(len(o), 0x80, 16, 0, 0xde, 0xdf) + b"".join(mp_pack(k) + mp_pack(v) for k, v in o.items())
    raise TypeError(type(o))

def mp_unpack(b):
    """Decode exactly one object filling b (str, bin, int, bool, nil, array, map)."""
    lens = {0xc4: ">B", 0xc5: ">H", 0xc6: ">I", 0xd9: ">B", 0xda: ">H", 0xdb: ">I",
            0xdc: ">H", 0xdd: ">I", 0xde: ">H", 0xdf: ">I"}
    ints = {0xcc: ">B", 0xcd: ">H", 0xce: ">I", 0xcf: ">Q", 0xd0: ">b", 0xd1: ">h", 0xd2: ">i", 0xd3: ">q"}

    def take(i, n):
        if i + n > len(b): raise ValueError("truncated msgpack")
        return b[i:i + n], i + n

    def rd(i):
        c = take(i, 1)[0][0]; i += 1
        if c < 0x80: return c, i
        if c >= 0xe0: return c - 256, i
        if c <= 0x8f: return cont(i, c & 15, True)
        if c <= 0x9f: return cont(i, c & 15, False)
        if c <= 0xbf: s, i = take(i, c & 31); return s.decode(), i
        if c == 0xc0: return None, i
        if c in (0xc2, 0xc3): return c == 0xc3, i
        if c in ints:
            v, i = take(i, struct.calcsize(ints[c])); return struct.unpack(ints[c], v)[0], i
        if c not in lens: raise ValueError("msgpack type 0x%02x is not used by the protocol" % c)
        v, i = take(i, struct.calcsize(lens[c])); (n,) = struct.unpack(lens[c], v)
        if c <= 0xc6: s, i = take(i, n); return bytes(s), i
        if c <= 0xdb: s, i = take(i, n); return s.decode(), i
        return cont(i, n, c >= 0xde)

    def cont(i, n, is_map):
        out = {} if is_map else []
        for _ in range(n):
            k, i = rd(i)
            if is_map:
                v, i = rd(i)
                out.setdefault(k, v)   # the first of duplicate keys counts
            else:
                out.append(k)
        return out, i

    o, end = rd(0)
    if end != len(b): raise ValueError("trailing bytes after the msgpack object")
    return o

# ---- git ---------------------------------------------------------------------

class Repo:
    def __init__(self, path, node):
        self.path, self.node, self.env = path, node, None
        if not os.path.isdir(path):
            subprocess.run(["git", "init", "-q", "--bare", "--initial-branch=" + node, path], check=True)

    def git(self, *args, data=None, check=True, env=None):
        r = subprocess.run(["git", "--git-dir=" + self.path] + list(args), input=data,
                           capture_output=True, env=env or self.env)
        if check and r.returncode != 0:
            raise RuntimeError("git %s: %s" % (args[0], r.stderr.decode(errors="replace").strip()))
        return r

    def heads(self):
        out = self.git("for-each-ref", "--format=%(refname:strip=2) %(objectname)", "refs/heads/").stdout
        return dict(line.split(" ") for line in out.decode().splitlines())

    def is_commit(self, oid):
        return self.git("cat-file", "-t", oid, check=False).stdout.strip() == b"commit"

    def is_ancestor(self, a, b):
        return self.git("merge-base", "--is-ancestor", a, b, check=False).returncode == 0

    def pack(self, want, have):
        revs = want + ["^" + h for h in have if self.is_commit(h)]
        return self.git("pack-objects", "--stdout", "--revs", "-q", data="\n".join(revs).encode() + b"\n").stdout

    def take_pack(self, pack, heads):
        """Index a pack into a quarantine object directory, check it, move it in."""
        objects = os.path.join(self.path, "objects")
        q = tempfile.mkdtemp(prefix="incoming-", dir=objects)
        try:
            os.mkdir(os.path.join(q, "pack"))
            self.env = dict(os.environ, GIT_OBJECT_DIRECTORY=q, GIT_ALTERNATE_OBJECT_DIRECTORIES=objects)
            self.git("index-pack", "--stdin", "--fix-thin", "--strict", data=pack)
            self.check_new_commits(list(heads.values()))
            self.env = None
            names = sorted(os.listdir(os.path.join(q, "pack")), key=lambda n: n.endswith(".idx"))
            for n in names:                     # the .idx last: git finds packs by their index
                os.rename(os.path.join(q, "pack", n), os.path.join(objects, "pack", n))
        finally:
            self.env = None
            shutil.rmtree(q, ignore_errors=True)

    def check_new_commits(self, oids):
        """Every file a new commit adds or changes (vs its first parent) is a
        100644 blob at members/aa/bb/ID (PROTOCOL.md "What a receiver checks")."""
        if not oids:
            return
        out = self.git("log", "--format=", "--raw", "-r", "--no-renames", "--no-abbrev",
                       "--diff-merges=first-parent", *oids, "--not", "--branches").stdout.decode()
        for line in out.splitlines():
            meta, _, path = line.partition("\t")
            f = meta.split()
            if not line or f[4] == "D":
                continue
            rid = path.rsplit("/", 1)[-1]
            if f[1] != "100644" or not valid_id(rid) or path != record_path(rid):
                raise RuntimeError("refused: %s is not a record (mode %s)" % (path, f[1]))

# ---- records (docs/STORE.md) ---------------------------------------------------

B32 = "0123456789abcdefghjkmnpqrstvwxyz"

def valid_id(s):
    return 0 < len(s) <= 64 and all(c in "0123456789abcdefghijklmnopqrstuvwxyz" for c in s)

def record_path(rid):
    h = 2166136261
    for c in rid.encode():
        h = ((h ^ c) * 16777619) & 0xffffffff
    return "members/%02x/%02x/%s" % (h >> 24, (h >> 16) & 0xff, rid)

def escape(v):
    out = bytearray()
    for ch in v.encode():
        if ch in b"\\\n\r\t": out += {0x5c: b"\\\\", 0x0a: b"\\n", 0x0d: b"\\r", 0x09: b"\\t"}[ch]
        elif ch < 0x20 or ch == 0x7f: out += b"\\x%02x" % ch
        else: out.append(ch)
    return bytes(out)

def cmd_add(d, node, pairs):
    repo = Repo(os.path.join(d, "store.git"), node)
    ms = int(time.time() * 1000)
    rid = "".join(B32[(ms >> (5 * (9 - i))) & 31] for i in range(10)) + \
        "".join(random.choice(B32) for _ in range(6))
    t = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + ".%03dZ" % (ms % 1000)
    fields = [p.split("=", 1) for p in pairs]            # dots node:1..n in the given order
    entries = sorted(((f, v, i + 1) for i, (f, v) in enumerate(fields)), key=lambda e: (e[0], e[2]))
    text = b"".join(f.encode() + b":" + (b" " + escape(v) if v else b"") + b"\n" for f, v, _ in entries)
    text += b"--\ncontext: %s=%d\n" % (node.encode(), len(fields))
    text += b"".join(b"%s %s %d %s\n" % (f.encode(), node.encode(), c, t.encode()) for f, _, c in entries)
    blob = repo.git("hash-object", "-w", "--stdin", data=text).stdout.decode().strip()
    env = dict(os.environ, GIT_INDEX_FILE=os.path.join(d, "index.tmp"), GIT_AUTHOR_NAME="minipeer",
               GIT_AUTHOR_EMAIL="minipeer@" + node, GIT_COMMITTER_NAME="minipeer",
               GIT_COMMITTER_EMAIL="minipeer@" + node)
    head = repo.heads().get(node)
    repo.git("read-tree", *([head] if head else ["--empty"]), env=env)
    repo.git("update-index", "--add", "--cacheinfo", "100644,%s,%s" % (blob, record_path(rid)), env=env)
    tree = repo.git("write-tree", env=env).stdout.decode().strip()
    os.unlink(env["GIT_INDEX_FILE"])
    msg = "add %s\n\nfields: %s\n" % (rid, " ".join(sorted({f for f, _ in fields})))
    commit = repo.git("commit-tree", tree, *(["-p", head] if head else []), "-m", msg, env=env).stdout.decode().strip()
    repo.git("update-ref", "refs/heads/" + node, commit, *([head] if head else []))
    print(rid)

# ---- TLS and framing -------------------------------------------------------------

def der_tlv(b, i):
    """(tag, start of value, end of value) of the DER element at b[i]."""
    tag, n = b[i], b[i + 1]
    i += 2
    if n & 0x80:
        k = n & 0x7f
        n = int.from_bytes(b[i:i + k], "big")
        i += k
    return tag, i, i + n

def spki_fingerprint(cert_der):
    """Lowercase hex SHA-256 of the DER SubjectPublicKeyInfo of a certificate."""
    _, s, _ = der_tlv(cert_der, 0)          # Certificate
    _, i, _ = der_tlv(cert_der, s)          # tbsCertificate
    if cert_der[i] == 0xa0:                 # [0] version
        i = der_tlv(cert_der, i)[2]
    for _ in range(5):                      # serial, signature, issuer, validity, subject
        i = der_tlv(cert_der, i)[2]
    return hashlib.sha256(cert_der[i:der_tlv(cert_der, i)[2]]).hexdigest()

class Refused(Exception):
    pass

class Conn:
    def __init__(self, d, addr, fpr):
        host, port = addr.rsplit(":", 1)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_3
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE      # no CA: the pin below is the whole check
        ctx.load_cert_chain(os.path.join(d, "node.crt"), os.path.join(d, "node.key"))
        raw = socket.create_connection((host.strip("[]"), int(port)), timeout=10)
        try:
            self.s = ctx.wrap_socket(raw)
        except ssl.SSLError as e:
            raise Refused("TLS handshake failed: %s" % e)
        got = spki_fingerprint(self.s.getpeercert(binary_form=True))
        if got != fpr.lower():              # before any application data either way
            self.s.close()
            raise Refused("peer fingerprint %s is not the pinned %s" % (got, fpr))
        self.s.settimeout(1.0)
        self.buf = bytearray()
        self.last_rx = self.last_tx = time.monotonic()

    def send(self, msg):
        body = mp_pack(msg)
        assert 0 < len(body) <= FRAME_MAX
        try:
            self.s.sendall(struct.pack(">I", len(body)) + body)
        except OSError as e:                    # closed on us: say why if the peer did
            try:
                while True:
                    m = self.recv()
                    if m and m["t"] == "error":
                        raise Refused("the peer says: %s" % m.get("msg"))
            except (OSError, ValueError, RuntimeError):
                raise Refused("connection closed by the peer (%s)" % e)
        self.last_tx = time.monotonic()

    def recv(self):
        """The next message, or None after one second without one."""
        while True:
            if len(self.buf) >= 4:
                (n,) = struct.unpack(">I", self.buf[:4])
                if n == 0 or n > FRAME_MAX:      # checked before waiting for the body
                    raise RuntimeError("bad frame length %d" % n)
                if len(self.buf) >= 4 + n:
                    body = bytes(self.buf[4:4 + n])
                    del self.buf[:4 + n]
                    m = mp_unpack(body)
                    if not isinstance(m, dict) or not isinstance(m.get("t"), str):
                        raise RuntimeError("a frame that is not a message")
                    return m
            try:
                data = self.s.recv(65536)
            except (socket.timeout, TimeoutError):
                return None
            except ssl.SSLError as e:
                raise Refused("TLS session aborted by the peer: %s" % e)
            if not data:
                raise Refused("connection closed by the peer")
            self.buf += data
            self.last_rx = time.monotonic()

def check_heads(h):
    """A Heads map (PROTOCOL.md 5.2): node name -> 40 lowercase hex digits."""
    if not isinstance(h, dict) or len(h) > 10000 or not all(
            isinstance(n, str) and re.fullmatch(r"[a-z0-9][a-z0-9._-]{0,63}", n) and ".." not in n
            and isinstance(o, str) and re.fullmatch(r"[0-9a-f]{40}", o) for n, o in h.items()):
        raise RuntimeError("malformed heads")
    return h

# ---- the session -----------------------------------------------------------------

def log(*a):
    print("minipeer:", *a, file=sys.stderr, flush=True)

def cmd_sync(d, node, addr, fpr, office, timeout):
    repo = Repo(os.path.join(d, "store.git"), node)
    deadline = time.monotonic() + timeout
    c = Conn(d, addr, fpr)
    c.send({"t": "hello", "v": 1, "node": node, "office": office, "heads": repo.heads()})
    hello = None
    want = None        # our outstanding WANT: id, announcement, req to ack, pack bytes so far
    queued = None      # newest announcement that came while a WANT was outstanding
    my_req, round_done, next_id = 0, False, 0

    def take_in(heads, req, final):
        """Start taking in an announcement: WANT what we lack, or apply it."""
        nonlocal want, next_id
        missing = sorted({o for n, o in heads.items() if n != node and not repo.is_commit(o)})
        if missing:
            next_id += 1
            want = {"id": next_id, "heads": heads, "req": req, "final": final, "pack": bytearray()}
            c.send({"t": "want", "id": next_id, "want": missing, "have": sorted(set(repo.heads().values()))})
        else:
            apply(heads, req, final)

    def apply(heads, req, final):
        nonlocal round_done
        others = {n: o for n, o in heads.items() if n != node}     # never our own branch
        repo.check_new_commits(list(others.values()))
        mine = repo.heads()
        for n, o in sorted(others.items()):
            cur = mine.get(n)
            if cur == o or (cur and repo.is_ancestor(o, cur)):
                continue                                          # same or older: stale
            if cur and not repo.is_ancestor(cur, o):
                raise RuntimeError("branch %s diverged from our copy" % n)
            repo.git("update-ref", "refs/heads/" + n, o, *([cur] if cur else []))
            log("branch %s -> %s" % (n, o[:12]))
        if req:
            c.send({"t": "done", "ack": req, "heads": repo.heads()})
        round_done = round_done or final

    try:
        while not (round_done and want is None and queued is None):
            if time.monotonic() > deadline:
                log("timed out")
                return 3
            m = c.recv()
            now = time.monotonic()
            if m is None:
                if now - c.last_rx > IDLE_S:
                    raise RuntimeError("idle timeout")
                if hello and now - c.last_tx > PING_S:
                    c.send({"t": "ping"})
                continue
            t = m["t"]
            if t == "error":
                raise Refused("the peer says: %s" % m.get("msg"))
            if hello is None:
                if t != "hello":
                    raise RuntimeError("expected hello, got %s" % t)
                if m.get("v") != 1:
                    raise RuntimeError("unsupported protocol version %r" % m.get("v"))
                hello = m
                log("connected to %s (%s)" % (m.get("node"), m.get("office")))
                take_in(check_heads(m.get("heads")), 0, False)
                next_id += 1
                my_req = next_id                # the sync round: HEADS req, answered by DONE ack
                c.send({"t": "heads", "req": my_req, "heads": repo.heads()})
            elif t in ("heads", "done"):
                check_heads(m.get("heads"))
                final = t == "done" and m.get("ack") == my_req
                if want is None:
                    take_in(m["heads"], m.get("req", 0), final)
                else:                           # keep only the newest; heads only move forward
                    q = queued or {}
                    queued = {"heads": m["heads"], "req": m.get("req") or q.get("req", 0),
                              "final": final or q.get("final", False)}
            elif t == "want":
                wants, haves, oid = m.get("want"), m.get("have", []), re.compile(r"[0-9a-f]{40}")
                if not isinstance(wants, list) or not isinstance(haves, list) or not m.get("id") or \
                        not all(isinstance(x, str) and oid.fullmatch(x) for x in wants + haves):
                    c.send({"t": "error", "msg": "malformed WANT"})
                    raise RuntimeError("malformed want")
                if not wants or not all(repo.is_commit(w) for w in wants):
                    c.send({"t": "error", "msg": "asked for a commit this node lacks"})
                    raise RuntimeError("bad want")
                pack = repo.pack(wants, haves)
                for off in range(0, len(pack), CHUNK):
                    c.send({"t": "pack", "id": m["id"], "data": pack[off:off + CHUNK],
                            "last": off + CHUNK >= len(pack)})
                log("served a want: %d pack bytes" % len(pack))
            elif t == "pack":
                if want is None or m.get("id") != want["id"]:
                    raise RuntimeError("a pack that answers no want")
                want["pack"] += m["data"]
                if m.get("last"):
                    w, want = want, None
                    others = {n: o for n, o in w["heads"].items() if n != node}
                    repo.take_pack(bytes(w["pack"]), others)
                    log("took in a pack of %d bytes" % len(w["pack"]))
                    apply(w["heads"], w["req"], w["final"])
                    if queued:
                        q, queued = queued, None
                        take_in(q["heads"], q["req"], q["final"])
            elif t == "ping":
                c.send({"t": "pong"})
            elif t != "pong":
                c.send({"t": "error", "msg": "unknown message type"})
                raise RuntimeError("unknown message %s" % t)
        log("in sync")
        return 0
    finally:
        try:
            c.s.unwrap()
        except (OSError, ValueError):
            pass
        c.s.close()

# ---- a hostile peer (tests only) ------------------------------------------------------

def raw_arg(a):
    """A command-line argument with Python escapes decoded; \\xNN is one raw byte."""
    return RawStr(a.encode().decode("unicode_escape").encode("latin-1"))

def cmd_attack(d, node, addr, fpr, kind, arg):
    repo = Repo(os.path.join(d, "store.git"), node)
    c = Conn(d, addr, fpr)
    answers = ("endless-pack", "many-objects", "slow-pack", "stall-pack")
    heads = repo.heads() if kind in answers else {}
    name = raw_arg(arg) if kind == "hello-name" else node
    c.send({"t": "hello", "v": 1, "node": name, "office": "mini", "heads": heads})
    theirs, sent, deadline = None, 0, time.monotonic() + 20

    def pending():
        """A message is waiting (without blocking)."""
        import select
        return c.buf or c.s.pending() or select.select([c.s], [], [], 0)[0]

    try:
        while time.monotonic() < deadline:
            m = c.recv()
            if m is None:
                continue
            if m["t"] == "error":
                print("error: %s" % m.get("msg"))
                # the refusal may come here (read after the send loop paused)
                # rather than through Refused: the count is logged either way
                log("after %d pack bytes: the peer says: %s" % (sent, m.get("msg")))
                return 0
            if m["t"] == "ping":
                c.send({"t": "pong"})
            if m["t"] == "done" and m.get("ack") == 99:
                print("done")           # the announcement was taken in
                return 0
            if m["t"] == "hello" and theirs is None:
                theirs = check_heads(m.get("heads"))
                own = theirs.get(m.get("node"), "0" * 40)
                if kind == "error-msg":
                    c.send({"t": "error", "msg": raw_arg(arg)})
                elif kind == "want-id":
                    c.send({"t": "want", "id": int(arg), "want": [own], "have": []})
                elif kind == "want-upper":
                    c.send({"t": "want", "id": 7, "want": [own.upper()], "have": []})
                elif kind == "heads-upper":
                    c.send({"t": "heads", "heads": {node: own.upper()}})
                elif kind == "branches":
                    c.send({"t": "heads", "req": 99,
                            "heads": {"ghost-%d" % i: own for i in range(1, int(arg) + 1)}})
            if m["t"] == "want" and kind == "endless-pack":
                chunk = b"PACK\0\0\0\2\0\0\0\1" + os.urandom(CHUNK - 12)
                while sent < int(arg):      # never last: the pack never ends
                    c.send({"t": "pack", "id": m["id"], "data": chunk, "last": False})
                    sent += len(chunk)
                    if sent % (4 * CHUNK) == 0 and pending():
                        break
                log("sent %d pack bytes" % sent)
                deadline = time.monotonic() + 20
            if m["t"] == "want" and kind == "many-objects":
                head = b"PACK\0\0\0\2" + struct.pack(">I", int(arg))
                c.send({"t": "pack", "id": m["id"], "data": head + os.urandom(4096), "last": False})
            if m["t"] == "want" and kind in ("slow-pack", "stall-pack"):
                pack = repo.pack([h for h in m["want"]], m.get("have", []))
                if kind == "stall-pack":
                    c.send({"t": "pack", "id": m["id"], "data": pack[:len(pack) // 2], "last": False})
                    log("sent %d of %d pack bytes, then nothing" % (len(pack) // 2, len(pack)))
                    deadline = time.monotonic() + 30
                    continue
                pieces = max(2, int(float(arg) / 0.5))
                step = max(1, -(-len(pack) // pieces))
                t0 = time.monotonic()
                for off in range(0, len(pack), step):
                    if off:
                        time.sleep(0.5)
                    last = off + step >= len(pack)
                    c.send({"t": "pack", "id": m["id"], "data": pack[off:off + step], "last": last})
                log("sent a pack of %d bytes in %.1f s" % (len(pack), time.monotonic() - t0))
                c.send({"t": "heads", "req": 99, "heads": heads})
                deadline = time.monotonic() + 20
        print("silent")
        return 0
    except Refused as e:
        msg = str(e)
        print(("error: " + msg[len("the peer says: "):]) if msg.startswith("the peer says: ") else "closed")
        log("after %d pack bytes: %s" % (sent, msg))
        return 0
    finally:
        c.s.close()

def main(argv):
    try:
        if len(argv) >= 4 and argv[1] == "add":
            cmd_add(argv[2], argv[3], argv[4:])
            return 0
        if len(argv) >= 6 and argv[1] == "sync":
            opts = dict(zip(argv[6::2], argv[7::2]))
            return cmd_sync(argv[2], argv[3], argv[4], argv[5], opts.get("--office", "mini"),
                            float(opts.get("--timeout", "30")))
        if len(argv) in (7, 8) and argv[1] == "attack":
            return cmd_attack(argv[2], argv[3], argv[4], argv[5], argv[6], argv[7] if len(argv) > 7 else "")
    except Refused as e:
        log("refused:", e)
        return 1
    except (RuntimeError, ValueError, KeyError, TypeError, OSError) as e:
        log("error:", e)
        return 1
    print(__doc__, file=sys.stderr)
    return 2

if __name__ == "__main__":
    sys.exit(main(sys.argv))
