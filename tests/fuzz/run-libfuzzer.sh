#!/usr/bin/env bash
# run-libfuzzer.sh SECONDS - coverage-guided fuzzing of every decoder with
# clang's libFuzzer (ASan+UBSan), starting from and adding to the committed
# corpora. New interesting inputs land in tests/fuzz/corpus/<name>/.
set -euo pipefail
secs=${1:-30}
cd "$(dirname "$0")/../.."
command -v clang >/dev/null || { echo "make fuzz needs clang (apt-get install clang)"; exit 1; }
mkdir -p build/fuzz
CFLAGS="-std=c11 -D_GNU_SOURCE -I. -g -O1 -fsanitize=fuzzer,address,undefined $(pkg-config --cflags libuv libgit2 msgpack openssl inih jansson libutf8proc)"
LIBS="$(pkg-config --libs libuv libgit2 msgpack openssl inih zlib jansson libutf8proc) -lcsv -lpthread"
SRC=$(find proto daemon cli -name "*.c" | grep -v -e daemon/main.c -e daemon/main/main.c -e cli/main.c)
for t in tests/fuzz/fuzz_*.c; do
    name=$(basename "$t" .c)
    clang $CFLAGS "$t" $SRC -o "build/fuzz/$name" $LIBS
    mkdir -p "tests/fuzz/corpus/${name#fuzz_}"
    echo "== $name ($secs s)"
    "build/fuzz/$name" -max_total_time="$secs" -max_len=65536 "tests/fuzz/corpus/${name#fuzz_}"
done
