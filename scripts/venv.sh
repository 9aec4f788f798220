# Sourced by the scripts: `ensure_venv DIR REQUIREMENTS` makes DIR a Python venv with
# REQUIREMENTS installed. pip is slow even with nothing to do, so it runs only when the
# requirements file changed since the last install.
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
