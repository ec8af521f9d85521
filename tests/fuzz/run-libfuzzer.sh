#!/usr/bin/env bash
# run-libfuzzer.sh SECONDS [TARGET...] - coverage-guided fuzzing of the
# decoders with clang's libFuzzer (ASan+UBSan), starting from the committed
# corpora (read only). New interesting inputs go to build/fuzz/new-<name>/
# (not committed: minimise and copy the useful ones by hand); a crash is
# written to tests/fuzz/crashes/ (ignored by git; commit it to the corpus as
# a regression input once fixed). FUZZ_JOBS targets run at once (default 1).
# Prints one line per target and exits 1 if any target found a crash.
set -euo pipefail
secs=${1:-30}
shift || true
cd "$(dirname "$0")/../.."
command -v clang >/dev/null || { echo "make fuzz needs clang (apt-get install clang)"; exit 1; }
PKGS="libuv libgit2 msgpack openssl inih zlib libdeflate jansson libutf8proc libsystemd xlsxwriter"
mkdir -p build/fuzz tests/fuzz/crashes
CFLAGS="-std=c11 -D_GNU_SOURCE -I. -g -O1 -fsanitize=fuzzer,address,undefined $(pkg-config --cflags $PKGS)"
LIBS="$(pkg-config --libs $PKGS) -lcsv -lpthread"
SRC=$(find proto daemon cli -name "*.c" | grep -v -e daemon/main/main.c -e cli/main.c)
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=($(ls tests/fuzz/fuzz_*.c | xargs -n1 basename | sed 's/\.c$//'))
for name in "${targets[@]}"; do
    clang $CFLAGS -DLOCALEDIR='"/usr/share/locale"' "tests/fuzz/$name.c" $SRC -o "build/fuzz/$name" $LIBS
done
run_one() {
    local name=$1 corpus=tests/fuzz/corpus/${1#fuzz_}
    mkdir -p "build/fuzz/new-$name"
    if "build/fuzz/$name" -max_total_time="$secs" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
        -artifact_prefix="tests/fuzz/crashes/$name-" "build/fuzz/new-$name" "$corpus" \
        >"build/fuzz/$name.log" 2>&1; then
        echo "$name: $(grep -oE '#[0-9]+ +DONE.*' "build/fuzz/$name.log" | tail -1 || echo done) ($secs s, nothing found)"
    else
        echo "$name: FOUND A PROBLEM, see build/fuzz/$name.log and tests/fuzz/crashes/"
        return 1
    fi
}
fail=0
jobs=${FUZZ_JOBS:-1}
for name in "${targets[@]}"; do
    while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || fail=1; done
    run_one "$name" &
done
while [ "$(jobs -rp | wc -l)" -gt 0 ]; do wait -n || fail=1; done
exit $fail
