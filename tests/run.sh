#!/usr/bin/env bash
# run.sh BUILD_DIR - the whole test suite: unit tests (cmocka), fuzz corpus
# replay, integration tests (real daemons on 127.0.0.1). Every unit test
# case and every integration check counts; ends with "N passed, N failed".
set -u
B=${1:-build/san}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
pass=0 fail=0
failed_names=()
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
log=$(mktemp -d /tmp/uniond-test-log.XXXXXX)

count_cmocka() { # file -> adds to pass/fail
    local p f
    p=$(grep -oE '^\[  PASSED  \] [0-9]+' "$1" | awk '{s+=$4} END{print s+0}')
    f=$(grep -oE '^\[  FAILED  \] [0-9]+' "$1" | awk '{s+=$4} END{print s+0}')
    pass=$((pass + p)); fail=$((fail + f))
}

echo "== unit"
for t in "$B"/unit/test_*; do
    [ -x "$t" ] || continue
    name=$(basename "$t")
    if "$t" >"$log/$name.out" 2>&1; then
        count_cmocka "$log/$name.out"
        echo "  $name: $(grep -oE '^\[  PASSED  \] [0-9]+' "$log/$name.out" | awk '{print $4}') passed"
    else
        count_cmocka "$log/$name.out"
        # a crash before cmocka's summary still counts as one failure
        grep -q '^\[  FAILED  \]' "$log/$name.out" || fail=$((fail + 1))
        failed_names+=("$name")
        echo "  $name: FAILED"; sed 's/^/    /' "$log/$name.out" | tail -40
    fi
done

echo "== fuzz corpus replay"
for t in "$B"/fuzz/fuzz_*; do
    [ -x "$t" ] || continue
    name=$(basename "$t")
    corpus="$root/tests/fuzz/corpus/${name#fuzz_}"
    if [ ! -d "$corpus" ]; then
        echo "  $name: no corpus at $corpus"; fail=$((fail + 1)); failed_names+=("$name"); continue
    fi
    if "$t" "$corpus" >"$log/$name.out" 2>&1; then
        pass=$((pass + 1)); echo "  $name: $(tail -1 "$log/$name.out")"
    else
        fail=$((fail + 1)); failed_names+=("$name")
        echo "  $name: FAILED"; tail -30 "$log/$name.out" | sed 's/^/    /'
    fi
done

echo "== integration"
# Two at a time (INTEGRATION_JOBS): most of a test's time is its daemons
# waiting (fsyncs, polls with deadlines), not the cores. Each test has its
# own directories and ports (127.0.0.1:0); the results are reported in
# order once all have run.
export UNIOND_BIN="$root/$B/uniond" UNIONCTL_BIN="$root/$B/unionctl"
jobs_max=${INTEGRATION_JOBS:-2}
run_one() { # test name: its output, exit code and seconds into $log
    local t0=$SECONDS
    bash "$1" >"$log/$2.out" 2>&1
    echo $? >"$log/$2.rc"
    echo $((SECONDS - t0)) >"$log/$2.secs"
}
names=()
for t in "$here"/integration/test_*.sh; do
    [ -f "$t" ] || continue
    name=$(basename "$t" .sh)
    names+=("$name")
    while [ "$(jobs -rp | wc -l)" -ge "$jobs_max" ]; do wait -n; done
    run_one "$t" "$name" &
done
wait
for name in "${names[@]}"; do
    rc=$(cat "$log/$name.rc" 2>/dev/null || echo 1)
    secs="$(cat "$log/$name.secs" 2>/dev/null || echo '?') s"
    p=$(grep -c '^ok ' "$log/$name.out")
    f=$(grep -c '^not ok ' "$log/$name.out")
    if [ "$rc" != 0 ] && [ "$f" = 0 ]; then f=1; fi
    pass=$((pass + p)); fail=$((fail + f))
    if [ "$f" != 0 ]; then
        failed_names+=("$name")
        echo "  $name: $p passed, $f failed ($secs)"; tail -40 "$log/$name.out" | sed 's/^/    /'
    else
        echo "  $name: $p passed ($secs)"
    fi
done

echo "== valgrind (release build)"
if "$here/valgrind.sh" "$root/build" >"$log/valgrind.out" 2>&1; then
    pass=$((pass + 1)); echo "  $(tail -1 "$log/valgrind.out")"
else
    fail=$((fail + 1)); failed_names+=("valgrind"); tail -40 "$log/valgrind.out" | sed 's/^/    /'
fi

[ ${#failed_names[@]} -gt 0 ] && echo "failed: ${failed_names[*]} (logs in $log)"
[ ${#failed_names[@]} -eq 0 ] && rm -rf "$log"
echo "$pass passed, $fail failed ($SECONDS s)"
[ "$fail" = 0 ]
