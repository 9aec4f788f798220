# Sourced by the scripts: the few steps several of them share.

# `ensure_venv DIR REQUIREMENTS`: DIR becomes a Python venv with REQUIREMENTS installed. pip is
# slow even with nothing to do, so it runs only when the requirements file changed since the
# last install.
ensure_venv() {
  local venv="$1" requirements="$2"
  [[ -x "$venv/bin/python" ]] || python3 -m venv "$venv"
  local stamp="$venv/.$(basename "$requirements").sha256"
  local wanted
  wanted="$(sha256sum "$requirements" | cut -d' ' -f1)"
  if [[ "$(cat "$stamp" 2>/dev/null || true)" != "$wanted" ]]; then
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
    echo "$wanted" >"$stamp"
  fi
}

# `free_port`: prints a loopback port nobody listens on.
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# `wait_for_port PORT PID LOG WHAT`: waits (30 s at most) until PORT accepts connections; fails
# with LOG when the process PID dies first or the time is up.
wait_for_port() {
  local port="$1" pid="$2" log="$3" what="$4"
  for ((i = 0; ; i++)); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    if ! kill -0 "$pid" 2>/dev/null || ((i >= 300)); then
      echo "$what did not start on port $port; its log:" >&2
      cat "$log" >&2
      return 1
    fi
    sleep 0.1
  done
}

# `start_moto VENV LOG`: moto from VENV on a free port, each request atomic as in DynamoDB (see
# scripts/moto-server.py); sets `moto_pid` (the caller stops it) and exports DYNAMODB_ENDPOINT
# and the dummy credentials the SDK needs.
start_moto() {
  local venv="$1" log="$2" port
  port="$(free_port)"
  "$venv/bin/python" "$(dirname "${BASH_SOURCE[0]}")/moto-server.py" -H 127.0.0.1 -p "$port" >"$log" 2>&1 &
  moto_pid=$!
  wait_for_port "$port" "$moto_pid" "$log" moto_server
  export DYNAMODB_ENDPOINT="http://127.0.0.1:$port"
  export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
}

# `ensure_arm64_std`: Rust's standard library for aarch64-unknown-linux-gnu, which cargo lambda
# needs to cross-compile; rustup downloads it. Fails where that download is impossible.
ensure_arm64_std() {
  if command -v rustup >/dev/null && ! rustup target list --installed | grep -qx aarch64-unknown-linux-gnu; then
    rustup target add aarch64-unknown-linux-gnu
  fi
}

# `step NAME COMMAND...`: runs COMMAND and says how long it took.
step() {
  local name="$1" start=$SECONDS
  shift
  echo "==> $name" >&2
  "$@"
  echo "    $name: $((SECONDS - start)) s" >&2
}

# `start_local_gateway NAME OUT [ENV=VALUE…]`: builds the local gateway, empties OUT, and starts
# the binary on a free port over the embedded store in a temporary folder, with the ENV given;
# waits until it listens. Sets `gateway` (its pid), `port`, `base` (its URL) and `log`
# (OUT/gateway.log), and stops it and removes the folder on exit. NAME prefixes the messages.
start_local_gateway() {
  local name="$1" out="$2" target_dir bin
  shift 2
  cargo build --quiet -p local-gateway --bin local-gateway
  target_dir="${CARGO_TARGET_DIR:-$root/target}"
  [[ "$target_dir" = /* ]] || target_dir="$root/$target_dir"
  bin="$target_dir/debug/local-gateway"
  [[ -x "$bin" ]] || { echo "$name: $bin was not built" >&2; exit 1; }
  rm -rf "$out" && mkdir -p "$out"
  gateway_data="$(mktemp -d -t "$name.XXXXXX")"
  log="$out/gateway.log"
  port="$(free_port)"
  base="http://127.0.0.1:$port"
  env PORT="$port" CHAT_STORE=embedded CHAT_DATA_DIR="$gateway_data" "$@" "$bin" >"$log" 2>&1 &
  gateway=$!
  trap stop_local_gateway EXIT
  wait_for_port "$port" "$gateway" "$log" "$name: the gateway"
}

stop_local_gateway() {
  kill "$gateway" 2>/dev/null || true
  wait "$gateway" 2>/dev/null || true
  rm -rf "$gateway_data"
}

# `gateway_panicked NAME`: true (and says so) when the gateway's log shows a panic.
gateway_panicked() {
  grep -q "panicked" "$log" || return 1
  echo "$1: the gateway panicked:" >&2
  grep -A5 "panicked" "$log" >&2
}
