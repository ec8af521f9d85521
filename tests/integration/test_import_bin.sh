#!/usr/bin/env bash
# The import request's two forms of rows (docs/CONTROL.md): "rows", the
# array unpacked with the request (older clients), and "rows_bin", the same
# array's msgpack bytes in one bin, unpacked by the daemon a row at a time
# (what unionctl sends). Both give the same records; a rows_bin that is not
# exactly one well-formed array of rows is refused with nothing written.
# Requests are sent raw on the control socket (a small msgpack writer and
# reader in Python below).
. "$(dirname "$0")/lib.sh"

A=$T/a B=$T/b
node_init "$A" imp-a yinzhou
node_init "$B" imp-b yinzhou
node_start "$A" || exit 1
node_start "$B" || exit 1

cat >"$T/raw.py" <<'PY'
import json, socket, struct, sys

def pk(o):
    if o is None: return b"\xc0"
    if o is True: return b"\xc3"
    if o is False: return b"\xc2"
    if isinstance(o, int):
        assert 0 <= o < 2**32
        return bytes([o]) if o < 128 else b"\xce" + struct.pack(">I", o)
    if isinstance(o, str):
        b = o.encode()
        return (bytes([0xa0 | len(b)]) if len(b) < 32 else b"\xdb" + struct.pack(">I", len(b))) + b
    if isinstance(o, bytes):
        return b"\xc6" + struct.pack(">I", len(o)) + o
    if isinstance(o, list):
        return b"\xdd" + struct.pack(">I", len(o)) + b"".join(pk(x) for x in o)
    if isinstance(o, dict):
        return b"\xdf" + struct.pack(">I", len(o)) + b"".join(pk(k) + pk(v) for k, v in o.items())
    raise TypeError(o)

def un(b, i=0):
    c = b[i]; i += 1
    if c <= 0x7f: return c, i
    if c >= 0xe0: return c - 256, i
    if 0x80 <= c <= 0x8f: return unmap(b, i, c & 15)
    if 0x90 <= c <= 0x9f: return unarr(b, i, c & 15)
    if 0xa0 <= c <= 0xbf: return b[i:i + (c & 31)].decode(), i + (c & 31)
    if c == 0xc0: return None, i
    if c in (0xc2, 0xc3): return c == 0xc3, i
    w = {0xcc: 1, 0xcd: 2, 0xce: 4, 0xcf: 8, 0xd0: 1, 0xd1: 2, 0xd2: 4, 0xd3: 8}
    if c in w:
        return int.from_bytes(b[i:i + w[c]], "big", signed=c >= 0xd0), i + w[c]
    if c in (0xd9, 0xda, 0xdb):
        n = {0xd9: 1, 0xda: 2, 0xdb: 4}[c]; l = int.from_bytes(b[i:i + n], "big"); i += n
        return b[i:i + l].decode(), i + l
    if c in (0xdc, 0xdd):
        n = 2 if c == 0xdc else 4; return unarr(b, i + n, int.from_bytes(b[i:i + n], "big"))
    if c in (0xde, 0xdf):
        n = 2 if c == 0xde else 4; return unmap(b, i + n, int.from_bytes(b[i:i + n], "big"))
    raise ValueError(hex(c))

def unarr(b, i, n):
    out = []
    for _ in range(n):
        v, i = un(b, i); out.append(v)
    return out, i

def unmap(b, i, n):
    out = {}
    for _ in range(n):
        k, i = un(b, i); v, i = un(b, i); out[k] = v
    return out, i

def call(data, req):
    s = socket.socket(socket.AF_UNIX); s.connect(data + "/uniond.sock")
    body = pk(req); s.sendall(struct.pack(">I", len(body)) + body)
    buf = b""
    while len(buf) < 4 or len(buf) < 4 + struct.unpack(">I", buf[:4])[0]:
        got = s.recv(65536)
        if not got: break
        buf += got
    return un(buf[4:])[0]

def idn(first17):  # an ID number with its check digit (GB 11643)
    w = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    return first17 + "10X98765432"[sum(int(c) * k for c, k in zip(first17, w)) % 11]

header = ["name", "id_number", "phone", "category"]
rows = [[2, ["陈一", idn("33020519900101123"), "13800000001", "快递员"]],
        [3, ["陈二", idn("33020519900202123"), "13800000002", "网格员"]],
        [4, ["陈三", "", "13800000003", "快递员"]]]
data, form = sys.argv[1], sys.argv[2]
req = {"op": "import", "operator": "tester", "header": header, "skip_invalid": False,
       "dry_run": False}
arr = pk(rows)
if form == "rows": req["rows"] = rows
elif form == "bin": req["rows_bin"] = arr
elif form == "bin-count-lies":      # the array says 1000 rows, holds 3
    req["rows_bin"] = b"\xdd" + struct.pack(">I", 1000) + arr[5:]
elif form == "bin-trailing":        # a whole array, then more bytes
    req["rows_bin"] = arr + pk("more")
elif form == "bin-not-array":
    req["rows_bin"] = pk({"a": 1})
elif form == "bin-not-bin":
    req["rows_bin"] = "not bytes"
elif form == "bin-bad-row":         # a row that is not [line, [cells]]
    req["rows_bin"] = pk(rows[:2] + [[4, "x"]])
elif form == "bin-bad-value":       # a well-formed row with a refused value
    req["rows_bin"] = pk(rows[:2] + [[4, ["陈三", "", "not a phone", "快递员"]]])
elif form == "bin-cell-int":        # a cell that is not text
    req["rows_bin"] = pk(rows[:2] + [[4, ["陈三", "", 1380000, "快递员"]]])
elif form == "bin-cell-nul":        # a text cell holding a NUL
    req["rows_bin"] = pk(rows[:2] + [[4, ["陈三", "", "1380000\x000003", "快递员"]]])
print(json.dumps(call(data, req), ensure_ascii=False))
PY
raw() { python3 "$T/raw.py" "$@"; }

raw "$A" rows >"$T/rows.out"
check "the array form imports the rows" grep -q '"imported": 3' "$T/rows.out"
raw "$B" bin >"$T/bin.out"
check "the bin form imports the rows" grep -q '"imported": 3' "$T/bin.out"
# the same records but for their ids (the first column) and node-made fields
same_records() {
    ctl "$A" export | cut -d, -f2- | sort >"$T/a.csv"
    ctl "$B" export | cut -d, -f2- | sort >"$T/b.csv"
    [ "$(wc -l <"$T/a.csv")" = 4 ] && cmp -s "$T/a.csv" "$T/b.csv"
}
check "both forms give the same records" same_records
commits=$(git_store "$B" rev-list --count HEAD)
check "one commit for the bin import" test "$commits" = 1

for form in bin-count-lies bin-trailing bin-not-array bin-not-bin bin-bad-row; do
    raw "$B" "$form" >"$T/$form.out"
    check "$form: refused as a malformed request" \
        bash -c "grep -q '\"ok\": false' '$T/$form.out' && grep -q 'malformed import request' '$T/$form.out'"
done
raw "$B" bin-bad-value >"$T/bad-value.out"
check "a refused value in the bin form: nothing imported, the line named" \
    bash -c "grep -q 'nothing was imported' '$T/bad-value.out' && grep -q '\"line\": 4' '$T/bad-value.out' && grep -q '\"field\": \"phone\"' '$T/bad-value.out'"
# the daemon copies a row's cells into one buffer (op_import.c): a cell
# that is not text, or holds a NUL, is still refused and named
for form in bin-cell-int bin-cell-nul; do
    raw "$B" "$form" >"$T/$form.out"
    check "$form: nothing imported, line 4's phone named" \
        bash -c "grep -q 'nothing was imported' '$T/$form.out' && grep -q '\"line\": 4' '$T/$form.out' && grep -q '\"field\": \"phone\"' '$T/$form.out'"
done
check "nothing written by the refused requests" test "$(git_store "$B" rev-list --count HEAD)" = "$commits"
check "still 3 records" test "$(ctl "$B" list --count)" = 3

# unionctl sends the bin form: an import through it, then the same file again
"$GENMEMBERS" 300 7 >"$T/m.csv"
ctl "$A" import "$T/m.csv" >"$T/imp1.out"
check "unionctl import (rows_bin) of 300 rows" grep -q 'imported 300 new' "$T/imp1.out"
ctl "$A" import "$T/m.csv" >"$T/imp2.out"
check "again: all unchanged" grep -q 'imported 0 new, 0 updated, 300 unchanged' "$T/imp2.out"
# a file whose rows take more than 4 MiB: the daemon gives the pages of
# the rows it has read back to the system while it checks the rest
# (op_import.c import_rows_drop); every row must still arrive whole
"$GENMEMBERS" 60000 8 >"$T/big.csv"
check "the file's rows take more than 4 MiB" test "$(wc -c <"$T/big.csv")" -gt $((5 << 20))
ctl "$B" import "$T/big.csv" >"$T/big.out"
check "unionctl import of 60,000 rows" grep -q 'imported 60000 new' "$T/big.out"
check "60,003 records" test "$(ctl "$B" list --count)" = 60003
# rows from the start, the middle and the end of the file, found by their
# ID number with the name they were given
for n in 2 30001 60001; do
    idn=$(sed -n "${n}p" "$T/big.csv" | cut -d, -f3)
    name=$(sed -n "${n}p" "$T/big.csv" | cut -d, -f1)
    check "line $n arrived whole" bash -c "$(declare -f ctl); UNIONCTL='$UNIONCTL'; ctl '$B' list --where id_number=$idn --csv | grep -q '$name'"
done
check "fsck clean" fsck_clean "$A"
node_stop "$A"
node_stop "$B"
check "daemon logs clean" bash -c "$(declare -f log_clean); log_clean '$A' && log_clean '$B'"
done_testing
