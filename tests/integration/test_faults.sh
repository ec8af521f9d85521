#!/usr/bin/env bash
# The short fault run of `make test`: the seeded SIGKILL loop
# (tests/faults/killloop.sh) with 20 kills. `make test-faults` runs the
# long one (FAULT_KILLS=200 over several seeds). FAULT_SEED picks the seed.
exec env FAULT_KILLS="${FAULT_KILLS:-20}" FAULT_SEED="${FAULT_SEED:-3}" \
    bash "$(dirname "$0")/../faults/killloop.sh"
