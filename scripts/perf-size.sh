#!/usr/bin/env bash
# Artifact size (docs/PERFORMANCE.md): builds the Lambda zip exactly as deployment does,
#   cargo lambda build --release --arm64 --output-format zip --bin bootstrap
# and fails when target/lambda/bootstrap/bootstrap.zip is over PERF_ZIP_LIMIT bytes (default
# 4000000: the 4 MB goal). A release arm64 build (fat LTO, one codegen unit): about 10 minutes
# from a cold target/ on the 2-core development machine, 1 to 3 minutes after a change to the
# workspace's own crates. Manual or nightly, not every CI run.
#
# cargo-lambda and zig come from requirements-deploy.txt in .venv-deploy/, the same install as
# scripts/deploy-check.sh.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
limit="${PERF_ZIP_LIMIT:-4000000}"

# shellcheck source=scripts/lib.sh
source "$root/scripts/lib.sh"
venv="$root/.venv-deploy"
ensure_venv "$venv" requirements-deploy.txt
export PATH="$venv/bin:$PATH"
ensure_arm64_std

start=$SECONDS
cargo lambda build --release --arm64 --output-format zip --bin bootstrap
zip="target/lambda/bootstrap/bootstrap.zip"
python3 - "$zip" "$limit" "$((SECONDS - start))" <<'PY'
import sys, zipfile, os
path, limit, seconds = sys.argv[1], int(sys.argv[2]), sys.argv[3]
size = os.path.getsize(path)
with zipfile.ZipFile(path) as z:
    binary = sum(i.file_size for i in z.infolist())
print(f"bootstrap.zip: {size} bytes ({size / 1e6:.2f} MB; binary {binary / 1e6:.2f} MB), limit {limit}, built in {seconds} s")
sys.exit(0 if size <= limit else f"perf-size: {path} is {size - limit} bytes over the limit")
PY
