#!/usr/bin/env bash
# Full mode of docs/PERFORMANCE.md, run by hand: every figure, side by side, in one run.
# Writes target/perf/<figure>.md (the tables) and .json (the numbers), and target/perf/report.md.
#
#   scripts/perf-full.sh            # all figures but the arm64 zip (about 10 minutes after the build)
#   PERF_SIZE=1 scripts/perf-full.sh  # also the arm64 zip (scripts/perf-size.sh)
#
# Knobs: PERF_CLIENTS (1000), PERF_MESSAGES (20), PERF_GROUP (10), PERF_RUNS (20, cold starts).
# Needs: cargo, python3 (moto, from requirements-dev.txt into .venv/), node + npm (bench/node).
# Loopback only; the load generator is bounded (at most 5000 clients, 1000 messages each,
# 120 s per phase).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
out=target/perf
mkdir -p "$out"
clients="${PERF_CLIENTS:-1000}" messages="${PERF_MESSAGES:-20}" group="${PERF_GROUP:-10}" runs="${PERF_RUNS:-20}"

# shellcheck source=scripts/lib.sh
source "$root/scripts/lib.sh"

# Release builds: the light and password bundles' binaries, each alone as deployment builds it,
# and the gateway; then the harness.
step "build bootstrap-light" cargo build --release -p chat-lambda-light
step "build bootstrap-password" cargo build --release -p chat-lambda-password
step "build local-gateway" cargo build --release --bin local-gateway
step "build perf" cargo build --release -p chat-bench
[[ -d bench/node/node_modules ]] || step "npm ci" npm ci --prefix bench/node --no-audit --no-fund

# A local DynamoDB-compatible server for the cold starts (the same as scripts/test.sh).
ensure_venv "$root/.venv" requirements-dev.txt
trap 'kill "${moto_pid:-}" 2>/dev/null || true' EXIT
start_moto "$root/.venv" "$out/moto.log"

perf=target/release/perf
# run <report name> <perf subcommand> [options]
run() {
  local name="$1"
  shift
  step "$name" "$perf" "$@" --json "$out/$name.json" >"$out/$name.md"
  cat "$out/$name.md"
}
run handlers handlers
run cold-start cold-start --bootstrap target/release/bootstrap-light --dynamodb "$DYNAMODB_ENDPOINT" --runs "$runs" \
  --functions users-me,ws-authorizer,ws-ping,ws-send-message --secrets-manager on
run cold-start-password cold-start --bootstrap target/release/bootstrap-password --dynamodb "$DYNAMODB_ENDPOINT" \
  --runs "$runs" --functions auth-login --secrets-manager on
run fanout fanout --sizes 1,10,100,1000 --runs 5
run load load --gateway target/release/local-gateway --node-server bench/node/server.js \
  --clients "$clients" --messages "$messages" --group "$group"
run load-paced load --gateway target/release/local-gateway --node-server bench/node/server.js \
  --clients "$clients" --messages 6 --group "$group" --rate 0.2
step "cost" "$perf" cost --handlers "$out/handlers.json" --json "$out/cost.json" >"$out/cost.md"
cat "$out/cost.md"
if [[ "${PERF_SIZE:-0}" == 1 ]]; then
  step "size" scripts/perf-size.sh | tee "$out/size.md"
fi
cat "$out"/{handlers,cold-start,fanout,load,load-paced,cost}.md >"$out/report.md"
[[ -f "$out/size.md" ]] && cat "$out/size.md" >>"$out/report.md"
echo "perf-full: target/perf/report.md" >&2
