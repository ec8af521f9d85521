#!/usr/bin/env bash
# seqbatch.sh BUILD... - the daemon time of one lone add: 200 adds through
# one `unionctl batch` per build (one client and a kept connection, so each
# add is its own group commit and no process start is timed), four
# interleaved rounds on a fresh node per build; prints us per add.
#   bash tests/bench/seqbatch.sh /tmp/old-build build
set -e
D=$(mktemp -d /tmp/uniond-seqbatch.XXXXXX)
i=0
for k in $(seq 1 200); do echo "add name=测$k"; done > $D/lines
for b in "$@"; do
  $b/uniond init -d $D/n$i --node n$i --office yinzhou --listen 127.0.0.1:0 >/dev/null 2>&1
  $b/uniond -d $D/n$i >/dev/null 2>&1 &
  i=$((i+1))
done
for j in $(seq 0 $((i - 1))); do
  b=${@:$((j + 1)):1}
  for _ in $(seq 1 100); do $b/unionctl -d $D/n$j status >/dev/null 2>&1 && break; sleep 0.05; done
done
for r in 1 2 3 4; do
  i=0
  for b in "$@"; do
    t0=$(date +%s%N)
    $b/unionctl -d $D/n$i batch $D/lines >/dev/null
    t1=$(date +%s%N)
    echo "round $r $b: $(( (t1-t0)/200000 )) us/add"
    i=$((i+1))
  done
done
kill $(jobs -p); wait; rm -rf $D
