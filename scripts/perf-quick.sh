#!/usr/bin/env bash
# Quick mode of docs/PERFORMANCE.md, for CI: what counts (not times) can check.
#   - fan-out to groups of 1, 2, 10, 100 and 1000 members: DynamoDB requests (3 + ceil(N/100)),
#     read/write units, pushes (bench/tests/counts.rs);
#   - the Lambda binary's dependency graph: one TLS/crypto stack, one HTTP stack, one version
#     of each heavy crate (the cheap guard of the 4 MB zip; the zip itself: scripts/perf-size.sh).
# The per-route DynamoDB budget (tests/tests/all/budget.rs) runs with scripts/test.sh, which also
# runs these tests (`cargo test --workspace`). No DynamoDB server needed here.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
start=$SECONDS
cargo test --workspace --test counts -- --nocapture "$@"
echo "perf-quick: OK in $((SECONDS - start)) s"
