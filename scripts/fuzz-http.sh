#!/usr/bin/env bash
# Fuzzes the contract against a real local gateway (the built `local-gateway` binary on a free
# port), once on the embedded store (temporary directory) and once on DynamoDB (moto):
# - the HTTP API with schemathesis (property-based tests generated from docs/openapi.json):
#   every check it has (schemathesis.toml names the few disabled, where and why) and every
#   phase, stateful included (the document's `links`);
# - the WebSocket API with scripts/fuzz-ws.py: valid and invalid frames generated from the
#   actions of docs/asyncapi.yaml, every event checked against its schema.
# Fails on any failed check, or a gateway that dies or panics.
#
#   scripts/fuzz-http.sh                          # the CI budget
#   FUZZ_MAX_EXAMPLES=200 scripts/fuzz-http.sh    # a longer run
#   FUZZ_SEED=123 scripts/fuzz-http.sh            # replay a run (its seed is printed)
#   FUZZ_STORES=embedded scripts/fuzz-http.sh     # one store
#
# Bounded: at most FUZZ_MAX_EXAMPLES cases per operation and phase, and a hard timeout of
# FUZZ_TIMEOUT seconds per schemathesis run. JUnit reports land in target/fuzz-http/<store>/.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
max_examples="${FUZZ_MAX_EXAMPLES:-20}"
hard_timeout="${FUZZ_TIMEOUT:-600}"
seed="${FUZZ_SEED:-}"
stores="${FUZZ_STORES:-embedded dynamodb}"

venv="$root/.venv"
# shellcheck source=scripts/lib.sh
source "$root/scripts/lib.sh"
ensure_venv "$venv" requirements-dev.txt
py="$venv/bin/python"

target_dir="${CARGO_TARGET_DIR:-$root/target}"
[[ "$target_dir" = /* ]] || target_dir="$root/$target_dir"

# Every check (schemathesis.toml says which are off where, and why); FUZZ_CHECKS narrows a run.
phases="${FUZZ_PHASES:-examples,coverage,fuzzing,stateful}"
# One worker: hypothesis describes strategies with ast.parse, which is not thread-safe on
# CPython 3.11 ("AST constructor recursion depth mismatch").
common=(--max-examples "$max_examples" --phases "$phases"
  --workers 1 --request-timeout 30 --no-shrink --suppress-health-check all)
if [[ -n "$seed" ]]; then common+=(--seed "$seed"); fi
if [[ -n "${FUZZ_CHECKS:-}" ]]; then common+=(--checks "$FUZZ_CHECKS"); fi

run() {
  local name="$1"
  shift
  echo "== schemathesis: $store: $name"
  # From the report directory: schemathesis keeps its cache (.schemathesis/) in the current one.
  (cd "$report_dir" && timeout --kill-after=10 "$hard_timeout" "$venv/bin/schemathesis" --config-file "$root/schemathesis.toml" \
    run "$base/openapi.json" --url "$base" "${common[@]}" \
    --report junit --report-junit-path "$report_dir/$name.xml" "$@") | tee "$report_dir/$name.log"
}

stop_moto() {
  kill "${moto_pid:-}" 2>/dev/null || true
  wait "${moto_pid:-}" 2>/dev/null || true
}

# `fuzz STORE`: a gateway on STORE (embedded, or dynamodb on a moto of its own), two users and
# an admin, and the three runs. Sets `status` to 1 on any failure.
fuzz() {
  store="$1"
  report_dir="$target_dir/fuzz-http/$store"
  local backend=(CHAT_STORE=embedded)
  if [[ "$store" = dynamodb ]]; then
    start_moto "$venv" "$target_dir/fuzz-http/moto.log"
    backend=(CHAT_STORE=dynamodb "DYNAMODB_ENDPOINT=$DYNAMODB_ENDPOINT" TABLE_NAME="fuzz-$RANDOM$RANDOM")
  fi
  # Generous local rate limits: the fuzzer is one user sending as fast as it can, and what is
  # tested here is the handlers (the limits have their own tests). 429s stay legal answers.
  start_local_gateway "fuzz-http ($store)" "$report_dir" RUST_LOG="${FUZZ_LOG:-warn}" "${backend[@]}" \
    CHAT_ADMIN_USERNAME=fuzz-admin CHAT_ADMIN_PASSWORD='fuzz admin password' \
    CHAT_HTTP_STAGE_RATE=10000 CHAT_HTTP_STAGE_BURST=10000 CHAT_RATE_USER_PER_SEC=10000 CHAT_RATE_USER_BURST=10000 \
    CHAT_LOGIN_FREE_FAILURES_PER_IP=100000
  trap 'stop_local_gateway; stop_moto' EXIT

  # A user with a conversation, and an admin, so that authenticated routes get past 401.
  eval "$("$py" - "$base" <<'PY'
import json, sys, urllib.request
base = sys.argv[1]
def call(method, path, body=None, token=None):
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    with urllib.request.urlopen(urllib.request.Request(base + path, method=method, data=data, headers=headers)) as res:
        return json.load(res)["data"]
user = call("POST", "/api/users/register", {"username": "fuzz-user", "password": "fuzz user password"})
peer = call("POST", "/api/users/register", {"username": "fuzz-peer", "password": "fuzz peer password"})
admin = call("POST", "/api/users/login", {"username": "fuzz-admin", "password": "fuzz admin password"})
call("POST", "/api/messages", {"receiverId": peer["user"]["id"], "content": "hello"}, user["token"])
ws = call("POST", "/api/users/register", {"username": "fuzz-socket", "password": "fuzz socket password"})
print(f"user_token={user['token']} admin_token={admin['token']} ws_token={ws['token']}")
PY
)"

  # Schemathesis learns ids from responses (`/api/users/me` gives the caller's own): the
  # operations that end the session (delete the caller, log out, refresh) run last, on their
  # own, so that they do not turn the rest of the run into 401s. Admin-only branches get a run
  # as the admin.
  local enders=(--exclude-operation-id deleteUser --exclude-operation-id logout --exclude-operation-id refresh)
  run user -H "Authorization: Bearer $user_token" "${enders[@]}" || status=1
  run admin -H "Authorization: Bearer $admin_token" "${enders[@]}" || status=1
  run session -H "Authorization: Bearer $user_token" \
    --include-operation-id deleteUser --include-operation-id logout --include-operation-id refresh || status=1
  echo "== WebSocket contract: $store"
  "$py" "$root/scripts/fuzz-ws.py" "$base" "$ws_token" --examples "$max_examples" ${seed:+--seed "$seed"} \
    | tee "$report_dir/websocket.log" || status=1

  if ! kill -0 "$gateway" 2>/dev/null; then
    echo "fuzz-http ($store): the gateway died; its log:" >&2
    tail -50 "$log" >&2
    status=1
  fi
  if gateway_panicked "fuzz-http ($store)"; then
    status=1
  fi
  stop_local_gateway
  stop_moto
  trap - EXIT
}

status=0
rm -rf "$target_dir/fuzz-http" && mkdir -p "$target_dir/fuzz-http"
for store in $stores; do
  fuzz "$store"
done
summary=""
for store in $stores; do
  n="$(cat "$target_dir/fuzz-http/$store"/*.log | grep -oE '^ *[0-9]+ generated' | awk '{n += $1} END {print n + 0}')"
  frames="$(grep -oE 'passed: [0-9]+ valid and [0-9]+ invalid' "$target_dir/fuzz-http/$store/websocket.log" | awk '{print $2 + $5}' || true)"
  summary+="$store: $n HTTP cases and ${frames:-0} WebSocket frames; "
  total=$((${total:-0} + n))
done
echo "fuzz-http: $([[ $status = 0 ]] && echo passed || echo FAILED): $total HTTP cases (${summary%; }); reports in $target_dir/fuzz-http"
exit "$status"
