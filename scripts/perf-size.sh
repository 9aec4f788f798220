#!/usr/bin/env bash
# Artifact size (docs/PERFORMANCE.md): builds every Lambda binary's zip exactly as deployment
# does, one package per bundle (functions/src/routes.rs, `Bundle`; lambda/*), each alone so that
# no other member's features reach it:
#   cargo lambda build --release --arm64 --output-format zip -p chat-lambda-<bundle> --bin bootstrap-<bundle>
# and fails when any target/lambda/bootstrap-<bundle>/bootstrap.zip is over PERF_ZIP_LIMIT bytes
# (default 4000000: the 4 MB goal). `PERF_BUNDLES="light password"` limits the set. Release arm64
# builds (fat LTO, one codegen unit): about 10 minutes for the first from a cold target/ on the
# 2-core development machine, then 2 to 4 minutes per bundle (each links its own binary).
# Manual or nightly, not every CI run.
#
# cargo-lambda and zig come from requirements-deploy.txt in .venv-deploy/, the same install as
# scripts/deploy-check.sh.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
limit="${PERF_ZIP_LIMIT:-4000000}"
# `thumbnail`: the preview function (lambda/thumbnail), no route but a zip of its own.
bundles="${PERF_BUNDLES:-light password s3 sns thumbnail}"

# shellcheck source=scripts/lib.sh
source "$root/scripts/lib.sh"
venv="$root/.venv-deploy"
ensure_venv "$venv" requirements-deploy.txt
export PATH="$venv/bin:$PATH"
ensure_arm64_std

failed=0
for bundle in $bundles; do
  start=$SECONDS
  cargo lambda build --release --arm64 --output-format zip -p "chat-lambda-$bundle" --bin "bootstrap-$bundle"
  zip="target/lambda/bootstrap-$bundle/bootstrap.zip"
  python3 - "$zip" "$limit" "$((SECONDS - start))" <<'PY' || failed=1
import sys, zipfile, os
path, limit, seconds = sys.argv[1], int(sys.argv[2]), sys.argv[3]
size = os.path.getsize(path)
with zipfile.ZipFile(path) as z:
    binary = sum(i.file_size for i in z.infolist())
print(f"{path}: {size} bytes ({size / 1e6:.2f} MB; binary {binary / 1e6:.2f} MB), limit {limit}, built in {seconds} s")
sys.exit(0 if size <= limit else f"perf-size: {path} is {size - limit} bytes over the limit")
PY
done
exit "$failed"
