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
