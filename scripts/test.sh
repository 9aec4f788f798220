#!/usr/bin/env bash
# The project's single test command: starts a local DynamoDB-compatible server (moto) and runs
# every test of the workspace against it. Arguments go to `cargo test`, for example
#   scripts/test.sh --test all conformance
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

# shellcheck source=scripts/lib.sh
source "$root/scripts/lib.sh"
venv="$root/.venv"
ensure_venv "$venv" requirements-dev.txt

log="$(mktemp -t moto.XXXXXX.log)"
cleanup() {
  kill "${moto_pid:-}" 2>/dev/null || true
  wait "${moto_pid:-}" 2>/dev/null || true
  rm -f "$log"
}
trap cleanup EXIT
start_moto "$venv" "$log"

# Generated files first: a stale template.yaml or budget table fails in seconds, not after the
# suite (the xtask crate's test checks the same inside `cargo test`).
cargo xtask generate --check
cargo test --workspace "$@"
