#!/usr/bin/env bash
# packbuild.sh [N] [ROUNDS] - a peer's pack of a whole store (N genmembers
# records imported by uniond), built by store_pack_build without and with
# the pipe (daemon/store/packwriter.c), interleaved; see packbuild.c.
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${1:-100000}
ROUNDS=${2:-6}
make -s build/uniond build/unionctl build/genmembers >/dev/null
D=$(mktemp -d /tmp/uniond-packbuild.XXXXXX)
PID=
cleanup() {
    [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
    rm -rf "$D"
}
trap cleanup EXIT
PKGS="libuv libgit2 msgpack openssl inih zlib jansson libutf8proc libdeflate libsystemd"
cc -std=c11 -D_GNU_SOURCE -O2 -g -Wall -Wextra -Werror -I. $(pkg-config --cflags $PKGS) \
    tests/bench/packbuild.c $(find build/obj/daemon/store build/obj/daemon/util build/obj/proto -name '*.o') \
    -o "$D/packbuild" $(pkg-config --libs $PKGS)
build/uniond init -d "$D/a" --node pa --office bench --listen 127.0.0.1:0 >/dev/null
build/genmembers "$N" 1 >"$D/m.csv"
build/uniond -d "$D/a" 2>"$D/a.log" &
PID=$!
for _ in $(seq 500); do build/unionctl -d "$D/a" status >/dev/null 2>&1 && break; sleep 0.02; done
build/unionctl -d "$D/a" import "$D/m.csv" >/dev/null
kill "$PID"
wait "$PID" || true
PID=
"$D/packbuild" "$D/a/store.git" pa "$ROUNDS"
