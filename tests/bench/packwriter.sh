#!/usr/bin/env bash
# packwriter.sh [N] [ROUNDS] - the own pack writer vs libgit2's
# git_packbuilder on the same N genmembers records (one bulk commit, as
# `unionctl import` makes it). Builds the release objects, links
# tests/bench/packwriter.c against the store room and proto, and prints the
# best of ROUNDS. The result decides whether daemon/store/packwriter.c stays
# (its header quotes the figure).
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${1:-20000}
ROUNDS=${2:-3}
make -s build/uniond build/genmembers >/dev/null
D=$(mktemp -d /tmp/uniond-packbench.XXXXXX)
trap 'rm -rf "$D"' EXIT
PKGS="libuv libgit2 msgpack openssl inih zlib jansson libutf8proc"
cc -std=c11 -D_GNU_SOURCE -O2 -g -Wall -Wextra -Werror -I. $(pkg-config --cflags $PKGS) \
    tests/bench/packwriter.c $(find build/obj/daemon/store build/obj/proto -name '*.o') \
    -o "$D/packwriter" $(pkg-config --libs $PKGS)
build/genmembers "$N" 1 >"$D/m.csv"
"$D/packwriter" "$D/m.csv" "$D" "$ROUNDS"
