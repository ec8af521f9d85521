#!/usr/bin/env python3
"""ctlping.py SOCK RUNFILE OUT - time `status` over one kept connection to
uniond's control socket (docs/CONTROL.md: 4-byte big-endian length, one
msgpack map) while RUNFILE exists, one request every 5 ms; writes each
round trip in microseconds to OUT (OUT.ready once connected). concurrent.sh prints its p50/p99 beside
the unionctl process's: the daemon's own part of a status, without the
process start a saturated machine makes wait for a core."""
import os
import socket
import struct
import sys
import time


def mp_str(s):
    b = s.encode()
    assert len(b) < 32
    return bytes([0xa0 | len(b)]) + b


def main():
    sock, run, out = sys.argv[1:4]
    req = bytes([0x82]) + mp_str("op") + mp_str("status") + mp_str("operator") + mp_str("bench")
    frame = struct.pack(">I", len(req)) + req
    c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    c.connect(sock)
    open(out + ".ready", "w").close()  # concurrent.sh starts its clients after this
    lat = []

    def read_n(n):
        buf = b""
        while len(buf) < n:
            got = c.recv(n - len(buf))
            if not got:
                raise SystemExit("ctlping: the daemon closed the connection")
            buf += got
        return buf

    while os.path.exists(run):
        t = time.perf_counter()
        c.sendall(frame)
        (n,) = struct.unpack(">I", read_n(4))
        read_n(n)
        lat.append(int((time.perf_counter() - t) * 1e6))
        time.sleep(0.005)
    with open(out, "w") as f:
        f.write("".join("%d\n" % v for v in lat))


if __name__ == "__main__":
    main()
