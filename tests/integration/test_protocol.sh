#!/usr/bin/env bash
# docs/PROTOCOL.md is enough to sync with uniond: tests/tools/minipeer.py, an
# independent peer written from it (Python standard library and the git CLI
# only), syncs both ways with a real uniond; unpinned keys, a key claiming
# another node's name and a wrongly pinned uniond get nothing.
. "$(dirname "$0")/lib.sh"
MINI=$ROOT/tests/tools/minipeer.py
U=$T/u
node_init "$U" yinzhou-01 yinzhou
node_start "$U" || exit 1
fpr() { ctl "$1" id --json | sed -n 's/.*"fingerprint": "\(.*\)".*/\1/p'; }
addr() { ctl "$1" id --json | sed -n 's/.*"listen": "\(.*\)".*/\1/p'; }
UFPR=$(fpr "$U") UADDR=$(addr "$U")

# mini_identity DIR NAME: an Ed25519 key and self-signed certificate (openssl CLI)
mini_identity() {
    mkdir -p "$1"
    openssl genpkey -algorithm ed25519 -out "$1/node.key" 2>/dev/null &&
        openssl req -new -x509 -key "$1/node.key" -subj "/CN=$2" -days 3650 -out "$1/node.crt" 2>/dev/null
}
# the fingerprint as PROTOCOL.md defines it: SHA-256 of the DER SubjectPublicKeyInfo
mini_fpr() { openssl x509 -in "$1/node.crt" -pubkey -noout | openssl pkey -pubin -outform DER | sha256sum | cut -d' ' -f1; }
mgit() { local d=$1; shift; git --git-dir="$d/store.git" "$@"; }
# mini_sync DIR NAME [FPR]: one session against uniond; exit status in $rc, stderr in DIR.err
mini_sync() {
    timeout 60 python3 "$MINI" sync "$1" "$2" "$UADDR" "${3:-$UFPR}" --timeout 40 2>"$1.err"
    rc=$?
    sed 's/^/# /' "$1.err"
}

# the byte examples of the document decode and re-encode identically with
# minipeer's hand-written msgpack (and so match msgpack-c, which made them)
check "PROTOCOL.md HELLO/WANT/PACK dumps match an independent encoder" python3 - "$ROOT/docs/PROTOCOL.md" "$MINI" <<'EOF'
import re, struct, sys, importlib.util
spec = importlib.util.spec_from_file_location("minipeer", sys.argv[2])
m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)
doc = open(sys.argv[1], encoding="utf-8").read()
seen = set()
for name, block in re.findall(r"\*\*(HELLO|WANT|PACK)\*\*.*?```\n([0-9a-f \n]+)```", doc, re.S):
    frame = bytes.fromhex(block.replace("\n", " "))
    (n,) = struct.unpack(">I", frame[:4])
    msg = m.mp_unpack(frame[4:])
    assert n == len(frame) - 4 and msg["t"] == name.lower() and m.mp_pack(msg) == frame[4:], name
    seen.add(name)
assert seen == {"HELLO", "WANT", "PACK"}, seen
EOF

ids=()
for i in 1 2 3; do ids+=("$(ctl "$U" add name=会员$i phone=1380000000$i category=快递员)"); done
M=$T/mini
mini_identity "$M" mini-01
MFPR=$(mini_fpr "$M")
mid=$(python3 "$MINI" add "$M" mini-01 name=王小明 phone=13700000009 office=mini joined=2026-11-29 status=active)
check "minipeer committed a record at its members/aa/bb path" bash -c \
    "git --git-dir='$M/store.git' ls-tree -r --name-only mini-01 | grep -qE '^members/[0-9a-f]{2}/[0-9a-f]{2}/$mid\$'"
ctl "$U" peer add mini-01 127.0.0.1:1 "$MFPR" # address unused: minipeer dials in

mini_sync "$M" mini-01
check "minipeer syncs with uniond (HELLO, WANT/PACK both ways, sync round)" test "$rc" = 0
check "minipeer has uniond's branch" bash -c "git --git-dir='$M/store.git' rev-parse -q --verify refs/heads/yinzhou-01 >/dev/null"
check "minipeer's copy has the tree of uniond's HEAD" \
    test "$(mgit "$M" rev-parse 'refs/heads/yinzhou-01^{tree}')" = "$(git_store "$U" rev-parse 'HEAD^{tree}')"
check "uniond took in minipeer's record (unionctl show)" bash -c "'$UNIONCTL' -d '$U' show '$mid' | grep -q 王小明"
check "uniond's copy of mini-01 is minipeer's head" \
    test "$(git_store "$U" rev-parse refs/heads/mini-01)" = "$(mgit "$M" rev-parse refs/heads/mini-01)"
check "minipeer's own branch was not touched" test "$(mgit "$M" rev-list --count mini-01)" = 1
check "all of uniond's records reached minipeer" bash -c \
    "for i in ${ids[*]} $mid; do git --git-dir='$M/store.git' ls-tree -r --name-only yinzhou-01 | grep -q \"/\$i\$\" || exit 1; done"
check "minipeer served a WANT and took in packs" bash -c "grep -q 'served a want' '$M.err' && grep -q 'took in a pack' '$M.err'"
check "uniond logged the take-in" grep -q "peer mini-01: took in 1 branch" "$U.log"
check "git fsck --strict is clean on uniond" fsck_clean "$U"
check "and on minipeer" fsck_clean "$M"

# a second session with nothing new: no pack crosses, still in sync
mini_sync "$M" mini-01
check "a second session is a no-op round" bash -c "[ $rc = 0 ] && ! grep -q 'took in a pack' '$M.err'"

# an edit on uniond reaches minipeer on its next session
ctl "$U" edit "${ids[0]}" employer=美团 >/dev/null
mini_sync "$M" mini-01
check "an edit on uniond reaches minipeer" test "$(mgit "$M" rev-parse 'refs/heads/yinzhou-01^{tree}')" = "$(git_store "$U" rev-parse 'HEAD^{tree}')"

# a key that is not pinned: refused during the TLS handshake, gets nothing
X=$T/stranger
mini_identity "$X" mini-02
python3 "$MINI" add "$X" mini-02 name=李四 >/dev/null
mini_sync "$X" mini-02
check "an unpinned key is refused" test "$rc" = 1
check "by a TLS alert in the handshake" grep -q "alert handshake failure" "$X.err"
check "uniond logged the unpinned fingerprint" wait_until 10 grep -q "$(mini_fpr "$X") is not pinned" "$U.log"
check "the unpinned peer received no HELLO" bash -c "! grep -q 'connected to' '$X.err'"
check "and has no copy of uniond's branch" test "$(mgit "$X" for-each-ref --format='%(refname)')" = refs/heads/mini-02
check "uniond has nothing of it" bash -c "! git --git-dir='$U/store.git' rev-parse -q --verify refs/heads/mini-02"

# a pinned key that claims another node's name: refused after the HELLOs
Y=$T/impostor
mkdir -p "$Y" && cp "$M/node.key" "$M/node.crt" "$Y/"
python3 "$MINI" add "$Y" mini-03 name=赵六 >/dev/null
mini_sync "$Y" mini-03
check "a pinned key claiming another name is refused" bash -c "[ $rc = 1 ] && grep -q 'does not match the name pinned' '$Y.err'"
check "it has no copy of uniond's branch" test "$(mgit "$Y" for-each-ref --format='%(refname)')" = refs/heads/mini-03
check "uniond has nothing of it" bash -c "! git --git-dir='$U/store.git' rev-parse -q --verify refs/heads/mini-03"

# minipeer pinning the wrong fingerprint for uniond refuses it, sends nothing
Z=$T/careful
mkdir -p "$Z" && cp "$M/node.key" "$M/node.crt" "$Z/"
python3 "$MINI" add "$Z" mini-01 name=钱七 >/dev/null
mini_sync "$Z" mini-01 "$(mini_fpr "$X")"
check "minipeer refuses a uniond whose key is not the pinned one" bash -c "[ $rc = 1 ] && grep -q 'is not the pinned' '$Z.err'"
check "and exchanged nothing" test "$(mgit "$Z" for-each-ref --format='%(refname)')" = refs/heads/mini-01

# what a receiver checks: a pinned peer whose new commit adds a file outside
# the record layout, or a record that is not canonical, is refused whole
# bad_commit DIR NODE PATH TEXT: commit TEXT at PATH on NODE's own branch (plain git)
bad_commit() {
    local d=$1 node=$2 path=$3 text=$4 blob tree c
    export GIT_INDEX_FILE=$d/idx GIT_AUTHOR_NAME=x GIT_AUTHOR_EMAIL=x@x GIT_COMMITTER_NAME=x GIT_COMMITTER_EMAIL=x@x
    blob=$(printf '%s' "$text" | mgit "$d" hash-object -w --stdin)
    mgit "$d" read-tree "$node" && mgit "$d" update-index --add --cacheinfo "100644,$blob,$path"
    tree=$(mgit "$d" write-tree) && c=$(mgit "$d" commit-tree "$tree" -p "$node" -m junk)
    mgit "$d" update-ref "refs/heads/$node" "$c"
    unset GIT_INDEX_FILE GIT_AUTHOR_NAME GIT_AUTHOR_EMAIL GIT_COMMITTER_NAME GIT_COMMITTER_EMAIL
}
head_before=$(git_store "$U" rev-parse HEAD)
n=0
for bad in "README|hello" "noncanonical|name: 坏\n--\ncontext: mini-0X=1\nname mini-0X 1 2026-11-29T00:00:00.000Z\n"; do
    n=$((n + 1)); node=mini-0$((n + 3)); B=$T/bad$n
    mini_identity "$B" "$node"
    python3 "$MINI" add "$B" "$node" name=好 >/dev/null
    path=${bad%%|*} text=$(printf "${bad#*|}" | sed "s/mini-0X/$node/g")
    [ "$path" = noncanonical ] && path=$(python3 -c "import sys; sys.path.insert(0, '$ROOT/tests/tools'); import minipeer; print(minipeer.record_path('zzzz'))")
    text="$text"$'\n\n' # a blank line after the record: not canonical (or not a record at all)
    bad_commit "$B" "$node" "$path" "$text"
    ctl "$U" peer add "$node" 127.0.0.1:1 "$(mini_fpr "$B")"
    mini_sync "$B" "$node"
    check "uniond refuses a pack with $path ($n)" bash -c "[ $rc = 1 ] && grep -q 'your data was refused' '$B.err'"
    check "and took none of it ($n)" bash -c "! git --git-dir='$U/store.git' rev-parse -q --verify refs/heads/$node >/dev/null"
done
check "the refusals name the reasons" bash -c "grep -q 'outside the record layout' '$U.log' && grep -q 'damaged record' '$U.log'"
check "uniond's own branch did not move" test "$(git_store "$U" rev-parse HEAD)" = "$head_before"
check "no quarantine is left behind" bash -c "! ls -d '$U'/store.git/objects/incoming-* 2>/dev/null"

check "uniond's log has no sanitizer report" log_clean "$U"
check "uniond stops cleanly" node_stop "$U"
done_testing
