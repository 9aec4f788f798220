#!/usr/bin/env bash
# The web client (web/) in a real browser: Playwright for Python (requirements-web.txt, in its
# own venv .venv-web) drives Debian's Chromium against the built local gateway on a free port,
# embedded store in a temporary directory. Installs chromium with apt-get when it is missing
# (CI runs as root; `playwright install` downloads from outside and is not used).
#
#   scripts/test-web.sh                 # every browser test
#   scripts/test-web.sh -k offline      # arguments pass through to pytest
#
# Screenshots of the main screens land in target/web/.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
# shellcheck source=scripts/lib.sh
source "$root/scripts/lib.sh"

chromium="${CHROMIUM:-/usr/bin/chromium}"
if [[ ! -x "$chromium" ]]; then
  if [[ "$(id -u)" = 0 ]] && command -v apt-get >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "test-web: $chromium is missing; install Debian's chromium (apt-get install chromium) or set CHROMIUM" >&2
    exit 1
  fi
fi

venv="$root/.venv-web"
ensure_venv "$venv" requirements-web.txt

cargo build --quiet -p local-gateway --bin local-gateway
target_dir="${CARGO_TARGET_DIR:-$root/target}"
[[ "$target_dir" = /* ]] || target_dir="$root/$target_dir"
bin="$target_dir/debug/local-gateway"
[[ -x "$bin" ]] || { echo "test-web: $bin was not built" >&2; exit 1; }

out="$target_dir/web"
rm -rf "$out" && mkdir -p "$out"
data="$(mktemp -d -t test-web.XXXXXX)"
log="$out/gateway.log"
port="$(free_port)"

env PORT="$port" CHAT_STORE=embedded CHAT_DATA_DIR="$data" RUST_LOG="${WEB_LOG:-warn}" \
  CHAT_RATE_USER_PER_SEC=1000 CHAT_RATE_USER_BURST=1000 "$bin" >"$log" 2>&1 &
gateway=$!
cleanup() {
  kill "$gateway" 2>/dev/null || true
  wait "$gateway" 2>/dev/null || true
  rm -rf "$data"
}
trap cleanup EXIT
wait_for_port "$port" "$gateway" "$log" "test-web: the gateway"

status=0
WEB_BASE="http://127.0.0.1:$port" CHROMIUM="$chromium" WEB_OUT="$out" \
  timeout --kill-after=10 "${WEB_TIMEOUT:-300}" "$venv/bin/python" -m pytest -q -p no:cacheprovider tests/web "$@" || status=$?
if grep -q "panicked" "$log"; then
  echo "test-web: the gateway panicked:" >&2
  grep -A5 "panicked" "$log" >&2
  status=1
fi
exit "$status"
