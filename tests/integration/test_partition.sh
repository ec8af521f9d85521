#!/usr/bin/env bash
# The short partition run of `make test`: one seed of the five-node
# partition test (tests/faults/partition.sh) with a 10-second fault
# schedule; `make test-faults` runs the long one (50 seeds, 20 s each).
# SEED picks the seed (default 5); PART_MODE=proxy forces the loopback
# fallback.
exec env SEED="${SEED:-5}" PART_CHAOS_S="${PART_CHAOS_S:-10}" \
    bash "$(dirname "$0")/../faults/partition.sh"
