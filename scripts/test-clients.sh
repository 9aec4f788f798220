#!/usr/bin/env bash
# The generated clients (clients/): installs the TypeScript toolchain from the committed lockfile
# (`npm ci`, the npm registry only), regenerates the types from docs/openapi.json and
# docs/asyncapi.yaml and the web client's compiled module web/js/chat-client.js, fails when a
# committed generated file is stale, then type-checks strictly (`tsc --strict`): the client, its
# compile-time tests (clients/typescript/test/) and the web client's JavaScript (`--checkJs`).
# Then generates the Kotlin and Swift clients with the pinned openapi-generator (from
# requirements-clients.txt, in .venv-clients) into target/clients/: the document must be one the
# mobile teams' generator accepts. Compiling them needs toolchains this machine lacks (README).
#
#   scripts/test-clients.sh
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root/clients/typescript"

# npm ci is quick when node_modules matches the lockfile already, but it always reinstalls.
npm ci --no-audit --no-fund --loglevel=error
npm run --silent generate
npm run --silent build

generated=(clients/typescript/src/generated web/js/chat-client.js)
cd "$root"
if ! git diff --exit-code --stat -- "${generated[@]}" || [[ -n "$(git status --porcelain -- "${generated[@]}")" ]]; then
  git status --short -- "${generated[@]}" >&2
  echo "test-clients: generated client files are stale: run \`npm run generate && npm run build\` in clients/typescript and commit them" >&2
  exit 1
fi
echo "test-clients: the generated files are current"

cd "$root/clients/typescript"
npm run --silent check
echo "test-clients: tsc --strict passed (client, type tests, web client)"

# ---- Kotlin and Swift: generated (not compiled: README, "Generated clients") ----
source "$root/scripts/lib.sh"
venv="$root/.venv-clients"
ensure_venv "$venv" "$root/requirements-clients.txt"
target_dir="${CARGO_TARGET_DIR:-$root/target}"
[[ "$target_dir" = /* ]] || target_dir="$root/$target_dir"
out="$target_dir/clients"
rm -rf "$out" && mkdir -p "$out"
for generator in kotlin swift6; do
  if ! "$venv/bin/openapi-generator-cli" generate -i "$root/docs/openapi.json" -g "$generator" -o "$out/$generator" \
    >"$out/$generator.log" 2>&1; then
    cat "$out/$generator.log" >&2
    echo "test-clients: openapi-generator could not generate the $generator client" >&2
    exit 1
  fi
  echo "test-clients: the $generator client generated ($(find "$out/$generator" -name '*.kt' -o -name '*.swift' | wc -l) files, $out/$generator)"
done
