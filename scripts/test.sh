#!/usr/bin/env bash
# The project's single test command: starts a local DynamoDB-compatible server (moto) and runs
# every test of the workspace against it. Arguments go to `cargo test`, for example
#   scripts/test.sh --test all conformance
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

venv="$root/.venv"
# shellcheck source=scripts/venv.sh
source "$root/scripts/venv.sh"
ensure_venv "$venv" requirements-dev.txt

port="$("$venv/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
log="$(mktemp -t moto.XXXXXX.log)"
# moto, with each request atomic as in DynamoDB (see scripts/moto-server.py).
"$venv/bin/python" "$root/scripts/moto-server.py" -H 127.0.0.1 -p "$port" >"$log" 2>&1 &
moto_pid=$!
cleanup() {
  kill "$moto_pid" 2>/dev/null || true
  wait "$moto_pid" 2>/dev/null || true
  rm -f "$log"
}
trap cleanup EXIT

for ((i = 0; ; i++)); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    break
  fi
  if ! kill -0 "$moto_pid" 2>/dev/null || ((i >= 300)); then
    echo "scripts/test.sh: moto_server did not start on port $port; its log:" >&2
    cat "$log" >&2
    exit 1
  fi
  sleep 0.1
done

export DYNAMODB_ENDPOINT="http://127.0.0.1:$port"
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1

cargo test --workspace "$@"
