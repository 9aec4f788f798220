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

target_dir="${CARGO_TARGET_DIR:-$root/target}"
[[ "$target_dir" = /* ]] || target_dir="$root/$target_dir"
out="$target_dir/web"
start_local_gateway test-web "$out" RUST_LOG="${WEB_LOG:-warn}" \
  CHAT_RATE_USER_PER_SEC=1000 CHAT_RATE_USER_BURST=1000

status=0
WEB_BASE="http://127.0.0.1:$port" CHROMIUM="$chromium" WEB_OUT="$out" \
  timeout --kill-after=10 "${WEB_TIMEOUT:-300}" "$venv/bin/python" -m pytest -q -p no:cacheprovider tests/web "$@" || status=$?
if gateway_panicked test-web; then
  status=1
fi
exit "$status"
